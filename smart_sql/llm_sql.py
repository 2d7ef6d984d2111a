"""Running a model's LLM tasks in DuckDB.

Each task's distinct (prompt, text) pairs, with their row counts, land in a temporary table
(`llm_inputs`); the SMART engine runs over their counts (profiling, then the cheapest guaranteed mix
of models through the provider), reading the inputs it asks about and writing the answers back a
chunk at a time, and the answer and the model of each input land with it in a temporary table that
the rewritten SQL reads.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Sequence

import duckdb

from .errors import LLMError, ModelError, SmartSqlError
from .llm.base import LLMRequest, ModelSpec, Provider, RequestOptions
from .llm.budget import Budget, BudgetReached, spend_within
from .llm.config import LLMConfig
from .llm.long_input import LongInputs, cut_inputs
from .llm.stopping import AnyOf, RequestsStopped, stop_sending_when
from .rewrite import mentions_smart_llm

if TYPE_CHECKING:
    import numpy as np

    from .llm_inputs import TaskInputs
    from .rewrite.plan import LLMTask, RewrittenSQL

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 3.0
"""How long requests in flight may still bring their answers (to the cache) once a build is stopping."""

@dataclass
class TaskReport:
    """What one task did: its inputs and the SMART account (tokens, cost, decisions, bound)."""

    task: LLMTask
    rows: int = 0
    distinct_inputs: int = 0
    answers_by_model: dict[str, int] = field(default_factory=dict)
    account: dict | None = None

    def to_dict(self) -> dict:
        return {"id": self.task.id, "calls": list(self.task.calls), "rows": self.rows,
                "distinct_inputs": self.distinct_inputs, "answers_by_model": self.answers_by_model,
                "options": self.task.options.to_dict(), "account": self.account, "spend": self.spend()}

    def spend(self) -> dict:
        from .llm_report.spend import task_spend

        return task_spend(self.task.id, self.rows, self.distinct_inputs, self.account, self.answers_by_model)


class _LoopThread:
    """One event loop on a thread of its own, so the provider's connections live on one loop for the
    whole build and a caller with a running loop (a notebook) is never blocked by asyncio.run."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="smart-llm", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def cancel_after(self, seconds: float) -> None:
        """Cancel whatever runs on the loop `seconds` from now; callable from any thread (or a signal handler)."""
        try:
            self.loop.call_soon_threadsafe(self.loop.call_later, seconds, _cancel_all, self.loop)
        except RuntimeError:
            pass

    def close(self) -> None:
        """Cancel what still runs (after an interrupt), so that no caller waits forever, then stop."""
        asyncio.run_coroutine_threadsafe(_cancel_others(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        task.cancel()


async def _others_done() -> None:
    """Wait for the loop's other tasks: when one batch stops, batches for other models that ran beside
    it may still have answers in flight (the grace period's cancellation bounds the wait)."""
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    await asyncio.gather(*others, return_exceptions=True)


async def _cancel_others() -> None:
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


class LLMRunner:
    """Rewrites a model's SQL and fills its SMART_LLM columns: the project engine's `sql_transform`.

    One runner serves a whole build: for a model with LLM tasks it opens the provider and closes it
    (flushing the response cache) when the tasks are done, keeps a report per model
    (`reports[model_name]`) and drops a model's temporary result tables when the next model starts
    or the runner closes. After `stop()` it sends no request and raises KeyboardInterrupt.
    """

    def __init__(self, config: LLMConfig, *, cache_path: str | Path | None = None, use_cache: bool = True,
                 provider: Provider | None = None, progress: Callable[[str], None] | None = None,
                 progress_every: float = 10.0, grace_seconds: float = STOP_GRACE_SECONDS, monitor=None,
                 budget_source: str = "llm.max_cost in profiles.yml"):
        self.config = config
        self.budget = None if config.max_cost is None else Budget(
            config.max_cost, {m.name: m for m in config.models}, source=budget_source)
        """The build's spending limit, shared by every task (see smart_sql.llm.budget)."""
        self.cache_path = Path(cache_path) if cache_path else None
        self.use_cache = use_cache
        self._provider = provider
        self._owns_provider = provider is None
        self.simulated: bool | None = None if provider is None else provider.simulated
        """Whether the answers came from the simulated provider; None before any call."""
        self._loop: _LoopThread | None = None
        self._stopping = threading.Event()
        self.grace_seconds = grace_seconds
        self._result_tables: list[tuple[duckdb.DuckDBPyConnection, str]] = []
        self.reports: dict[str, list[TaskReport]] = {}
        from .progress.monitors import Monitor, PlainMonitor

        self.monitor = monitor or (PlainMonitor(progress, progress_every) if progress else Monitor())
        """Shows each task's progress: `progress` receives plain lines, at most every `progress_every` s
        for counts; a `smart_sql.progress` monitor (live display, JSON lines) replaces it."""
        self.run_id = uuid.uuid4().hex
        self.started_at = datetime.now(timezone.utc)

    def __call__(self, node, sql: str, conn: duckdb.DuckDBPyConnection) -> str:
        return self.sql_transform(node, sql, conn)

    def exclusive(self, sql: str) -> bool:
        """Whether a model with this SQL needs the runner to itself (a build runs such models one at a
        time, beside models without LLM calls): the runner keeps one provider, one event loop and the
        result tables of the last model, which the next model with LLM calls drops."""
        return mentions_smart_llm(sql)

    def finished(self, node) -> None:
        """The model with LLM calls is materialized (or failed): its result tables can go."""
        self.drop_results()

    def sql_transform(self, node, sql: str, conn: duckdb.DuckDBPyConnection) -> str:
        """The SQL to materialize for `node`, after its LLM tasks have run on `conn`."""
        if not mentions_smart_llm(sql):
            return sql
        self.drop_results()
        from .rewrite.plan import rewrite_sql

        name, path = _node_name(node), _node_path(node)
        rewritten = rewrite_sql(sql, self.config, path=path, table_prefix=result_table_prefix(name), model=name)
        if rewritten.tasks and getattr(node, "materialized", None) == "view":
            raise ModelError("a view cannot hold SMART_LLM columns: their answers are computed at build time",
                             path=path, hint="set materialized='table' (or 'incremental') in the model's config")
        try:
            self.reports[name] = []
            self.run_tasks(conn, rewritten, path=path, reports=self.reports[name])
        finally:
            self.close_provider()
        return rewritten.sql

    def extras(self, node) -> dict:
        """What to store with the node's result in run_results.json; "summary" is printed after the run."""
        reports = self.reports.get(_node_name(node))
        if not reports:
            return {}
        from .llm_report.text import spend_table

        summary = [summary_line(reports, bool(self.simulated))]
        summary += [line for report in reports for line in spend_table(report.spend())]
        return {"llm": {"simulated": bool(self.simulated), "run_id": self.run_id,
                        "run_started_at": self.started_at.isoformat(), "provider": self.config.provider,
                        "tasks": [r.to_dict() for r in reports]},
                "summary": "\n".join(summary)}

    def run_tasks(self, conn: duckdb.DuckDBPyConnection, rewritten: RewrittenSQL, *,
                  path: str | Path | None = None, reports: list[TaskReport] | None = None) -> list[TaskReport]:
        """Fill the result table of every task, in order, appending each finished task's report to
        `reports` (so a model that fails in a later task still accounts for the earlier ones).
        Before any call, the statement and every task's input must bind (see `check_binds`)."""
        reports = [] if reports is None else reports
        if not rewritten.tasks:
            return reports
        from .llm_check import check_binds

        self._result_tables.extend((conn, task.table) for task in rewritten.tasks)
        check_binds(conn, rewritten, path=path)
        for task in rewritten.tasks:
            if self._stopping.is_set():
                raise KeyboardInterrupt
            report = TaskReport(task)
            self._fill(conn, task, report, path)
            reports.append(report)
        return reports

    def stop(self) -> None:
        """Stop for an interrupted build, from any thread: no request is sent from now on, those in
        flight have `grace_seconds` to bring their answers (cached as they come), then what still runs
        is cancelled and the running task raises KeyboardInterrupt."""
        self._stopping.set()
        if self._loop is not None:
            self._loop.cancel_after(0 if self.simulated else self.grace_seconds)

    def _fill(self, conn: duckdb.DuckDBPyConnection, task: LLMTask, report: TaskReport, path) -> None:
        """Answer the task's inputs into its result table (none is created when it fails)."""
        from .llm_inputs import TaskInputs

        calls = ", ".join(task.calls)
        inputs = TaskInputs(conn, task.table)
        try:
            try:
                inputs.materialize(task.input_sql)
            except duckdb.Error as error:
                raise ModelError(f"{calls}: the input query failed: {error}", path=path,
                                 hint="check the columns the call reads; calls inside correlated subqueries "
                                      "are not supported") from None
            try:
                if len(inputs):
                    self._batch(task, report, inputs)
                report.answers_by_model = inputs.finish()
            except BaseException as failure:
                if self._stopping.is_set() or isinstance(failure, KeyboardInterrupt):
                    raise KeyboardInterrupt from None
                if isinstance(failure, SmartSqlError):
                    raise type(failure)(f"{calls}: {failure.message}", path=path, hint=failure.hint) from None
                raise ModelError(f"{calls}: {type(failure).__name__}: {failure}", path=path) from failure
        finally:
            inputs.close()

    def _batch(self, task: LLMTask, report: TaskReport, inputs: TaskInputs) -> None:
        """Run the SMART engine over the task's inputs, their answers written back as they come."""
        from .progress import TaskProgress

        rows = int(inputs.counts.sum())
        progress = TaskProgress(_task_name(task), len(inputs), rows, task.options.reference,
                                budget=self._budget(task))
        self.monitor.task_started(progress)
        account = None
        try:
            account = self._loop_thread().run(self._answer(task, progress, inputs))
        finally:
            self.monitor.task_finished(progress, account)
        report.rows = rows
        report.distinct_inputs = len(inputs)
        report.account = account

    async def _answer(self, task: LLMTask, progress, inputs: TaskInputs) -> dict:
        from .llm.served import ServedVersions
        from .smart.engine import InvalidAnswers, run_smart

        if self._stopping.is_set():
            raise RequestsStopped("stopped before the task started")
        failed = threading.Event()
        """Set when the task fails: no new request, and the ones in flight may still land in the cache."""
        stop_sending_when(AnyOf(self._stopping, failed))
        provider = self._open_provider()
        served = ServedVersions()
        options = task.options
        request_options = RequestOptions(max_tokens=options.max_tokens, temperature=options.temperature,
                                         labels=options.labels)
        ladder = self._ladder(task)
        specs = {spec.name: spec for spec in ladder}
        count = self._counter(progress, provider)
        counts, keys = inputs.counts, inputs.keys
        max_tokens = self.config.max_input_tokens
        self._warn(task, progress, await inputs.on_thread(self._survey_lengths, task, inputs))
        budget = self._task_budget(task)
        if budget is not None:
            await self._check_can_start(task, budget, provider, inputs)
        spend_within(budget)

        def read(indices: Sequence[int]) -> tuple[np.ndarray, list[str]]:
            prompts, texts = inputs.read(indices)
            return prompts, (texts if max_tokens is None else cut_inputs(prompts, texts, max_tokens))

        complete_columns = getattr(provider, "complete_columns", None)

        async def answer(model: str, indices: Sequence[int]):
            prompts, sent = await inputs.on_thread(read, indices)
            if complete_columns is not None:
                batch = await complete_columns(model, prompts, sent, request_options, count(specs[model]))
                served.add_versions(model, batch.served_models)
                return batch
            responses = await provider.complete([LLMRequest(model, p, t, request_options)
                                                 for p, t in zip(prompts, sent)], on_response=count(specs[model]))
            served.add(model, responses)
            return responses

        async def write(items: np.ndarray, values: np.ndarray, model: str) -> None:
            await inputs.on_thread(inputs.write, items, values, model)

        known = await inputs.on_thread(_known_answers, provider, ladder, inputs, request_options, max_tokens)
        try:
            result = await run_smart(counts, ladder, answer, keys=keys, known=known,
                                     accuracy=options.accuracy, confidence=options.confidence,
                                     seed=task.seed,
                                     method=options.method, labels=list(options.labels) if options.labels else None,
                                     compare=options.compare, max_invalid_share=options.max_invalid_share,
                                     progress=self._phases(progress), on_answers=write)
        except (RequestsStopped, BudgetReached):
            await _others_done()
            raise
        except Exception as error:
            failed.set()
            await _others_done()
            if isinstance(error, InvalidAnswers):
                raise LLMError(str(error), hint="check the prompt and the model's replies (a few are shown above); "
                                                "raise `max_invalid_share` on the call or in the llm block to "
                                                "accept more NULL answers") from None
            raise
        self._warn(task, progress, served.warning())
        return result.account.to_dict()

    def _survey_lengths(self, task: LLMTask, inputs: TaskInputs) -> str | None:
        """Before any request: fail on inputs over `max_input_tokens` (with `on_long_input: fail`),
        else the warning that some will be cut."""
        if self.config.max_input_tokens is None:
            return None
        long = LongInputs(self.config.max_input_tokens)
        for prompts, texts in inputs.in_order():
            long.survey(prompts, texts)
        return long.verdict(self.config.on_long_input, ", ".join(task.calls))

    def _task_budget(self, task: LLMTask) -> Budget | None:
        """The build's budget, or within it the call's own `max_cost`."""
        if task.options.max_cost is None:
            return self.budget
        return Budget(task.options.max_cost, {m.name: m for m in self.config.models},
                      source=f"max_cost => {task.options.max_cost:g} on {', '.join(task.calls)}", parent=self.budget)

    async def _check_can_start(self, task: LLMTask, budget: Budget, provider: Provider, inputs: TaskInputs) -> None:
        """Fail before the first request when the task's worst case (its uncached requests, tokens
        counted, answers at their bound) exceeds what the budget has left."""
        from .smart.spend import spend_bounds

        ladder = self._ladder(task)
        dollars = await inputs.on_thread(self._worst_dollars, task, ladder, provider, inputs)
        reference = next(i for i, m in enumerate(ladder) if m.reference)
        profiles = (task.options.method != "reference" and task.options.accuracy < 1.0 and len(ladder) > 1)
        _, most = spend_bounds(dollars, inputs.counts, reference, profiles=profiles)
        if any(b.refused for b in budget.chain) or most > budget.left + 1e-12:
            error = budget.reached(most)
            budget.refuse_beyond(most, f"task {task.table.removeprefix('__smart_llm_')} ({', '.join(task.calls)})")
            raise error

    def _worst_dollars(self, task: LLMTask, ladder: list[ModelSpec], provider: Provider,
                       inputs: TaskInputs) -> np.ndarray:
        """(models, inputs) what each request costs at worst (nothing when cached), a chunk at a time."""
        import numpy as np

        from .plan.items import cached_mask, item_costs

        cache = getattr(provider, "cache", None)
        lookup = cache.get_many if cache is not None else None
        max_tokens = self.config.max_input_tokens
        columns = [np.zeros((len(ladder), 0))]
        for prompts, texts in inputs.in_order():
            sent = texts if max_tokens is None else cut_inputs(prompts, texts, max_tokens)
            cached = cached_mask(lookup, provider.endpoint, ladder, task.options, prompts, sent)
            columns.append(item_costs(task.options, ladder, prompts, sent, cached, output="worst").dollars(ladder))
        return np.concatenate(columns, axis=1)

    def _warn(self, task: LLMTask, progress, warning: str | None) -> None:
        if warning is None:
            return
        if self.monitor.shows:
            self.monitor.note(progress, warning)
        else:
            log.warning("%s: %s", task.id, warning)

    def _budget(self, task: LLMTask) -> float | None:
        """The dollars a task may spend, when the call or the llm block sets `max_cost`."""
        budget = getattr(task.options, "max_cost", None)
        return budget if budget is not None else getattr(self.config, "max_cost", None)

    def _counter(self, progress, provider: Provider):
        """on_response callbacks, one per model, that count each answer, its cost and the retries
        (none when nothing shows them)."""
        if not self.monitor.shows:
            return lambda spec: None
        inner = getattr(provider, "provider", provider)
        retries_before = getattr(inner, "retries", 0)

        def for_model(spec: ModelSpec):
            def count(index, response) -> None:
                progress.add_response(spec.name, spec.cost(response.input_tokens, response.output_tokens),
                                      response.cached)
                progress.retries = getattr(inner, "retries", 0) - retries_before
                self.monitor.responded(progress)
            return count
        return for_model

    def _phases(self, progress):
        """A SMART progress callback: checkpoints and the start of answering go to the monitor."""
        def report(event) -> None:
            if event.checkpoint is not None:
                progress.checkpoint(event.checkpoint.items_profiled, event.checkpoint.candidates)
                self.monitor.checkpoint(progress)
            elif event.phase == "answering":
                progress.enter("answering", mix=event.message.partition(": ")[2])
                self.monitor.answering(progress)
        return report

    def _ladder(self, task: LLMTask) -> list[ModelSpec]:
        chosen = set(task.options.models)
        return [replace(m, reference=m.name == task.options.reference) for m in self.config.models
                if m.name in chosen]

    def _open_provider(self) -> Provider:
        if self._provider is None:
            from .llm.factory import open_provider

            self._provider = open_provider(self.config, self.cache_path, self.use_cache)
            self.simulated = self._provider.simulated
        return self._provider

    def _loop_thread(self) -> _LoopThread:
        if self._loop is None:
            self._loop = _LoopThread()
        return self._loop

    def drop_results(self) -> None:
        for conn, table in self._result_tables:
            try:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            except duckdb.Error:
                pass
        self._result_tables.clear()

    def close(self) -> None:
        """Drop the result tables and close the provider (flushing the response cache)."""
        self.drop_results()
        self.close_provider()

    def close_provider(self) -> None:
        """Close the provider (flushing the response cache); the next task opens a new one."""
        if self._loop is not None:
            if self._provider is not None and self._owns_provider:
                self._loop.run(self._provider.aclose())
            self._loop.close()
            self._loop = None
        if self._owns_provider:
            self._provider = None

    def __enter__(self) -> "LLMRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _known_answers(provider: Provider, ladder: Sequence[ModelSpec], inputs: TaskInputs, options: RequestOptions,
                   max_tokens: int | None) -> dict[str, np.ndarray] | None:
    """Per model, which inputs the response cache already answers (free), read a chunk at a time
    without reading the answers; None without a cache. Blocking: run it off the loop."""
    import numpy as np

    known_columns = getattr(provider, "known_columns", None)
    if known_columns is None:
        return None
    found: dict[str, list[np.ndarray]] = {m.name: [] for m in ladder}
    for prompts, texts in inputs.in_order():
        sent = texts if max_tokens is None else cut_inputs(prompts, texts, max_tokens)
        for model in ladder:
            found[model.name].append(known_columns(model.name, prompts, sent, options))
    return {name: np.concatenate(parts) if parts else np.zeros(0, dtype=bool) for name, parts in found.items()}


def summary_line(reports: Sequence[TaskReport], simulated: bool) -> str:
    """One line per model: rows, distinct inputs, cost against the reference model alone, bound."""
    from .llm_report.spend import totals

    accounts = [r.account for r in reports if r.account]
    spent = totals([r.spend() for r in reports])
    cost, reference_cost, without_cache = spent["cost"], spent["reference_only_cost"], spent["cost_without_cache"]
    text = (f"SMART_LLM: {len(reports)} task{'s' * (len(reports) != 1)}, {spent['rows']} rows, "
            f"{spent['distinct_inputs']} distinct inputs, cost ${cost:.4f} (reference model alone: "
            f"${reference_cost:.4f}; saved ${spent['saved_by_smart']:.4f} by SMART")
    if without_cache > 0 and reference_cost >= 1.05 * without_cache:
        text += f", {reference_cost / without_cache:.1f}x cheaper"
    text += f", and ${spent['saved_by_cache']:.4f} by the cache)"
    bounds = [(a.get("lower_bound"), a.get("confidence")) for a in accounts if a.get("lower_bound") is not None]
    if bounds:
        low = min(bound for bound, _ in bounds)
        text += f"; agreement with the reference >= {low:.3f} certified"
    short = [a for a in accounts if a.get("lower_bound", 1.0) < a.get("accuracy", 0.0) - 1e-12]
    if short:
        text += (f" (under the requested accuracy {max(a['accuracy'] for a in short):g}: the reference model "
                 f"itself answered {sum(a.get('reference_invalid_rows', 0) for a in short)} rows invalidly)")
    invalid = Counter()
    for account in accounts:
        invalid.update({name: usage.get("invalid_answers", 0) for name, usage in account.get("usage", {}).items()})
    null_rows = sum(a.get("null_rows", 0) for a in accounts)
    if null_rows or sum(invalid.values()):
        by_model = ", ".join(f"{name} {count}" for name, count in invalid.items() if count)
        text += (f"; {null_rows} rows NULL because their answer was empty or named no label "
                 f"(invalid answers by model: {by_model})")
    if simulated:
        text += " [simulated provider: answers are not from a real model]"
    return text


def _task_name(task: LLMTask) -> str:
    return task.table.removeprefix("__smart_llm_")


def _node_name(node) -> str:
    return str(getattr(node, "name", None) or getattr(node, "unique_id", None) or node)


def _node_path(node) -> str | None:
    path = getattr(node, "relpath", None) or getattr(node, "path", None)
    return str(path) if path else None


def result_table_prefix(model_name: str) -> str:
    return "__smart_llm_" + re.sub(r"\W", "_", model_name)
