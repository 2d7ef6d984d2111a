"""One SMART_LLM column over R rows with D distinct texts, on local Spark against DuckDB.

    python benchmarks/spark_scale.py --rows 200000 --distinct 20000 --json
    python benchmarks/spark_scale.py --rows 10000000 --distinct 1000000     # the issue's size

Each engine runs in a process of its own (so that peak memory is its own): it makes the table, runs
`select id, SMART_LLM('Topic?', body, accuracy => 0.9) as topic from docs` with the offline simulated
provider (no cache), and materializes the result as a table. Printed per engine: wall time, its parts
(session start, the task's input query and reading its distinct inputs to the driver, the SMART engine,
writing the answers back, the final join into a table), the peak resident memory of the driver (Python;
for Spark also its JVM), and the SMART account, which must be the same on both engines.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

QUERY = "select id, SMART_LLM('Topic?', body, accuracy => 0.9) as topic from docs"
LLM = {"provider": "simulated", "simulated": {"agreement": {"sim-medium": 0.97, "sim-small": 0.9}}}


class Timed:
    """Wraps an adapter, adding up the seconds spent reading inputs and writing answers."""

    def __init__(self, adapter):
        self.adapter = adapter
        self.seconds = {"read_inputs": 0.0, "write_answers": 0.0}

    def __getattr__(self, name):
        return getattr(self.adapter, name)

    def read_inputs(self, sql, chunk_rows=50_000):
        started = time.perf_counter()
        for chunk in self.adapter.read_inputs(sql, chunk_rows):
            self.seconds["read_inputs"] += time.perf_counter() - started
            yield chunk
            started = time.perf_counter()
        self.seconds["read_inputs"] += time.perf_counter() - started

    def write_answers(self, table, chunks):
        started = time.perf_counter()
        self.adapter.write_answers(table, chunks)
        self.seconds["write_answers"] += time.perf_counter() - started


def open_engine(engine: str, master: str, warehouse: Path):
    if engine == "duckdb":
        import duckdb

        from smart_sql.adapters.duckdb_adapter import DuckDBAdapter

        return DuckDBAdapter(duckdb.connect(), owned=True), None
    from pyspark.sql import SparkSession

    from smart_sql.adapters.spark import SparkAdapter
    from smart_sql.adapters.spark_session import quiet_query_errors

    spark = (SparkSession.builder.master(master).config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "4").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.catalogImplementation", "in-memory")
             .config("spark.sql.warehouse.dir", str(warehouse)).getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    quiet_query_errors()
    return SparkAdapter(spark, "bench", owned=True), spark


def make_docs(adapter, spark, rows: int, distinct: int) -> None:
    if spark is None:
        adapter.execute(f"create table docs as select i as id, 'text ' || (i % {distinct}) as body from range({rows}) r(i)")
    else:
        spark.range(rows).selectExpr("id", f"concat('text ', id % {distinct}) as body") \
            .write.mode("overwrite").saveAsTable("bench.docs")


def run_engine(args) -> dict:
    import tempfile

    from smart_sql.adapters.llm import run_query

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as warehouse:
        adapter, spark = open_engine(args.engine, args.master, Path(warehouse))
        timings = {"session_start": time.perf_counter() - started}
        try:
            mark = time.perf_counter()
            make_docs(adapter, spark, args.rows, args.distinct)
            timings["make_table"] = time.perf_counter() - mark
            timed = Timed(adapter)
            mark = time.perf_counter()
            statement, (report,) = run_query(timed, QUERY, LLM, use_cache=False)
            timings["task"] = time.perf_counter() - mark
            mark = time.perf_counter()
            from smart_sql.project import Relation

            rows = adapter.create_table(Relation("bench" if spark else "main", "topics"), statement)
            timings["final_join"] = time.perf_counter() - mark
            jvm_peak = _jvm_peak_mb(spark) if spark is not None else None
        finally:
            adapter.close()
    timings.update(timed.seconds)
    timings["smart_engine"] = timings["task"] - timed.seconds["read_inputs"] - timed.seconds["write_answers"]
    return {"engine": args.engine, "rows": args.rows, "distinct": args.distinct, "result_rows": rows,
            "distinct_inputs": report.distinct_inputs, "answers_by_model": report.answers_by_model,
            "total_cost": round(report.account["total_cost"], 6),
            "seconds": round(time.perf_counter() - started, 2),
            "parts_seconds": {key: round(value, 2) for key, value in timings.items() if key != "task"},
            "peak_python_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_jvm_mb": jvm_peak}


def _jvm_peak_mb(spark) -> float | None:
    """The driver JVM's peak resident memory (VmHWM), read from /proc."""
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--distinct", type=int, default=2_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--engine", choices=("both", "duckdb", "spark"), default="both")
    parser.add_argument("--json", action="store_true", help="One JSON object a line.")
    args = parser.parse_args()
    if args.engine != "both":
        print(json.dumps(run_engine(args)))
        return
    results = [_in_process_of_its_own(args, engine) for engine in ("duckdb", "spark")]
    results = [r for r in results if r is not None]
    if len(results) == 2:
        results.append({"same_account": results[0]["answers_by_model"] == results[1]["answers_by_model"]
                        and results[0]["total_cost"] == results[1]["total_cost"],
                        "spark_over_duckdb": round(results[1]["seconds"] / results[0]["seconds"], 1)})
    for result in results:
        print(json.dumps(result) if args.json else _text(result))


def _in_process_of_its_own(args, engine: str) -> dict | None:
    command = [sys.executable, __file__, "--engine", engine, "--rows", str(args.rows), "--distinct",
               str(args.distinct), "--master", args.master]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
        print(json.dumps({"engine": engine, "error": reason}) if args.json else f"{engine}: failed: {reason}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _text(result: dict) -> str:
    if "engine" not in result:
        return f"same account on both engines: {result['same_account']}; Spark/DuckDB wall time: " \
               f"{result['spark_over_duckdb']}x"
    parts = ", ".join(f"{key} {value}s" for key, value in result["parts_seconds"].items())
    jvm = f", JVM {result['peak_jvm_mb']} MB" if result.get("peak_jvm_mb") else ""
    return (f"{result['engine']}: {result['rows']:,} rows, {result['distinct_inputs']:,} distinct inputs, "
            f"{result['seconds']}s ({parts}); peak driver memory: Python {result['peak_python_mb']} MB{jvm}; "
            f"cost ${result['total_cost']}")


if __name__ == "__main__":
    main()
