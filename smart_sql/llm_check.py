"""Binding a statement with SMART_LLM calls in DuckDB before any call is paid for.

A column, table or type error must cost nothing. Before the first call, the statement is bound as
written, SMART_LLM standing for a temporary macro with the same arguments (so that DuckDB's
positions are those of the user's own SQL); then, over empty answer tables, each task's input query
and the rewritten statement are bound too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from .errors import ModelError
from .rewrite import ANSWER, MODEL, PROMPT, TEXT
from .rewrite.options import FUNCTION_NAME, OPTION_NAMES
from .sql_errors import error_text, sql_error

if TYPE_CHECKING:
    from .rewrite.plan import RewrittenSQL

NOTHING_PAID = "found before any SMART_LLM call was made, so nothing was paid"
_MACRO = FUNCTION_NAME.lower()


def check_binds(conn: duckdb.DuckDBPyConnection, rewritten: RewrittenSQL, *, path: str | Path | None) -> None:
    """Raise a ModelError, placed in the model file where possible, if any part does not bind.
    Leaves an empty answer table for each task (the caller drops them)."""
    _bind_as_written(conn, rewritten, path)
    for task in rewritten.tasks:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {task.table} "
                     f"({PROMPT} VARCHAR, {TEXT} VARCHAR, {ANSWER} VARCHAR, {MODEL} VARCHAR)")
    for task in rewritten.tasks:
        try:
            _bind(conn, task.input_sql)
        except duckdb.Error as error:
            raise ModelError(f"{', '.join(task.calls)}: the input query failed: {error_text(error)}", path=path,
                             hint=f"check the columns the call reads; calls inside correlated subqueries are not "
                                  f"supported; {NOTHING_PAID}") from None
    try:
        _bind(conn, rewritten.sql)
    except duckdb.Error as error:
        raise ModelError(f"the SQL with its SMART_LLM calls rewritten does not bind: {error_text(error)}", path=path,
                         hint="`smart-sql compile` shows the rewritten SQL; computing the SMART_LLM column in a "
                              f"model of its own avoids what the rewrite cannot express; {NOTHING_PAID}") from None


def _bind_as_written(conn: duckdb.DuckDBPyConnection, rewritten: RewrittenSQL, path) -> None:
    options = ", ".join(f"{name} := NULL" for name in OPTION_NAMES)
    conn.execute(f"CREATE OR REPLACE TEMP MACRO {_MACRO}(prompt, text, {options}) AS "
                 "CAST(prompt AS VARCHAR) || CAST(text AS VARCHAR)")
    try:
        _bind(conn, rewritten.source)
    except duckdb.Error as error:
        _drop_macro(conn)
        raise sql_error("the SQL does not bind", error, rewritten.source, first_line=2, path=path,
                        hint=NOTHING_PAID) from None
    _drop_macro(conn)


def _drop_macro(conn: duckdb.DuckDBPyConnection) -> None:
    """After a failed statement inside a transaction, DuckDB refuses the drop; the rollback that
    follows removes the macro then."""
    try:
        conn.execute(f"DROP MACRO IF EXISTS temp.{_MACRO}")
    except duckdb.TransactionException:
        pass


def _bind(conn: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Bind and plan `sql` without running it; the SQL starts on the statement's second line."""
    conn.execute(f"EXPLAIN\n{sql}")
