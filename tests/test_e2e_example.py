"""The bundled example project, the Python API and its seam, and what a build without LLM columns imports."""

from __future__ import annotations

import subprocess
import sys

import duckdb

from conftest import copy_example
from smart_sql.execute import build
from smart_sql.project import load_project



def test_the_example_project_builds_and_its_incremental_model_updates(tmp_path, cli, query):
    root = copy_example(tmp_path)
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert "ERROR=0" in result.output and "SKIP=0" in result.output
    assert query(root, "select count(*), sum(open_tickets) from product_feedback") == [(8, 6)]
    with (root / "seeds/support_tickets.csv").open("a") as seeds:
        seeds.write('1011,2,102,Lid leaks,"The bottle lid leaks when it lies in my bag.",open,2024-01-29\n')
    assert cli("build", "--project-dir", root).exit_code == 0
    assert query(root, "select count(*), max(ticket_id) from support_ticket_history") == [(11, 1011)]
    assert query(root, "select count(*) from stg_reviews where review_text is not null") == [(18,)]


def test_sql_transform_runs_inside_the_atomic_unit(make_project, tmp_path):
    root = make_project({"models/a.sql": "select 1 as x", "models/b.sql": "select x from {{ ref('a') }}"})
    project = load_project(root)
    seen = []

    def doubling(node, sql, conn):
        seen.append((node.name, sql))
        return f"select x * 2 as x from ({sql})"

    assert build(project, sql_transform=doubling).exit_code == 0
    assert seen == [("a", "select 1 as x"), ("b", 'select x from "main"."a"')]

    def failing(node, sql, conn):
        if node.name == "a":
            raise RuntimeError("the LLM step failed")
        return sql

    results = build(project, sql_transform=failing)
    statuses = {r.name: (r.status, r.message) for r in results.results}
    assert statuses["a"][0] == "error" and "the LLM step failed" in statuses["a"][1]
    assert statuses["b"][0] == "skipped"
    with duckdb.connect(project.database, read_only=True) as conn:
        assert conn.execute("select x from a").fetchall() == [(2,)]


def test_transform_extras_reach_run_results(make_project):
    import json

    root = make_project({"models/a.sql": "select 1 as x"})
    project = load_project(root)

    class CountingTransform:
        def __call__(self, node, sql, conn):
            return sql

        def extras(self, node):
            return {"llm_calls": 3, "summary": "3 calls (simulated)"}

    results = build(project, sql_transform=CountingTransform())
    assert results.results[0].extras == {"llm_calls": 3, "summary": "3 calls (simulated)"}
    written = json.loads((project.target_path / "run_results.json").read_text())
    assert written["results"][0]["extras"]["llm_calls"] == 3


def test_cli_and_a_plain_build_do_not_import_scipy_or_openai(make_project):
    root = make_project({"seeds/s.csv": "id\n1\n", "models/m.sql": "select * from {{ ref('s') }}"})
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "import smart_sql.cli\n"
        f"result = CliRunner().invoke(smart_sql.cli.main, ['build', '--project-dir', {str(root)!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in ('scipy', 'openai') if m in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
