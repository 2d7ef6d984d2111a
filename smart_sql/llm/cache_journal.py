"""Answers the response cache could not commit when a run ended (full disk, read-only location),
saved in a journal next to the cache file, or in the temporary folder when that fails too; the next
run that can write the cache imports every journal of it and deletes them."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Iterable

from .cache_store import Entry

TEMP_FOLDER = "smart-sql-journals"


def save(path: Path, entries: Iterable[Entry]) -> Path:
    """Write the journal and return where; OSError naming every place tried when none takes it."""
    entries = list(entries)
    failures = []
    for folder, prefix in _places(path):
        journal = folder / f"{prefix}{os.getpid()}-{time.time_ns()}.jsonl"
        partial = journal.with_suffix(".partial")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(partial, "w", encoding="utf-8") as out:
                for entry in entries:
                    out.write(json.dumps([entry.key.hex(), *entry[1:]], ensure_ascii=False) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, journal)
            return journal
        except OSError as error:
            failures.append(f"{folder}: {error.strerror or error}")
            try:
                partial.unlink(missing_ok=True)
            except OSError:
                pass
    raise OSError("no journal could be written (" + "; ".join(failures) + ")")


def find(path: Path) -> list[Path]:
    return sorted(journal for folder, prefix in _places(path) if folder.is_dir()
                  for journal in folder.glob(f"{_glob_escape(prefix)}*.jsonl"))


def read(journal: Path) -> list[Entry]:
    """The entries of a journal; a line cut short (a process killed while writing) is skipped."""
    entries = []
    with open(journal, encoding="utf-8") as lines:
        for line in lines:
            try:
                key, *rest = json.loads(line)
                entries.append(Entry(bytes.fromhex(key), *rest))
            except (ValueError, TypeError):
                continue
    return entries


def _places(path: Path) -> list[tuple[Path, str]]:
    digest = hashlib.blake2b(str(path.resolve()).encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()
    return [(path.parent, f"{path.name}.journal-"),
            (Path(tempfile.gettempdir()) / TEMP_FOLDER, f"{digest}-{path.name}.journal-")]


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)
