"""dbt-duckdb's external sources: a source table whose `meta` or `config` (its own or its source's) has
`external_location` is read from that location (a file path, or a table function like read_json(...))
instead of a table. The location is a template filled from the table's name, identifier, schema,
database, tags and meta (`formatter`: newstyle `{name}` (default), oldstyle `%(name)s`, template `$name`)."""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any, Mapping

from ..errors import ConfigError, display_path

_SOURCE_CONFIG_KEYS = {"enabled", "event_time", "meta", "freshness", "loaded_at_field", "loaded_at_query", "tags",
                       "docs"}


def location(source: Mapping[str, Any], table: Mapping[str, Any], schema: str, identifier: str,
             database: str | None, path: Path) -> str | None:
    """The SQL that stands for the table when it is external, else None."""
    meta = {**_settings(source), **_settings(table)}
    where = f"source table {source['name']}.{table['name']}"
    if "plugin" in meta:
        raise ConfigError(f"{where}: dbt-duckdb source plugins are not supported", path=display_path(path),
                          hint="load the data with an external_location, a seed or a pre-hook instead")
    if "external_location" not in meta:
        return None
    template = str(meta["external_location"])
    values = {"name": table["name"], "identifier": identifier, "schema": schema, "database": database,
              "tags": list(table.get("tags") or []), **meta}
    formatter = meta.get("formatter", "newstyle")
    try:
        if formatter == "newstyle":
            filled = template.format_map(values)
        elif formatter == "oldstyle":
            filled = template % values
        elif formatter == "template":
            filled = Template(template).substitute(values)
        else:
            raise ConfigError(f"{where}: formatter {formatter!r} is not one of newstyle, oldstyle, template",
                              path=display_path(path))
    except (KeyError, ValueError) as error:
        raise ConfigError(f"{where}: external_location {template!r} names {error}, which the table does not have",
                          path=display_path(path), hint="use {name}, {identifier}, {schema} or a meta key") from None
    return filled if "(" in filled or filled.startswith("'") else f"'{filled}'"


def _settings(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry's meta, then its config keys that are not dbt's own (dbt-duckdb reads both)."""
    config = entry.get("config") if isinstance(entry.get("config"), Mapping) else {}
    extra = {key: value for key, value in config.items() if key not in _SOURCE_CONFIG_KEYS}
    return {**(entry.get("meta") or {}), **(config.get("meta") or {}), **extra}
