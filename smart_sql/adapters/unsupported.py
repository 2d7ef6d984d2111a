"""What a build on an engine other than DuckDB does not do, refused with the node and the feature
before anything runs (never skipped in silence)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..project import Project

_INCREMENTAL_LISTS = ("incremental_predicates", "predicates", "merge_update_columns", "merge_exclude_columns")


def refusals(project: Project, nodes: Iterable) -> list[str]:
    """One line per unsupported use: '<node kind> <name> (<file>): <what>'."""
    engine = project.target.type
    found = [f"project {project.name}: on-run-start/on-run-end hooks"
             for _ in [1] if project.on_run_start or project.on_run_end]
    for node in nodes:
        where = f"{node.resource_type} {node.name!r} ({_path(project, node)})"
        found += [f"{where}: {problem}" for problem in _problems(project, node, engine)]
    return found


def check_supported(project: Project, nodes: Iterable) -> None:
    problems = refusals(project, nodes)
    if problems:
        engine = project.target.type
        raise ConfigError(f"not supported on {engine} (target {project.target.name!r}):\n  " + "\n  ".join(problems),
                          hint=f"deselect these nodes (--exclude), or build them on a DuckDB target; "
                               f"README 'Running on Spark' lists what a {engine} target does")


def _problems(project: Project, node, engine: str) -> list[str]:
    from ..datatests import DataTest
    from ..project import ModelNode, SnapshotNode
    from ..unit_tests import UnitTest

    if isinstance(node, SnapshotNode):
        return ["snapshots"]
    if isinstance(node, UnitTest):
        return ["unit tests"]
    problems = []
    if getattr(node, "pre_hooks", None) or getattr(node, "post_hooks", None):
        problems.append("pre-hooks and post-hooks")
    if getattr(node, "config", {}).get("persist_docs"):
        problems.append("persist_docs")
    if isinstance(node, DataTest):
        if node.stores_failures:
            problems.append("store_failures")
        return problems
    relation = getattr(node, "relation", None)
    if relation is not None and relation.database is not None:
        problems.append(f"database {relation.database!r} (a {engine} target builds in its schema's database)")
    if isinstance(node, ModelNode):
        problems += _model_problems(project, node)
    return problems


def _model_problems(project: Project, model) -> list[str]:
    problems = []
    if model.contract:
        problems.append("contracts (contract: {enforced: true})")
    if model.materialized not in ("table", "view", "incremental", "ephemeral"):
        problems.append(f"materialized={model.materialized!r} (table, view, incremental and ephemeral are)")
    if model.materialized != "incremental":
        return problems
    config = model.config
    if config.get("incremental_strategy") == "merge":
        problems.append("incremental_strategy 'merge' (its parquet tables have no MERGE INTO; delete+insert, "
                        "the default with a unique_key, rewrites the table instead, and append is supported)")
    change = config.get("on_schema_change") or project.config.on_schema_change
    if change not in ("ignore", "fail"):
        problems.append(f"on_schema_change {change!r} (only 'ignore' and 'fail')")
    problems += [f"`{key}`" for key in _INCREMENTAL_LISTS if config.get(key)]
    return problems


def _path(project: Project, node) -> str:
    path = getattr(node, "relpath", None) or getattr(node, "path", None)
    return str(path) if path is not None else "?"
