"""dbt's `persist_docs` config, as dbt-duckdb applies it: the node's YAML description written as the
relation's comment (`relation: true`, when there is one) and each YAML column's description as its
column's comment (`columns: true`, '' when it has none; columns the relation lacks are skipped)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .datatests import literal, quote
from .errors import ConfigError, ModelError, display_path

if TYPE_CHECKING:
    import duckdb

    from .project import ModelNode, SeedNode

_KEYS = {"relation", "columns"}


def validate(config: Mapping[str, Any], where: str, path: Path) -> None:
    value = config.get("persist_docs")
    if value is None:
        return
    if not isinstance(value, Mapping) or set(value) - _KEYS or not all(isinstance(v, bool) for v in value.values()):
        raise ConfigError(f"{where}: `persist_docs` must be a mapping like {{relation: true, columns: true}}",
                          path=display_path(path))


def apply(conn: duckdb.DuckDBPyConnection, node: ModelNode | SeedNode, kind: str) -> None:
    """Comment the node's relation (a 'table' or a 'view') and its columns, inside the node's transaction."""
    settings = node.config.get("persist_docs") or {}
    relation = node.relation
    if settings.get("relation") and node.description:
        conn.execute(f"comment on {kind} {relation} is {_text(node, node.description)}")
    if settings.get("columns") and node.columns:
        existing = {name for name, *_ in conn.execute(f"describe {relation}").fetchall()}
        for name, description in node.columns.items():
            if name in existing:
                conn.execute(f"comment on column {relation}.{quote(name)} is {_text(node, description)}")


def _text(node: ModelNode | SeedNode, description: str) -> str:
    if "{{" in description or "{%" in description:
        raise ModelError(f"{node.resource_type} {node.name!r}: persist_docs cannot write a description that uses "
                         f"Jinja (e.g. doc()); it is not rendered here", path=display_path(node.path),
                         hint="write the description as plain text, or set persist_docs to false")
    return literal(description)
