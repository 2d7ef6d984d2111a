"""Nodes as dbt's templates see them: `model` (the node rendered) and `graph` (every node and
source by dbt's unique_id, `resource_type.package.name`, which is the node's own unique_id)."""

from __future__ import annotations

from typing import Any


def node_dict(project: Any, node: Any) -> dict[str, Any]:
    relation = getattr(node, "relation", None)
    schema = getattr(relation, "schema", None)
    identifier = getattr(relation, "identifier", None)
    database = getattr(relation, "database", None) or project.target.file_catalog
    config = {"materialized": getattr(node, "materialized", None), **dict(getattr(node, "config", {}) or {})}
    path = getattr(node, "relpath", None) or node.path.relative_to(project.root).as_posix()
    return {
        "unique_id": node.unique_id, "name": node.name, "resource_type": node.resource_type,
        "package_name": (getattr(node, "fqn", None) or [project.name])[0],
        "fqn": list(getattr(node, "fqn", None) or [project.name, node.name]),
        "path": path.split("/", 1)[-1], "original_file_path": path, "config": config,
        "tags": list(config.get("tags") or []), "meta": dict(config.get("meta") or {}),
        "description": getattr(node, "description", ""),
        "columns": {name: {"name": name, "description": text}
                    for name, text in (getattr(node, "columns", None) or {}).items()},
        "depends_on": {"nodes": list(getattr(node, "depends_on", [])), "macros": []},
        "database": database, "schema": schema, "alias": identifier, "identifier": identifier,
        "relation_name": str(relation) if relation is not None and not isinstance(relation, str) else relation,
        "raw_code": getattr(node, "raw_sql", ""), "language": "sql",
    }


def graph(project: Any) -> dict[str, Any]:
    sources = {}
    for source in project.sources.values():
        sources[source.unique_id] = {
            "unique_id": source.unique_id, "resource_type": "source",
            "name": source.name, "source_name": source.source_name, "package_name": source.package_name,
            "database": source.relation.database or project.target.file_catalog, "schema": source.relation.schema,
            "identifier": source.relation.identifier, "relation_name": str(source.relation),
            "description": source.description,
            "columns": {name: {"name": name, "description": text} for name, text in source.columns.items()}}
    return {"nodes": {uid: node_dict(project, node) for uid, node in project.nodes().items()},
            "sources": sources, "exposures": {}, "metrics": {}, "groups": {}, "semantic_models": {},
            "saved_queries": {}}
