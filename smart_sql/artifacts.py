"""target/manifest.json and run_results.json in dbt's shape (manifest v12, run results v6, as dbt-core
1.11 writes them), so tools that read dbt's artifacts read ours; smart-sql's own facts are extra keys."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import smart_sql

if TYPE_CHECKING:
    from .project import Project, Source
    from .report import RunResults

MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json"
RUN_RESULTS_SCHEMA = "https://schemas.getdbt.com/dbt/run-results/v6.json"
SOURCES_SCHEMA = "https://schemas.getdbt.com/dbt/sources/v3.json"
CATALOG_SCHEMA = "https://schemas.getdbt.com/dbt/catalog/v1.json"
INVOCATION_ID = str(uuid.uuid4())
_STARTED = datetime.now(timezone.utc)
_COMMON_DEFAULTS = {"docs": {"show": True, "node_color": None}, "patch_path": None, "build_path": None,
                    "unrendered_config": {}, "doc_blocks": [], "group": None}
"""dbt's keys of every node whose values here are always these (docs blocks, groups: not read)."""
_EMPTY_GROUPS = ("docs", "exposures", "metrics", "groups", "disabled", "group_map", "saved_queries",
                 "semantic_models", "unit_tests", "functions")


def metadata(project: Project, command: str, schema: str) -> dict[str, Any]:
    """dbt's artifact metadata, and smart-sql's own keys (version, command, profile, LLM provider)."""
    return {"dbt_schema_version": schema, "dbt_version": f"smart-sql {smart_sql.__version__}",
            "generated_at": now(), "invocation_id": INVOCATION_ID, "env": {},
            "invocation_started_at": _STARTED.isoformat(), "run_started_at": _STARTED.isoformat(),
            "project_name": project.name, "project_id": hashlib.md5(project.name.encode()).hexdigest(),
            "user_id": None, "send_anonymous_usage_stats": False, "adapter_type": "duckdb",
            "quoting": {"database": False, "schema": False, "identifier": False, "column": None},
            "smart_sql_version": smart_sql.__version__, "command": command,
            "profile": project.target.profile_name, "target": project.target.name,
            "llm_provider": project.target.llm.provider,
            "llm_simulated": project.target.llm.provider == "simulated"}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def checksum(text: str) -> dict[str, str]:
    """dbt's file checksum: sha256 of the file's text without leading and trailing whitespace."""
    return {"name": "sha256", "checksum": hashlib.sha256(text.strip().encode("utf-8")).hexdigest()}


def relation_name(project: Project, relation: Any) -> str | None:
    if relation is None:
        return None
    return f"{relation.database or project.target.file_catalog}.{relation.schema}.{relation.identifier}"


def manifest(project: Project) -> dict[str, Any]:
    from .selectors import read_selectors

    from . import described

    nodes = {uid: _node(project, node) for uid, node in project.nodes().items() if node.resource_type != "unit_test"}
    sources = {source.unique_id: _source(project, source) for source in project.sources.values()}
    parents = {uid: entry["depends_on"]["nodes"] for uid, entry in nodes.items()}
    parents.update({uid: [] for uid in sources})
    children: dict[str, list[str]] = {uid: [] for uid in parents}
    for uid, ups in parents.items():
        for parent in ups:
            children.setdefault(parent, []).append(uid)
    payload: dict[str, Any] = {"metadata": metadata(project, "manifest", MANIFEST_SCHEMA), "nodes": nodes,
                               "sources": sources, "macros": _macros(project)}
    payload.update({key: {} for key in _EMPTY_GROUPS})
    payload.update(described.manifest_sections(project))
    payload["selectors"] = {name: {"name": name, "description": entry.get("description", ""),
                                   "definition": entry["definition"]}
                            for name, entry in read_selectors(project.root).items()}
    payload["parent_map"] = {uid: sorted(ups) for uid, ups in parents.items()}
    payload["child_map"] = {uid: sorted(downs) for uid, downs in children.items()}
    return payload


