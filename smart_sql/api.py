"""Run one SQL statement with SMART_LLM calls against a DuckDB connection, from a notebook or script.

    import duckdb, smart_sql
    conn = duckdb.connect()
    rel = smart_sql.sql(conn, "select SMART_LLM('Sentiment?', review) as s from reviews",
                        llm={"provider": "simulated"})
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import duckdb

from .llm.base import Provider
from .llm.config import LLMConfig, parse_llm_config
from .llm_sql import LLMRunner, TaskReport
from .rewrite.plan import rewrite_sql

_statement_numbers = itertools.count(1)


@dataclass
class SqlResult:
    relation: duckdb.DuckDBPyRelation
    rewritten_sql: str
    reports: list[TaskReport]
    simulated: bool | None
    """True when the answers came from the simulated provider (not a real model); None without calls."""


def run(conn: duckdb.DuckDBPyConnection, query: str, llm: Mapping[str, Any] | LLMConfig | None = None, *,
        cache_path: str | Path | None = None, use_cache: bool = True, provider: Provider | None = None) -> SqlResult:
    """Fill the query's SMART_LLM calls and return the relation with what each call spent.

    `llm` is a profile target's `llm` block (a mapping) or a parsed LLMConfig; answers are cached in
    `cache_path` (or the block's `cache_path`) when given. The relation reads temporary tables of
    `conn`, so it stays valid as long as the connection is open.
    """
    config = llm if isinstance(llm, LLMConfig) else parse_llm_config(llm, source="the llm argument")
    prefix = f"__smart_llm_q{next(_statement_numbers)}"
    rewritten = rewrite_sql(query, config, path="<sql>", table_prefix=prefix)
    runner = LLMRunner(config, cache_path=cache_path, use_cache=use_cache, provider=provider)
    try:
        reports = runner.run_tasks(conn, rewritten, path="<sql>")
        simulated = runner.simulated
    finally:
        runner.close_provider()
    return SqlResult(conn.sql(rewritten.sql), rewritten.sql, reports, simulated)


class SimulatedAnswersWarning(UserWarning):
    """The SMART_LLM columns hold answers of the simulated provider, not of a real model."""


def sql(conn: duckdb.DuckDBPyConnection, query: str, llm: Mapping[str, Any] | LLMConfig | None = None, *,
        cache_path: str | Path | None = None, use_cache: bool = True,
        provider: Provider | None = None) -> duckdb.DuckDBPyRelation:
    """The query's result as a DuckDB relation, its SMART_LLM columns filled (see `run`). Answers
    from the simulated provider come with a SimulatedAnswersWarning."""
    result = run(conn, query, llm, cache_path=cache_path, use_cache=use_cache, provider=provider)
    if result.simulated:
        warnings.warn("SMART_LLM answers come from the simulated provider, not from a real model",
                      SimulatedAnswersWarning, stacklevel=2)
    return result.relation
