"""The build's SMART_LLM step, made only when a model has LLM calls: a build without any imports none
of the LLM machinery (asyncio, the provider clients, the SMART engine)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .rewrite import mentions_smart_llm

if TYPE_CHECKING:
    import duckdb

    from .llm_sql import LLMRunner


class LazyLLMRunner:
    """An execute.SqlTransform passing models without LLM calls through, and the others to the
    LLMRunner that `make` returns, called at the first of them."""

    def __init__(self, make: Callable[[], LLMRunner]):
        self._make = make
        self._runner: LLMRunner | None = None
        self._stopped = False

    def exclusive(self, sql: str) -> bool:
        """Models with LLM calls run one at a time (see LLMRunner.exclusive)."""
        return mentions_smart_llm(sql)

    def __call__(self, node, sql: str, conn: duckdb.DuckDBPyConnection) -> str:
        if not mentions_smart_llm(sql):
            return sql
        if self._runner is None:
            self._runner = self._make()
            if self._stopped:
                self._runner.stop()
        return self._runner(node, sql, conn)

    def finished(self, node) -> None:
        if self._runner is not None:
            self._runner.finished(node)

    def extras(self, node) -> dict:
        return self._runner.extras(node) if self._runner is not None else {}

    def stop(self) -> None:
        self._stopped = True
        if self._runner is not None:
            self._runner.stop()
