"""Where a run's nodes execute: inline on the build's connection (one thread), or on worker threads
with one DuckDB connection each (`conn.cursor()`: the same database, its own transactions)."""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Callable, Generic, TypeVar

T = TypeVar("T")
Outcome = tuple[str, "T | None", "BaseException | None"]


class InlinePool(Generic[T]):
    """Runs each node at once, in the calling thread; exceptions propagate from `submit`."""

    size = 1

    def __init__(self, run: Callable[[str], T]):
        self._run = run
        self._done: deque[Outcome] = deque()

    def submit(self, uid: str) -> None:
        self._done.append((uid, self._run(uid), None))

    def wait(self) -> Outcome:
        return self._done.popleft()

    def close(self) -> None:
        pass


class ThreadPool(Generic[T]):
    """`size` worker threads; worker n runs nodes with `make_run(n)` (its own connection). What a node
    raises is handed back by `wait` with its uid, so that the caller can let the others finish."""

    def __init__(self, size: int, make_run: Callable[[int], Callable[[str], T]],
                 while_waiting: Callable[[], None] = lambda: None):
        self.size = size
        self._while_waiting = while_waiting
        self._todo: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, args=(make_run(number),), daemon=True,
                                          name=f"Thread-{number} (worker)")
                         for number in range(1, size + 1)]
        for thread in self._threads:
            thread.start()

    def submit(self, uid: str) -> None:
        self._todo.put(uid)

    def wait(self) -> Outcome:
        """The next node to finish. Waits in short steps, so that the main thread still handles signals,
        calling `while_waiting` after each."""
        while True:
            try:
                return self._done.get(timeout=0.1)
            except queue.Empty:
                self._while_waiting()

    def close(self) -> None:
        for _ in self._threads:
            self._todo.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self, run: Callable[[str], T]) -> None:
        while (uid := self._todo.get()) is not None:
            try:
                self._done.put((uid, run(uid), None))
            except BaseException as error:  # handed to the main thread, which decides
                self._done.put((uid, None, error))
