"""`--threads`: independent nodes run at once, each on its own connection, with the serial build's
tables, results, lines and failure handling; a stop rolls back every node running."""

from __future__ import annotations

import json
import re
import shutil
import threading
from pathlib import Path

import duckdb
import pytest

from conftest import relations
from smart_sql.execute import build
from smart_sql.interrupts import Interrupted, StopRequest
from smart_sql.project import load_project

FIXTURES = Path(__file__).parent / "fixtures"
SLOW = "select sum(i % 7) as total from range({rows}) r(i)"


def run_results(root: Path) -> list[dict]:
    return json.loads((root / "target" / "run_results.json").read_text())["results"]


def node_lines(output: str) -> list[str]:
    """The progress lines, without their times."""
    return [re.sub(r"in \d+\.\d+s\]$", "]", line) for line in output.splitlines() if re.match(r"\s*\d+ of \d+ ", line)]


def intervals(root: Path) -> dict[str, tuple[str, str]]:
    return {r["name"]: (r["timing"][0]["started_at"], r["timing"][0]["completed_at"]) for r in run_results(root)
            if r["timing"]}


def test_a_parallel_build_gives_the_serial_builds_tables_results_and_lines(tmp_path, cli):
    outputs, results, tables = [], [], []
    for threads in ("1", "4"):
        root = tmp_path / f"threads_{threads}"
        shutil.copytree(FIXTURES / "dbt_cycle_hire", root, ignore=shutil.ignore_patterns("target", "logs"))
        result = cli("build", "--project-dir", root, "--profiles-dir", root, "--threads", threads)
        assert result.exit_code == 0, result.output
        outputs.append(node_lines(result.output))
        results.append([(r["unique_id"], r["status"], r["rows_affected"], r["failures"], r["message"])
                        for r in run_results(root)])
        tables.append(relations(root / "target" / "cycle_hire.duckdb"))
    assert outputs[0] == outputs[1] and len(outputs[0]) > 10
    assert results[0] == results[1]
    assert tables[0] == tables[1]
    threads_used = {r["thread_id"] for r in run_results(tmp_path / "threads_4") if r["thread_id"]}
    assert len(threads_used) > 1, threads_used


def test_a_slow_node_does_not_hold_back_an_independent_one(make_project, cli):
    root = make_project({"models/a_slow.sql": SLOW.format(rows=60_000_000),
                         "models/b_fast.sql": "select 1 as x", "models/c_fast.sql": "select 2 as x",
                         "models/d_after_slow.sql": "select * from {{ ref('a_slow') }}"})
    for threads, overlap in (("1", False), ("2", True)):
        assert cli("build", "--project-dir", root, "--threads", threads).exit_code == 0
        times = intervals(root)
        slow_start, slow_end = times["a_slow"]
        assert all(times[fast][1] < slow_end for fast in ("b_fast", "c_fast")) is overlap, (threads, times)
        assert times["d_after_slow"][0] >= slow_end


def test_a_failing_node_skips_only_what_is_downstream_of_it(make_project, cli, query):
    root = make_project({
        "models/broken.sql": "select * from no_such_table",
        "models/after_broken.sql": "select * from {{ ref('broken') }}",
        "models/two_parents.sql": "select * from {{ ref('after_broken') }} union all select * from {{ ref('fine') }}",
        "models/fine.sql": "select 1 as x",
        "models/after_fine.sql": "select x + 1 as x from {{ ref('fine') }}",
        "models/alone.sql": "select 3 as x",
        "models/schema.yml": "models:\n  - name: fine\n    columns:\n      - name: x\n        data_tests: [not_null]\n",
    })
    result = cli("build", "--project-dir", root, "--threads", "3")
    assert result.exit_code == 1
    statuses = {r["name"]: (r["status"], r["message"] if r["status"] == "skipped" else None) for r in run_results(root)}
    assert statuses == {
        "broken": ("error", None), "after_broken": ("skipped", "skipped because broken failed"),
        "two_parents": ("skipped", "skipped because broken failed"), "fine": ("success", None),
        "after_fine": ("success", None), "alone": ("success", None), "not_null_fine_x": ("pass", None)}
    assert query(root, "select x from after_fine") == [(2,)]


def test_stored_failures_of_tests_running_at_once_land_in_their_schema(make_project, cli, query):
    tests = "".join(f"      - name: c{i}\n        data_tests:\n          - accepted_values:\n"
                    f"              values: [0]\n              config: {{store_failures: true}}\n" for i in range(4))
    root = make_project({"models/m.sql": "select 1 as c0, 2 as c1, 3 as c2, 4 as c3",
                         "models/schema.yml": f"models:\n  - name: m\n    columns:\n{tests}"})
    result = cli("build", "--project-dir", root, "--threads", "4")
    assert result.exit_code == 1, result.output
    assert [r["status"] for r in run_results(root)] == ["success", "fail", "fail", "fail", "fail"]
    stored = query(root, "select table_name from information_schema.tables where table_schema = 'main_dbt_test__audit'")
    assert len(stored) == 4


