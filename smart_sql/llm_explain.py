"""What `smart-sql compile` shows for a model with SMART_LLM calls: the LLM tasks (input query,
options, models) and the rewritten SQL; with `--explain`, how many distinct inputs each task would
send, counted by running only the input queries (no model is called)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from .llm.config import LLMConfig
from .llm_sql import result_table_prefix
from .rewrite.plan import LLMTask, RewrittenSQL, rewrite_sql


def count_inputs(conn: duckdb.DuckDBPyConnection, rewritten: RewrittenSQL) -> dict[str, str]:
    """Per task: 'N distinct inputs from M rows', or why it cannot be counted before the run."""
    counts = {}
    for task in rewritten.tasks:
        if task.depends_on:
            counts[task.id] = f"reads the answers of {', '.join(task.depends_on)}: counted when it runs"
            continue
        try:
            distinct, rows = conn.execute(f"SELECT count(*), coalesce(sum(n), 0) FROM ({task.input_sql})").fetchone()
        except duckdb.Error as error:
            counts[task.id] = f"cannot count yet ({str(error).splitlines()[0]}); build the upstream models first"
            continue
        counts[task.id] = f"{distinct} distinct inputs from {rows} rows"
    return counts


def plan_text(rewritten: RewrittenSQL, counts: dict[str, str] | None = None) -> str:
    """The task list and the rewritten SQL, as SQL comments and statements a reader can run."""
    lines = [f"-- SMART_LLM tasks: {len(rewritten.tasks)}"]
    for task in rewritten.tasks:
        lines.extend(_task_lines(task, counts.get(task.id) if counts else None))
    lines.append("-- rewritten SQL (reads each task's answers from its table):")
    lines.append(rewritten.sql)
    return "\n".join(lines)


def _task_lines(task: LLMTask, count: str | None) -> list[str]:
    options = task.options
    models = ", ".join(f"{m} (reference)" if m == options.reference else m for m in options.models)
    lines = [f"-- {task.id} -> {task.table}: {'; '.join(task.calls)}",
             f"--   models: {models}; method {options.method}; accuracy {options.accuracy}, "
             f"confidence {options.confidence}; temperature {options.temperature}"
             + (f"; max_tokens {options.max_tokens}" if options.max_tokens else "")]
    if options.labels:
        lines.append(f"--   labels: {', '.join(options.labels)}")
    if task.depends_on:
        lines.append(f"--   runs after: {', '.join(task.depends_on)}")
    if count:
        lines.append(f"--   {count}")
    lines.append("--   input query:")
    lines.extend(f"--     {line}" for line in task.input_sql.splitlines())
    return lines


class CompileHook:
    """The project engine's compile hook: writes target/compiled/<model>.llm_plan.sql and returns
    the text to show under the model."""

    def __init__(self, config: LLMConfig, target_path: Path, *, explain: bool = False):
        self.config = config
        self.target_path = Path(target_path)
        self.explain = explain

    def __call__(self, node, sql: str, conn: duckdb.DuckDBPyConnection) -> str | None:
        relpath = str(getattr(node, "relpath", node.name))
        rewritten = rewrite_sql(sql, self.config, path=relpath, table_prefix=result_table_prefix(node.name),
                                source=getattr(node, "raw_sql", None))
        if not rewritten.tasks:
            return None
        text = plan_text(rewritten, count_inputs(conn, rewritten) if self.explain else None)
        path = self.target_path / "compiled" / (relpath.removesuffix(".sql") + ".llm_plan.sql")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        return f"LLM plan -> {path}\n{text}"
