"""Models written in DuckDB's dialect, turned into Spark SQL by sqlglot.

A construct sqlglot cannot express in Spark SQL (it raises UnsupportedError at
`unsupported_level=ErrorLevel.RAISE`), or one it would drop silently (an ORDER BY inside
array_agg), or one Spark has no counterpart for (ASOF and POSITIONAL joins), is an error naming
the file, the line and the construct, before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelError
from ..rewrite import ANSWER, PROMPT, TEXT
from ..positions import CompiledSQL
from ..sql_errors import placed_error

if TYPE_CHECKING:
    from sqlglot import exp

READ, WRITE = "duckdb", "spark"
_NO_SPARK_JOIN = ("ASOF", "POSITIONAL")


def to_spark(sql: str, *, path: str | Path | None = None, model: str | None = None) -> str:
    """`sql` (one DuckDB statement) in Spark SQL. A CompiledSQL names the model file's line in errors."""
    tree = _parse(sql, path, model)
    _refuse_silent_losses(tree, sql, path, model)
    return _generate(tree.transform(_spark_counterpart), sql, path, model)


def md5_number_lower(expression: exp.Expression) -> exp.Expression:
    """DuckDB's md5_number_lower(x) (a UBIGINT: the md5's last 8 bytes read little-endian), in Spark SQL."""
    import sqlglot

    digest = f"md5(cast({expression.sql(dialect=WRITE)} as string))"
    pairs = ", ".join(f"substr({digest}, {start}, 2)" for start in range(31, 15, -2))
    return sqlglot.parse_one(f"cast(conv(concat({pairs}), 16, 10) as decimal(20, 0))", read=WRITE)


def _parse(sql: str, path, model) -> exp.Expression:
    import sqlglot
    from sqlglot.errors import ParseError

    try:
        return sqlglot.parse_one(sql, read=READ)
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        offset = _offset(sql, detail.get("line"), detail.get("col"))
        raise _error(f"cannot read the SQL to turn it into Spark SQL: {detail.get('description', error)}",
                     sql, offset, path, model) from None


def _refuse_silent_losses(tree: exp.Expression, sql: str, path, model) -> None:
    from sqlglot import exp

    for node in tree.walk():
        method = str(node.args.get("method") or "").upper() if isinstance(node, exp.Join) else ""
        if method in _NO_SPARK_JOIN:
            raise _error(f"{method} JOIN has no Spark SQL counterpart", sql, _start(node),
                         path, model)
        if isinstance(node, exp.ArrayAgg) and node.find(exp.Order):
            raise _error("array_agg(... ORDER BY ...) has no ordered counterpart in Spark SQL (collect_list "
                         "keeps no order)", sql, _start(node), path, model,
                         hint="sort the array afterwards (array_sort), or aggregate in an ordered subquery")


def _spark_counterpart(node: exp.Expression) -> exp.Expression:
    """DuckDB functions sqlglot writes under a name Spark lacks: md5_number_lower, regexp_full_match."""
    from sqlglot import exp

    if isinstance(node, exp.Anonymous) and node.name.lower() == "md5_number_lower" and node.expressions:
        return md5_number_lower(node.expressions[0])
    if isinstance(node, exp.RegexpFullMatch):
        pattern = node.expression
        anchored = (exp.Literal.string(f"^(?:{pattern.this})$") if isinstance(pattern, exp.Literal)
                    else exp.func("concat", exp.Literal.string("^(?:"), pattern.copy(), exp.Literal.string(")$")))
        return exp.RegexpLike(this=node.this.copy(), expression=anchored)
    return node


def _generate(tree: exp.Expression, sql: str, path, model) -> str:
    from sqlglot.errors import ErrorLevel, UnsupportedError

    try:
        return tree.sql(dialect=WRITE, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:
        node = _deepest_unsupported(tree)
        construct = node.sql(dialect=READ) if node is not None else ""
        raise _error(f"this construct does not turn into Spark SQL: {construct[:120]} ({error})", sql,
                     _start(node) if node is not None else None, path, model) from None


def _deepest_unsupported(tree: exp.Expression) -> exp.Expression | None:
    """The smallest part of `tree` that sqlglot cannot write in Spark SQL."""
    from sqlglot.errors import ErrorLevel, UnsupportedError

    found = None
    for node in tree.walk():
        try:
            node.sql(dialect=WRITE, unsupported_level=ErrorLevel.RAISE)
        except UnsupportedError:
            found = node
        except Exception:
            continue
    return found


def _start(node: exp.Expression) -> int | None:
    """Where the construct begins in the SQL: the earliest position sqlglot kept of any of its parts."""
    starts = [part.meta["start"] for part in node.walk() if "start" in part.meta]
    return min(starts) if starts else None


def _offset(sql: str, line: int | None, column: int | None) -> int | None:
    if not line:
        return None
    lines = sql.split("\n")
    return sum(len(text) + 1 for text in lines[:line - 1]) + max((column or 1) - 1, 0)


def _error(message: str, sql: str, offset: int | None, path, model, hint: str | None = None) -> ModelError:
    what = f"model {model!r}: " if model else ""
    hint = hint or "write the model in Spark SQL's terms, or build it on a DuckDB target"
    source = sql if isinstance(sql, CompiledSQL) else CompiledSQL(sql)
    place = source.place(offset) if offset is not None else None
    return placed_error(f"{what}{message}", place, path=str(path) if path else None, hint=hint)


def lookups_as_maps(spark_sql: str) -> str:
    """`spark_sql` with each answer lookup (a scalar subquery correlated on the prompt and the text) made a
    lookup into a map of the answer table, read once by an uncorrelated subquery. Spark refuses a
    correlated subquery whose correlation holds an aggregate, reaches two scopes out or names a lateral
    alias; the map form stands anywhere, at the price of carrying the task's answers in the plan."""
    import sqlglot
    from sqlglot import exp

    def replaced(node: exp.Expression) -> exp.Expression:
        found = _lookup_parts(node)
        if found is None:
            return node
        table, prompt, text = found
        answers = sqlglot.parse_one(
            f"SELECT map_from_arrays(collect_list(named_struct('p', {PROMPT}, 't', {TEXT})), "
            f"collect_list({ANSWER})) FROM {table} WHERE {ANSWER} IS NOT NULL", read=WRITE)
        key = exp.func("named_struct", exp.Literal.string("p"), prompt, exp.Literal.string("t"), text)
        return exp.func("try_element_at", answers.subquery(), key)

    tree = sqlglot.parse_one(spark_sql, read=WRITE)
    return tree.transform(replaced).sql(dialect=WRITE)


def _lookup_parts(node: exp.Expression):
    """(answer table, prompt, text) of a lookup made by the rewrite (smart_sql.rewrite.plan._lookup)."""
    from sqlglot import exp

    select = node.this if isinstance(node, exp.Subquery) else None
    if not isinstance(select, exp.Select) or len(select.expressions) != 1:
        return None
    source = select.args.get("from_") or select.args.get("from")
    answer = select.expressions[0]
    where = select.args.get("where")
    if source is None or not isinstance(answer, exp.Column) or answer.name != ANSWER or where is None:
        return None
    condition = where.this
    if not (isinstance(condition, exp.And) and isinstance(condition.this, exp.EQ)
            and isinstance(condition.expression, exp.EQ)):
        return None
    prompt, text = condition.this, condition.expression
    if not (isinstance(prompt.this, exp.Column) and prompt.this.name == PROMPT
            and isinstance(text.this, exp.Column) and text.this.name == TEXT):
        return None
    table = source.this.copy()
    table.set("alias", None)
    return table, prompt.expression.copy(), text.expression.copy()
