"""What relations and schemas the database holds, read in one query and kept up to date by the build.

A lookup in information_schema costs milliseconds on DuckDB, so a build asks once, at its first
lookup, and then records what its own materializations create and drop. What a transaction records
becomes visible to other threads only when it commits (`transaction`), and is dropped when it rolls
back. SQL the build does not write itself (hooks) may change anything: after it, `forget` makes the
next lookup read the database again; a node with hooks uses `LiveCatalog`, which always asks.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import duckdb

    from .project import Relation

_RELATIONS = ("select database_name, schema_name, table_name, 'table' from duckdb_tables() "
              "union all select database_name, schema_name, view_name, 'view' from duckdb_views() "
              "where not internal")
_SCHEMAS = "select database_name, schema_name from duckdb_schemas()"
Key = tuple[str, str, str]


class LiveCatalog:
    """Asks the database at every lookup: exact whatever else ran, and slow."""

    def kind(self, conn: duckdb.DuckDBPyConnection, relation: Relation) -> str | None:
        """'table', 'view', or None when the relation does not exist."""
        row = conn.execute(
            "select table_type from information_schema.tables "
            "where table_schema = ? and table_name = ? and table_catalog = coalesce(?, current_database())",
            [relation.schema, relation.identifier, relation.database],
        ).fetchone()
        if row is None:
            return None
        return "view" if row[0] == "VIEW" else "table"

    def has_schema(self, conn: duckdb.DuckDBPyConnection, relation: Relation) -> bool:
        return False

    def record(self, conn: duckdb.DuckDBPyConnection, relation: Relation, kind: str | None) -> None:
        pass

    def schema_created(self, conn: duckdb.DuckDBPyConnection, relation: Relation) -> None:
        pass

    def forget(self) -> None:
        pass

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield


class Catalog(LiveCatalog):
    """The relations of the database as the build last knew them; safe to share between threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._relations: dict[Key, str] | None = None
        self._schemas: set[tuple[str, str]] = set()
        self._default_database = ""
        self._pending = threading.local()

    def kind(self, conn: duckdb.DuckDBPyConnection, relation: Relation) -> str | None:
        key = self._key(conn, relation)
        pending = getattr(self._pending, "changes", None)
        if pending is not None and key in pending:
            return pending[key]
        with self._lock:
            return self._relations.get(key)

    def has_schema(self, conn: duckdb.DuckDBPyConnection, relation: Relation) -> bool:
        key = self._key(conn, relation)
        with self._lock:
            return key[:2] in self._schemas

    def record(self, conn: duckdb.DuckDBPyConnection, relation: Relation, kind: str | None) -> None:
        """`relation` now is a `kind` (None: dropped), once the running transaction commits."""
        key = self._key(conn, relation)
        pending = getattr(self._pending, "changes", None)
        if pending is not None:
            pending[key] = kind
        else:
            with self._lock:
                self._apply({key: kind})

    def schema_created(self, conn: duckdb.DuckDBPyConnection, relation: Relation) -> None:
        key = self._key(conn, relation)
        with self._lock:
            self._schemas.add(key[:2])

    def forget(self) -> None:
        with self._lock:
            self._relations = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Around one transaction of the calling thread: what it records counts once it commits; after a
        rollback the next lookup reads the database again (a reload inside it saw its changes)."""
        self._pending.changes = {}
        try:
            yield
        except BaseException:
            self._pending.changes = None
            self.forget()
            raise
        changes, self._pending.changes = self._pending.changes, None
        with self._lock:
            self._apply(changes)

    def _apply(self, changes: dict[Key, str | None]) -> None:
        if self._relations is None:
            return
        for key, kind in changes.items():
            if kind is None:
                self._relations.pop(key, None)
            else:
                self._relations[key] = kind

    def _key(self, conn: duckdb.DuckDBPyConnection, relation: Relation) -> Key:
        with self._lock:
            if self._relations is None:
                self._load(conn)
        database = relation.database or self._default_database
        return database.lower(), relation.schema.lower(), relation.identifier.lower()

    def _load(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._default_database = conn.execute("select current_database()").fetchone()[0]
        self._relations = {(database.lower(), schema.lower(), name.lower()): kind
                           for database, schema, name, kind in conn.execute(_RELATIONS).fetchall()}
        self._schemas = {(database.lower(), schema.lower()) for database, schema in conn.execute(_SCHEMAS).fetchall()}
