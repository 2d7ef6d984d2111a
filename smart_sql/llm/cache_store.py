"""The response cache's file: an SQLite database in WAL mode, one B-tree keyed by the request hash.

Lookups and writes cost O(log n) each however many answers the file holds; any number of processes
may read it while one of them writes (writers take turns, waiting up to BUSY_SECONDS for the lock).
A commit survives the process being killed the moment after; with `synchronous=full` it also
survives a power cut.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from .base import LLMResponse

FORMAT_VERSION = 2
"""`pragma user_version` of a cache file; version 1 was a DuckDB file."""
BUSY_SECONDS = 30.0
LOOKUP_CHUNK = 4096
"""Keys per lookup statement (SQLite allows 32,766 parameters)."""
CACHE_PAGES_KIB = 65536
"""Page cache per connection: enough for the inner pages of a B-tree of tens of millions of answers."""

_SCHEMA = """
create table if not exists responses (
    key blob primary key,
    model text not null,
    answer text,
    input_tokens integer not null,
    output_tokens integer not null,
    served_model text,
    invalid text,
    score real,
    created_at real not null
) without rowid
"""
_LOOKUP_COLUMNS = "key, answer, input_tokens, output_tokens, served_model, invalid, score"
_INSERT = ("insert or ignore into responses (key, model, answer, input_tokens, output_tokens, served_model, "
           "created_at, invalid, score) values (?, ?, ?, ?, ?, ?, ?, ?, ?)")


class Entry(NamedTuple):
    """One cached answer. `answer` None is an invalid answer, kept so that it is not paid again, with
    `invalid` an excerpt of what the server sent; `served_model` is the model version the API said
    it served; `score` the model's confidence in the answer (None where the provider gave none)."""

    key: bytes
    model: str
    answer: str | None
    input_tokens: int
    output_tokens: int
    served_model: str | None
    created_at: float
    invalid: str | None = None
    score: float | None = None


class NotACache(Exception):
    """The file exists but is not a response cache this version can use."""


