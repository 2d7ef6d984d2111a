"""Stopping a real `smart-sql build` process: SIGINT and SIGTERM stop it cleanly, SIGKILL loses
nothing paid for, and the rebuild after either gives the same tables without paying twice."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from conftest import smart_sql_command, write
from smart_sql.llm.local_server import LocalLLMServer
from smart_sql.llm.simulated import Simulator

API_KEY = "sk-local-interrupts-0123456789abcdef"
SIMULATOR = Simulator("sim-large", {"sim-small": 0.8})
LATENCY_MS = 25
AFTER_SIGNAL = 0.1
"""Requests already on their way when the signal came may still arrive this long after it; none later."""
DURABLE_WITHIN = 0.5
"""An answer received this long before SIGKILL is never paid for again. Answers are committed within
50 ms plus the time of a commit: benchmarks/kill_durability.py measures how long, which a timed test
on a shared machine could not assert without flaking."""
PROJECT_YML = "name: demo\nprofile: demo\n"
PROFILES_YML = """\
demo:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: target/dev.duckdb
      llm:
        {provider}
        max_concurrency: 4
        timeout_seconds: 10
        models:
          - {{name: sim-large, input_price_per_1m: 10, output_price_per_1m: 30, reference: true}}
          - {{name: sim-small, input_price_per_1m: 1, output_price_per_1m: 2}}
"""
OVER_HTTP = ("provider: openai\n        base_url: {base_url}\n"
             "        api_key: \"{{{{ env_var('LOCAL_LLM_KEY') }}}}\"")
SIMULATED = "provider: simulated\n        simulated: {agreement: {sim-small: 0.8}}"
"""The same answers, tokens and so tables as the local server gives, without HTTP."""


def models(version: int) -> dict[str, str]:
    """A table of tickets, two SMART_LLM models over it and one model downstream of both."""
    return {
        "models/tickets.sql": f"select i as id, 'ticket {version} about ' || (i % 60) as body "
                              f"from range({100 + 10 * version}) r(i)",
        "models/kinds.sql": f"""\
            select id, SMART_LLM('Urgent or normal? (v{version})', body, labels => ['urgent', 'normal']) as kind
            from {{{{ ref('tickets') }}}}""",
        "models/moods.sql": f"""\
            select id, SMART_LLM('Angry or calm? (v{version})', body, labels => ['angry', 'calm']) as mood
            from {{{{ ref('tickets') }}}}""",
        "models/joined.sql": """\
            select k.id, k.kind, m.mood from {{ ref('kinds') }} k join {{ ref('moods') }} m using (id)""",
    }


RELATIONS = ("tickets", "kinds", "moods", "joined")


@pytest.fixture
def server():
    with LocalLLMServer(SIMULATOR, api_key=API_KEY) as running:
        yield running


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("LOCAL_LLM_KEY", API_KEY)


@pytest.fixture
def start_build():
    """Start `smart-sql build` in a process of its own; any still running at the end is killed."""
    started: list[subprocess.Popen] = []

    def start(root: Path) -> subprocess.Popen:
        started.append(subprocess.Popen([*smart_sql_command(), "build", "--project-dir", str(root)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        return started[-1]
    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def project(root: Path, server: LocalLLMServer | None, version: int) -> Path:
    """The project at `version`, its answers from `server`, or from the simulated provider when None."""
    provider = OVER_HTTP.format(base_url=server.base_url) if server else SIMULATED
    for relpath, text in {"smart_sql_project.yml": PROJECT_YML, "profiles.yml": PROFILES_YML.format(provider=provider),
                          **models(version)}.items():
        write(root, relpath, text)
    return root


def tables(root: Path) -> dict[str, list[tuple] | None]:
    """Every relation's rows (None where it does not exist), and no leftover of a half-built one."""
    with duckdb.connect(str(root / "target" / "dev.duckdb"), read_only=True) as conn:
        names = {name for (name,) in conn.execute("select table_name from information_schema.tables").fetchall()}
        assert not {name for name in names if "smart_tmp" in name or "smart_llm" in name}, names
        return {name: sorted(conn.execute(f"select * from {name}").fetchall()) if name in names else None
                for name in RELATIONS}


