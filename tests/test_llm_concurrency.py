"""The adaptive limit against simulated servers: one that refuses beyond a number of requests in
flight, one that refuses a share of the requests at any load."""

import asyncio
import statistics

from smart_sql.llm.concurrency import AdaptiveLimit, run_workers
from smart_sql.llm.simulated import unit_interval

LATENCY = 0.01
RETRY_AFTER = 0.005


def drive(limit: AdaptiveLimit, refuses, count: int, *, refuse_at_once: bool = True) -> list[float]:
    """Send `count` requests through `limit` to a server answering after LATENCY; `refuses(busy, index,
    attempt)` decides a refusal (429), answered at once or after LATENCY. Returns the limit sampled
    every quarter of LATENCY."""
    busy = 0
    samples: list[float] = []
    pending = iter(range(count))

    async def request(index: int) -> None:
        nonlocal busy
        for attempt in range(1000):
            async with limit.slot(retry=attempt > 0) as slot:
                if refuses(busy, index, attempt):
                    if not refuse_at_once:
                        await asyncio.sleep(LATENCY)
                    limit.on_refused(slot)
                else:
                    busy += 1
                    await asyncio.sleep(LATENCY)
                    busy -= 1
                    limit.on_answered(slot)
                    return
            await asyncio.sleep(RETRY_AFTER)

    async def worker() -> None:
        for index in pending:
            await request(index)

    async def main() -> None:
        async def sample() -> None:
            while True:
                samples.append(limit.limit)
                await asyncio.sleep(LATENCY / 4)
        sampler = asyncio.ensure_future(sample())
        await run_workers(worker, 4 * limit.maximum)
        sampler.cancel()

    asyncio.run(main())
    return samples


def test_a_server_allowing_eight_in_flight_brings_the_limit_to_about_eight():
    limit = AdaptiveLimit(32)
    samples = drive(limit, lambda busy, index, attempt: busy >= 8, 1200)
    settled = samples[len(samples) // 3:]
    assert 6 <= statistics.mean(settled) <= 9.5
    assert max(settled) < 12


def test_a_server_refusing_only_after_working_still_brings_the_limit_down():
    limit = AdaptiveLimit(32)
    samples = drive(limit, lambda busy, index, attempt: busy >= 8, 800, refuse_at_once=False)
    assert statistics.mean(samples[len(samples) // 2:]) <= 14


def test_refusals_at_any_load_leave_the_limit_near_its_maximum():
    limit = AdaptiveLimit(32)
    samples = drive(limit, lambda busy, index, attempt: attempt == 0 and unit_interval("429", str(index)) < 0.25,
                    3000)
    assert statistics.mean(samples) >= 0.85 * 32
    assert limit.lowest > 32 / 2


def test_a_retried_request_gets_the_next_free_slot():
    limit = AdaptiveLimit(1)
    order = []

    async def main():
        async with limit.slot():
            async def wait(name, retry):
                async with limit.slot(retry=retry):
                    order.append(name)
            waiting = [asyncio.ensure_future(wait("new", False)), asyncio.ensure_future(wait("retry", True))]
            await asyncio.sleep(0.01)
        await asyncio.gather(*waiting)

    asyncio.run(main())
    assert order == ["retry", "new"]
