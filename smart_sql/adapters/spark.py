"""Spark behind the adapter interface (pyspark: a local or cluster session, or Spark Connect).

Spark SQL has no transactions: a table is built aside under `<name>__smart_tmp` and, once complete,
the old relation is dropped and the new one renamed in its place (two catalog operations; a failure
while building leaves the old relation as it was). Tables are Spark's default format (parquet).
Seeds are read on the driver by DuckDB's CSV reader, so their columns get the same types as on a
DuckDB target, and written in chunks. A task's inputs come to the driver in chunks through
toLocalIterator, never collected whole; its answers go back in chunks through createDataFrame."""

from __future__ import annotations

import re
from itertools import islice
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from ..errors import ModelError
from ..rewrite import ANSWER, MODEL, PROMPT, TEXT
from .base import CHUNK_ROWS, Answers, EngineAdapter, Inputs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..profiles import Target
    from ..project import Relation, SeedNode

ANSWER_SCHEMA = f"{PROMPT} string, {TEXT} string, {ANSWER} string, {MODEL} string"
_SIMPLE_TYPES = {"BOOLEAN": "boolean", "TINYINT": "tinyint", "SMALLINT": "smallint", "INTEGER": "int",
                 "BIGINT": "bigint", "HUGEINT": "decimal(38,0)", "UTINYINT": "smallint", "USMALLINT": "int",
                 "UINTEGER": "bigint", "UBIGINT": "decimal(20,0)", "FLOAT": "float", "DOUBLE": "double",
                 "VARCHAR": "string", "DATE": "date", "TIMESTAMP": "timestamp_ntz",
                 "TIMESTAMP WITH TIME ZONE": "timestamp", "BLOB": "binary"}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def quoted(*parts: str) -> str:
    return ".".join("`" + part.replace("`", "``") + "`" for part in parts)


def name_of(relation: Relation) -> str:
    return quoted(relation.schema, relation.identifier)


