"""Turning a model's final SQL into a relation in DuckDB: table, view, incremental and seeds.

Each function runs inside the caller's transaction (see `atomic`): a new relation is built under
`<name>__smart_tmp` and swapped in, so a failure leaves the previous relation as it was.
Every statement that holds a model's SQL starts it on the statement's line SQL_LINE, so that the
positions in DuckDB's errors can be taken back to the model's SQL.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from .datatests import literal, quote

if TYPE_CHECKING:
    import duckdb

    from .project import ModelNode, Relation, SeedNode

SQL_LINE = 2


@contextmanager
def atomic(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    conn.execute("begin transaction")
    try:
        yield
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")


def relation_type(conn: duckdb.DuckDBPyConnection, relation: Relation) -> str | None:
    """'table', 'view', or None when the relation does not exist."""
    row = conn.execute(
        "select table_type from information_schema.tables "
        "where table_schema = ? and table_name = ? and table_catalog = coalesce(?, current_database())",
        [relation.schema, relation.identifier, relation.database],
    ).fetchone()
    if row is None:
        return None
    return "view" if row[0] == "VIEW" else "table"


def ensure_schema(conn: duckdb.DuckDBPyConnection, relation: Relation) -> None:
    prefix = f"{quote(relation.database)}." if relation.database else ""
    conn.execute(f"create schema if not exists {prefix}{quote(relation.schema)}")


def ensure_schemas(conn: duckdb.DuckDBPyConnection, nodes: list) -> None:
    """Every schema the seeds and models among `nodes` are built in (before on-run-start, as dbt)."""
    relations = [node.relation for node in nodes if node.resource_type in ("seed", "model", "snapshot")]
    for relation in dict.fromkeys(relations):
        ensure_schema(conn, relation)


def create_table(conn: duckdb.DuckDBPyConnection, relation: Relation, sql: str) -> int:
    tmp = _fresh_tmp(conn, relation)
    conn.execute(f"create table {tmp} as\n{sql}\n")
    rows = _count(conn, tmp)
    _swap(conn, relation, tmp, "table")
    return rows


def create_view(conn: duckdb.DuckDBPyConnection, relation: Relation, sql: str) -> None:
    tmp = _fresh_tmp(conn, relation)
    conn.execute(f"create view {tmp} as\n{sql}\n")
    _swap(conn, relation, tmp, "view")


def insert_incremental(conn: duckdb.DuckDBPyConnection, model: ModelNode, sql: str,
                       on_schema_change: str = "ignore") -> int:
    """Add the model's rows to its table by its incremental strategy (see smart_sql.incremental);
    `on_schema_change` applies when the model sets none."""
    from . import incremental

    return incremental.insert(conn, model, sql, _fresh_tmp(conn, model.relation), on_schema_change)


def load_seed(conn: duckdb.DuckDBPyConnection, seed: SeedNode, *, in_place: bool = False) -> int:
    """The seed's table created from its file; with `in_place`, an existing table is emptied and the
    file copied into it (its columns and types stay, as dbt-duckdb reloads a seed)."""
    if in_place and relation_type(conn, seed.relation) == "table":
        conn.execute(f"delete from {seed.relation}")
        delimiter = literal(seed.config.get("delimiter", ","))
        return conn.execute(f"copy {seed.relation} from {literal(str(seed.path))} "
                            f"(format csv, header true, delimiter {delimiter})").fetchone()[0]
    options = ["header = true"]
    if "delimiter" in seed.config:
        options.append(f"delim = {literal(seed.config['delimiter'])}")
    column_types = seed.column_types()
    if column_types:
        types = ", ".join(f"{literal(name)}: {literal(kind)}" for name, kind in column_types.items())
        options.append(f"types = {{{types}}}")
    return create_table(conn, seed.relation, f"select * from read_csv({literal(str(seed.path))}, {', '.join(options)})")


def _fresh_tmp(conn: duckdb.DuckDBPyConnection, relation: Relation) -> Relation:
    tmp = relation.temporary()
    leftover = relation_type(conn, tmp)
    if leftover:
        conn.execute(f"drop {leftover} {tmp}")
    return tmp


def _swap(conn: duckdb.DuckDBPyConnection, relation: Relation, tmp: Relation, kind: str) -> None:
    existing = relation_type(conn, relation)
    if existing:
        conn.execute(f"drop {existing} {relation}")
    conn.execute(f"alter {kind} {tmp} rename to {quote(relation.identifier)}")


def _count(conn: duckdb.DuckDBPyConnection, relation: Relation) -> int:
    return conn.execute(f"select count(*) from {relation}").fetchone()[0]
