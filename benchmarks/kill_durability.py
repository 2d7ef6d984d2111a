"""Answers lost to SIGKILL: how long before the kill an answer must have come to be kept.

    python benchmarks/kill_durability.py --kills 10 --json

Builds a project with two SMART_LLM models through the openai provider against the local server
(`--latency-ms` per request, 4 in flight), kills `smart-sql build` with SIGKILL after a random number
of requests, starts it again, and so on; then lets a last build finish (without latency). An answer sent to a build that
was killed and asked for again by a later build was lost: its age at the kill is how long the response
cache took to commit it. Prints the oldest such age (promised: at most 50 ms), how many answers were
lost and how many the killed builds received.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from smart_sql.llm.local_server import LocalLLMServer
from smart_sql.llm.simulated import Simulator

PROMISED_MS = 50
PROFILE = """\
bench:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: target/dev.duckdb
      llm:
        provider: openai
        base_url: {base_url}
        api_key: "{{{{ env_var('LOCAL_LLM_KEY') }}}}"
        max_concurrency: 4
        models:
          - {{name: sim-large, input_price_per_1m: 10, output_price_per_1m: 30, reference: true}}
          - {{name: sim-small, input_price_per_1m: 1, output_price_per_1m: 2}}
"""
MODELS = {
    "tickets.sql": "select i as id, 'ticket about ' || i as body from range({distinct}) r(i)",
    "kinds.sql": "select id, SMART_LLM('Urgent or normal?', body, labels => ['urgent', 'normal']) as kind "
                 "from {{ ref('tickets') }}",
    "moods.sql": "select id, SMART_LLM('Angry or calm?', body, labels => ['angry', 'calm']) as mood "
                 "from {{ ref('tickets') }}",
}


def write_project(root: Path, base_url: str, distinct: int) -> None:
    (root / "models").mkdir(parents=True)
    (root / "smart_sql_project.yml").write_text("name: bench\nprofile: bench\n")
    (root / "profiles.yml").write_text(textwrap.dedent(PROFILE.format(base_url=base_url)))
    for name, sql in MODELS.items():
        (root / "models" / name).write_text(sql.replace("{distinct}", str(distinct)) + "\n")


def smart_sql_command() -> list[str]:
    script = Path(sys.executable).with_name("smart-sql")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from smart_sql.cli import main; main()"]


def build(root: Path, server: LocalLLMServer, kill_after: int | None) -> tuple[float, float]:
    """One build, killed once `kill_after` more requests have arrived (if it gets that far): (start, kill)."""
    arrived = len(server.log.arrival_times)
    started = time.monotonic()
    process = subprocess.Popen([*smart_sql_command(), "build", "--project-dir", str(root)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_after is None:
        process.wait()
        return started, float("inf")
    while len(server.log.arrival_times) < arrived + kill_after and process.poll() is None:
        time.sleep(0.001)
    killed = time.monotonic()
    process.kill()
    process.wait()
    return started, killed


def lost_answers(server: LocalLLMServer, runs: list[tuple[float, float]]) -> tuple[list[float], int]:
    """(age at the kill of each answer asked for again, answers the killed builds received)."""
    ages, received = [], 0
    for key, answered in server.log.answer_times.items():
        first = min(answered)
        killed = next((kill for start, kill in runs if start <= first <= kill), None)
        if killed is None or killed == float("inf"):
            continue
        received += 1
        if any(t > first for t in server.log.attempt_times[key]):
            ages.append(killed - first)
    return ages, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder, \
            LocalLLMServer(Simulator("sim-large", {"sim-small": 0.8}), api_key="sk-bench-local") as server:
        os.environ["LOCAL_LLM_KEY"] = server.api_key
        server.faults.latency_ms = args.latency_ms
        root = Path(folder) / "project"
        write_project(root, server.base_url, distinct=30 * args.kills + 30)
        runs = [build(root, server, rng.randint(1, 60)) for _ in range(args.kills)]
        server.faults.latency_ms = 0
        runs.append(build(root, server, None))
        ages, received = lost_answers(server, runs)

    oldest = round(max(ages) * 1000, 1) if ages else 0.0
    result = {"kills": args.kills, "latency_ms": args.latency_ms, "answers_received": received,
              "answers_lost": len(ages), "oldest_lost_ms": oldest, "promised_ms": PROMISED_MS,
              "lost_older_than_promised": sum(age * 1000 > PROMISED_MS for age in ages)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.kills} kills: {len(ages)} of {received} answers received were lost; the oldest had come "
              f"{oldest} ms before its kill (promised: at most {PROMISED_MS} ms)")


if __name__ == "__main__":
    main()
