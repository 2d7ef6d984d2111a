"""The response cache at scale: a warm rebuild against a cold one, and a run with latency with and
without the cache.

    python benchmarks/cache.py --inputs 1000000 --latency-inputs 10000 --latency-ms 50 --concurrency 64 --json

1. `--inputs` distinct requests through the cache in front of the simulated provider at zero
   latency, as a simulated build sends them (`complete_columns`, 4,096 requests a call): cold into
   an empty cache file (each answer simulated,
   handed to the writer and committed; the clock stops when the cache is closed), then warm, the same
   requests from a new cache on the same file (each answer a hit). Prints both times (and the
   processor seconds of all threads, less sensitive to a busy machine; the one-minute load average
   at the start says how busy), the ratio, the time per answer, the commits and the longest one,
   and the file's size.
2. `--latency-inputs` new distinct requests, each waiting `--latency-ms` with `--concurrency` in
   flight: without a cache, with an empty cache, and with the cache of step 1 (holding `--inputs`
   answers), committing every 50 ms as for paid answers. Prints each time, the ideal
   (rounds x latency) and each cached run's time over the uncached one.
Answers are simulated: no model is called.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import tempfile
import time
from pathlib import Path

from smart_sql.llm import cache_store
from smart_sql.llm.base import LLMRequest, RequestOptions
from smart_sql.llm.cache import PAID_FLUSH_SECONDS, CachedProvider, ResponseCache
from smart_sql.llm.config import parse_llm_config
from smart_sql.llm.factory import open_provider
from smart_sql.llm.simulated import SimulatedProvider
from smart_sql.smart.engine import ASK_CHUNK

MODEL = "sim-large"
OPTIONS = RequestOptions(labels=("positive", "negative"))
PROMPT = "Classify the sentiment."


def batch(start: int, count: int) -> list[LLMRequest]:
    return [LLMRequest(MODEL, PROMPT, f"review number {i}", OPTIONS)
            for i in range(start, start + count)]


class CommitClock:
    """Times every commit of the cache's writer."""

    def __init__(self):
        self.seconds: list[float] = []
        self._put_many = cache_store.Store.put_many

    def __enter__(self) -> "CommitClock":
        clock = self

        def timed(store, entries):
            started = time.perf_counter()
            try:
                return clock._put_many(store, entries)
            finally:
                clock.seconds.append(time.perf_counter() - started)

        cache_store.Store.put_many = timed
        return self

    def __exit__(self, *exc) -> None:
        cache_store.Store.put_many = self._put_many


async def timed_run(provider, requests: list[LLMRequest]) -> float:
    started = time.perf_counter()
    try:
        await provider.complete(requests)
    finally:
        await provider.aclose()
    return time.perf_counter() - started


async def timed_build(provider, texts: list[str]) -> float:
    """As a build asks: the distinct texts of one prompt and model, a chunk at a time, in columns."""
    started = time.perf_counter()
    prompts = [PROMPT] * ASK_CHUNK
    try:
        for start in range(0, len(texts), ASK_CHUNK):
            chunk = texts[start:start + ASK_CHUNK]
            await provider.complete_columns(MODEL, prompts[:len(chunk)], chunk, OPTIONS)
    finally:
        await provider.aclose()
    return time.perf_counter() - started


def clocked(provider, texts: list[str]) -> tuple[float, float]:
    """Wall-clock seconds of a run, and the processor seconds of all the process's threads."""
    processor = time.process_time()
    seconds = asyncio.run(timed_build(provider, texts))
    return seconds, time.process_time() - processor


def cold_and_warm(path: Path, inputs: int) -> dict:
    config = parse_llm_config({"provider": "simulated"})
    texts = [request.text for request in batch(0, inputs)]
    with CommitClock() as commits:
        cold, cold_processor = clocked(open_provider(config, path), texts)
    warm_provider = open_provider(config, path)
    warm, warm_processor = clocked(warm_provider, texts)
    assert (warm_provider.hits, warm_provider.misses) == (inputs, 0)
    return {"inputs": inputs, "seconds_cold": round(cold, 2), "seconds_warm": round(warm, 2),
            "warm_speedup": round(cold / warm, 2), "processor_seconds_cold": round(cold_processor, 2),
            "processor_seconds_warm": round(warm_processor, 2), "us_per_answer_cold": round(cold / inputs * 1e6, 2),
            "us_per_answer_warm": round(warm / inputs * 1e6, 2), "commits": len(commits.seconds),
            "longest_commit_seconds": round(max(commits.seconds), 3),
            "cache_mb": round(path.stat().st_size / 2**20, 1)}


def with_latency(path: Path, held: int, inputs: int, latency_ms: float, concurrency: int) -> dict:
    config = parse_llm_config({"provider": "simulated", "max_concurrency": concurrency,
                               "simulated": {"latency_ms": latency_ms}})
    requests = batch(held, inputs)
    uncached = asyncio.run(timed_run(SimulatedProvider(config), requests))
    empty = asyncio.run(timed_run(CachedProvider(SimulatedProvider(config),
                                                 ResponseCache(path.with_name("empty.sqlite"), PAID_FLUSH_SECONDS)),
                                  requests))
    with CommitClock() as commits:
        full = asyncio.run(timed_run(CachedProvider(SimulatedProvider(config), ResponseCache(path, PAID_FLUSH_SECONDS)),
                                     requests))
    ideal = math.ceil(inputs / concurrency) * latency_ms / 1000
    return {"latency_inputs": inputs, "latency_ms": latency_ms, "concurrency": concurrency,
            "seconds_ideal": round(ideal, 3), "seconds_no_cache": round(uncached, 3),
            "seconds_empty_cache": round(empty, 3), "seconds_full_cache": round(full, 3),
            "full_cache_holds": held, "empty_cache_over_no_cache": round(empty / uncached, 3),
            "full_cache_over_no_cache": round(full / uncached, 3),
            "longest_commit_seconds_full_cache": round(max(commits.seconds), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=200_000)
    parser.add_argument("--latency-inputs", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "llm_cache.sqlite"
        result = {"load_average": round(os.getloadavg()[0], 2), **cold_and_warm(path, args.inputs),
                  **with_latency(path, args.inputs, args.latency_inputs, args.latency_ms, args.concurrency),
                  "provider": "simulated"}
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>34}: {value}")


if __name__ == "__main__":
    main()
