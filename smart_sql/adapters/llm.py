"""SMART_LLM columns over an engine adapter: the rewrite's task input queries run in the engine, their
distinct inputs come to the driver in chunks, the same SMART engine, provider, response cache and
account as on DuckDB answer them (smart_sql.llm_sql.LLMRunner), and the answers go back to the engine
as a table in chunks, which the rewritten statement joins (its call sites are lookups into it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ..errors import ModelError, SmartSqlError
from ..llm_check import NOTHING_PAID
from ..llm_inputs import MemoryInputs
from ..llm_sql import LLMRunner, TaskReport, _node_name, _node_path, result_table_prefix
from ..rewrite import mentions_smart_llm
from .base import CHUNK_ROWS, Answers, EngineAdapter

if TYPE_CHECKING:
    from ..rewrite.plan import LLMTask, RewrittenSQL


class AdapterLLMRunner(LLMRunner):
    """An LLMRunner whose tasks run on an EngineAdapter instead of a DuckDB batch function."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._adapter_tables: list[tuple[EngineAdapter, str]] = []
        """The answer tables written, dropped when the model is done (`finished`) or the runner closes."""

    def transform(self, adapter: EngineAdapter, node, sql: str) -> str:
        """The model's SQL in the engine's dialect, its LLM tasks done and their answer tables written."""
        name, path = _node_name(node), _node_path(node)
        checked = adapter.translate(sql, path=path, model=name)
        if not mentions_smart_llm(sql):
            return checked
        from ..rewrite.plan import rewrite_sql

        rewritten = rewrite_sql(sql, self.config, path=path, table_prefix=result_table_prefix(name), model=name)
        if rewritten.tasks and getattr(node, "materialized", None) == "view":
            raise ModelError("a view cannot hold SMART_LLM columns: their answers are computed at build time",
                             path=path, hint="set materialized='table' (or 'incremental') in the model's config")
        self.reports[name] = []
        try:
            return self.run_on(adapter, rewritten, path=path, model=name, reports=self.reports[name])
        finally:
            self.close_provider()

    def run_on(self, adapter: EngineAdapter, rewritten: RewrittenSQL, *, path: str | None = None,
               model: str | None = None, reports: list[TaskReport] | None = None) -> str:
        """Fill every task's answer table in order, appending each task's report to `reports`, and return
        the rewritten statement in the engine's dialect. Before any call, each input query and the
        statement must bind over empty answer tables."""
        reports = [] if reports is None else reports
        self._adapter_tables += [(adapter, task.table) for task in rewritten.tasks]
        inputs = {task.id: adapter.translate(task.input_sql, path=path, model=model) for task in rewritten.tasks}
        statement = self._bind(adapter, rewritten, inputs, path, model)
        for task in rewritten.tasks:
            if self._stopping.is_set():
                raise KeyboardInterrupt
            report = TaskReport(task)
            answered = self._answered(task, report, MemoryInputs(*_read_all(adapter, inputs[task.id])), path)
            adapter.write_answers(task.table, _chunks(answered))
            reports.append(report)
        return statement

    def _bind(self, adapter: EngineAdapter, rewritten: RewrittenSQL, inputs: dict[str, str], path, model) -> str:
        """The statement to run, once it and every input query bind (see EngineAdapter.lookups_elsewise)."""
        for task in rewritten.tasks:
            adapter.write_answers(task.table, [])
        for task in rewritten.tasks:
            try:
                adapter.bind(inputs[task.id])
            except Exception as error:
                raise ModelError(f"{', '.join(task.calls)}: the input query does not bind on {adapter.name}: "
                                 f"{_first_line(error)}", path=path, hint=NOTHING_PAID) from None
        statement = adapter.translate(rewritten.sql, path=path, model=model)
        try:
            adapter.bind(statement)
            return statement
        except Exception as error:
            fallback = adapter.lookups_elsewise(statement)
            if fallback is not None and _binds(adapter, fallback):
                return fallback
            raise ModelError(f"the SQL with its SMART_LLM calls rewritten does not bind on {adapter.name}: "
                             f"{_first_line(error)}", path=path,
                             hint=f"`smart-sql compile` shows the rewritten SQL; {NOTHING_PAID}") from None

    def _answered(self, task: LLMTask, report: TaskReport, inputs: MemoryInputs, path) -> MemoryInputs:
        try:
            if len(inputs):
                self._batch(task, report, inputs)
            report.answers_by_model = inputs.finish()
            return inputs
        except KeyboardInterrupt:
            raise
        except SmartSqlError as failure:
            if self._stopping.is_set():
                raise KeyboardInterrupt from None
            raise type(failure)(f"{', '.join(task.calls)}: {failure.message}", path=path, hint=failure.hint) from None
        except Exception as failure:
            if self._stopping.is_set():
                raise KeyboardInterrupt from None
            raise ModelError(f"{', '.join(task.calls)}: {type(failure).__name__}: {failure}", path=path) from failure

    def drop_results(self) -> None:
        for adapter, table in self._adapter_tables:
            try:
                adapter.drop_temporary(table)
            except Exception:
                pass
        self._adapter_tables = []
        super().drop_results()


def _binds(adapter: EngineAdapter, sql: str) -> bool:
    try:
        adapter.bind(sql)
    except Exception:
        return False
    return True


def _read_all(adapter: EngineAdapter, sql: str) -> tuple[list[str], list[str], list[int]]:
    """The SMART engine plans over the whole input set, so the chunks are gathered (as plain lists)."""
    prompts: list[str] = []
    texts: list[str] = []
    counts: list[int] = []
    for chunk_prompts, chunk_texts, chunk_counts in adapter.read_inputs(sql):
        prompts += chunk_prompts
        texts += chunk_texts
        counts += chunk_counts
    return prompts, texts, counts


def _chunks(inputs: MemoryInputs, size: int = CHUNK_ROWS) -> Iterator[Answers]:
    for start in range(0, len(inputs), size):
        part = slice(start, start + size)
        yield (inputs.prompts[part].tolist(), inputs.texts[part].tolist(), inputs.answers[part].tolist(),
               inputs.models[part].tolist())


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def run_query(adapter: EngineAdapter, query: str, llm, *, provider=None, cache_path=None,
              use_cache: bool = True, table_prefix: str = "__smart_llm_q") -> tuple[str, list[TaskReport]]:
    """One SELECT in DuckDB's dialect with SMART_LLM calls, run on `adapter`: the statement in the engine's
    dialect that reads the answer tables it leaves (drop them with `adapter.drop_temporary`), and the
    reports of its tasks."""
    from ..llm.config import LLMConfig, parse_llm_config
    from ..rewrite.plan import rewrite_sql

    config = llm if isinstance(llm, LLMConfig) else parse_llm_config(llm, source="the llm argument")
    rewritten = rewrite_sql(query, config, path="<sql>", table_prefix=table_prefix)
    runner = AdapterLLMRunner(config, cache_path=cache_path, use_cache=use_cache, provider=provider)
    reports: list[TaskReport] = []
    try:
        statement = runner.run_on(adapter, rewritten, path="<sql>", reports=reports)
    finally:
        runner.close_provider()
    return statement, reports