def _node(project: Project, node: Any) -> dict[str, Any]:
    from .selectors import node_fqn, node_path

    relation = getattr(node, "relation", None)
    relation = relation if hasattr(relation, "schema") else None
    original = node_path(project, node)
    config = {"enabled": True, "materialized": node.materialized, **node.config}
    entry: dict[str, Any] = {
        "database": (relation.database or project.target.file_catalog) if relation else None,
        "schema": relation.schema if relation else None, "name": node.name, "resource_type": node.resource_type,
        "package_name": node_fqn(project, node)[0],
        "path": "/".join([*node_fqn(project, node)[1:-1], Path(original).name]),
        "original_file_path": original, "unique_id": node.unique_id, "fqn": node_fqn(project, node),
        "alias": relation.identifier if relation else getattr(node, "alias", node.name),
        "checksum": _checksum(node), "config": config, "tags": list(node.tags),
        "description": getattr(node, "description", "") or "", "columns": _columns(getattr(node, "columns", {})),
        "meta": dict(node.config.get("meta") or {}), "language": "sql",
        "depends_on": {"macros": [], "nodes": sorted({*node.depends_on, *getattr(node, "sources", [])})},
        "relation_name": relation_name(project, relation) if node.materialized != "ephemeral" else None,
        **_COMMON_DEFAULTS, "created_at": _STARTED.timestamp(),
    }
    if node.resource_type in ("model", "snapshot"):
        entry.update(raw_code=node.raw_sql, refs=_refs(project, node),
                     sources=[list(source_id.split(".")[-2:]) for source_id in node.sources],
                     compiled_path=_compiled_path(project, node.relpath, node.fqn[0]), relation=relation.display)
    elif node.resource_type == "seed":
        entry.update(relation=relation.display, root_path=str(project.root), raw_code="")
    else:
        entry.update(_test_fields(project, node))
    return entry


def _test_fields(project: Project, test: Any) -> dict[str, Any]:
    generic = test.kind != "singular"
    fields: dict[str, Any] = {
        "raw_code": ("{{ test_%s(**_dbt_generic_test_kwargs) }}" % test.kind) if generic
        else test.path.read_text(encoding="utf-8"),
        "column_name": test.column, "attached_node": test.attached_to if generic else None,
        "refs": [{"name": uid.split(".")[-1], "package": None, "version": None}
                 for uid in test.depends_on if not uid.startswith("source.")],
        "sources": [], "relation_name": None, "path": f"{test.name}.sql",
        "compiled_path": _compiled_path(project, f"tests/{test.alias}.sql"),
        "kind": test.kind, "attached_to": test.attached_to, "severity": test.severity,
        "arguments": test.arguments, "dbt_unique_id": test.unique_id}
    if generic:
        fields["test_metadata"] = {"name": test.kind, "kwargs": {**({"column_name": test.column} if test.column else {}),
                                                                  **test.arguments}, "namespace": None}
        fields["file_key_name"] = f"models.{test.attached_name}" if test.attached_to else None
    return fields


def _checksum(node: Any) -> dict[str, str]:
    if node.resource_type == "test":
        if node.kind == "singular":
            return checksum(node.path.read_text(encoding="utf-8"))
        return {"name": "none", "checksum": ""}
    if node.resource_type == "seed":
        return checksum(node.path.read_text(encoding="utf-8", errors="replace"))  # a bad byte fails the load, named
    return checksum(node.raw_sql)


def _refs(project: Project, node: Any) -> list[dict[str, Any]]:
    created = {source.node_id for source in project.sources.values() if source.unique_id in node.sources}
    return [{"name": uid.split(".")[-1], "package": None, "version": None}
            for uid in node.depends_on if uid not in created and not uid.startswith("test.")]


def _columns(columns: dict[str, str]) -> dict[str, Any]:
    return {name: {"name": name, "description": description, "meta": {}, "data_type": None, "constraints": [],
                   "quote": None, "tags": []} for name, description in columns.items()}


