"""Every benchmark script runs at a tiny size and prints what its documentation promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def test_guarantee_covers_every_adversarial_setting():
    rows = run_json("guarantee.py", "--trials", "2", "--workers", "1")
    assert len(rows) == 18
    assert {row["allowed"] for row in rows} == {0.1, 0.05}
    assert all(0.0 <= row["failure_rate"] <= 1.0 and row["trials"] == 2 for row in rows)


def test_throughput_answers_every_request_through_the_local_server():
    (row,) = run_json("throughput.py", "--requests", "50", "--latency-ms", "5", "--concurrency", "8")
    assert row["requests"] == 50 and row["requests_per_second"] > 0
    assert row["server"] == "local simulated OpenAI-compatible server"


def test_throughput_compares_refusals_at_any_load_with_a_fault_free_server():
    (row,) = run_json("throughput.py", "--requests", "60", "--latency-ms", "5", "--concurrency", "8",
                      "--rate-limit", "0.25", "--retry-after", "0.01")
    assert row["rate_limited"] > 0 and row["retries"] == row["rate_limited"]
    assert row["ratio_to_fault_free"] > 0 and row["fault_free_requests_per_second"] > 0
