"""target/catalog.json (`docs generate`): each built relation's columns, types and stats, read from the
database, in dbt's catalog v1 shape."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .project import Project


def write_catalog(project: Project) -> Path:
    from .artifacts import write_json

    return write_json(project.target_path / "catalog.json", catalog(project))


def catalog(project: Project) -> dict[str, Any]:
    from .artifacts import CATALOG_SCHEMA, metadata
    from .execute import connect

    relations = {uid: node.relation for uid, node in project.nodes().items()
                 if node.resource_type in ("seed", "model", "snapshot") and node.materialized != "ephemeral"}
    sources = {source.unique_id: source.relation for source in project.sources.values()}
    with connect(project) as conn:
        tables = _tables(conn)
        nodes = {uid: entry for uid, relation in relations.items()
                 if (entry := _entry(project, conn, tables, uid, relation)) is not None}
        found = {uid: entry for uid, relation in sources.items()
                 if (entry := _entry(project, conn, tables, uid, relation)) is not None}
    return {"metadata": metadata(project, "docs generate", CATALOG_SCHEMA), "nodes": nodes, "sources": found,
            "errors": None}


def _tables(conn) -> dict[tuple[str, str, str], tuple[str, str | None]]:
    rows = conn.execute("select table_catalog, table_schema, table_name, table_type, table_comment "
                        "from information_schema.tables").fetchall()
    return {(catalog.lower(), schema.lower(), name.lower()): (kind, comment)
            for catalog, schema, name, kind, comment in rows}


def _entry(project: Project, conn, tables, uid: str, relation) -> dict[str, Any] | None:
    database = relation.database or project.target.file_catalog
    key = (database.lower(), relation.schema.lower(), relation.identifier.lower())
    if key not in tables:
        return None
    kind, comment = tables[key]
    columns = conn.execute("select column_name, data_type, ordinal_position, column_comment "
                           "from information_schema.columns where lower(table_catalog) = ? and lower(table_schema) = ? "
                           "and lower(table_name) = ? order by ordinal_position", list(key)).fetchall()
    return {"metadata": {"type": kind, "schema": relation.schema, "name": relation.identifier, "database": database,
                         "comment": comment or None, "owner": None},
            "columns": {name: {"type": kind_, "index": index, "name": name, "comment": note or None}
                        for name, kind_, index, note in columns},
            "stats": _stats(conn, relation, kind), "unique_id": uid}


def _stats(conn, relation, kind: str) -> dict[str, Any]:
    """dbt-duckdb reports no stats; a table's row count is given here as `row_count` (views have none)."""
    stats: dict[str, Any] = {"has_stats": {"id": "has_stats", "label": "Has Stats?", "value": kind == "BASE TABLE",
                                           "include": False,
                                           "description": "Indicates whether there are statistics for this table"}}
    if kind == "BASE TABLE":
        rows, = conn.execute(f"select count(*) from {relation}").fetchone()
        stats["row_count"] = {"id": "row_count", "label": "Row Count", "value": rows, "include": True,
                              "description": "Number of rows in the table"}
    return stats
