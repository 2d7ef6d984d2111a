"""What the SMART_LLM machinery costs around the model calls, against a per-row UDF and plain SQL.

    python benchmarks/engine_overhead.py --rows 1000000 --distinct 100000 --json

One table of `--rows` rows holding `--distinct` distinct texts; one query with one SMART_LLM column
over one simulated model, materialized with CREATE TABLE, three ways:
- seconds_smart_sql: the rewrite, the input query, the batch function, the engine and the lookup
  join, with the simulated provider at zero latency (no cache);
- seconds_per_row_udf: the same query with the call replaced by a plain per-row Python UDF that asks
  the same simulated model (what a user would register by hand); both tables must hold the same
  answers (`same_answers`);
- seconds_plain_sql: the same query with the call replaced by md5(text).
With `--latency-ms`, every simulated request waits that long: the batch sends up to the
`max_concurrency` (16) at once, the per-row UDF waits for each row in turn, as a synchronous client
would. `seconds_provider` is the time spent inside the simulated provider during the SMART_LLM run;
engine overhead = seconds_smart_sql - seconds_provider, also given per distinct input.
`speedup_ceiling` is what an engine with no overhead at all could reach: the per-row UDF against the
provider's time plus the two statements no plan avoids (grouping the rows into distinct inputs and
joining the answers back), timed on their own as `seconds_group_and_join`. The modules
a build imports once per process (sqlglot for the rewrite, scipy for the bounds: about a second)
are imported before timing and reported as `seconds_imports`. Answers are simulated: no real
model is called.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

import duckdb

from smart_sql import api
from smart_sql.llm.base import LLMRequest
from smart_sql.llm.config import DEFAULT_SIMULATED_MODELS, parse_llm_config
from smart_sql.llm.simulated import SimulatedProvider

PROMPT = "Name the topic of this text in two words."
QUERY = "SELECT id, {call} AS topic FROM docs"
MODEL = asdict(DEFAULT_SIMULATED_MODELS[0])
"""The default simulated reference model, alone on the ladder."""


class TimedProvider:
    """The simulated provider, with the time spent inside it summed up."""

    name = "simulated"
    simulated = True

    def __init__(self, inner: SimulatedProvider):
        self.inner = inner
        self.endpoint = inner.endpoint
        self.seconds = 0.0
        self.requests = 0

    async def complete(self, requests, on_response=None):
        started = time.perf_counter()
        try:
            return await self.inner.complete(requests, on_response)
        finally:
            self.seconds += time.perf_counter() - started
            self.requests += len(requests)

    async def aclose(self):
        return None


def make_table(conn: duckdb.DuckDBPyConnection, rows: int, distinct: int, seed: int) -> None:
    conn.execute(f"SELECT setseed({(seed % 1000) / 1000})")
    conn.execute(f"CREATE OR REPLACE TABLE docs AS SELECT i AS id, "
                 f"'document ' || hash(i % {distinct}) || ' about things' AS body "
                 f"FROM range({rows}) r(i) ORDER BY random()")


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def run_smart_sql(conn, config) -> dict:
    provider = TimedProvider(SimulatedProvider(config))
    query = QUERY.format(call=f"SMART_LLM('{PROMPT}', body)")

    def build():
        result = api.run(conn, query, config, provider=provider)
        conn.execute(f"CREATE OR REPLACE TABLE out_smart AS {result.rewritten_sql}")
        return result

    seconds, result = timed(build)
    (report,) = result.reports
    return {"seconds": seconds, "provider_seconds": provider.seconds, "requests": provider.requests,
            "distinct_inputs": report.distinct_inputs, "answers_by_model": report.answers_by_model}


def run_per_row_udf(conn, config) -> float:
    provider = SimulatedProvider(config)
    reference = config.reference.name
    latency = config.simulated.latency_ms / 1000

    def answer(prompt: str, text: str) -> str:
        if latency:
            time.sleep(latency)
        return provider.respond(LLMRequest(reference, prompt, text)).answer

    conn.create_function("answer_per_row", answer, ["VARCHAR", "VARCHAR"], "VARCHAR")
    query = QUERY.format(call=f"answer_per_row('{PROMPT}', body)")
    seconds, _ = timed(lambda: conn.execute(f"CREATE OR REPLACE TABLE out_udf AS {query}"))
    return seconds


def run_group_and_join(conn) -> float:
    """The SQL any batched plan runs: distinct inputs with their row counts, answers joined back."""
    def statements():
        conn.execute(f"CREATE OR REPLACE TEMP TABLE inputs AS SELECT '{PROMPT}' AS prompt, body AS text, "
                     f"count(*) AS n FROM docs GROUP BY ALL")
        conn.execute("CREATE OR REPLACE TABLE out_join AS SELECT id, inputs.text AS topic FROM docs "
                     "LEFT JOIN inputs ON inputs.text = docs.body")
    seconds, _ = timed(statements)
    return seconds


def same_answers(conn) -> bool:
    differing = conn.execute("SELECT count(*) FROM out_smart FULL JOIN out_udf USING (id) "
                             "WHERE out_smart.topic IS DISTINCT FROM out_udf.topic").fetchone()[0]
    return differing == 0


def run_plain_sql(conn) -> float:
    query = QUERY.format(call="md5(body)")
    seconds, _ = timed(lambda: conn.execute(f"CREATE OR REPLACE TABLE out_plain AS {query}"))
    return seconds


def import_once() -> float:
    """What the first SMART_LLM column of a process pays once: sqlglot, the SMART engine and scipy."""
    started = time.perf_counter()
    import scipy.optimize  # noqa: F401
    import scipy.stats  # noqa: F401

    import smart_sql.rewrite.plan  # noqa: F401
    import smart_sql.smart.engine  # noqa: F401
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--distinct", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="simulated time per model request")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    config = parse_llm_config({"provider": "simulated", "seed": args.seed, "cache": False, "models": [MODEL],
                               "simulated": {"latency_ms": args.latency_ms}})
    imports = import_once()
    conn = duckdb.connect()
    make_table(conn, args.rows, args.distinct, args.seed)
    plain = run_plain_sql(conn)
    smart = run_smart_sql(conn, config)
    per_row = run_per_row_udf(conn, config)
    group_and_join = run_group_and_join(conn)
    overhead = smart["seconds"] - smart["provider_seconds"]
    result = {
        "rows": args.rows,
        "distinct": args.distinct,
        "latency_ms": args.latency_ms,
        "simulated": True,
        "seconds_smart_sql": round(smart["seconds"], 4),
        "seconds_provider": round(smart["provider_seconds"], 4),
        "seconds_per_row_udf": round(per_row, 4),
        "seconds_plain_sql": round(plain, 4),
        "seconds_group_and_join": round(group_and_join, 4),
        "seconds_imports": round(imports, 4),
        "same_answers": same_answers(conn),
        "speedup_vs_per_row_udf": round(per_row / smart["seconds"], 2),
        "speedup_ceiling": round(per_row / (smart["provider_seconds"] + group_and_join), 2),
        "slowdown_vs_plain_sql": round(smart["seconds"] / plain, 2),
        "engine_overhead_seconds": round(overhead, 4),
        "engine_overhead_us_per_distinct_input": round(overhead / max(smart["distinct_inputs"], 1) * 1e6, 2),
        "provider_requests": smart["requests"],
        "answers_by_model": smart["answers_by_model"],
    }
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:40} {value}")


if __name__ == "__main__":
    main()