class BlockingRows:
    """A transform (safe beside other models) that gives each model `<name>_row`, a function slowing
    every row, and says when `expected` models are inside their transactions running it."""

    def __init__(self, expected: int):
        self.expected = expected
        self.running: set[str] = set()
        self.all_running = threading.Event()

    def exclusive(self, sql: str) -> bool:
        return False

    def __call__(self, node, sql: str, conn: duckdb.DuckDBPyConnection) -> str:
        function = f"{node.name}_row"
        if function not in sql:
            return sql

        def slow_row(value: int) -> int:
            self.running.add(node.name)
            if len(self.running) >= self.expected:
                self.all_running.set()
            threading.Event().wait(0.0002)
            return value

        conn.create_function(function, slow_row, ["BIGINT"], "BIGINT", side_effects=True)
        return sql


def test_a_stop_rolls_back_every_node_running_at_once(make_project):
    files = {f"models/{name}.sql": "select 1 as version" for name in ("slow_a", "slow_b", "other")}
    root = make_project(files)
    project = load_project(root)
    assert build(project, threads=2).exit_code == 0
    for name in ("slow_a", "slow_b"):
        (root / "models" / f"{name}.sql").write_text(f"select max({name}_row(i)) * 0 + 2 as version "
                                                     f"from range(100000) r(i)")
    transform, stop = BlockingRows(expected=2), StopRequest()
    stopper = threading.Thread(target=lambda: transform.all_running.wait(30) and stop.request())
    stopper.start()
    with pytest.raises(Interrupted):
        build(load_project(root), threads=2, sql_transform=transform, stop=stop)
    stopper.join()
    assert transform.all_running.is_set()
    with duckdb.connect(str(root / "target" / "dev.duckdb"), read_only=True) as conn:
        names = {name for (name,) in conn.execute("select table_name from information_schema.tables").fetchall()}
        assert names == {"slow_a", "slow_b", "other"}
        assert [conn.execute(f"select version from {name}").fetchone()[0] for name in ("slow_a", "slow_b")] == [1, 1]
    assert {r["name"] for r in run_results(root)} == {"other"}


def test_models_with_llm_calls_run_one_at_a_time_beside_the_others(make_project, cli, query):
    files = {
        "models/tickets.sql": "select i as id, 'ticket about ' || (i % 30) as body from range(90) r(i)",
        "models/kinds.sql": "select id, SMART_LLM('Urgent or normal?', body, labels => ['urgent', 'normal']) as kind "
                            "from {{ ref('tickets') }}",
        "models/moods.sql": "select id, SMART_LLM('Angry or calm?', body, labels => ['angry', 'calm']) as mood "
                            "from {{ ref('tickets') }}",
        "models/joined.sql": "select k.id, kind, mood from {{ ref('kinds') }} k join {{ ref('moods') }} m using (id)",
        "models/plain.sql": SLOW.format(rows=20_000_000),
    }
    joined = []
    for threads in ("1", "3"):
        root = make_project(files, folder=f"threads_{threads}")
        result = cli("build", "--project-dir", root, "--threads", threads)
        assert result.exit_code == 0, result.output
        joined.append(query(root, "select * from joined order by id"))
    llm_lines = [line.split("_t")[0].strip() for line in result.output.splitlines()
                 if line.startswith(("  kinds_t", "  moods_t"))]
    first = llm_lines[0]
    assert llm_lines == [first] * llm_lines.count(first) + [m for m in llm_lines if m != first], llm_lines
    assert joined[0] == joined[1] and len(joined[0]) == 90


def test_the_profiles_threads_are_used_unless_the_command_line_gives_others(make_dbt_project, cli, query):
    root = make_dbt_project({
        "profiles.yml": "shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: target/dev.duckdb, threads: 3}\n",
        "models/a.sql": "select {{ target.threads }} as threads", "models/b.sql": "select 1 as x",
        "models/c.sql": "select 2 as x"})
    for flags, threads in (((), 3), (("--threads", "2"), 2), (("--threads", "1"), 1)):
        result = cli("build", "--project-dir", root, "--profiles-dir", root, *flags)
        assert result.exit_code == 0, result.output
        assert (f"Concurrency: {threads} threads" in result.output) is (threads > 1)
        assert query(root, "select threads from a") == [(threads,)]
