"""The DuckDB engine behind the adapter interface: smart_sql.materialize's atomic swaps in a
transaction each, and the answer tables as temporary tables of the connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from .. import materialize
from ..datatests import quote
from ..rewrite import ANSWER, MODEL, PROMPT, TEXT
from .base import CHUNK_ROWS, Answers, EngineAdapter, Inputs

if TYPE_CHECKING:
    import duckdb

    from ..project import Relation, SeedNode

_ANSWER_COLUMNS = f"{PROMPT} VARCHAR, {TEXT} VARCHAR, {ANSWER} VARCHAR, {MODEL} VARCHAR"


class DuckDBAdapter(EngineAdapter):
    name = "duckdb"
    dialect = "duckdb"
    transactional = True

    def __init__(self, conn: duckdb.DuckDBPyConnection, *, owned: bool = False):
        self.conn = conn
        self._owned = owned

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def bind(self, sql: str) -> None:
        self.conn.execute(f"EXPLAIN\n{sql}")

    def fetch(self, sql: str, limit: int | None = None) -> tuple[list[str], list[tuple]]:
        cursor = self.conn.execute(sql)
        rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
        return [column[0] for column in cursor.description], rows

    def relation_kind(self, relation: Relation) -> str | None:
        return materialize.relation_type(self.conn, relation)

    def list_relations(self, schema: str) -> dict[str, str]:
        rows = self.conn.execute("select table_name, table_type from information_schema.tables "
                                 "where table_schema = ? and table_catalog = current_database()", [schema]).fetchall()
        return {name: "view" if kind == "VIEW" else "table" for name, kind in rows}

    def ensure_schema(self, schema: str) -> None:
        self.conn.execute(f"create schema if not exists {quote(schema)}")

    def create_table(self, relation: Relation, sql: str) -> int:
        with materialize.atomic(self.conn):
            return materialize.create_table(self.conn, relation, sql)

    def create_view(self, relation: Relation, sql: str) -> None:
        with materialize.atomic(self.conn):
            materialize.create_view(self.conn, relation, sql)

    def append(self, relation: Relation, sql: str) -> int:
        with materialize.atomic(self.conn):
            return self.conn.execute(f"insert into {relation}\n{sql}\n").fetchone()[0]

    def replace_by_key(self, relation: Relation, sql: str, unique_key: Sequence[str]) -> int:
        keys = ", ".join(quote(key) for key in unique_key)
        with materialize.atomic(self.conn):
            self.conn.execute(f"create or replace temp table __smart_new as\n{sql}\n")
            self.conn.execute(f"delete from {relation} where ({keys}) in (select ({keys}) from __smart_new)")
            rows = self.conn.execute(f"insert into {relation} by name select * from __smart_new").fetchone()[0]
            self.conn.execute("drop table __smart_new")
            return rows

    def load_seed(self, seed: SeedNode) -> int:
        with materialize.atomic(self.conn):
            return materialize.load_seed(self.conn, seed)

    def read_inputs(self, sql: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[Inputs]:
        cursor = self.conn.execute(f"SELECT prompt, text, n FROM ({sql}) ORDER BY prompt, text")
        while rows := cursor.fetchmany(chunk_rows):
            prompts, texts, counts = zip(*rows)
            yield list(prompts), list(texts), list(counts)

    def write_answers(self, table: str, chunks: Iterable[Answers]) -> None:
        self.conn.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({_ANSWER_COLUMNS})")
        for prompts, texts, answers, models in chunks:
            self.conn.execute(f"INSERT INTO {table} SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
                              f"unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
                              [list(prompts), list(texts), list(answers), list(models)])

    def drop_temporary(self, table: str) -> None:
        self.conn.execute(f"DROP TABLE IF EXISTS {table}")

    def interrupt(self) -> None:
        self.conn.interrupt()

    def close(self) -> None:
        if self._owned:
            self.conn.close()
