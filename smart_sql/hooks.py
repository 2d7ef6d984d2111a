"""Hooks: SQL run around a model or seed (`pre_hook`, `post_hook`) and around a whole run
(`on-run-start`, `on-run-end`), as dbt runs them.

A hook is a string (Jinja, rendered when it runs) or `{sql: ..., transaction: false}`. A node's hooks run
inside its atomic unit (pre-hooks before the new relation is built, post-hooks after it is swapped in,
before the commit), so a failing hook rolls the node back; `transaction: false` runs a pre-hook before
the unit begins and a post-hook after it commits.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from .errors import ConfigError, ModelError, SmartSqlError, display_path

if TYPE_CHECKING:
    import duckdb

    from .project import Project
    from .report import Reporter, RunResult


@dataclass(frozen=True)
class Hook:
    sql: str
    inside_transaction: bool = True


def check_hooks(value: Any, where: str, path: Path) -> None:
    entries = value if isinstance(value, list) else [value]
    for entry in entries:
        if isinstance(entry, str):
            continue
        if (isinstance(entry, Mapping) and isinstance(entry.get("sql"), str) and set(entry) <= {"sql", "transaction"}
                and isinstance(entry.get("transaction", True), bool)):
            continue
        raise ConfigError(f"{where}: a hook is SQL text or {{sql: ..., transaction: true|false}}, got {entry!r}",
                          path=display_path(path))


def parse_hooks(value: Any) -> list[Hook]:
    """Hooks as written (checked by check_hooks): a string, a mapping, or a list of them."""
    entries = value if isinstance(value, list) else [value] if value else []
    return [Hook(entry) if isinstance(entry, str) else Hook(entry["sql"], entry.get("transaction", True))
            for entry in entries]


def run_hooks(conn: duckdb.DuckDBPyConnection, hooks: Iterable[Hook], render: Callable[[str], str], *,
              inside_transaction: bool, label: str, path: Path) -> None:
    """Render and run the hooks that belong inside (or outside) the transaction; `label` names them in
    errors, `path` is the file of the node they belong to."""
    for number, hook in enumerate(hooks, start=1):
        if hook.inside_transaction == inside_transaction:
            _run_one(conn, render(hook.sql), f"{label} #{number}", path)


def _run_one(conn: duckdb.DuckDBPyConnection, sql: str, label: str, path: Path) -> None:
    sql = sql.strip()
    if not sql:
        return
    try:
        conn.execute(sql)
    except Exception as error:
        raise ModelError(f"{label} failed: {error}", path=display_path(path),
                         hint=f"the hook ran: {_shorten(sql)}") from error


def run_project_hooks(conn: duckdb.DuckDBPyConnection, project: Project, kind: str, reporter: Reporter,
                      **context: Any) -> list[RunResult]:
    """`on-run-start` or `on-run-end` (`kind`), one result each; after one fails the rest are skipped."""
    from .report import RunResult

    hooks = project.on_run_start if kind == "on-run-start" else project.on_run_end
    path = project.config.path
    results: list[RunResult] = []
    for index, hook in enumerate(hooks):
        name = f"{project.name}.{kind}.{index}"
        result = RunResult(unique_id=f"operation.{project.name}.{project.name}-{kind}-{index}",
                           name=f"{project.name}-{kind}-{index}",
                           resource_type="operation", status="success", description=f"hook {name}",
                           path=path.relative_to(project.root).as_posix())
        if any(earlier.status == "error" for earlier in results):
            result.status, result.message = "skipped", f"skipped because an earlier {kind} hook failed"
        else:
            started = time.perf_counter()
            try:
                sql = result.compiled_code = project.renderer.render_text(hook.sql, path, None, None, **context)
                _run_one(conn, sql, f"{kind} hook #{index + 1}", path)
            except SmartSqlError as error:
                result.status, result.message = "error", str(error)
            result.execution_time = time.perf_counter() - started
        results.append(result)
        reporter.node_finished(index + 1, len(hooks), result)
    return results


def _shorten(sql: str, limit: int = 300) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[:limit] + " ..."


def on_run_end_context(project: Project, results: list[RunResult]) -> dict[str, Any]:
    """on-run-end's `schemas` and `database_schemas` (where seeds and models were built successfully)
    and `results` (one per node, not per hook), as dbt gives them."""
    nodes = project.nodes()
    built = [nodes[result.unique_id].relation for result in results
             if result.status == "success" and result.resource_type in ("seed", "model", "snapshot")]
    built += _stored_failures(project, nodes, results)
    pairs = list(dict.fromkeys((relation.database or project.target.file_catalog, relation.schema)
                               for relation in built))
    return {"schemas": list(dict.fromkeys(schema for _, schema in pairs)), "database_schemas": pairs,
            "results": [_hook_result(project, nodes, result) for result in results
                        if result.resource_type != "operation"]}


def _stored_failures(project: Project, nodes: dict[str, Any], results: list[RunResult]) -> list:
    """Where the tests that store their failures stored them, as dbt counts them among the schemas
    built (all but failed, errored or skipped tests)."""
    from .failures import failures_relation

    return [failures_relation(project, nodes[result.unique_id]) for result in results
            if result.resource_type == "test" and result.status in ("pass", "warn")
            and getattr(nodes.get(result.unique_id), "stores_failures", False)]


def _hook_result(project: Project, nodes: dict[str, Any], result: RunResult) -> SimpleNamespace:
    """A result as on-run-end's `results` holds it: dbt's status, message, timing, failures and node."""
    from .dbt.jinja.nodes import node_dict

    node = nodes.get(result.unique_id)
    return SimpleNamespace(
        status=result.status, message=result.message, execution_time=result.execution_time,
        failures=result.failures, adapter_response={"rows_affected": result.rows_affected},
        node=SimpleNamespace(**node_dict(project, node)) if node is not None else None)
