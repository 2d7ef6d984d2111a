"""`adapter` in templates, as dbt-duckdb's: dispatch, quote, get_relation, get_columns_in_relation;
and `api.Relation.create`. What reads the database answers only when a node is built (`execute`),
as in dbt: while the project is read, get_relation gives None and get_columns_in_relation []."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import ModelError
from ...project import Relation
from .context import Dispatcher, Statements


_STRING_TYPES = ("text", "character varying", "character", "varchar")
_TYPE_LABELS = {"STRING": "TEXT", "TIMESTAMP": "TIMESTAMP", "FLOAT": "FLOAT", "INTEGER": "INT", "BOOLEAN": "BOOLEAN"}


class Column:
    """A column of get_columns_in_relation, as dbt's Column: `dtype` is DuckDB's type; `data_type` is
    dbt's rendering of it (strings as character varying(256))."""

    def __init__(self, name: str, dtype: str):
        self.name = self.column = name
        self.dtype = dtype
        self.char_size = self.numeric_precision = self.numeric_scale = None

    @classmethod
    def translate_type(cls, dtype: str) -> str:
        """`api.Column.translate_type`: dbt's generic type labels (string, integer, ...) as SQL types."""
        return _TYPE_LABELS.get(dtype.upper(), dtype)

    @classmethod
    def create(cls, name: str, label_or_dtype: str) -> "Column":
        return cls(name, cls.translate_type(label_or_dtype))

    @property
    def data_type(self) -> str:
        return "character varying(256)" if self.is_string() else self.dtype

    def is_string(self) -> bool:
        return self.dtype.lower() in _STRING_TYPES

    def is_number(self) -> bool:
        return self.is_integer() or self.is_numeric() or self.is_float()

    def is_integer(self) -> bool:
        return self.dtype.lower() in ("smallint", "integer", "bigint", "int2", "int4", "int8", "hugeint", "tinyint")

    def is_numeric(self) -> bool:
        return self.dtype.lower() in ("numeric", "decimal")

    def is_float(self) -> bool:
        return self.dtype.lower() in ("real", "float4", "float", "double precision", "float8", "double")

    @property
    def quoted(self) -> str:
        return f'"{self.name}"'

    def __repr__(self) -> str:
        return f"<Column {self.name} ({self.data_type})>"


class Adapter:
    def __init__(self, dispatcher: Dispatcher, statements: Statements, file_catalog: str):
        self._dispatcher = dispatcher
        self._statements = statements
        self._file_catalog = file_catalog

    def dispatch(self, macro_name: str, macro_namespace: str | None = None, packages: Any = None) -> Any:
        return self._dispatcher.dispatch(macro_name, macro_namespace, packages)

    @staticmethod
    def type() -> str:
        return "duckdb"

    @staticmethod
    def quote(identifier: Any) -> str:
        return f'"{identifier}"'

    def get_relation(self, database: str | None, schema: str, identifier: str) -> Any:
        if self._statements.connection is None:
            return None
        catalog = database or self._file_catalog
        found = self._statements.connection.execute(
            "select table_catalog, table_schema, table_name, table_type from information_schema.tables "
            "where lower(table_catalog) = lower(?) and lower(table_schema) = lower(?) and lower(table_name) = lower(?)",
            [catalog, schema, identifier]).fetchone()
        if found is None:
            return None
        return relation(found[0], found[1], found[2], "view" if found[3] == "VIEW" else "table", self._file_catalog)

    def get_columns_in_relation(self, relation: Any) -> list[Column]:
        if self._statements.connection is None:
            return []
        name = ".".join('"' + part.replace('"', '""') + '"' for part in _parts(relation, self._file_catalog))
        rows = self._statements.connection.execute(f"select column_name, column_type from (describe {name})").fetchall()
        return [Column(column, dtype) for column, dtype in rows]

    def get_missing_columns(self, from_relation: Any, to_relation: Any) -> list[Column]:
        present = {column.name.lower() for column in self.get_columns_in_relation(to_relation)}
        return [column for column in self.get_columns_in_relation(from_relation) if column.name.lower() not in present]


@dataclass(frozen=True)
class TypedRelation(Relation):
    """A relation found in the database: also its `type` ('table' or 'view'), as dbt's."""

    type: str | None = None

    @property
    def is_table(self) -> bool:
        return self.type == "table"

    @property
    def is_view(self) -> bool:
        return self.type == "view"

    def render(self) -> str:
        return str(self)


def relation(database: str | None, schema: str, identifier: str, kind: str | None, file_catalog: str) -> TypedRelation:
    return TypedRelation(schema, identifier, None if database in (None, file_catalog) else database, kind)


def _parts(value: Any, file_catalog: str) -> tuple[str, str, str]:
    schema, identifier = getattr(value, "schema", None), getattr(value, "identifier", None)
    if not (isinstance(schema, str) and isinstance(identifier, str)):
        raise ModelError(f"adapter.get_columns_in_relation needs a relation (ref(...), source(...), this or "
                         f"adapter.get_relation(...)), got {value!r}",
                         hint="an ephemeral model has no relation; make it a view to read its columns")
    return getattr(value, "database", None) or file_catalog, schema, identifier


class RelationApi:
    """`api.Relation.create(database=..., schema=..., identifier=...)`."""

    def __init__(self, file_catalog: str, default_schema: str):
        self._file_catalog = file_catalog
        self._default_schema = default_schema

    def create(self, database: str | None = None, schema: str | None = None, identifier: str | None = None,
               type: str | None = None, **_: Any) -> Any:
        if not identifier:
            raise ModelError("api.Relation.create needs an identifier")
        return relation(database, schema or self._default_schema, identifier, type, self._file_catalog)


class Api:
    def __init__(self, file_catalog: str, default_schema: str):
        self.Relation = RelationApi(file_catalog, default_schema)
        self.Column = Column