class SparkAdapter(EngineAdapter):
    name = "spark"
    dialect = "spark"
    transactional = False

    def __init__(self, spark: SparkSession, schema: str, *, owned: bool = False):
        self.spark = spark
        self.schema = schema
        """Where answer tables go: the target's database, made the session's current one."""
        self._owned = owned
        self.ensure_schema(schema)
        spark.catalog.setCurrentDatabase(schema)

    @classmethod
    def open(cls, target: Target) -> SparkAdapter:
        from .spark_session import open_session

        spark, owned = open_session(target)
        return cls(spark, target.schema, owned=owned)

    def execute(self, sql: str) -> None:
        self.spark.sql(sql)

    def bind(self, sql: str) -> None:
        self.spark.sql(sql).schema

    def translate(self, sql: str, *, path: str | None = None, model: str | None = None) -> str:
        from .transpile import to_spark

        return to_spark(sql, path=path, model=model)

    def lookups_elsewise(self, sql: str) -> str | None:
        from .transpile import lookups_as_maps

        return lookups_as_maps(sql)

    def fetch(self, sql: str, limit: int | None = None) -> tuple[list[str], list[tuple]]:
        frame = self.spark.sql(sql)
        rows = frame.collect() if limit is None else frame.take(limit)
        return list(frame.columns), [tuple(row) for row in rows]

    def relation_kind(self, relation: Relation) -> str | None:
        from pyspark.errors import AnalysisException

        if not self.spark.catalog.databaseExists(relation.schema):
            return None
        try:
            table = self.spark.catalog.getTable(f"{quoted(relation.schema, relation.identifier)}")
        except AnalysisException:
            return None
        return "view" if table.tableType in ("VIEW", "TEMPORARY") else "table"

    def list_relations(self, schema: str) -> dict[str, str]:
        if not self.spark.catalog.databaseExists(schema):
            return {}
        return {table.name: "view" if table.tableType in ("VIEW", "TEMPORARY") else "table"
                for table in self.spark.catalog.listTables(schema) if not table.isTemporary}

    def ensure_schema(self, schema: str) -> None:
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {quoted(schema)}")

    def create_table(self, relation: Relation, sql: str) -> int:
        tmp = self._fresh(relation.temporary())
        self.spark.sql(f"CREATE TABLE {name_of(tmp)} USING parquet AS\n{sql}")
        rows = self.spark.table(name_of(tmp)).count()
        self._swap(relation, tmp)
        return rows

    def create_view(self, relation: Relation, sql: str) -> None:
        if self.relation_kind(relation) == "table":
            tmp = self._fresh(relation.temporary())
            self.spark.sql(f"CREATE VIEW {name_of(tmp)} AS\n{sql}")
            self._swap(relation, tmp)
            return
        self.spark.sql(f"CREATE OR REPLACE VIEW {name_of(relation)} AS\n{sql}")

    def append(self, relation: Relation, sql: str) -> int:
        new = self._staged(relation, sql)
        try:
            columns = self.spark.table(name_of(relation)).columns
            new.select(*columns).write.insertInto(name_of(relation))
            return new.count()
        finally:
            self.drop_temporary(name_of(relation.temporary()))

    def replace_by_key(self, relation: Relation, sql: str, unique_key: Sequence[str]) -> int:
        """The table rewritten: its rows whose key the new rows lack, then the new rows (parquet tables
        cannot MERGE), built aside and swapped in."""
        new = self._staged(relation, sql)
        swapped = relation.temporary().temporary()
        try:
            old = self.spark.table(name_of(relation))
            kept = old.join(new.select(*unique_key), list(unique_key), "left_anti")
            self._fresh(swapped)
            kept.unionByName(new.select(*old.columns)).write.format("parquet").saveAsTable(name_of(swapped))
            rows = new.count()
        finally:
            self.drop_temporary(name_of(relation.temporary()))
        self._swap(relation, swapped)
        return rows

    def load_seed(self, seed: SeedNode) -> int:
        import duckdb

        from ..materialize import seed_select

        tmp = self._fresh(seed.relation.temporary())
        with duckdb.connect() as local:
            cursor = local.execute(seed_select(seed))
            schema = ", ".join(f"{quoted(column[0])} {_spark_type(str(column[1]), seed, column[0])}"
                               for column in cursor.description)
            rows = 0
            for chunk in iter(lambda: cursor.fetchmany(CHUNK_ROWS), []):
                self._write(self.spark.createDataFrame(chunk, schema), name_of(tmp), first=rows == 0)
                rows += len(chunk)
            if rows == 0:
                self._write(self.spark.createDataFrame([], schema), name_of(tmp), first=True)
        self._swap(seed.relation, tmp)
        return rows

    def read_inputs(self, sql: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[Inputs]:
        frame = self.spark.sql(f"SELECT prompt, text, n FROM ({sql}) AS inputs ORDER BY prompt, text")
        rows = frame.toLocalIterator(prefetchPartitions=True)
        while chunk := list(islice(rows, chunk_rows)):
            yield [row[0] for row in chunk], [row[1] for row in chunk], [int(row[2]) for row in chunk]

    def write_answers(self, table: str, chunks: Iterable[Answers]) -> None:
        target = quoted(self.schema, table)
        self.drop_temporary(target)
        first = True
        for prompts, texts, answers, models in chunks:
            frame = self.spark.createDataFrame(list(zip(prompts, texts, answers, models)), ANSWER_SCHEMA)
            self._write(frame, target, first=first)
            first = False
        if first:
            self._write(self.spark.createDataFrame([], ANSWER_SCHEMA), target, first=True)

    def drop_temporary(self, table: str) -> None:
        self.spark.sql(f"DROP TABLE IF EXISTS {table}")

    def interrupt(self) -> None:
        try:
            self.spark.sparkContext.cancelAllJobs()
        except Exception:
            self.spark.interruptAll()  # Spark Connect has no SparkContext

    def close(self) -> None:
        if self._owned:
            self.spark.stop()

    def _staged(self, relation: Relation, sql: str) -> DataFrame:
        """The new rows of an incremental run, written aside first: a failing query changes nothing."""
        tmp = self._fresh(relation.temporary())
        self.spark.sql(f"CREATE TABLE {name_of(tmp)} USING parquet AS\n{sql}")
        return self.spark.table(name_of(tmp))

    def _write(self, frame: DataFrame, table: str, *, first: bool) -> None:
        frame.write.format("parquet").mode("overwrite" if first else "append").saveAsTable(table)

    def _fresh(self, tmp: Relation) -> Relation:
        leftover = self.relation_kind(tmp)
        if leftover:
            self.spark.sql(f"DROP {leftover.upper()} {name_of(tmp)}")
        return tmp

    def _swap(self, relation: Relation, tmp: Relation) -> None:
        existing = self.relation_kind(relation)
        if existing:
            self.spark.sql(f"DROP {existing.upper()} {name_of(relation)}")
        kind = "VIEW" if self.relation_kind(tmp) == "view" else "TABLE"
        self.spark.sql(f"ALTER {kind} {name_of(tmp)} RENAME TO {name_of(relation)}")


def _spark_type(duckdb_type: str, seed: SeedNode, column: str) -> str:
    decimal = _DECIMAL.fullmatch(duckdb_type)
    if decimal:
        return f"decimal({decimal[1]},{decimal[2]})"
    if duckdb_type in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[duckdb_type]
    raise ModelError(f"seed {seed.name!r}: column {column!r} has type {duckdb_type}, which Spark has no "
                     f"counterpart for", path=str(seed.path),
                     hint="give the column a type Spark has in the seed's `column_types` (e.g. varchar)")
