"""dbt-duckdb's `external` materialization: the model's rows written to a file with COPY (parquet, csv
or json), and a view over that file in the model's place.

`location` defaults to `<external_root>/<name>.<format>` (the profile's `external_root`, default the
project folder), or the folder `<external_root>/<name>` with `options: {partition_by: ...}`. The
format comes from `format`, else the location's extension (`.csv.gz` is csv, gzip), else csv when a
`delimiter` is given, else parquet. An empty result is written as one all-NULL row (so the file has
its columns) which the view leaves out, as dbt-duckdb does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .datatests import literal, quote
from .errors import ConfigError, display_path

if TYPE_CHECKING:
    import duckdb

    from .project import ModelNode, Project

FORMATS = ("parquet", "csv", "json")
CONFIG_KEYS = {"location", "format", "delimiter", "options", "parquet_read_options", "csv_read_options",
               "json_read_options"}
_QUOTED_OPTIONS = {"delimiter", "quote", "escape", "null"}
_DEFAULT_READ = {"parquet": {"union_by_name": False}, "json": {"auto_detect": True}, "csv": {"auto_detect": True}}


def validate(config: Mapping[str, Any], where: str, path: Path) -> None:
    if config.get("materialized") != "external":
        present = sorted(set(config) & CONFIG_KEYS)
        if present:
            raise ConfigError(f"{where}: `{present[0]}` applies only to materialized='external'",
                              path=display_path(path), hint="set materialized='external', or remove it")
        return
    fmt = config.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"{where}: format {fmt!r} is not one of {', '.join(FORMATS)}", path=display_path(path))
    for key in ("options", "parquet_read_options", "csv_read_options", "json_read_options"):
        if not isinstance(config.get(key) or {}, Mapping):
            raise ConfigError(f"{where}: `{key}` must be a mapping", path=display_path(path))


def build(conn: duckdb.DuckDBPyConnection, project: Project, model: ModelNode, sql: str) -> int:
    """Write the model's rows to its file and put a view over the file; returns the rows written."""
    from . import materialize
    from .project import Relation

    config = model.config
    options = _write_options(config)
    location = _location(project, model, options)
    read_location = _read_location(location, options)
    fmt = config.get("format") or (options["format"] if options["format"] in FORMATS else "parquet")
    staged = Relation(model.relation.schema, model.relation.identifier + "__smart_external", model.relation.database)
    conn.execute(f"drop table if exists {staged}")
    conn.execute(f"create table {staged} as\n{sql}\n")
    rows = conn.execute(f"select count(*) from {staged}").fetchone()[0]
    columns = [name for name, *_ in conn.execute(f"describe {staged}").fetchall()]
    if rows == 0:
        conn.execute(f"insert into {staged} values ({', '.join('null' for _ in columns)})")
    Path(location if options.get("partition_by") else os.path.dirname(location) or ".").mkdir(parents=True,
                                                                                              exist_ok=True)
    conn.execute(f"copy {staged} to {literal(location)} ({_render_options(options)})")
    conn.execute(f"drop table {staged}")
    read_options = {**_DEFAULT_READ[fmt], **(config.get(f"{fmt}_read_options") or {})}
    if options.get("compression") and fmt != "parquet":
        read_options.setdefault("compression", options["compression"])
    reader = (f"select * from read_{fmt}({literal(read_location)}"
              + "".join(f", {key}={_read_value(value)}" for key, value in read_options.items()) + ")")
    if rows == 0:
        reader += " where " + " and ".join(f"{quote(name)} is not null" for name in columns)
    materialize.create_view(conn, model.relation, reader)
    return rows


def _write_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """dbt-duckdb's render_write_options and external_write_options: the COPY options."""
    options = dict(config.get("options") or {})
    for key in ("format", "delimiter"):
        if config.get(key):
            options[key] = config[key]
    if "format" not in options:
        location = str(config.get("location") or "")
        root, ext = os.path.splitext(location)
        compression = {".gz": "gzip", ".zst": "zstd"}.get(ext.lower())
        if compression:
            ext = os.path.splitext(root)[1]
            options.setdefault("compression", compression)
        options["format"] = ext[1:].lower() if ext else "csv" if "delimiter" in options else "parquet"
    if options["format"] == "csv":
        options.setdefault("header", 1)
    partition = options.get("partition_by")
    if isinstance(partition, str) and "," in partition and not partition.startswith("("):
        options["partition_by"] = f"({partition})"
    return options


def _location(project: Project, model: ModelNode, options: Mapping[str, Any]) -> str:
    configured = model.config.get("location")
    if configured:
        location = Path(str(configured))
    else:
        name = model.relation.identifier
        suffix = "" if options.get("partition_by") else f".{model.config.get('format', 'parquet')}"
        location = Path(project.target.external_root) / f"{name}{suffix}"
    return str(location if location.is_absolute() else project.root / location)


def _read_location(location: str, options: Mapping[str, Any]) -> str:
    partition = options.get("partition_by")
    if partition or options.get("per_thread_output"):
        globs = [location, "*", *(["*"] * len(str(partition).split(",")) if partition else [])]
        return "/".join(globs) + f".{options.get('format', 'parquet')}"
    return location


def _render_options(options: Mapping[str, Any]) -> str:
    rendered = []
    for key, value in options.items():
        text = str(value)
        if key.lower() in _QUOTED_OPTIONS and not text.startswith("'"):
            text = literal(text)
        rendered.append(f"{key} {text}")
    return ", ".join(rendered)


def _read_value(value: Any) -> str:
    return literal(value) if isinstance(value, str) else str(value)