def _source(project: Project, source: Source) -> dict[str, Any]:
    from .dbt.package_nodes import home

    entry = source.entry
    relative = source.path.relative_to(home(project, source.path)[1]).as_posix()
    folders = list(Path(relative).parts[1:-1])
    return {
        "database": source.relation.database or project.target.file_catalog, "schema": source.relation.schema,
        "name": source.name, "resource_type": "source", "package_name": source.package_name, "path": relative,
        "original_file_path": relative, "unique_id": source.unique_id,
        "fqn": [source.package_name, *folders, source.source_name, source.name], "source_name": source.source_name,
        "identifier": source.relation.identifier, "loaded_at_field": entry.get("loaded_at_field"),
        "loaded_at_query": None, "loader": str(source.source_entry.get("loader") or ""),
        "source_description": str(source.source_entry.get("description") or ""),
        "source_meta": dict(source.source_entry.get("meta") or {}), "external": None,
        "quoting": {"database": None, "schema": None, "identifier": None, "column": None},
        "patch_path": None, "unrendered_config": {}, "doc_blocks": [], "created_at": _STARTED.timestamp(),
        "freshness": entry.get("freshness"), "description": source.description,
        "columns": _columns(source.columns), "meta": dict(entry.get("meta") or {}),
        "tags": list(entry.get("tags") or []), "config": {"enabled": True},
        "relation_name": relation_name(project, source.relation),
        "relation": source.relation.display, "created_by": source.node_id}


def _macros(project: Project) -> dict[str, Any]:
    return {f"macro.{project.name}.{name}": {"name": name, "resource_type": "macro", "package_name": project.name,
                                             "unique_id": f"macro.{project.name}.{name}"}
            for name in sorted(project.renderer.macro_names)}


def _compiled_path(project: Project, relpath: str, package: str | None = None) -> str:
    return (Path(project.flags.target_path or project.config.target_path) / "compiled" / (package or project.name)
            / relpath).as_posix()


def run_results(project: Project, results: RunResults) -> dict[str, Any]:
    return {"metadata": metadata(project, results.command, RUN_RESULTS_SCHEMA),
            "results": [result_entry(project, result) for result in results.results],
            "elapsed_time": round(results.elapsed_time, 4), "args": dict(project.flags.args or {"which": results.command})}


def result_entry(project: Project, result: Any) -> dict[str, Any]:
    """One node's result: dbt's fields first, then smart-sql's (description, rows, path, extras)."""
    from dataclasses import asdict

    ours = asdict(result)
    timing = ours.pop("timing")
    thread_id = ours.pop("thread_id")
    compiled_code = ours.pop("compiled_code")
    message, adapter = _message_and_response(result)
    return {"status": result.status, "timing": timing, "thread_id": thread_id,
            "execution_time": result.execution_time, "adapter_response": adapter, "message": message,
            "failures": 0 if result.resource_type == "operation" and result.status == "success" else result.failures,
            "unique_id": result.unique_id,
            "compiled": None if result.resource_type == "seed" else compiled_code is not None,
            "compiled_code": compiled_code, "relation_name": result.relation_name, "batch_results": None,
            **{key: value for key, value in ours.items() if key not in _DBT_RESULT_KEYS}}


_DBT_RESULT_KEYS = {"status", "execution_time", "message", "failures", "unique_id", "relation_name"}


def _message_and_response(result: Any) -> tuple[str | None, dict[str, Any]]:
    """dbt's message and adapter_response of a node that ran: `INSERT n` for a seed, `OK` for a model,
    snapshot or test, `<hook> passed` for a hook; a failure keeps its message."""
    if result.status != "success" and result.status != "pass":
        return result.message, {}
    if result.resource_type == "operation":
        return f"{result.description.removeprefix('hook ')} passed", {}
    if result.resource_type == "seed":
        text = f"INSERT {result.rows_affected}"
        return text, {"_message": text, "code": "INSERT", "rows_affected": result.rows_affected}
    adapter: dict[str, Any] = {"_message": "OK"}
    if result.rows_affected is not None:
        adapter["rows_affected"] = result.rows_affected
    return (None if result.resource_type == "test" else "OK"), adapter


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path
