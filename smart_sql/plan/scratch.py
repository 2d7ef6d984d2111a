"""A scratch in-memory database in which the plan builds what an LLM task reads.

The warehouse file, when it exists, is attached read-only; the search path looks in the scratch
first, then in the warehouse, so a model built in the scratch hides its old table and everything
else (sources, snapshots, tables built earlier) is read where it is. Nothing is written to the
warehouse: the scratch lives in memory and is gone when the plan ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import duckdb

from ..datatests import literal
from ..errors import ConfigError
from ..materialize import relation_type
from ..profiles import MEMORY
from ..project import Relation
from ..rewrite import ANSWER, MODEL, PROMPT, TEXT
from ..rewrite.plan import LLMTask

WAREHOUSE = "__smart_sql_warehouse"


class Scratch:
    def __init__(self, database: str, schemas: Iterable[str]):
        self.conn = duckdb.connect(MEMORY)
        self.attached = database != MEMORY and Path(database).exists()
        if self.attached:
            try:
                self.conn.execute(f"ATTACH {literal(str(database))} AS {WAREHOUSE} (READ_ONLY)")
            except duckdb.Error as error:
                self.conn.close()
                raise ConfigError(f"cannot read the database {database} to plan: {str(error).splitlines()[0]}",
                                  hint="another process may be writing it; plan again when it is done") from None
        stored = set()
        if self.attached:
            stored = {row[0] for row in self.conn.execute(
                "select schema_name from duckdb_schemas() where database_name = ?", [WAREHOUSE]).fetchall()}
        path = []
        for schema in dict.fromkeys(["main", *schemas, *sorted(stored)]):
            self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS memory.{_quote(schema)}")
            path.append(f"memory.{_quote(schema)}")
            if schema in stored:
                path.append(f"{WAREHOUSE}.{_quote(schema)}")
        self.conn.execute(f"SET search_path = {literal(','.join(path))}")

    def in_warehouse(self, relation: Relation) -> str | None:
        """'table', 'view' or None: what the warehouse holds under the relation's name."""
        if not self.attached or relation.database is not None:
            return None
        return relation_type(self.conn, Relation(relation.schema, relation.identifier, WAREHOUSE))

    def fill_with_stand_ins(self, task: LLMTask) -> None:
        """The task's result table with a stand-in answer per input (its first label, or the text
        itself), so SQL that reads the answers can run and be counted; no model is asked."""
        stand_in = literal(task.options.labels[0]) if task.options.labels else "text"
        self.conn.execute(f"CREATE OR REPLACE TEMP TABLE {task.table} AS SELECT prompt AS {PROMPT}, "
                          f"text AS {TEXT}, {stand_in} AS {ANSWER}, NULL::VARCHAR AS {MODEL} "
                          f"FROM ({task.input_sql})")

    def close(self) -> None:
        self.conn.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