def build_in_process(root: Path) -> None:
    from click.testing import CliRunner

    from smart_sql.cli import main

    result = CliRunner().invoke(main, ["build", "--project-dir", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def reference_tables(tmp_path: Path, version: int) -> dict:
    """The tables of an uninterrupted build."""
    root = project(tmp_path / f"clean_v{version}", None, version)
    build_in_process(root)
    return tables(root)


def wait_for_requests(server: LocalLLMServer, process: subprocess.Popen, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(server.log.arrival_times) < count:
        assert process.poll() is None, f"the build ended before {count} requests: {process.communicate()}"
        assert time.monotonic() < deadline, "the build sent too few requests"
        time.sleep(0.002)


def started_models(output: str) -> set[str]:
    """Models whose LLM task started, from the progress lines (`  kinds_t1: 60 distinct inputs ...`)."""
    return {line.split("_t", 1)[0].strip() for line in output.splitlines() if " distinct inputs from " in line}


def finished(root: Path) -> dict[str, str]:
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    return {result["name"]: result["status"] for result in results}


def test_sigint_or_sigterm_stops_the_build_cleanly_and_a_rebuild_pays_nothing_twice(server, tmp_path, start_build):
    expected = reference_tables(tmp_path, 1)
    root = project(tmp_path / "project", server, 1)
    server.faults.latency_ms = LATENCY_MS
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    for signum in (signal.SIGINT, signal.SIGINT, signal.SIGTERM):
        sent_before = len(server.log.arrival_times)
        process = start_build(root)
        wait_for_requests(server, process, sent_before + rng.randint(1, 30))
        time.sleep(rng.uniform(0, 0.02))
        signalled = time.monotonic()
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
        context = f"seed {seed}, {signal.Signals(signum).name}\n{out}\n{err}"
        assert process.returncode == 128 + signum, context
        late = [round(t - signalled, 3) for t in server.log.arrival_times if t > signalled + AFTER_SIGNAL]
        assert not late, f"requests arrived this many seconds after the signal: {late}; {context}"
        assert "Traceback" not in err and "Error" not in err, context
        assert "run the same command again" in out + err, context
        done = finished(root)
        interrupted = started_models(out) - set(done)
        assert len(interrupted) <= 1 and "joined" not in done, context
        assert all(status == "success" for status in done.values()), context
        state = tables(root)
        assert all(state[name] in (None, expected[name]) for name in RELATIONS), context
    server.faults.latency_ms = 0
    build_in_process(root)
    assert tables(root) == expected
    asked_twice = [key for key, count in server.log.attempts.items() if count > 1]
    assert not asked_twice, f"seed {seed}"


def test_a_second_ctrl_c_exits_at_once(server, tmp_path, start_build):
    root = project(tmp_path / "project", server, 1)
    server.faults.latency_ms = 5000
    process = start_build(root)
    wait_for_requests(server, process, 1)
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)
    assert process.poll() is None, "the first Ctrl-C waits for the requests in flight"
    again = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert time.monotonic() - again < 1.0
    assert process.returncode in (130, -signal.SIGINT), out + err
    assert "Traceback" not in err


def test_sigkill_leaves_each_relation_old_or_new_and_keeps_what_was_paid(server, tmp_path, start_build):
    old, new = reference_tables(tmp_path, 1), reference_tables(tmp_path, 2)
    root = project(tmp_path / "project", None, 1)
    build_in_process(root)
    project(root, server, 2)
    server.faults.latency_ms = LATENCY_MS
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    runs = []
    for requests in (0, rng.randint(1, 60)):
        sent_before = len(server.log.arrival_times)
        started = time.monotonic()
        process = start_build(root)
        if requests:
            wait_for_requests(server, process, sent_before + requests)
        time.sleep(rng.uniform(0, 0.05) if requests else rng.uniform(0.3, 1.5))
        runs.append((started, time.monotonic()))
        process.kill()
        process.wait(timeout=30)
        state = tables(root)
        for name in RELATIONS:
            assert state[name] in (old[name], new[name]), f"seed {seed}: {name} is neither old nor new"
    server.faults.latency_ms = 0
    runs.append((time.monotonic(), float("inf")))
    build_in_process(root)
    assert tables(root) == new
    for key, answered in server.log.answer_times.items():
        first = min(answered)
        if any(t > first for t in server.log.attempt_times[key]):
            killed = next((kill for start, kill in runs if start <= first <= kill), None)
            assert killed != float("inf"), f"seed {seed}: {key} was asked for twice in one build"
            assert killed is None or killed - first <= DURABLE_WITHIN, (
                f"seed {seed}: an answer received {killed - first:.3f} s before SIGKILL was paid for again")
