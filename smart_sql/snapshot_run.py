"""Running one snapshot inside the caller's transaction: create its table on the first run, else stage
the changes and merge them (see smart_sql.snapshot_sql), as dbt's snapshot materialization does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import materialize, snapshot_sql
from .dbt.snapshots import hard_deletes, unique_key
from .errors import ModelError

if TYPE_CHECKING:
    import duckdb

    from .relation_catalog import LiveCatalog

    from .project import SnapshotNode


def run_snapshot(conn: duckdb.DuckDBPyConnection, snapshot: SnapshotNode, sql: str,
                 catalog: LiveCatalog = materialize.LIVE) -> tuple[int, bool]:
    """(rows inserted, whether the table was created)."""
    relation = snapshot.relation
    existing = materialize.relation_type(conn, relation, catalog)
    if existing == "view":
        raise ModelError(f"snapshot {snapshot.name!r}: {relation.display} is a view, and a snapshot needs a table",
                         path=str(snapshot.relpath), hint="drop the view, or give the snapshot another alias")
    if existing is not None:
        _check_target(conn, snapshot)
    strategy = _strategy(conn, snapshot, sql, existing is not None)
    if existing is None:
        return materialize.create_table(conn, relation, snapshot_sql.build_table_sql(strategy, sql), catalog), True
    staging = relation.__class__(relation.schema, relation.identifier + snapshot_sql.STAGING_SUFFIX, relation.database)
    if materialize.relation_type(conn, staging, catalog):
        conn.execute(f"drop table {staging}")
        catalog.record(conn, staging, None)
    source_columns = snapshot_sql.query_columns(conn, sql)
    target_columns = list(snapshot_sql.columns_of(conn, relation))
    conn.execute(f"create table {staging} as\n"
                 f"{snapshot_sql.staging_sql(strategy, sql, relation, source_columns, target_columns)}\n")
    inserted = snapshot_sql.merge(conn, relation, staging, strategy.valid_to_current)
    conn.execute(f"drop table {staging}")
    return inserted, False


def _check_target(conn: duckdb.DuckDBPyConnection, snapshot: SnapshotNode) -> None:
    """As dbt: a table to snapshot into must have the snapshot columns (it may be some other table)."""
    columns = snapshot_sql.columns_of(conn, snapshot.relation)
    missing = [name for name in ("dbt_scd_id", "dbt_valid_from", "dbt_valid_to") if name not in columns]
    if missing:
        raise ModelError(f"snapshot {snapshot.name!r}: {snapshot.relation.display} is missing the snapshot columns "
                         f"{', '.join(missing)}, so it is not this snapshot's table", path=str(snapshot.relpath),
                         hint="drop or rename that table (the first run creates it), or give the snapshot another "
                              "alias or target_schema")


def _strategy(conn: duckdb.DuckDBPyConnection, snapshot: SnapshotNode, sql: str,
              exists: bool) -> snapshot_sql.Strategy:
    config = snapshot.config
    keys, deletes, valid_to = unique_key(snapshot), hard_deletes(snapshot), config.get("dbt_valid_to_current")
    if config["strategy"] == "timestamp":
        return snapshot_sql.timestamp_strategy(keys, config["updated_at"], deletes, valid_to)
    check_cols = config["check_cols"]
    if not exists:
        return snapshot_sql.check_strategy(keys, [], False, deletes, valid_to, config.get("updated_at"))
    selected = sql if check_cols == "all" else f"select {', '.join(check_cols)} from (\n{sql}\n) subq"
    existing = snapshot_sql.columns_of(conn, snapshot.relation)
    columns = snapshot_sql.query_columns(conn, selected)
    compared = [snapshot_sql.quote(column) for column in columns if column in existing]
    return snapshot_sql.check_strategy(keys, compared, len(compared) < len(columns), deletes, valid_to,
                                       config.get("updated_at"))
