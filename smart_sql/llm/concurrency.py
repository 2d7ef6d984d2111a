"""Running many requests at once: a worker pool and an adaptive concurrency limit."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
from collections import deque
from typing import AsyncIterator, Awaitable, Callable, NamedTuple


async def run_workers(worker: Callable[[], Awaitable[None]], count: int) -> None:
    """Run `count` copies of `worker`; the first failure cancels the others and is raised."""
    tasks = [asyncio.ensure_future(worker()) for _ in range(count)]
    if not tasks:
        return
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                raise task.exception()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Slot(NamedTuple):
    """An admitted request: its place in the order of admission and how many were in flight with it
    (itself included)."""

    sequence: int
    level: int


class AdaptiveLimit:
    """How many requests may be in flight: additive increase, and a decrease to what the server serves.

    Each answer to a request admitted while the limit was reached adds 1/limit, so a limit in use
    grows by about one per round trip, never above `maximum`. A refusal (429) counts when clearly more
    than MOSTLY of the recent requests admitted at its level (requests in flight, itself included) or
    above were refused, once the server has answered at all, and when it was admitted after the last
    cut, so that one burst counts once. It brings the limit down to the number of requests admitted
    before it and still in flight (those the server was serving when it refused), but never below
    DECREASE times itself. A server that refuses at once beyond N requests in flight thus brings the
    limit to about N within a few round trips, one that refuses only after working on a request gets
    multiplicative decrease, and one that refuses a quarter of the requests at any load leaves the
    limit alone. A request that is retried gets the next free slot before new ones.
    """

    def __init__(self, maximum: int, minimum: int = 1):
        self.maximum = maximum
        self.minimum = minimum
        self.limit = float(maximum)
        self.lowest = float(maximum)
        self.peak_in_flight = 0
        self._first_after_cut = 0
        """The first sequence admitted since the last cut: only it and later ones can cut again."""
        self._sequence = itertools.count()
        self._in_flight: dict[int, None] = {}
        """Sequences of the admitted requests, in the order of admission."""
        self._waiters: deque[asyncio.Future] = deque()
        self._outcomes = _RefusalsByLevel(maximum)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @contextlib.asynccontextmanager
    async def slot(self, retry: bool = False) -> AsyncIterator[Slot]:
        await self._admission(retry)
        slot = Slot(next(self._sequence), self.in_flight + 1)
        self._in_flight[slot.sequence] = None
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield slot
        finally:
            del self._in_flight[slot.sequence]
            self._wake()

    async def _admission(self, retry: bool) -> None:
        while self.in_flight >= int(self.limit):
            waiter = asyncio.get_running_loop().create_future()
            if retry:
                self._waiters.appendleft(waiter)
            else:
                self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                else:
                    self._wake()
                raise

    def on_answered(self, slot: Slot) -> None:
        self._outcomes.add(slot.level, refused=False)
        if slot.level >= int(self.limit) and self.limit < self.maximum:
            self.limit = min(float(self.maximum), self.limit + 1 / self.limit)
            self._wake()

    def on_refused(self, slot: Slot) -> None:
        self._outcomes.add(slot.level, refused=True)
        if slot.sequence < self._first_after_cut or not self._outcomes.answered:
            return
        if self._outcomes.mostly_refused(slot.level):
            served = sum(1 for _ in itertools.takewhile(lambda sequence: sequence < slot.sequence, self._in_flight))
            self.limit = max(float(self.minimum), self.limit * DECREASE, min(self.limit, float(served)))
            self.lowest = min(self.lowest, self.limit)
            self._first_after_cut = next(self._sequence)

    def _wake(self) -> None:
        free = int(self.limit) - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1


DECREASE = 0.5
"""The most a refusal leaves of the limit."""
MOSTLY = 1 / 3
"""The share of refusals at a level and above beyond which they count: at a server's allowance nearly
all requests are refused, and refusals that come at any load are rarely that many."""
LEVEL_MEMORY = 64
"""Outcomes remembered per level; older ones fade (halved) as new ones come."""


class _RefusalsByLevel:
    """How often requests admitted at each level (requests in flight) were refused, recently."""

    def __init__(self, maximum: int):
        self._answers = [0.0] * (maximum + 1)
        self._refusals = [0.0] * (maximum + 1)
        self.answered = False
        """Whether any request was answered: until then refusals (which come back first) say nothing."""

    def add(self, level: int, refused: bool) -> None:
        self.answered = self.answered or not refused
        self._answers[level] += 1
        self._refusals[level] += refused
        if self._answers[level] >= LEVEL_MEMORY:
            self._answers[level] /= 2
            self._refusals[level] /= 2

    def mostly_refused(self, level: int) -> bool:
        """Whether more than MOSTLY of the requests admitted at `level` or above were refused, by more
        than three standard errors."""
        answers = sum(self._answers[level:])
        return sum(self._refusals[level:]) / answers > MOSTLY + 3 * math.sqrt(MOSTLY * (1 - MOSTLY) / answers)
