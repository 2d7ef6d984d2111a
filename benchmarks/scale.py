"""One SMART_LLM column over a large table: wall time, peak memory, provider time and cache size.

    python benchmarks/scale.py --rows 1000000 --distinct 1000000 --cache warm --json

A table of `--rows` rows holding `--distinct` distinct texts of `--text-chars` characters (a view
joining a table of ids to a table of the distinct texts, so that even 100M rows take little disk),
and one query with one SMART_LLM column over it, with one simulated model (every input goes to it),
materialized with CREATE TABLE in a DuckDB file in a temporary folder (DuckDB's `memory_limit` set
by `--duckdb-memory`, its temporary files beside it). `--cache`: `off` (no response cache), `cold`
(an empty cache file) or `warm` (the same build run cold first, then again on its cache file: the
`_cold_before` figures are the first build's, `warm_speedup` the ratio of their times). Each build
runs in a process of its own, so `peak_rss_gb` (the process's peak resident memory: Python, DuckDB
and the cache together) is that build's. Prints `seconds` (the whole build: input query, engine,
provider, cache commits, result table), `processor_seconds` (the processor time of all the
process's threads over the same span: less sensitive to a busy machine), `seconds_provider` (wall
time during which a request to the simulated provider was being answered), `cache_entries` and
`cache_mb` after the build. `--latency-ms` makes every simulated request take that long. Answers
are simulated: no model is called.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

PROMPT = "Name the topic of this text in two words."


class TimedProvider:
    """The simulated provider, with the wall time during which it was answering summed up."""

    name = "simulated"
    simulated = True

    def __init__(self, inner):
        self.inner = inner
        self.endpoint = inner.endpoint
        self.seconds = 0.0
        self.requests = 0
        self._active = 0
        self._since = 0.0

    async def complete(self, requests, on_response=None):
        if self._active == 0:
            self._since = time.perf_counter()
        self._active += 1
        try:
            return await self.inner.complete(requests, on_response)
        finally:
            self._active -= 1
            self.requests += len(requests)
            if self._active == 0:
                self.seconds += time.perf_counter() - self._since

    async def aclose(self):
        await self.inner.aclose()


def make_table(database: Path, rows: int, distinct: int, chars: int) -> None:
    """`docs(id, body)`: a view joining `rows` ids to `distinct` stored texts."""
    import duckdb

    conn = duckdb.connect(str(database))
    repeats = chars // 32 + 1
    conn.execute(f"CREATE OR REPLACE TABLE texts AS SELECT k, left(repeat(md5(k::VARCHAR), {repeats}), {chars}) "
                 f"AS body FROM range({distinct}) r(k)")
    conn.execute(f"CREATE OR REPLACE TABLE ids AS SELECT i AS id, i % {distinct} AS k FROM range({rows}) r(i)")
    conn.execute("CREATE OR REPLACE VIEW docs AS SELECT id, body FROM ids JOIN texts USING (k)")
    conn.close()


def config(latency_ms: float, cache: str, cache_path: Path):
    from smart_sql.llm.config import DEFAULT_SIMULATED_MODELS, parse_llm_config

    block = {"provider": "simulated", "models": [asdict(DEFAULT_SIMULATED_MODELS[0])],
             "simulated": {"latency_ms": latency_ms}, "cache": cache != "off"}
    if cache != "off":
        block["cache_path"] = str(cache_path)
    return parse_llm_config(block)


def build(args) -> dict:
    """One build in this process: what the child prints."""
    import duckdb

    from smart_sql import api
    from smart_sql.llm import factory
    from smart_sql.llm.cache import cache_stats
    from smart_sql.llm.simulated import SimulatedProvider

    folder = Path(args.folder)
    cache_path = folder / "llm_cache.sqlite"
    timed = []

    def make_provider(llm_config):
        timed.append(TimedProvider(SimulatedProvider(llm_config)))
        return timed[-1]

    factory.make_provider = make_provider
    conn = duckdb.connect(str(folder / "scale.duckdb"))
    conn.execute(f"SET memory_limit = '{args.duckdb_memory}'")
    conn.execute(f"SET temp_directory = '{folder / 'duckdb_tmp'}'")
    query = f"SELECT id, SMART_LLM('{PROMPT}', body) AS topic FROM docs"
    started, processor = time.perf_counter(), time.process_time()
    result = api.run(conn, query, config(args.latency_ms, args.run_cache, cache_path))
    conn.execute(f"CREATE OR REPLACE TABLE out AS {result.rewritten_sql}")
    seconds, processor = time.perf_counter() - started, time.process_time() - processor
    (report,) = result.reports
    answered = conn.execute("SELECT count(*), count(topic) FROM out").fetchone()
    conn.close()
    stats = cache_stats(cache_path) if args.run_cache != "off" else {"entries": 0}
    files = [cache_path, cache_path.with_name(cache_path.name + "-wal")]
    return {"seconds": round(seconds, 2), "processor_seconds": round(processor, 2), "seconds_provider": round(sum(p.seconds for p in timed), 2),
            "provider_requests": sum(p.requests for p in timed),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
            "rows_out": answered[0], "rows_answered": answered[1], "distinct_inputs": report.distinct_inputs,
            "cache_entries": stats["entries"],
            "cache_mb": round(sum(f.stat().st_size for f in files if f.exists()) / 2**20, 1)}


def run_child(args, folder: str, cache: str) -> dict:
    command = [sys.executable, __file__, "--child", "--folder", folder, "--run-cache", cache,
               "--latency-ms", str(args.latency_ms), "--duckdb-memory", args.duckdb_memory]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the build failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--distinct", type=int, default=100_000)
    parser.add_argument("--text-chars", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="simulated time per model request")
    parser.add_argument("--cache", choices=("cold", "warm", "off"), default="cold")
    parser.add_argument("--duckdb-memory", default="2GB", help="DuckDB's memory_limit")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--run-cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(build(args)))
        return

    with tempfile.TemporaryDirectory(prefix="smart-sql-scale-") as folder:
        started = time.perf_counter()
        make_table(Path(folder) / "scale.duckdb", args.rows, args.distinct, args.text_chars)
        table_seconds = time.perf_counter() - started
        filled = run_child(args, folder, "cold") if args.cache == "warm" else None
        measured = run_child(args, folder, args.cache)
    result = {"rows": args.rows, "distinct": args.distinct, "text_chars": args.text_chars,
              "latency_ms": args.latency_ms, "cache": args.cache, "duckdb_memory_limit": args.duckdb_memory,
              **measured, "seconds_making_table": round(table_seconds, 2), "load_average": round(os.getloadavg()[0], 2),
              "simulated": True}
    if filled is not None:
        result.update({f"{key}_cold_before": value for key, value in filled.items()
                       if key in ("seconds", "processor_seconds", "seconds_provider", "peak_rss_gb")})
        result["warm_speedup"] = round(filled["seconds"] / measured["seconds"], 2)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>28}: {value}")


if __name__ == "__main__":
    main()
