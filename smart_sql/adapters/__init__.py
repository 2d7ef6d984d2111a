"""What the project engine and the SMART_LLM layer need from a database, behind one interface
(`base.EngineAdapter`), with DuckDB (`duckdb_adapter`) and Spark (`spark`) behind it.

The DuckDB target keeps its own, faster path (smart_sql.execute); a target of another type is
built by `build.build` over its adapter, which `open_adapter` opens."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..project import Project
    from .base import EngineAdapter


def open_adapter(project: Project) -> EngineAdapter:
    """The adapter of the project's target: a Spark session for `type: spark`, else its DuckDB file."""
    if project.target.type == "spark":
        from .spark import SparkAdapter

        return SparkAdapter.open(project.target)
    from ..execute import connect
    from .duckdb_adapter import DuckDBAdapter

    return DuckDBAdapter(connect(project), owned=True)
