"""Response caches of format 1 were DuckDB files. One found next to a new cache file (same name,
suffix `.duckdb`: the old default `llm_cache.duckdb` beside `llm_cache.sqlite`) is imported once and
renamed `<name>.imported`; one found where the new cache should be is refused with what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..errors import LLMError
from .cache_store import Entry

IMPORTED_SUFFIX = ".imported"
_CHUNK = 100_000


def is_old_format(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(12)[8:12] == b"DUCK"
    except OSError:
        return False


def old_cache_beside(path: Path) -> Path | None:
    candidate = path.with_suffix(".duckdb")
    return candidate if candidate != path and is_old_format(candidate) else None


def refusal(path: Path) -> LLMError:
    new = path.with_suffix(".sqlite")
    if path.suffix == ".duckdb":
        how = f"set cache_path to {new.name} (next to it): its answers are then imported once into the new file"
    else:
        how = (f"rename it to {path.with_suffix('.duckdb').name} and set cache_path to {new.name}: "
               "its answers are then imported once into the new file")
    return LLMError("the response cache is a DuckDB file of the old format, which this version no longer writes",
                    path=path, hint=how)


def read_old_cache(path: Path) -> Iterator[Entry]:
    """Every answer of an old cache, in key order (the order the new file stores them in)."""
    import duckdb

    with duckdb.connect(str(path)) as connection:
        tables = connection.execute("select 1 from information_schema.tables "
                                    "where table_name = 'llm_responses'").fetchall()
        if not tables:
            return
        cursor = connection.execute(
            "select key, model, answer, input_tokens, output_tokens, epoch(created_at) "
            "from llm_responses order by key")
        while rows := cursor.fetchmany(_CHUNK):
            for key, model, answer, input_tokens, output_tokens, created_at in rows:
                yield Entry(bytes.fromhex(key), model, answer, input_tokens, output_tokens, None, created_at)


def retire(path: Path) -> Path:
    """Rename an imported old cache (and a write-ahead log DuckDB left) so it is not imported again."""
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        wal.rename(wal.with_name(wal.name + IMPORTED_SUFFIX))
    retired = path.with_name(path.name + IMPORTED_SUFFIX)
    path.rename(retired)
    return retired
