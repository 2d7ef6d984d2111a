"""Turning a model's final SQL into a relation in DuckDB: table, view, incremental and seeds.

Each function runs inside the caller's transaction (see `atomic`): a new relation is built under
`<name>__smart_tmp` and swapped in, so a failure leaves the previous relation as it was.
Every statement that holds a model's SQL starts it on the statement's line SQL_LINE, so that the
positions in DuckDB's errors can be taken back to the model's SQL.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

from .relation_catalog import LiveCatalog
from .datatests import literal, quote

if TYPE_CHECKING:
    import duckdb

    from .project import ModelNode, Relation, SeedNode

SQL_LINE = 2
LIVE = LiveCatalog()


@contextmanager
def atomic(conn: duckdb.DuckDBPyConnection, catalog: LiveCatalog = LIVE,
           before_commit: Callable[[], None] = lambda: None) -> Iterator[None]:
    """One transaction; what it records in `catalog` counts once it commits. If `before_commit`
    raises, it rolls back."""
    conn.execute("begin transaction")
    with catalog.transaction():
        try:
            yield
            before_commit()
        except BaseException:
            conn.execute("rollback")
            raise
        conn.execute("commit")


def relation_type(conn: duckdb.DuckDBPyConnection, relation: Relation, catalog: LiveCatalog = LIVE) -> str | None:
    """'table', 'view', or None when the relation does not exist."""
    return catalog.kind(conn, relation)


def ensure_schema(conn: duckdb.DuckDBPyConnection, relation: Relation, catalog: LiveCatalog = LIVE) -> None:
    if catalog.has_schema(conn, relation):
        return
    prefix = f"{quote(relation.database)}." if relation.database else ""
    conn.execute(f"create schema if not exists {prefix}{quote(relation.schema)}")
    catalog.schema_created(conn, relation)


def ensure_schemas(conn: duckdb.DuckDBPyConnection, relations: list[Relation], catalog: LiveCatalog = LIVE) -> None:
    """Every schema `relations` are built in, before any node runs (as dbt): schemas made by two
    transactions at once would conflict."""
    for relation in dict.fromkeys(relations):
        ensure_schema(conn, relation, catalog)


def create_table(conn: duckdb.DuckDBPyConnection, relation: Relation, sql: str, catalog: LiveCatalog = LIVE) -> int:
    tmp = _fresh_tmp(conn, relation, catalog)
    rows = conn.execute(f"create table {tmp} as\n{sql}\n").fetchone()[0]
    _swap(conn, relation, tmp, "table", catalog)
    return rows


def create_view(conn: duckdb.DuckDBPyConnection, relation: Relation, sql: str, catalog: LiveCatalog = LIVE) -> None:
    tmp = _fresh_tmp(conn, relation, catalog)
    conn.execute(f"create view {tmp} as\n{sql}\n")
    _swap(conn, relation, tmp, "view", catalog)


def insert_incremental(conn: duckdb.DuckDBPyConnection, model: ModelNode, sql: str,
                       on_schema_change: str = "ignore", catalog: LiveCatalog = LIVE) -> int:
    """Add the model's rows to its table by its incremental strategy (see smart_sql.incremental);
    `on_schema_change` applies when the model sets none."""
    from . import incremental

    return incremental.insert(conn, model, sql, _fresh_tmp(conn, model.relation, catalog), on_schema_change)


def load_seed(conn: duckdb.DuckDBPyConnection, seed: SeedNode, catalog: LiveCatalog = LIVE, *,
              in_place: bool = False) -> int:
    """The seed's table created from its file; with `in_place`, an existing table is emptied and the
    file copied into it (its columns and types stay, as dbt-duckdb reloads a seed)."""
    if in_place and relation_type(conn, seed.relation, catalog) == "table":
        conn.execute(f"delete from {seed.relation}")
        delimiter = literal(seed.config.get("delimiter", ","))
        return conn.execute(f"copy {seed.relation} from {literal(str(seed.path))} "
                            f"(format csv, header true, delimiter {delimiter})").fetchone()[0]
    return create_table(conn, seed.relation, seed_select(seed), catalog)


def seed_select(seed: SeedNode) -> str:
    """The seed's file read by DuckDB, with its delimiter and column types."""
    options = ["header = true"]
    if "delimiter" in seed.config:
        options.append(f"delim = {literal(seed.config['delimiter'])}")
    column_types = seed.column_types()
    if column_types:
        types = ", ".join(f"{literal(name)}: {literal(kind)}" for name, kind in column_types.items())
        options.append(f"types = {{{types}}}")
    return f"select * from read_csv({literal(str(seed.path))}, {', '.join(options)})"


def _fresh_tmp(conn: duckdb.DuckDBPyConnection, relation: Relation, catalog: LiveCatalog) -> Relation:
    tmp = relation.temporary()
    leftover = catalog.kind(conn, tmp)
    if leftover:
        conn.execute(f"drop {leftover} {tmp}")
        catalog.record(conn, tmp, None)
    return tmp


def _swap(conn: duckdb.DuckDBPyConnection, relation: Relation, tmp: Relation, kind: str,
          catalog: LiveCatalog) -> None:
    existing = catalog.kind(conn, relation)
    if existing:
        conn.execute(f"drop {existing} {relation}")
    conn.execute(f"alter {kind} {tmp} rename to {quote(relation.identifier)}")
    catalog.record(conn, relation, kind)
