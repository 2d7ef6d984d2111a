"""Every benchmark script runs at a tiny size and prints what its documentation promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run_json(script: str, *args: str) -> list[dict]:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *args, "--json"], capture_output=True,
                          text=True, timeout=300, cwd=BENCHMARKS, check=False)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_engine_overhead_gives_the_per_row_answers_and_its_ceiling():
    (row,) = run_json("engine_overhead.py", "--rows", "3000", "--distinct", "300")
    assert row["same_answers"] is True
    assert row["provider_requests"] == 300
    assert row["answers_by_model"] == {"sim-large": 300}
    assert row["speedup_ceiling"] > 0 and row["seconds_smart_sql"] > row["seconds_provider"]


def test_cost_paper_reports_every_key_of_the_issue():
    (row,) = run_json("cost_paper.py", "--dataset", "sms_spam", "--accuracy", "0.9", "--trials", "1")
    assert {"dataset", "accuracy", "confidence", "trials", "mean_cost", "reference_only_cost", "oracle_cost",
            "savings", "failure_rate", "mean_profiled_items"} <= set(row)
    assert row["oracle_cost"] < row["mean_cost"] < row["reference_only_cost"]
    assert row["failure_rate"] == 0.0


def test_cost_floor_lies_between_the_oracle_and_the_reference_at_a_decided_point():
    (row,) = run_json("cost_floor.py", "--dataset", "imdb", "--accuracy", "0.9")
    assert row["oracle_cost"] < row["floor_cost"] < 477.0
    assert row["binding_candidate"] == "gpt-3.5-turbo-1106"
    assert row["compared_items"] > 0
    assert row["oracle_cost"] < row["route_floor_cost"] < 477.0
    assert row["route_candidate"] == "gpt-3.5-turbo-1106" and row["route_reference_rows"] > 0


def test_guarantee_covers_the_whole_range_of_settings():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from guarantee import settings
    finally:
        sys.path.remove(str(BENCHMARKS))
    found = settings()
    assert {s.accuracy for s in found} >= {0.01, 0.5, 0.9, 0.999}
    sizes = {s.rows for s in found}
    assert {1, 19, 20, 21, 39, 40, 41, 59, 60, 61, 89, 90, 91, 100_000} <= sizes
    assert {s.confidence for s in found} >= {0.5, 0.9, 0.99}
    assert {s.placement for s in found if s.zipf and s.first_run is None} == {"heaviest", "lightest"}
    assert any(s.rates[:2] == (s.accuracy, s.accuracy - 0.01) for s in found)
    assert len([s for s in found if s.first_run is None and s.group != "cascade"]) == 71
    assert {s.placement for s in found if s.first_run is not None} == {"A", "B", "heaviest"}


def test_an_incremental_guarantee_trial_scores_the_second_run():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from guarantee import Setting, run_trials
    finally:
        sys.path.remove(str(BENCHMARKS))
    tally = run_trials(Setting("incremental", 600, 0.9, 0.9, (0.9, 0.89, 0.0), "A", first_run=300), range(2))
    assert tally.trials == 2 and tally.under_accuracy == tally.under_certificate == 0
    assert tally.known_paid >= 0 and tally.cost_share > 0


def test_guarantee_finds_no_failure_where_a_run_without_profiling_used_to_credit_unchecked_rows():
    *rows, total = run_json("guarantee.py", "--trials", "5", "--workers", "1", "--only", "audit")
    assert len(rows) == 6 and total["settings"] == 6
    assert all(row["failure_rate"] == 0.0 and row["certificate_failure_rate"] == 0.0 and row["ok"] for row in rows)
    assert total["held"] == 6


def test_throughput_answers_every_request_through_the_local_server():
    (row,) = run_json("throughput.py", "--requests", "50", "--latency-ms", "5", "--concurrency", "8")
    assert row["requests"] == 50 and row["requests_per_second"] > 0
    assert row["server"] == "local simulated OpenAI-compatible server"


def test_kill_durability_finds_what_sigkill_cost():
    (row,) = run_json("kill_durability.py", "--kills", "1")
    assert row["kills"] == 1 and row["answers_received"] > 0
    assert 0 <= row["lost_older_than_promised"] <= row["answers_lost"] <= row["answers_received"]
    assert row["promised_ms"] == 50 and row["oldest_lost_ms"] >= 0


def test_cache_benchmark_times_a_cold_and_a_warm_run_and_runs_with_latency():
    (row,) = run_json("cache.py", "--inputs", "3000", "--latency-inputs", "200", "--latency-ms", "5",
                      "--concurrency", "16")
    assert row["inputs"] == 3000 and row["full_cache_holds"] == 3000
    assert row["seconds_cold"] > 0 and row["seconds_warm"] > 0 and row["warm_speedup"] > 0
    assert row["seconds_no_cache"] >= row["seconds_ideal"] > 0
    assert row["commits"] >= 1 and row["provider"] == "simulated"


def test_throughput_compares_refusals_at_any_load_with_a_fault_free_server():
    (row,) = run_json("throughput.py", "--requests", "60", "--latency-ms", "5", "--concurrency", "8",
                      "--rate-limit", "0.25", "--retry-after", "0.01")
    assert row["rate_limited"] > 0 and row["retries"] == row["rate_limited"]
    assert row["ratio_to_fault_free"] > 0 and row["fault_free_requests_per_second"] > 0


def test_dbt_speed_times_smart_sql_on_both_generated_projects_and_says_when_dbt_is_missing():
    rows = run_json("dbt_speed.py", "--dbt", "/nonexistent/dbt", "--repeat", "1", "--models", "45", "--threads", "2")
    assert [row["project"] for row in rows] == ["shop", "tree"]
    assert [row["models"] for row in rows] == [10, 45]
    assert all(row["dbt_found"] is False and "ratio" not in row and row["seconds_smart_sql"] > 0 for row in rows)
    done = subprocess.run([sys.executable, str(BENCHMARKS / "dbt_speed.py"), "--dbt", "/nonexistent/dbt",
                           "--repeat", "1", "--models", "45", "--only", "shop"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "dbt was not found" in done.stdout and "shop: 10 models, smart-sql" in done.stdout


def test_plan_accuracy_compares_the_plan_with_what_the_build_spends():
    *tasks, summary = run_json("plan_accuracy.py", "--sizes", "1000", "--settings", "mixed", "--no-example")
    assert len(tasks) == 2 and summary["tasks"] == 2
    for task in tasks:
        assert task["spent"] > 0 and task["low"] <= task["expected"] <= task["high"] <= task["most"]
        assert task["within_worst_case"] is True
    assert summary["inside_share"] == sum(task["inside"] for task in tasks) / 2


def test_cascade_benchmark_prints_every_method_per_setting():
    rows = run_json("cascade.py", "--trials", "2", "--workers", "1", "--largest", "1000", "--only", "informative",
                    "--no-bargain")
    (row,) = rows
    assert row["rows"] == 1000 and row["trials"] == 2
    assert set(row["methods"]) == {"mix", "cascade", "auto", "oracle"}
    for method in ("mix", "cascade", "auto"):
        entry = row["methods"][method]
        assert entry["failure_rate"] <= row["limit"]
        assert abs(sum(entry["row_shares"].values()) - 1) < 1e-6
    assert row["methods"]["oracle"]["mean_cost"] < row["methods"]["cascade"]["mean_cost"] < row["reference_only_cost"]
    assert row["methods"]["cascade"]["row_shares"]["cheap"] > row["methods"]["mix"]["row_shares"]["cheap"]


def test_guarantee_has_misleading_score_settings_for_the_cascade():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from guarantee import settings
    finally:
        sys.path.remove(str(BENCHMARKS))
    cascade = [s for s in settings() if s.group == "cascade"]
    assert {s.scores for s in cascade} >= {"uninformative", "anti", "miscalibrated", "position", "length"}
    assert {s.method for s in cascade} == {"cascade", "auto"}


def test_scale_times_a_warm_build_after_a_cold_one_and_gives_its_peak_memory():
    (row,) = run_json("scale.py", "--rows", "3000", "--distinct", "1000", "--cache", "warm")
    assert row["rows_out"] == row["rows_answered"] == 3000 and row["distinct_inputs"] == 1000
    assert row["provider_requests"] == 0 and row["cache_entries"] == 1000 and row["cache_mb"] > 0
    assert row["seconds"] > 0 and row["seconds_cold_before"] > 0 and 0 < row["peak_rss_gb"] < 4
    (off,) = run_json("scale.py", "--rows", "2000", "--distinct", "500", "--cache", "off", "--latency-ms", "1")
    assert off["provider_requests"] == 500 and off["cache_entries"] == 0 and off["seconds_provider"] > 0


def test_spark_scale_times_duckdb_and_says_where_the_time_goes():
    (row,) = run_json("spark_scale.py", "--engine", "duckdb", "--rows", "2000", "--distinct", "200")
    assert row["result_rows"] == 2000 and row["distinct_inputs"] == 200 and row["total_cost"] > 0
    assert {"session_start", "read_inputs", "smart_engine", "write_answers", "final_join"} <= set(row["parts_seconds"])
    assert row["peak_python_mb"] > 0


def test_spark_scale_gives_the_same_account_on_spark():
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'smart-sql[spark]')")
    from smart_sql.adapters.spark_session import java_missing

    if java_missing():
        pytest.skip("Java is not installed (apt-get install openjdk-17-jre-headless)")
    *_, summary = run_json("spark_scale.py", "--rows", "2000", "--distinct", "200")
    assert summary["same_account"] is True
