"""Adding a run's rows to an incremental model's table, as dbt-duckdb does: the strategies `append`,
`delete+insert` (the default) and `merge`, `incremental_predicates`, and `on_schema_change`.

The model's rows go first into `<name>__smart_tmp`; its columns are compared with the table's
(`on_schema_change`), then the strategy moves the rows in. All of it runs in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from .datatests import quote
from .errors import ConfigError, display_path

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb

    from .project import ModelNode, Relation

STRATEGIES = ("append", "delete+insert", "merge")
ON_SCHEMA_CHANGE = ("ignore", "fail", "append_new_columns", "sync_all_columns")
MERGE_LISTS = ("merge_update_columns", "merge_exclude_columns")
CONFIG_KEYS = {"on_schema_change", "incremental_predicates", "predicates", *MERGE_LISTS}
"""Model config keys read here (besides unique_key and incremental_strategy)."""
_SOURCE, _DEST = "DBT_INTERNAL_SOURCE", "DBT_INTERNAL_DEST"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str


def validate(config: Mapping[str, Any], where: str, path: Path) -> None:
    """The incremental configs' values, checked when the project is loaded (before anything runs)."""
    strategy = config.get("incremental_strategy")
    if strategy is not None and strategy not in STRATEGIES:
        hint = ("microbatch needs batches by event_time, which are not run here; use delete+insert with an "
                "incremental_predicates filter" if strategy == "microbatch" else f"use one of: {', '.join(STRATEGIES)}")
        raise ConfigError(f"{where}: incremental_strategy {strategy!r} is not supported", path=display_path(path),
                          hint=hint)
    change = config.get("on_schema_change")
    if change is not None and change not in ON_SCHEMA_CHANGE:
        raise ConfigError(f"{where}: on_schema_change {change!r} is not one of {', '.join(ON_SCHEMA_CHANGE)}",
                          path=display_path(path), hint="dbt would fall back to `ignore`; say so, or pick another")
    for key in (*MERGE_LISTS, "incremental_predicates", "predicates"):
        value = config.get(key)
        if value is not None and not (isinstance(value, str) and key.endswith("predicates")) and not (
                isinstance(value, list) and all(isinstance(item, str) for item in value)):
            raise ConfigError(f"{where}: `{key}` must be a list of strings", path=display_path(path))
    if strategy != "merge":
        for key in MERGE_LISTS:
            if config.get(key):
                raise ConfigError(f"{where}: `{key}` applies only to incremental_strategy 'merge'",
                                  path=display_path(path), hint="set incremental_strategy: merge, or remove it")
    if all(config.get(key) for key in MERGE_LISTS):
        raise ConfigError(f"{where}: give merge_update_columns or merge_exclude_columns, not both",
                          path=display_path(path))


def insert(conn: duckdb.DuckDBPyConnection, model: ModelNode, sql: str, tmp: Relation,
           on_schema_change: str = "ignore") -> int:
    """The rows of `sql` added to the model's existing table; returns how many rows were written.
    `on_schema_change` is the default for a model that does not set it."""
    conn.execute(f"create table {tmp} as\n{sql}\n")
    relation = model.relation
    columns = _schema_changes(conn, model, tmp, model.config.get("on_schema_change") or on_schema_change)
    strategy = model.config.get("incremental_strategy") or "delete+insert"
    predicates = _predicates(model.config)
    key = model.config.get("unique_key")
    keys = [key] if isinstance(key, str) else list(key or [])
    if strategy == "merge":
        rows = conn.execute(_merge_sql(relation, tmp, keys, predicates, columns, model.config)).fetchone()[0]
    else:
        if keys and strategy == "delete+insert":
            conn.execute(_delete_sql(relation, tmp, keys, predicates))
        names = ", ".join(quote(column.name) for column in columns)
        rows = conn.execute(f"insert into {relation} ({names}) select {names} from {tmp}").fetchone()[0]
    conn.execute(f"drop table {tmp}")
    return rows


def _predicates(config: Mapping[str, Any]) -> list[str]:
    value = config.get("predicates") or config.get("incremental_predicates") or []
    return [value] if isinstance(value, str) else list(value)


