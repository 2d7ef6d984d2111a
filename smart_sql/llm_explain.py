"""What `smart-sql compile` shows for a model with SMART_LLM calls: the LLM tasks (input query,
options, models) and the rewritten SQL; with `--explain`, how many distinct inputs each task would
send, counted by running only the input queries (no model is called)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from .llm.config import LLMConfig
from .llm.tokens import FRAMING_TOKENS, estimate_tokens, estimate_tokens_sql
from .llm_sql import result_table_prefix
from .rewrite.plan import LLMTask, RewrittenSQL, rewrite_sql


def count_inputs(conn: duckdb.DuckDBPyConnection, rewritten: RewrittenSQL, config: LLMConfig) -> dict[str, str]:
    """Per task: 'N distinct inputs from M rows' and what the reference model alone would cost, or
    why it cannot be counted before the run."""
    counts = {}
    tokens = f"{FRAMING_TOKENS} + {estimate_tokens_sql('prompt')} + {estimate_tokens_sql('text')}"
    for task in rewritten.tasks:
        if task.depends_on:
            counts[task.id] = f"reads the answers of {', '.join(task.depends_on)}: counted when it runs"
            continue
        try:
            distinct, rows, input_tokens = conn.execute(
                f"SELECT count(*), coalesce(sum(n), 0), coalesce(sum({tokens}), 0) FROM ({task.input_sql})").fetchone()
        except duckdb.Error as error:
            counts[task.id] = (f"cannot count yet ({str(error).splitlines()[0]}); build the upstream models "
                               f"first, or run `smart-sql plan`, which counts from their SQL")
            continue
        counts[task.id] = (f"{distinct} distinct inputs from {rows} rows\n"
                           f"{reference_cost_estimate(task, config, distinct, int(input_tokens))}")
    return counts


def reference_cost_estimate(task: LLMTask, config: LLMConfig, distinct: int, input_tokens: int) -> str:
    """What sending every distinct input to the reference model would cost, with tokens estimated
    from text length: the most a run can cost (SMART's profiling and mix cost less), before the cache."""
    options = task.options
    reference = config.model(options.reference)
    text = (f"reference model alone ({reference.name}), tokens estimated from text length: "
            f"{input_tokens:,} input tokens, ${reference.cost(input_tokens, 0):.4f}")
    if options.max_tokens:
        return text + f", plus at most ${reference.cost(0, distinct * options.max_tokens):.4f} for output"
    if options.labels:
        label_tokens = max(estimate_tokens(label) for label in options.labels)
        return text + f", plus about ${reference.cost(0, distinct * label_tokens):.4f} for output (a label each)"
    return text + ", plus the output tokens (set max_tokens to bound them)"


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
             + (f"; max_tokens {options.max_tokens}" if options.max_tokens else "")
             + ("; empty texts sent" if options.empty_text == "send" else "")]
    if options.labels:
        lines.append(f"--   labels: {', '.join(options.labels)}")
    if task.depends_on:
        lines.append(f"--   runs after: {', '.join(task.depends_on)}")
    if count:
        lines.extend(f"--   {line}" for line in count.splitlines())
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
                                model=node.name)
        if not rewritten.tasks:
            return None
        text = plan_text(rewritten, count_inputs(conn, rewritten, self.config) if self.explain else None)
        path = self.target_path / "compiled" / (relpath.removesuffix(".sql") + ".llm_plan.sql")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        return f"LLM plan -> {path}\n{text}"
