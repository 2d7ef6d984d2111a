"""Plan a build: for every selected model with SMART_LLM calls, what each task would read and cost.

The models and seeds upstream of the selection are built into a scratch database (smart_sql.plan.
scratch) from their current SQL and files, so a fresh project is planned from what its build would
compute; tables built earlier, sources and snapshots are read from the warehouse, attached read-only.
Upstream LLM columns that are not built yet are filled with stand-in answers, and said so. No model
is called, the response cache is only read, and the warehouse is not written.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

import duckdb
import numpy as np

from ..execute import render_model
from ..graph import Graph
from ..llm.base import ModelSpec
from ..llm.tokens import counting_method
from ..llm_sql import result_table_prefix
from ..materialize import create_table, create_view, load_seed
from ..project import ModelNode, Project, SeedNode, SnapshotNode
from ..rewrite import mentions_smart_llm
from ..rewrite.plan import LLMTask, rewrite_sql
from ..smart.spend import forecast_costs, spend_bounds
from .items import cached_answers, item_costs
from .model import BuildPlan, ModelPlan, TaskPlan
from .priors import beliefs, earlier_runs
from .responses import open_lookup
from .scratch import Scratch
from .upper_bound import without_answer_filters

FORECAST_RUNS = 16


def plan_build(project: Project, select: Iterable[str] = (), exclude: Iterable[str] = (), *,
               full_refresh: bool = False, max_cost: float | None = None) -> BuildPlan:
    graph = Graph(project)
    chosen = graph.select(select, exclude, ("model",))
    needed = set(chosen)
    for uid in chosen:
        needed |= graph.ancestors(uid)
    config = project.target.llm
    limit = max_cost if max_cost is not None else config.max_cost
    plan = BuildPlan(project=project.name, target=project.target.name, provider=config.provider,
                     tokens=counting_method(), max_cost=limit,
                     max_cost_source="--max-cost" if max_cost is not None else "llm.max_cost")
    schemas = {node.relation.schema for node in graph.nodes.values() if isinstance(node, (ModelNode, SeedNode))}
    scratch = Scratch(project.database, sorted(schemas))
    lookup, endpoint, close_lookup = open_lookup(project)
    planner = _Planner(project, scratch, lookup, endpoint, earlier_runs(project.target_path), full_refresh)
    try:
        for uid in graph.order(needed):
            planned = planner.node(graph.nodes[uid], selected=uid in chosen,
                                   read_below=bool(graph.descendants(uid) & chosen))
            if planned is not None:
                plan.models.append(planned)
    finally:
        close_lookup()
        scratch.close()
    return plan


class _Planner:
    def __init__(self, project: Project, scratch: Scratch, lookup, endpoint: str, accounts: dict,
                 full_refresh: bool):
        self.project = project
        self.config = project.target.llm
        self.scratch = scratch
        self.lookup = lookup
        self.endpoint = endpoint
        self.accounts = accounts
        self.full_refresh = full_refresh
        self.stand_ins: dict[str, str] = {}
        """Models built in the scratch with stand-in LLM answers, and why."""
        self.failed: dict[str, str] = {}
        """Models that could not be built in the scratch, and the error."""

    def node(self, node, *, selected: bool, read_below: bool) -> ModelPlan | None:
        if isinstance(node, SeedNode):
            load_seed(self.scratch.conn, node)
            return None
        if isinstance(node, SnapshotNode) or not isinstance(node, ModelNode) or node.materialized == "ephemeral":
            return None
        stored = self.scratch.in_warehouse(node.relation)
        incremental = (node.materialized == "incremental" and not self.full_refresh and stored == "table"
                       and node.config.get("full_refresh") is not True)
        sql = render_model(self.project, node, incremental=incremental)
        if not mentions_smart_llm(sql):
            if not incremental:
                self._materialize(node, sql, view=True)
            return None
        rewritten = rewrite_sql(sql, self.config, path=node.relpath, table_prefix=result_table_prefix(node.name),
                                model=node.name)
        model_plan = ModelPlan(node.name, node.relpath, incremental=incremental) if selected else None
        notes = self._upstream_notes(node)
        for task in rewritten.tasks:
            if model_plan is not None:
                model_plan.tasks.append(self._task(node, task, rewritten.tasks, notes))
            self.scratch.fill_with_stand_ins(task)
        if not incremental and (read_below if selected else not stored):
            self.stand_ins[node.name] = "its SMART_LLM columns hold stand-in answers (the first label, or the text)"
            self._materialize(node, rewritten.sql, view=False)
        for task in rewritten.tasks:
            self.scratch.conn.execute(f"DROP TABLE IF EXISTS {task.table}")
        return model_plan

    def _materialize(self, node: ModelNode, sql: str, *, view: bool) -> None:
        try:
            (create_view if view else create_table)(self.scratch.conn, node.relation, sql)
        except duckdb.Error as error:
            self.stand_ins.pop(node.name, None)
            self.failed[node.name] = str(error).splitlines()[0]

    def _upstream_notes(self, node: ModelNode) -> list[str]:
        notes = []
        for uid in node.depends_on:
            name = uid.split(".")[-1]
            if name in self.stand_ins:
                notes.append(f"reads {name}, not built yet: {self.stand_ins[name]}; counts are approximate")
            if name in self.failed:
                notes.append(f"reads {name}, which cannot be built in the scratch: {self.failed[name]}")
        return notes

    def _task(self, node: ModelNode, task: LLMTask, tasks: tuple[LLMTask, ...], notes: list[str]) -> TaskPlan:
        ladder = _ladder(self.config.models, task)
        plan = TaskPlan(task.id, list(task.calls), task.options.to_dict(), ladder[_reference(ladder)].name,
                        notes=list(notes))
        earlier = {t.table for t in tasks if t.id in task.depends_on}
        input_sql, bounded = without_answer_filters(task.input_sql, earlier)
        if bounded:
            plan.notes.append(f"reads the answers of {', '.join(task.depends_on)}: counted as if every row passed "
                              f"their filters (an upper bound)")
            plan.upper_bound = True
        try:
            rows = self.scratch.conn.execute(
                f"SELECT prompt, text, n, md5_number_lower(prompt || chr(0) || text) "
                f"FROM ({input_sql}) ORDER BY prompt, text").fetchall()
        except duckdb.Error as error:
            plan.error = f"cannot count the inputs: {str(error).splitlines()[0]}"
            return plan
        prompts, texts, counts = [r[0] for r in rows], [r[1] for r in rows], [int(r[2]) for r in rows]
        self._estimate(plan, node, task, ladder, prompts, texts, counts, keys=[r[3] for r in rows])
        return plan

    def _estimate(self, plan: TaskPlan, node: ModelNode, task: LLMTask, ladder: list[ModelSpec], prompts, texts,
                  counts, keys=None) -> None:
        options = task.options
        reference = _reference(ladder)
        cached, answers = cached_answers(self.lookup, self.endpoint, ladder, options, prompts, texts)
        known = beliefs(self.config, ladder, self.accounts.get((node.name, task.id)))
        simulated = self.config.provider == "simulated"

        def costs_at(output: str):
            return item_costs(options, ladder, prompts, texts, cached, output=output, measured=known.output_tokens,
                              simulated=simulated, answers=answers)

        expected_items, worst_items = costs_at("expected"), costs_at("worst")
        profiles = options.method != "reference" and options.accuracy < 1.0 and len(ladder) > 1
        least, _ = spend_bounds(costs_at("low").dollars(ladder), counts, reference, profiles=profiles)
        _, most = spend_bounds(worst_items.dollars(ladder), counts, reference, profiles=profiles)
        scale = [_scale(costs_at(end).dollars(ladder), expected_items.dollars(ladder)) for end in ("low", "high")]
        plan.rows, plan.distinct_inputs = sum(counts), len(counts)
        plan.cached_inputs = {m.name: int(cached[i].sum()) for i, m in enumerate(ladder)}
        plan.input_tokens = int(expected_items.input_tokens.sum())
        plan.output_tokens = float(expected_items.output_tokens[reference].sum())
        plan.reference_only_cost = float(expected_items.dollars(ladder)[reference].sum())
        plan.least, plan.most = (0.0 if plan.upper_bound else least), most
        plan.prior = known.source
        if not counts:
            plan.expected = plan.low = plan.high = 0.0
            return
        if options.method in ("cascade", "auto"):
            plan.notes.append(f"method {options.method}: forecast as the item-blind mix, since the confidence scores "
                              "are only seen when the models answer; informative scores make the run cheaper")
        costs = forecast_costs(counts, ladder, expected_items, known.priors, accuracy=options.accuracy,
                               confidence=options.confidence, seed=task.seed, method=options.method,
                               runs=FORECAST_RUNS if profiles else 1, keys=keys)
        plan.set_forecast(costs, *scale)


def _scale(dollars: np.ndarray, expected: np.ndarray) -> float:
    """How much dearer every request is with answers at another length than expected."""
    total = float(expected.sum())
    return float(dollars.sum()) / total if total > 0 else 1.0


def _ladder(models: tuple[ModelSpec, ...], task: LLMTask) -> list[ModelSpec]:
    chosen = set(task.options.models)
    return [replace(m, reference=m.name == task.options.reference) for m in models if m.name in chosen]


def _reference(ladder: list[ModelSpec]) -> int:
    return next(i for i, m in enumerate(ladder) if m.reference)

