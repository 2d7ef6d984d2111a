"""`smart-sql source freshness`: each source table's newest `loaded_at_field` against its `freshness:`
(warn_after, error_after, filter), written to target/sources.json as dbt writes it (sources v3)."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from .errors import ConfigError, display_path

if TYPE_CHECKING:
    from .project import Project, Source

SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
LONG_AGO = datetime(1, 1, 1, tzinfo=timezone.utc)
"""dbt's max_loaded_at of a table with no rows: as old as can be."""


def check_freshness(project: Project, select: Iterable[str], exclude: Iterable[str], output: str | None,
                    echo: Callable[[str], None]) -> int:
    """Checks the selected sources that have a freshness policy; returns the exit code (1 on an error)."""
    from .artifacts import SOURCES_SCHEMA, metadata, write_json
    from .execute import connect

    _refuse_project_level_freshness(project)
    checked = [(source, policy) for source in _selected(project, select, exclude)
               if (policy := freshness_policy(source)) is not None]
    if not checked:
        echo("Nothing to do: no selected source has a `freshness:` with warn_after or error_after.")
    started = time.perf_counter()
    results = []
    hooks = _runs_project_hooks(project)
    with connect(project) as conn:
        failed_hooks = _run_hooks(conn, project, "on-run-start") if hooks else False
        for index, (source, policy) in enumerate(checked, start=1):
            result = _check(conn, source, policy)
            results.append(result)
            label = f"{source.source_name}.{source.name}"
            echo(f"{index:>3} of {len(checked)} {result['status'].upper()} freshness of {label} "
                 f"[{_detail(result)}]")
        failed_hooks |= _run_hooks(conn, project, "on-run-end", **_end_context(results)) if hooks else False
    path = Path(output) if output else project.target_path / "sources.json"
    write_json(path, {"metadata": metadata(project, "source freshness", SOURCES_SCHEMA),
                      "results": results, "elapsed_time": round(time.perf_counter() - started, 4)})
    failing = {"error", "runtime error"} | ({"warn"} if project.flags.warn_error else set())
    statuses = [result["status"] for result in results]
    echo(f"Done. PASS={statuses.count('pass')} WARN={statuses.count('warn')} "
         f"ERROR={statuses.count('error') + statuses.count('runtime error')} TOTAL={len(statuses)}")
    return 1 if failing & set(statuses) or failed_hooks else 0


def _selected(project: Project, select: Iterable[str], exclude: Iterable[str]) -> list[Source]:
    from .graph import Graph
    from .selectors import parse_words

    graph = Graph(project)
    picked = graph.chosen(select, exclude)
    dropped = parse_words(exclude).nodes(graph)
    return [source for source in project.sources.values()
            if (picked is None or source.unique_id in picked) and source.unique_id not in dropped]


def freshness_policy(source: Source) -> dict[str, Any] | None:
    """The table's `freshness:` over the source's (a table's `freshness: null` turns it off), with the
    loaded_at_field; None when nothing is to be checked."""
    table, parent = source.entry, source.source_entry
    policy = _merged_policy(_setting(parent, {}, "freshness"), table, source)
    if not isinstance(policy, Mapping) or not (policy.get("warn_after") or policy.get("error_after")):
        return None
    where = f"source {source.source_name}.{source.name}"
    if _setting(table, parent, "loaded_at_query"):
        raise ConfigError(f"{where}: `loaded_at_query` is not supported yet", path=display_path(source.path),
                          hint="use `loaded_at_field:` with the column that says when a row was loaded")
    field = _setting(table, parent, "loaded_at_field")
    if not field:
        raise ConfigError(f"{where} has `freshness:` but no `loaded_at_field:` (freshness from the database's "
                          f"metadata is not available on DuckDB)", path=display_path(source.path),
                          hint="add loaded_at_field: <the column that says when a row was loaded>")
    for key in ("warn_after", "error_after"):
        _check_period(policy.get(key), where, key, source.path)
    return {"warn_after": _criterion(policy.get("warn_after")), "error_after": _criterion(policy.get("error_after")),
            "filter": policy.get("filter"), "loaded_at_field": field}


def _merged_policy(inherited: Any, table: Mapping[str, Any], source: Source) -> Any:
    """dbt's merge: the table's freshness over the source's, warn_after and error_after key by key;
    a table's `freshness: null` turns it off."""
    for entry in (table, table.get("config") or {}):
        if "freshness" in entry:
            own = entry["freshness"]
            if own is None or not isinstance(inherited, Mapping):
                return own
            if not isinstance(own, Mapping):
                raise ConfigError(f"source {source.source_name}.{source.name}: `freshness:` must be a mapping",
                                  path=display_path(source.path))
            merged = {**inherited, **own}
            for key in ("warn_after", "error_after"):
                if isinstance(inherited.get(key), Mapping) and isinstance(own.get(key), Mapping):
                    merged[key] = {**inherited[key], **own[key]}
            return merged
    return inherited


