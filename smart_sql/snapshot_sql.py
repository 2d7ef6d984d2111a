"""A snapshot's SQL as dbt-core 1.11 with dbt-duckdb 1.11 runs it: the first run creates the table with
dbt_scd_id, dbt_updated_at, dbt_valid_from and dbt_valid_to; later runs stage the changes (inserts,
updates, hard deletes), close the changed rows' dbt_valid_to and insert their new versions.

Everything runs in the caller's transaction, so a failed run leaves the previous table as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .datatests import quote

if TYPE_CHECKING:
    import duckdb

    from .project import Relation

SNAPSHOT_TIME = "now()::timestamp"
"""dbt-duckdb's snapshot_get_time (`current_timestamp()::timestamp`): the transaction's start."""
HARD_DELETES = ("ignore", "invalidate", "new_record")
STAGING_SUFFIX = "__dbt_tmp"
_HELPER_COLUMNS = {"dbt_change_type", "dbt_unique_key"}


@dataclass(frozen=True)
class Strategy:
    unique_key: list[str]
    updated_at: str
    """An expression: the updated_at column (timestamp) or the snapshot time (check)."""
    row_changed: str
    scd_id: str
    hard_deletes: str
    valid_to_current: str | None = None


def timestamp_strategy(unique_key: list[str], updated_at: str, hard_deletes: str,
                       valid_to_current: str | None) -> Strategy:
    return Strategy(unique_key, updated_at, f"(snapshotted_data.dbt_valid_from < source_data.{updated_at})",
                    hash_arguments([*unique_key, updated_at]), hard_deletes, valid_to_current)


def check_strategy(unique_key: list[str], check_cols: list[str], column_added: bool, hard_deletes: str,
                   valid_to_current: str | None, updated_at: str | None = None) -> Strategy:
    """`check_cols`: the columns compared (already those the table has); a column new in the query
    makes every row count as changed, as in dbt."""
    if column_added:
        changed = "(TRUE)"
    else:
        changed = "(" + " or ".join(
            f"snapshotted_data.{col} != source_data.{col} or (((snapshotted_data.{col} is null) and not "
            f"(source_data.{col} is null)) or ((not snapshotted_data.{col} is null) and (source_data.{col} is null)))"
            for col in check_cols) + ")"
    updated = updated_at or SNAPSHOT_TIME
    return Strategy(unique_key, updated, changed, hash_arguments([*unique_key, updated]), hard_deletes,
                    valid_to_current)


def hash_arguments(args: list[str]) -> str:
    return "md5(" + " || '|' || ".join(f"coalesce(cast({arg} as varchar ), '')" for arg in args) + ")"


def build_table_sql(strategy: Strategy, sql: str) -> str:
    """The first run's table (dbt's build_snapshot_table)."""
    deleted = ", 'False' as dbt_is_deleted" if strategy.hard_deletes == "new_record" else ""
    return (f"select *,\n    {strategy.scd_id} as dbt_scd_id,\n    {strategy.updated_at} as dbt_updated_at,\n"
            f"    {strategy.updated_at} as dbt_valid_from,\n    {_valid_to_current(strategy)}{deleted}\n"
            f"from (\n{sql}\n) sbq")


def staging_sql(strategy: Strategy, sql: str, target: Relation, source_columns: list[str],
                snapshot_columns: list[str]) -> str:
    """The changes to apply (dbt's snapshot_staging_table)."""
    keys = _key_fields(strategy.unique_key)
    join = " and ".join(f"snapshotted_data.{_key_alias(strategy.unique_key, i)} = source_data.{_key_alias(strategy.unique_key, i)}"
                        for i in range(len(strategy.unique_key)))
    snapshot_key_null = " and ".join(f"snapshotted_data.{_key_alias(strategy.unique_key, i)} is null"
                                     for i in range(len(strategy.unique_key)))
    snapshot_key_not_null = " and ".join(f"snapshotted_data.{_key_alias(strategy.unique_key, i)} is not null"
                                         for i in range(len(strategy.unique_key)))
    source_key_null = " and ".join(f"source_data.{_key_alias(strategy.unique_key, i)} is null"
                                   for i in range(len(strategy.unique_key)))
    new_record = strategy.hard_deletes == "new_record"
    deletes = strategy.hard_deletes in ("invalidate", "new_record")
    was_deleted = " or snapshotted_data.dbt_is_deleted = 'True'" if new_record else ""
    not_deleted = ", 'False' as dbt_is_deleted" if new_record else ""
    current = (f"(snapshotted_data.dbt_valid_to = {strategy.valid_to_current} or snapshotted_data.dbt_valid_to is null)"
               if strategy.valid_to_current else "snapshotted_data.dbt_valid_to is null")
    current_in_target = (f"(dbt_valid_to = {strategy.valid_to_current} or dbt_valid_to is null)"
                         if strategy.valid_to_current else "dbt_valid_to is null")
    parts = [
        f"with snapshot_query as (\n{sql}\n),",
        f"snapshotted_data as (select *, {keys} from {target} where {current_in_target}),",
        f"insertions_source_data as (select *, {keys}, {strategy.updated_at} as dbt_updated_at, "
        f"{strategy.updated_at} as dbt_valid_from, {_valid_to_current(strategy)}, {strategy.scd_id} as dbt_scd_id "
        f"from snapshot_query),",
        f"updates_source_data as (select *, {keys}, {strategy.updated_at} as dbt_updated_at, "
        f"{strategy.updated_at} as dbt_valid_from, {strategy.updated_at} as dbt_valid_to from snapshot_query),",
    ]
    if deletes:
        parts.append(f"deletes_source_data as (select *, {keys} from snapshot_query),")
    parts += [
        f"insertions as (select 'insert' as dbt_change_type, source_data.*{not_deleted} "
        f"from insertions_source_data as source_data left outer join snapshotted_data on {join} "
        f"where {snapshot_key_null} or ({snapshot_key_not_null} and ({strategy.row_changed}{was_deleted}))),",
        f"updates as (select 'update' as dbt_change_type, source_data.*, snapshotted_data.dbt_scd_id"
        f"{', snapshotted_data.dbt_is_deleted' if new_record else ''} "
        f"from updates_source_data as source_data join snapshotted_data on {join} "
        f"where ({strategy.row_changed}{was_deleted}))" + ("," if deletes else ""),
    ]
    not_already_deleted = (f" and not (snapshotted_data.dbt_is_deleted = 'True' and {current})" if new_record else "")
    if deletes:
        parts.append(
            f"deletes as (select 'delete' as dbt_change_type, source_data.*, {SNAPSHOT_TIME} as dbt_valid_from, "
            f"{SNAPSHOT_TIME} as dbt_updated_at, {SNAPSHOT_TIME} as dbt_valid_to, snapshotted_data.dbt_scd_id"
            f"{', snapshotted_data.dbt_is_deleted' if new_record else ''} "
            f"from snapshotted_data left join deletes_source_data as source_data on {join} "
            f"where {source_key_null}{not_already_deleted})" + ("," if new_record else ""))
    if new_record:
        columns = ", ".join(f"snapshotted_data.{quote(col)}" if col in snapshot_columns else f"source_data.{quote(col)}"
                            for col in source_columns)
        key_columns = ", ".join(f"snapshotted_data.{_key_alias(strategy.unique_key, i)} as "
                                f"{_key_alias(strategy.unique_key, i)}" for i in range(len(strategy.unique_key)))
        new_scd_id = hash_arguments(["dbt_scd_id", SNAPSHOT_TIME])
        parts.append(
            f"deletion_records as (select 'insert' as dbt_change_type, {columns}, {key_columns}, "
            f"{SNAPSHOT_TIME} as dbt_valid_from, {SNAPSHOT_TIME} as dbt_updated_at, "
            f"snapshotted_data.dbt_valid_to as dbt_valid_to, {new_scd_id} as dbt_scd_id, 'True' as dbt_is_deleted "
            f"from snapshotted_data left join deletes_source_data as source_data on {join} "
            f"where {source_key_null}{not_already_deleted})")
    selects = ["select * from insertions", "select * from updates"]
    if deletes:
        selects.append("select * from deletes")
    if new_record:
        selects.append("select * from deletion_records")
    return "\n".join(parts) + "\n" + "\nunion all\n".join(selects)


def merge(conn: duckdb.DuckDBPyConnection, target: Relation, staging: Relation, valid_to_current: str | None) -> int:
    """dbt-duckdb's snapshot_merge_sql: close the updated and deleted rows, insert the new versions.
    Returns the rows inserted."""
    target_columns = columns_of(conn, target)
    staging_columns = columns_of(conn, staging)
    for column, kind in staging_columns.items():
        if column not in target_columns and not _is_helper(column):
            conn.execute(f"alter table {target} add column {quote(column)} {kind}")
    insert = [quote(column) for column in staging_columns if not _is_helper(column)]
    current = (f"(DBT_INTERNAL_TARGET.dbt_valid_to = {valid_to_current} or DBT_INTERNAL_TARGET.dbt_valid_to is null)"
               if valid_to_current else "DBT_INTERNAL_TARGET.dbt_valid_to is null")
    conn.execute(f"update {target} as DBT_INTERNAL_TARGET set dbt_valid_to = DBT_INTERNAL_SOURCE.dbt_valid_to "
                 f"from {staging} as DBT_INTERNAL_SOURCE "
                 f"where DBT_INTERNAL_SOURCE.dbt_scd_id::text = DBT_INTERNAL_TARGET.dbt_scd_id::text "
                 f"and DBT_INTERNAL_SOURCE.dbt_change_type::text in ('update'::text, 'delete'::text) and {current}")
    return conn.execute(f"insert into {target} ({', '.join(insert)}) select "
                        f"{', '.join('DBT_INTERNAL_SOURCE.' + column for column in insert)} "
                        f"from {staging} as DBT_INTERNAL_SOURCE "
                        f"where DBT_INTERNAL_SOURCE.dbt_change_type::text = 'insert'::text").fetchone()[0]


def columns_of(conn: duckdb.DuckDBPyConnection, relation: Relation) -> dict[str, str]:
    rows = conn.execute("select column_name, data_type from information_schema.columns where table_schema = ? "
                        "and table_name = ? and table_catalog = coalesce(?, current_database()) "
                        "order by ordinal_position", [relation.schema, relation.identifier, relation.database])
    return dict(rows.fetchall())


def query_columns(conn: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    cursor = conn.execute(f"select * from (\n{sql}\n) as subq limit 0")
    names = [column[0] for column in cursor.description]
    cursor.fetchall()
    return names


def _valid_to_current(strategy: Strategy) -> str:
    return (f"coalesce(nullif({strategy.updated_at}, {strategy.updated_at}), {strategy.valid_to_current or 'null'})"
            f" as dbt_valid_to")


def _key_fields(unique_key: list[str]) -> str:
    return ", ".join(f"{key} as {_key_alias(unique_key, i)}" for i, key in enumerate(unique_key))


def _key_alias(unique_key: list[str], index: int) -> str:
    return "dbt_unique_key" if len(unique_key) == 1 else f"dbt_unique_key_{index + 1}"


def _is_helper(column: str) -> bool:
    return column.lower() in _HELPER_COLUMNS or column.lower().startswith("dbt_unique_key_")
