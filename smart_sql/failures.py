"""A failing test's rows: stored in the audit schema (`store_failures`), and shown to the user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from . import materialize
from .datatests import AUDIT_SCHEMA, DataTest
from .naming import ConfigView, NodeView, relation_parts

if TYPE_CHECKING:
    import duckdb

    from .relation_catalog import LiveCatalog

    from .project import Project, Relation

PREVIEW_ROWS = 5
_CELL_WIDTH = 40


def failures_relation(project: Project, test: DataTest) -> Relation:
    """Where dbt stores a test's failures: its `schema` (default dbt_test__audit) through
    generate_schema_name, so `<target schema>_dbt_test__audit`, named by its alias."""
    from .project import Relation

    config = ConfigView({**test.config, "schema": test.config.get("schema") or AUDIT_SCHEMA, "alias": test.alias})
    view = NodeView(name=test.name, resource_type="test", package_name=project.name, fqn=[project.name, test.name],
                    original_file_path=project.display(test.path), path=f"{test.alias}.sql", config=config)
    database, schema, identifier = relation_parts(view, test.path, project.renderer)
    return Relation(schema, identifier, None if database == project.target.file_catalog else database)


def store_failures(conn: duckdb.DuckDBPyConnection, project: Project, test: DataTest, sql: str,
                   catalog: LiveCatalog = materialize.LIVE) -> Relation:
    """Replace the stored failures of `test` by the rows of `sql`, as a table or a view (store_failures_as)."""
    relation = failures_relation(project, test)
    materialize.ensure_schema(conn, relation, catalog)
    if test.config.get("store_failures_as") == "view":
        materialize.create_view(conn, relation, sql, catalog)
    else:
        materialize.create_table(conn, relation, sql, catalog)
    return relation


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A small text table of the first failing rows."""
    cells = [list(columns), *[[_cell(value) for value in row] for row in rows]]
    widths = [max(len(row[index]) for row in cells) for index in range(len(columns))]
    lines = [" | ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    text = "NULL" if value is None else str(value)
    return text if len(text) <= _CELL_WIDTH else text[:_CELL_WIDTH - 3] + "..."
