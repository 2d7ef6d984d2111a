"""Running many requests at once: a worker pool and an adaptive concurrency limit."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Awaitable, Callable


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


class AdaptiveLimit:
    """How many requests may be in flight: additive increase, multiplicative decrease.

    A rate-limit answer halves the limit, once per window: only a request sent after the last cut
    (same `epoch`) can cut again, so one burst of 429s counts once. Each success adds 1/limit, so the
    limit grows back by about one per round of requests, never above `maximum`.
    """

    def __init__(self, maximum: int, minimum: int = 1):
        self.maximum = maximum
        self.minimum = minimum
        self.limit = float(maximum)
        self.lowest = float(maximum)
        self.epoch = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self._waiters: deque[asyncio.Future] = deque()

    async def __aenter__(self) -> "AdaptiveLimit":
        while self.in_flight >= int(self.limit):
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                else:
                    self._wake()
                raise
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.in_flight -= 1
        self._wake()

    def on_rate_limited(self, epoch: int) -> None:
        if epoch != self.epoch:
            return
        self.limit = max(float(self.minimum), self.limit / 2)
        self.lowest = min(self.lowest, self.limit)
        self.epoch += 1

    def on_success(self) -> None:
        if self.limit < self.maximum:
            self.limit = min(float(self.maximum), self.limit + 1 / self.limit)
            self._wake()

    def _wake(self) -> None:
        free = int(self.limit) - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1
