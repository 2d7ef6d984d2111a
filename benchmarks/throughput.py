"""Throughput of the openai provider against the local OpenAI-compatible server.

    python benchmarks/throughput.py --requests 2000 --latency-ms 100 --concurrency 32 --json

The server answers every request after `--latency-ms`; with `--concurrency` requests in flight the
ideal rate is concurrency / latency. Prints the measured rate, the ideal one and their ratio. The
server runs in a separate process so that it does not share the client's interpreter lock.
With `--server-limit N` the server answers 429 (with `--retry-after`) beyond N requests in flight,
and the ideal becomes min(concurrency, N) / latency: this measures how well the adaptive limit settles.
With `--rate-limit SHARE` the server refuses that share of the requests (429 with `--retry-after`,
once each) whatever the load, and the same requests are also run against a fault-free server: the
figure is then `ratio_to_fault_free`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time

from smart_sql.llm.base import LLMRequest
from smart_sql.llm.config import parse_llm_config
from smart_sql.llm.factory import make_provider
from smart_sql.llm.local_server import Faults, LocalLLMServer
from smart_sql.llm.simulated import Simulator

REFERENCE = "sim-large"


def serve(faults: Faults, address: multiprocessing.Queue, stop) -> None:
    with LocalLLMServer(Simulator(REFERENCE, {}), faults=faults) as server:
        address.put((server.base_url, server.api_key))
        stop.wait()


async def measure(base_url: str, api_key: str, requests: int, concurrency: int) -> tuple[float, dict]:
    config = parse_llm_config({
        "provider": "openai", "base_url": base_url, "api_key": api_key, "max_concurrency": concurrency,
        "models": [{"name": REFERENCE, "input_price_per_1m": 0, "output_price_per_1m": 0, "reference": True}]})
    provider = make_provider(config)
    prompt = "Summarize in two words."
    try:
        await provider.complete([LLMRequest(REFERENCE, prompt, f"warm-up {i}") for i in range(concurrency)])
        provider.rate_limited = provider.retries = 0
        started = time.perf_counter()
        await provider.complete([LLMRequest(REFERENCE, prompt, f"row {i}") for i in range(requests)])
        seconds = time.perf_counter() - started
        return seconds, {"rate_limited": provider.rate_limited, "retries": provider.retries,
                         "lowest_limit": round(provider.limit.lowest, 2),
                         "final_limit": round(provider.limit.limit, 2)}
    finally:
        await provider.aclose()


def run_against(faults: Faults, args) -> tuple[float, dict]:
    """Seconds for `args.requests` requests against a server with `faults`, in a process of its own."""
    address, stop = multiprocessing.Queue(), multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(faults, address, stop), daemon=True)
    server.start()
    try:
        base_url, api_key = address.get(timeout=30)
        return asyncio.run(measure(base_url, api_key, args.requests, args.concurrency))
    finally:
        stop.set()
        server.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--server-limit", type=int, default=None,
                        help="requests in flight beyond which the server answers 429")
    parser.add_argument("--rate-limit", type=float, default=0.0,
                        help="share of the requests the server refuses once with 429, whatever the load")
    parser.add_argument("--retry-after", type=float, default=0.1, help="seconds, sent with each 429")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    faults = Faults(latency_ms=args.latency_ms, max_concurrency=args.server_limit, rate_limit=args.rate_limit,
                    retry_after=f"{args.retry_after:g}")
    seconds, limits = run_against(faults, args)
    usable = min(args.concurrency, args.server_limit or args.concurrency)
    ideal = usable / (args.latency_ms / 1000.0)
    measured = args.requests / seconds
    result = {"requests": args.requests, "latency_ms": args.latency_ms, "concurrency": args.concurrency,
              "seconds": round(seconds, 3), "requests_per_second": round(measured, 1),
              "ideal_requests_per_second": round(ideal, 1), "ratio": round(measured / ideal, 3),
              "server_limit": args.server_limit, "rate_limit": args.rate_limit, "retry_after": args.retry_after,
              **limits}
    if args.rate_limit:
        fault_free, _ = run_against(Faults(latency_ms=args.latency_ms, max_concurrency=args.server_limit), args)
        result["fault_free_requests_per_second"] = round(args.requests / fault_free, 1)
        result["ratio_to_fault_free"] = round(fault_free / seconds, 3)
    result["server"] = "local simulated OpenAI-compatible server"
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>30}: {value}")


if __name__ == "__main__":
    main()