def columns_of(conn: duckdb.DuckDBPyConnection, relation: Relation) -> list[Column]:
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? "
        "and table_catalog = coalesce(?, current_database()) order by ordinal_position",
        [relation.schema, relation.identifier, relation.database]).fetchall()
    return [Column(name, kind) for name, kind in rows]


def _schema_changes(conn: duckdb.DuckDBPyConnection, model: ModelNode, tmp: Relation, change: str) -> list[Column]:
    """The columns the rows are written into, after `on_schema_change` has had its way with the table."""
    target = columns_of(conn, model.relation)
    if change == "ignore":
        return target
    source = columns_of(conn, tmp)
    target_names = {column.name for column in target}
    source_names = {column.name for column in source}
    added = [column for column in source if column.name not in target_names]
    removed = [column for column in target if column.name not in source_names]
    target_types = {column.name: column.data_type for column in target}
    retyped = [column for column in source if column.name in target_types
               and column.data_type != target_types[column.name]]
    if not (added or removed or retyped):
        return source
    if change == "fail":
        raise ConfigError(
            f"model {model.name!r}: the query's columns no longer match incremental table "
            f"{model.relation.display} (on_schema_change: fail{_default_note(model)}). Query columns not in the table: "
            f"{_names(added)}; table columns not in the query: {_names(removed)}; changed types: "
            + (", ".join(f"{c.name} {target_types[c.name]} -> {c.data_type}" for c in retyped) or "none"),
            path=display_path(model.path),
            hint="set on_schema_change to append_new_columns or sync_all_columns, run with --full-refresh, "
                 "or change the table by hand")
    for column in added:
        conn.execute(f"alter table {model.relation} add column {quote(column.name)} {column.data_type}")
    if change == "sync_all_columns":
        for column in removed:
            conn.execute(f"alter table {model.relation} drop column {quote(column.name)}")
        for column in retyped:
            _retype(conn, model.relation, column)
    return source


def _retype(conn: duckdb.DuckDBPyConnection, relation: Relation, column: Column) -> None:
    """dbt's way: a new column of the new type, filled from the old one, takes its name (and goes last)."""
    name, tmp = quote(column.name), quote(column.name + "__dbt_alter")
    conn.execute(f"alter table {relation} add column {tmp} {column.data_type}")
    conn.execute(f"update {relation} set {tmp} = {name}")
    conn.execute(f"alter table {relation} drop column {name}")
    conn.execute(f"alter table {relation} rename column {tmp} to {name}")


def _default_note(model: ModelNode) -> str:
    return "" if model.config.get("on_schema_change") else ", the default of smart-sql projects"


def _names(columns: list[Column]) -> str:
    return ", ".join(column.name for column in columns) or "none"


def _delete_sql(relation: Relation, tmp: Relation, keys: list[str], predicates: list[str]) -> str:
    """dbt-duckdb's statements: a single key with IN, a list of keys with USING (the table as
    DBT_INCREMENTAL_TARGET); predicates are added as written."""
    extra = "".join(f" and ({predicate})" for predicate in predicates)
    if len(keys) == 1:
        return f"delete from {relation} where ({keys[0]}) in (select ({keys[0]}) from {tmp}){extra}"
    matches = " and ".join(f"{tmp}.{key} = DBT_INCREMENTAL_TARGET.{key}" for key in keys)
    return f"delete from {relation} as DBT_INCREMENTAL_TARGET using {tmp} where ({matches}{extra})"


def _merge_sql(relation: Relation, tmp: Relation, keys: list[str], predicates: list[str], columns: list[Column],
               config: Mapping[str, Any]) -> str:
    joins = [f"{_SOURCE}.{key} = {_DEST}.{key}" for key in keys] or ["FALSE"]
    include, exclude = config.get("merge_update_columns") or [], config.get("merge_exclude_columns") or []
    if include or exclude:
        chosen = [c.name for c in columns if (c.name in include if include else c.name not in exclude)]
        update = "update set " + ", ".join(f"{quote(name)} = {_SOURCE}.{quote(name)}" for name in chosen)
    else:
        update = "update by name"
    condition = ") and (".join(joins + predicates)
    return (f"merge into {relation} as {_DEST} using {tmp} as {_SOURCE} on ({condition}) "
            f"when matched then {update} when not matched then insert by name")
