"""Building a project on an engine adapter (a `type: spark` target): seeds, models (table, view,
incremental, ephemeral) and data tests in DAG order, one node at a time, a failed node skipping what
depends on it; models are rendered as for DuckDB and turned into the engine's SQL by the adapter.

What this build does not do is refused before anything runs (smart_sql.adapters.unsupported)."""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from ..artifacts import now
from ..datatests import DataTest, judged, outcome_sql
from ..errors import ModelError, SmartSqlError
from ..failures import PREVIEW_ROWS, format_rows
from ..execute import _result, _skipped, compile_test, fail_on_warnings, render_model, write_compiled
from ..graph import Graph
from ..interrupts import StopRequest
from ..project import ModelNode, Project, SeedNode
from ..report import FAILED, Reporter, RunResult, RunResults, write_manifest, write_run_results
from ..schedule import Schedule
from . import open_adapter
from .base import EngineAdapter
from .unsupported import check_supported

if TYPE_CHECKING:
    from .llm import AdapterLLMRunner


def build(project: Project, select: Iterable[str] = (), exclude: Iterable[str] = (), *, full_refresh: bool = False,
          reporter: Reporter | None = None, resource_types: Iterable[str] = ("seed", "model", "test"),
          command: str = "build", debug: bool = False, stop: StopRequest | None = None,
          llm_runner: Callable[[], AdapterLLMRunner] | None = None,
          adapter: EngineAdapter | None = None) -> RunResults:
    """As smart_sql.execute.build, on `adapter` (default: the target's, opened and closed here);
    `llm_runner` makes the SMART_LLM runner at the first model with LLM calls."""
    reporter = reporter or Reporter()
    stop = stop or StopRequest()
    graph = Graph(project)
    chosen = graph.select(select, exclude, tuple(resource_types))
    order = [uid for uid in graph.order(chosen) if graph.nodes[uid].materialized != "ephemeral"]
    fail_on_warnings(project)
    check_supported(project, [graph.nodes[uid] for uid in order])
    write_manifest(project)
    results = RunResults(command)
    started = time.perf_counter()
    runner = _Runner(project, full_refresh, debug, llm_runner or _default_runner(project, reporter))
    try:
        with _opened(project, adapter) as engine, stop.calling(runner.stop, engine.interrupt):
            reporter.info(f"smart-sql: project {project.name}, target {project.target.name} ({engine.name}, "
                          f"schema {project.target.schema}), llm provider {project.target.llm.provider}")
            if not order:
                reporter.info("Nothing to do: no node matches the selection.")
            runner.adapter = engine
            schedule = Schedule(graph, order)
            for index in range(1, len(order) + 1):
                uid = schedule.next_ready()
                node = graph.nodes[uid]
                upstream = schedule.failed_upstream(uid)
                result = _skipped(node, upstream, project) if upstream is not None else runner.run(node)
                stop.check()
                schedule.done(uid, failed=result.status in FAILED)
                results.results.append(result)
                reporter.node_finished(index, len(order), result)
    except KeyboardInterrupt:
        reporter.info(f"Interrupted after {len(results.results)} of {len(order)} nodes; answers already "
                      f"received come from the response cache at no cost when the command runs again.")
        raise
    finally:
        runner.close()
        results.elapsed_time = time.perf_counter() - started
        write_run_results(project, results)
    reporter.summary(results)
    return results


class _opened:
    """The given adapter as it is, or the target's, closed at the end."""

    def __init__(self, project: Project, adapter: EngineAdapter | None):
        self.project, self.given, self.adapter = project, adapter, adapter

    def __enter__(self) -> EngineAdapter:
        if self.adapter is None:
            self.adapter = open_adapter(self.project)
        return self.adapter

    def __exit__(self, *exc) -> None:
        if self.given is None and self.adapter is not None:
            self.adapter.close()


def _default_runner(project: Project, reporter: Reporter) -> Callable[[], AdapterLLMRunner]:
    def make() -> AdapterLLMRunner:
        from .llm import AdapterLLMRunner

        return AdapterLLMRunner(project.target.llm, cache_path=project.llm_cache_path, progress=reporter.info)
    return make


