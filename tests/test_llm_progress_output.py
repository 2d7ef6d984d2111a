"""How a build with LLM tasks talks: plain lines off a terminal, JSON lines, quiet, a live display on one."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from pathlib import Path

from conftest import SIM_LARGE, openai_profiles, smart_sql_command

MODEL = """\
select id, SMART_LLM('Classify the sentiment.', body, labels => ['positive', 'negative', 'mixed'],
                     accuracy => 0.9) as sentiment
from {{ ref('reviews') }}
"""
REVIEWS = "id,body\n" + "".join(f"{i},review number {i} of a lamp\n" for i in range(800))
ANSI = re.compile(r"\x1b\[|\x1b\]|\r")


def project(make_project) -> Path:
    return make_project({"seeds/reviews.csv": REVIEWS, "models/moods.sql": MODEL})


def run(root: Path, *args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([*smart_sql_command(), "build", "--project-dir", str(root), *args],
                          capture_output=True, text=True, timeout=120, **options)


def account(root: Path) -> dict:
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    [task] = [t for r in results for t in r["extras"].get("llm", {}).get("tasks", [])]
    return task["account"]


def test_off_a_terminal_the_progress_is_clean_lines(make_project):
    root = project(make_project)
    done = run(root)
    assert done.returncode == 0, done.stderr
    assert not ANSI.search(done.stdout)
    task_lines = [line for line in done.stdout.splitlines() if line.startswith("  moods_t1: ")]
    assert task_lines[0] == "  moods_t1: 800 distinct inputs from 800 rows"
    checkpoints = [line for line in task_lines if "profiled" in line and "spent;" in line]
    assert len(checkpoints) == len(account(root)["checkpoints"]) >= 2
    assert "sim-medium open (certified >= " in checkpoints[-1] or "sim-medium accepted" in checkpoints[-1]
    assert task_lines[-1].startswith("  moods_t1: done: 800 of 800 answers, profiled "
                                     f"{account(root)['items_profiled']} items, cost ${account(root)['total_cost']:.4f}")


def test_json_log_format_writes_one_object_per_line_with_the_same_numbers(make_project):
    root = project(make_project)
    done = run(root, "--log-format", "json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [event["event"] for event in events]
    for kind in ("llm_task_started", "llm_task_checkpoint", "llm_task_answering", "llm_task_finished",
                 "node_finished", "llm_summary", "run_finished"):
        assert kind in kinds
    finished = next(event for event in events if event["event"] == "llm_task_finished")
    assert finished["total_cost"] == account(root)["total_cost"]
    assert finished["items_profiled_total"] == account(root)["items_profiled"]
    assert finished["answered"] == finished["total"] == 800
    checkpoint = next(event for event in events if event["event"] == "llm_task_checkpoint")
    assert set(checkpoint["candidates"]) <= {"sim-medium", "sim-small"} and checkpoint["candidates"]


def test_quiet_prints_only_errors_and_the_closing_count(make_project):
    root = make_project({"seeds/reviews.csv": REVIEWS, "models/moods.sql": MODEL,
                         "models/broken.sql": "select no_such_column from {{ ref('reviews') }}"})
    done = run(root, "--quiet")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[-1] == "Done. PASS=2 WARN=0 ERROR=1 SKIP=0 TOTAL=3"
    assert lines[0].startswith("Error in model broken (models/broken.sql): ")
    assert "no_such_column" in done.stdout
    assert "moods_t1" not in done.stdout and " of 3 " not in done.stdout and "SMART_LLM:" not in done.stdout


def test_on_a_terminal_a_live_display_shows_the_task_and_ends_with_its_account(make_project):
    root = project(make_project)
    leader, follower = pty.openpty()
    process = subprocess.Popen([*smart_sql_command(), "build", "--project-dir", str(root)], stdout=follower,
                               stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "160"})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=120) == 0
    os.close(leader)
    screen = b"".join(chunks).decode()
    assert "\x1b[" in screen, "a terminal gets a redrawn display"
    assert f"moods_t1: done: 800 of 800 answers, profiled {account(root)['items_profiled']} items" in screen


def test_the_live_display_draws_each_candidate_with_its_state_and_interval():
    from rich.console import Console

    from smart_sql.progress.monitors import _Display
    from smart_sql.progress.state import TaskProgress

    progress = TaskProgress("moods_t1", 100, 120, "sim-large", budget=2.5)
    other = TaskProgress("notes_t1", 40, 40, "sim-large")
    progress.add_response("sim-large", 0.25, cached=False)
    progress.add_response("sim-small", 0.01, cached=False)
    progress.add_response("sim-large", 0.25, cached=True)
    progress.checkpoint(2, {"sim-small": {"decision": "rejected", "lower": 0.41, "upper": 0.72}})
    console = Console(record=True, width=160, color_system=None)
    console.print(_Display({"moods_t1": progress, "notes_t1": other}))
    text = console.export_text()
    assert "notes_t1" in text and "0/40" in text, "tasks running side by side each get their rows"
    assert "2/100" in text and "$0.2600 of $2.50 budget spent" in text
    assert "sim-small" in text and "rejected" in text and "certified 0.410..0.720" in text


def test_a_task_that_fails_ends_with_a_stopped_line_not_a_done_one(make_project, cli):
    from smart_sql.llm.local_server import Faults, LocalLLMServer
    from smart_sql.llm.simulated import Simulator

    with LocalLLMServer(Simulator("sim-large", {}), faults=Faults(outage_after=30, retry_after="0.05")) as server:
        root = make_project({"seeds/reviews.csv": REVIEWS, "models/moods.sql": MODEL, "profiles.yml": openai_profiles(server.base_url, server.api_key, models=(SIM_LARGE,), retry_timeout_seconds=0.5)})
        result = cli("build", "--project-dir", root)
    assert result.exit_code == 1
    [last] = [line for line in result.output.splitlines() if line.startswith("  moods_t1: stopped: ")]
    assert last.startswith("  moods_t1: stopped: 30 of 800 answers, $") and "done:" not in result.output
