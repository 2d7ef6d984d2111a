"""The response cache's writer: a thread of its own that commits the answers handed to it.

Handing an answer over costs the event loop a list append. The thread commits each batch once its
oldest answer has waited `flush_seconds` (sooner when FLUSH_ROWS are waiting, when a flush is asked
for or when it closes), so a process killed outright loses at most that much of them. A batch it
cannot commit (full disk, read-only file, a write lock held too long) is kept in memory and tried
again with the next one, every RETRY_SECONDS and a last time on close; close returns what is still
not committed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .cache_store import Entry, Store

log = logging.getLogger(__name__)

FLUSH_ROWS = 4096
RETRY_SECONDS = 1.0


class Writer:
    def __init__(self, open_store: Callable[[], Store], flush_seconds: float,
                 on_failure: Callable[[BaseException, int], None], on_recovery: Callable[[int], None]):
        self.flush_seconds = flush_seconds
        self.unwritten: dict[bytes, Entry] = {}
        """Every answer handed over and not committed yet, for lookups; an answer leaves it only
        once committed, so a key missing here was committed before (or never handed over)."""
        self._open_store = open_store
        self._on_failure = on_failure
        self._on_recovery = on_recovery
        self._handed: list[Entry] = []
        self._kept: list[Entry] = []
        self._oldest = 0.0
        self._received = self._taken = self._settled = self._flush_to = 0
        self._closing = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def put(self, entry: Entry) -> None:
        self.unwritten[entry.key] = entry
        with self._changed:
            first = not self._handed
            if first:
                self._oldest = time.monotonic()
            self._handed.append(entry)
            self._received += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="smart-sql-cache-writer", daemon=True)
                self._thread.start()
            elif first or len(self._handed) == FLUSH_ROWS:
                self._changed.notify_all()

    def flush(self) -> None:
        """Wait until every answer handed over so far is committed, or kept after a failure."""
        with self._changed:
            target = self._received
            self._flush_to = max(self._flush_to, target)
            self._changed.notify_all()
            while self._settled < target and self._thread is not None and self._thread.is_alive():
                self._changed.wait()

    def close(self) -> list[Entry]:
        """Commit what is left (a last try for answers kept after a failure) and stop; returns the
        answers that could not be committed."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
        return self._kept

    def _run(self) -> None:
        store = None
        while True:
            batch, last = self._take()
            if batch or self._kept:
                store = self._write(store, batch)
            with self._changed:
                self._settled += len(batch)
                self._changed.notify_all()
            if last:
                break
        if store is not None:
            store.close()

    def _take(self) -> tuple[list[Entry], bool]:
        with self._changed:
            while True:
                waiting = len(self._handed)
                if self._closing or (waiting and (waiting >= FLUSH_ROWS or self._flush_to > self._taken)):
                    break
                if waiting:
                    timeout = self._oldest + self.flush_seconds - time.monotonic()
                elif self._kept:
                    timeout = RETRY_SECONDS
                else:
                    timeout = None
                if timeout is not None and timeout <= 0:
                    break
                if not self._changed.wait(timeout) and not waiting and self._kept:
                    break
            batch, self._handed = self._handed, []
            self._taken += len(batch)
            return batch, self._closing

    def _write(self, store: Store | None, batch: list[Entry]) -> Store | None:
        entries = self._kept + batch if self._kept else batch
        try:
            if store is None:
                store = self._open_store()
            store.put_many(entries)
        except Exception as error:  # noqa: BLE001 - whatever went wrong, the answers are kept
            self._kept = entries
            self._on_failure(error, len(entries))
            return _closed(store)
        for entry in entries:
            self.unwritten.pop(entry.key, None)
        if self._kept:
            self._kept = []
            self._on_recovery(len(entries))
        return store


def _closed(store: Store | None) -> None:
    """A store that failed is reopened for the next try (the file may have been replaced or freed)."""
    if store is not None:
        try:
            store.close()
        except Exception:  # noqa: BLE001
            log.debug("closing a failed cache connection", exc_info=True)
    return None