class _Runner:
    def __init__(self, project: Project, full_refresh: bool, debug: bool, make_llm: Callable[[], AdapterLLMRunner]):
        self.project = project
        self.full_refresh = full_refresh
        self.debug = debug
        self.make_llm = make_llm
        self.llm: AdapterLLMRunner | None = None
        self.adapter: EngineAdapter | None = None
        self.stopped = False

    def run(self, node) -> RunResult:
        started, started_at = time.perf_counter(), now()
        if isinstance(node, SeedNode):
            result = self._seed(node)
        elif isinstance(node, DataTest):
            result = self._test(node)
        else:
            result = self._model(node)
        result.execution_time = time.perf_counter() - started
        result.thread_id = "Thread-1 (worker)"
        result.timing = [{"name": "execute", "started_at": started_at, "completed_at": now()}]
        return result

    def _seed(self, seed: SeedNode) -> RunResult:
        result = _result(seed, f"loaded seed {seed.relation.display}", self.project)
        try:
            self.adapter.ensure_schema(seed.relation.schema)
            result.rows_affected = self.adapter.load_seed(seed)
        except Exception as error:
            return self._failed(result, seed, error, f"loading seed {seed.relation.display}", seed.path)
        return result

    def _model(self, model: ModelNode) -> RunResult:
        kind = model.materialized
        result = _result(model, f"created {kind} {model.relation.display}", self.project)
        compiled_path = None
        try:
            incremental = self._incremental(model)
            compiled = render_model(self.project, model, incremental=incremental)
            compiled_path = write_compiled(self.project, model.relpath, compiled, model.fqn[0])
            compiled = compiled.written_to(self.project.display(compiled_path))
            result.compiled_code = str(compiled)
            self.adapter.ensure_schema(model.relation.schema)
            sql = self._transformed(model, compiled)
            if kind == "view":
                self.adapter.create_view(model.relation, sql)
            elif incremental:
                result.rows_affected = self._insert(model, sql)
                result.description = f"inserted into incremental {model.relation.display}"
            else:
                result.rows_affected = self.adapter.create_table(model.relation, sql)
        except Exception as error:
            hint = f"the SQL that ran is in {self.project.display(compiled_path)}" if compiled_path else None
            self._failed(result, model, error, f"creating {kind} {model.relation.display}", model.path, hint)
        finally:
            if self.llm is not None:
                self.llm.finished(model)
                result.extras.update(self.llm.extras(model))
        return result

    def _transformed(self, model: ModelNode, sql: str) -> str:
        from ..rewrite import mentions_smart_llm

        if not mentions_smart_llm(sql):
            return self.adapter.translate(sql, path=self.project.display(model.path), model=model.name)
        if self.llm is None:
            self.llm = self.make_llm()
            if self.stopped:
                self.llm.stop()
        return self.llm.transform(self.adapter, model, sql)

    def _incremental(self, model: ModelNode) -> bool:
        refresh = model.config.get("full_refresh")
        return (model.materialized == "incremental" and not (self.full_refresh if refresh is None else refresh)
                and self.adapter.relation_kind(model.relation) == "table")

    def _insert(self, model: ModelNode, sql: str) -> int:
        self._check_schema(model, sql)
        strategy = model.config.get("incremental_strategy") or "delete+insert"
        key = model.config.get("unique_key")
        keys = [key] if isinstance(key, str) else list(key or [])
        if keys and strategy == "delete+insert":
            return self.adapter.replace_by_key(model.relation, sql, keys)
        return self.adapter.append(model.relation, sql)

    def _check_schema(self, model: ModelNode, sql: str) -> None:
        change = model.config.get("on_schema_change") or self.project.config.on_schema_change
        if change != "fail":
            return
        new, _ = self.adapter.fetch(f"select * from ({sql}) as new_rows limit 0", limit=0)
        old, _ = self.adapter.fetch(self.adapter.translate(f"select * from {model.relation} limit 0"), limit=0)
        if sorted(c.lower() for c in new) != sorted(c.lower() for c in old):
            raise ModelError(f"the columns of incremental model {model.name!r} changed ({', '.join(old)} -> "
                             f"{', '.join(new)}) and on_schema_change is 'fail'", path=self.project.display(model.path),
                             hint="run with --full-refresh to rebuild the table, or set on_schema_change: ignore")

    def _test(self, test: DataTest) -> RunResult:
        result = _result(test, test.name, self.project)
        try:
            sql, compiled = compile_test(self.project, test)
            result.compiled_code = sql
            path = self.project.display(test.path)
            outcome = self.adapter.translate(outcome_sql(test, sql), path=path, model=test.name)
            _, (row,) = self.adapter.fetch(outcome)
            result.status, result.failures = judged(test, row, self.project.flags.warn_error, path)
            if result.status != "pass":
                result.message = self._failure_message(test, result, sql, compiled)
        except Exception as error:
            return self._failed(result, test, error, test.name, test.path)
        return result

    def _failure_message(self, test: DataTest, result: RunResult, failing: str, compiled: Path) -> str:
        """dbt's 'Got N results', with the first failing rows."""
        preview = self.adapter.translate(f"select * from (\n{failing}\n) limit {PREVIEW_ROWS}")
        columns, rows = self.adapter.fetch(preview)
        return (f"Got {result.failures} result{'s' * (result.failures != 1)}; first failing rows:\n"
                f"{format_rows(columns, rows)}\n(declared in {self.project.display(test.path)}; query: "
                f"{self.project.display(compiled)})")

    def _failed(self, result: RunResult, node, error: Exception, description: str, path: Path,
                hint: str | None = None) -> RunResult:
        result.status = "error"
        result.description = description
        if isinstance(error, SmartSqlError):
            result.message = str(error)
        else:
            engine = self.adapter.name if self.adapter else "the engine"
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            result.message = str(ModelError(f"{node.resource_type} {node.name!r} failed on {engine}: {first}",
                                            path=self.project.display(path), hint=hint))
        if self.debug:
            result.message += "\n" + "".join(traceback.format_exception(error))
        return result

    def stop(self) -> None:
        self.stopped = True
        if self.llm is not None:
            self.llm.stop()

    def close(self) -> None:
        if self.llm is not None:
            self.llm.close()