def _setting(table: Mapping[str, Any], parent: Mapping[str, Any], key: str) -> Any:
    for entry in (table, table.get("config") or {}, parent, parent.get("config") or {}):
        if key in entry:
            return entry[key]
    return None


def _criterion(value: Any) -> dict[str, Any]:
    value = value or {}
    return {"count": value.get("count"), "period": value.get("period")}


def _check_period(value: Any, where: str, key: str, path: Path) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping) or not isinstance(value.get("count"), int) or value.get("period") not in SECONDS:
        raise ConfigError(f"{where}: freshness.{key} must be {{count: <whole number>, period: minute|hour|day}}, "
                          f"got {value!r}", path=display_path(path))


def _check(conn, source: Source, policy: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    started, started_at = time.perf_counter(), _now_text()
    base = {"unique_id": source.unique_id, "thread_id": threading.current_thread().name}
    where = f" where {policy['filter']}" if policy.get("filter") else ""
    try:
        newest, = conn.execute(f"select max({policy['loaded_at_field']}) from {source.relation}{where}").fetchone()
    except duckdb.Error as error:
        return {**base, "status": "runtime error", "error": f"{type(error).__name__}: {error}",
                "execution_time": time.perf_counter() - started,
                "timing": [{"name": "execute", "started_at": started_at, "completed_at": _now_text()}]}
    snapshotted = datetime.now(timezone.utc)
    newest = _as_utc(newest) or LONG_AGO
    age = (snapshotted - newest).total_seconds()
    criteria = {key: policy[key] for key in ("warn_after", "error_after", "filter")}
    return {**base, "max_loaded_at": newest.isoformat(),
            "snapshotted_at": snapshotted.isoformat(), "max_loaded_at_time_ago_in_s": age,
            "status": _status(age, policy), "criteria": criteria, "adapter_response": {},
            "timing": [{"name": "execute", "started_at": started_at, "completed_at": _now_text()}],
            "execution_time": time.perf_counter() - started}


def _status(age: float, policy: dict[str, Any]) -> str:
    """error past error_after, else warn past warn_after, else pass."""
    for key, status in (("error_after", "error"), ("warn_after", "warn")):
        limit = policy[key]
        if limit["count"] is not None and age > limit["count"] * SECONDS[limit["period"]]:
            return status
    return "pass"


def _as_utc(value: Any) -> datetime | None:
    """A naive timestamp is UTC (as dbt reads it); a date is its midnight."""
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise ConfigError(f"loaded_at_field gave {value!r}, not a timestamp")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _now_text() -> str:
    from .artifacts import now

    return now()


def _detail(result: dict[str, Any]) -> str:
    if result["status"] == "runtime error":
        return f"ERROR: {result['error']}"
    if result["max_loaded_at"] == LONG_AGO.isoformat():
        return "no rows"
    return f"newest row {result['max_loaded_at_time_ago_in_s'] / 3600:.1f} hours old"


def _run_hooks(conn, project: Project, kind: str, **context: Any) -> bool:
    """The project's on-run-start or on-run-end hooks; True when one failed."""
    from .hooks import run_project_hooks
    from .report import Reporter

    return any(result.status == "error" for result in run_project_hooks(conn, project, kind, Reporter(), **context))


def _end_context(results: list[dict[str, Any]]) -> dict[str, Any]:
    """on-run-end's `results` (one per source checked) and its schemas (none built), as dbt's."""
    from types import SimpleNamespace

    return {"schemas": [], "database_schemas": [],
            "results": [SimpleNamespace(**result, node=SimpleNamespace(unique_id=result["unique_id"]))
                        for result in results]}


def _runs_project_hooks(project: Project) -> bool:
    """dbt 1.11 runs the project's hooks around `source freshness` unless the project's flag
    `source_freshness_run_project_hooks` is false."""
    raw = _project_file(project)
    flags = raw.get("flags") if isinstance(raw.get("flags"), Mapping) else {}
    return flags.get("source_freshness_run_project_hooks", True) is not False


def _project_file(project: Project) -> Mapping[str, Any]:
    from .profiles import read_yaml

    raw = read_yaml(project.config.path) if project.config.path.is_file() else {}
    return raw if isinstance(raw, Mapping) else {}


def _refuse_project_level_freshness(project: Project) -> None:
    """`sources:` in dbt_project.yml may set freshness too; it is not read, so it is refused here."""
    block = _project_file(project).get("sources")
    if _mentions(block, ("freshness", "+freshness", "loaded_at_field", "+loaded_at_field")):
        raise ConfigError("`sources:` in the project file sets freshness or loaded_at_field, which `source "
                          "freshness` does not read yet", path=display_path(project.config.path),
                          hint="set `freshness:` and `loaded_at_field:` on the sources in their YAML files")


def _mentions(block: Any, keys: tuple[str, ...]) -> bool:
    if not isinstance(block, Mapping):
        return False
    return any(key in keys or _mentions(value, keys) for key, value in block.items())