class Store:
    """One connection to a cache file. Not shared between threads without the caller's lock."""

    def __init__(self, path: Path, *, read_only: bool = False):
        self.path = path
        self.read_only = read_only
        try:
            if read_only:
                self._open_read_only()
            else:
                self._open()
        except sqlite3.DatabaseError as error:
            if _error_name(error) in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                raise NotACache(f"{path} is not a response cache ({error})") from None
            raise

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = _connect(self.path)
        try:
            self._check_version()
            self._connection.execute("pragma journal_mode=wal")
            self._connection.execute("pragma synchronous=full")
            if self._version() == 0:
                with self.transaction():
                    self._connection.execute(_SCHEMA)
                    self._connection.execute(f"pragma user_version={FORMAT_VERSION}")
        except BaseException:
            self._connection.close()
            raise

    def _open_read_only(self) -> None:
        """Read-only, or failing that (no shared-memory index can be created in a read-only folder)
        as an immutable file: the answers committed into the main file are served."""
        for mode in ("ro", "ro&immutable=1"):
            connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode={mode}", uri=True,
                                         check_same_thread=False)
            try:
                _configure(connection)
                self._connection = connection
                self._check_version()
                return
            except sqlite3.OperationalError as error:
                connection.close()
                failure = error
        raise failure

    def _version(self) -> int:
        return self._connection.execute("pragma user_version").fetchone()[0]

    def _check_version(self) -> None:
        version = self._version()
        if version == 0 and self._connection.execute("select count(*) from sqlite_master").fetchone()[0]:
            raise NotACache(f"{self.path} is an SQLite database of something else, not a response cache")
        if version > FORMAT_VERSION:
            raise NotACache(f"{self.path} is a response cache of a newer format ({version}) than this "
                            f"smart-sql reads ({FORMAT_VERSION})")

    def transaction(self):
        return _Transaction(self._connection)

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, LLMResponse]:
        """The cached response of each key found."""
        return {key: LLMResponse(answer, input_tokens, output_tokens, True, served_model, invalid, score)
                for key, answer, input_tokens, output_tokens, served_model, invalid, score in self.get_rows(keys)}

    def get_rows(self, keys: Sequence[bytes]) -> list[tuple]:
        """(key, answer, input_tokens, output_tokens, served_model, invalid, score) of each key found, looked
        up a chunk at a time in key order (so that neighbouring lookups share pages, twice as fast as
        in any other order). When the keys asked for are most of the keys in their range (a rebuild
        asking again for what it stored), each chunk is read as one range instead, a third faster."""
        keys = sorted(keys)
        dense = len(keys) >= LOOKUP_CHUNK and self._is_dense(keys[:LOOKUP_CHUNK])
        found: list[tuple] = []
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start:start + LOOKUP_CHUNK]
            if dense:
                wanted = set(chunk)
                found.extend(row for row in self._range(chunk) if row[0] in wanted)
            else:
                found.extend(self._each(chunk))
        return found

    def contains_many(self, keys: Sequence[bytes]) -> set[bytes]:
        """The keys of `keys` that the file holds an answer for (read from the index alone)."""
        keys = sorted(keys)
        held: set[bytes] = set()
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start:start + LOOKUP_CHUNK]
            held.update(key for (key,) in self._connection.execute(
                f"select key from responses where key in ({','.join('?' * len(chunk))})", chunk))
        return held

    def _is_dense(self, chunk: list[bytes]) -> bool:
        """Whether the file holds fewer than two entries per key of `chunk` in its range (keys are
        uniform hashes, so the first chunk tells for all)."""
        limit = 2 * len(chunk)
        held = self._connection.execute("select count(*) from (select 1 from responses where key between ? and ? "
                                        "limit ?)", (chunk[0], chunk[-1], limit)).fetchone()[0]
        return held < limit

    def _each(self, chunk: list[bytes]) -> list[tuple]:
        return self._connection.execute(f"select {_LOOKUP_COLUMNS} from responses "
                                        f"where key in ({','.join('?' * len(chunk))})", chunk).fetchall()

    def _range(self, chunk: list[bytes]) -> list[tuple]:
        """Every entry between the chunk's first and last key, asked for or not."""
        return self._connection.execute(f"select {_LOOKUP_COLUMNS} from responses where key between ? and ?",
                                        (chunk[0], chunk[-1])).fetchall()

    def put_many(self, entries: Iterable[Entry]) -> None:
        """Insert in one transaction, sorted by key so that neighbours share pages; an answer
        already there is kept."""
        with self.transaction():
            self._connection.executemany(_INSERT, sorted(entries, key=_by_key))

    def insert(self, entries: Iterable[Entry]) -> int:
        """Insert inside the caller's transaction; returns how many were new."""
        return self._connection.executemany(_INSERT, entries).rowcount

    def stats(self) -> dict[str, dict]:
        if self._version() == 0:
            return {}
        rows = self._connection.execute(
            "select model, count(*), sum(input_tokens), sum(output_tokens) from responses "
            "group by model order by model").fetchall()
        return {model: {"entries": count, "input_tokens": int(inp), "output_tokens": int(out)}
                for model, count, inp, out in rows}

    def clear(self) -> int:
        with self.transaction():
            removed = self._connection.execute("select count(*) from responses").fetchone()[0]
            self._connection.execute("delete from responses")
        self._connection.execute("pragma wal_checkpoint(truncate)")
        return removed

    def close(self) -> None:
        self._connection.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (a full disk may have rolled it back already)."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def __enter__(self) -> None:
        self.connection.execute("begin immediate")

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.connection.execute("commit")
        elif self.connection.in_transaction:
            try:
                self.connection.execute("rollback")
            except sqlite3.Error:
                pass


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, check_same_thread=False)
    try:
        _configure(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _configure(connection: sqlite3.Connection) -> None:
    connection.isolation_level = None
    connection.execute(f"pragma busy_timeout={int(BUSY_SECONDS * 1000)}")
    connection.execute(f"pragma cache_size=-{CACHE_PAGES_KIB}")


def _by_key(entry: Entry) -> bytes:
    return entry.key


_NAMES_BY_MESSAGE = {"database or disk is full": "SQLITE_FULL", "readonly database": "SQLITE_READONLY",
                     "database is locked": "SQLITE_BUSY", "unable to open database file": "SQLITE_CANTOPEN",
                     "disk I/O error": "SQLITE_IOERR", "file is not a database": "SQLITE_NOTADB"}


def _error_name(error: BaseException) -> str:
    """SQLite's name for the error (Python 3.10 gives only the message)."""
    name = getattr(error, "sqlite_errorname", None)
    if name or not isinstance(error, sqlite3.Error):
        return name or ""
    return next((name for text, name in _NAMES_BY_MESSAGE.items() if text in str(error)), "")


def cause(error: BaseException, path: Path) -> str:
    """Why the cache at `path` could not be opened or written, in words, with the underlying message."""
    name = _error_name(error)
    number = getattr(error, "errno", None)
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY")):
        number = _folder_refusal(path.parent) or number
    if name.startswith("SQLITE_FULL") or number == errno.ENOSPC:
        what = "the disk is full"
    elif name.startswith("SQLITE_READONLY") or number in (errno.EROFS, errno.EACCES, errno.EPERM):
        what = "its location is read-only"
    elif name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        what = f"another process held its write lock for more than {BUSY_SECONDS:.0f} s"
    elif name.startswith("SQLITE_CANTOPEN"):
        what = "the file cannot be opened or created (a missing or read-only folder?)"
    elif name.startswith("SQLITE_IOERR"):
        what = "the disk reported an I/O error"
    else:
        what = type(error).__name__
    return f"{what} ({error})"


def _folder_refusal(folder: Path) -> int | None:
    """The errno with which `folder` refuses a new file, None if it takes one."""
    probe = folder / f".smart-sql-probe-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except OSError as error:
        return error.errno
    probe.unlink()
    return None
