"""`smart-sql plan` and `build --dry-run`: what each LLM task would read and cost, with no model
called and the warehouse left as it was."""

from __future__ import annotations

import hashlib
import json

import pytest

from conftest import relations
from smart_sql.llm.local_server import LocalLLMServer
from smart_sql.llm.simulated import Simulator

SIMULATOR = Simulator("sim-large", {"sim-small": 0.9})

FILES = {
    "seeds/tickets.csv": "id,status,body\n" + "".join(
        f"{i},{'open' if i % 3 else 'closed'},ticket {i % 40} about the {'lamp' if i % 2 else 'tent'}\n"
        for i in range(300)),
    "models/stg_tickets.sql": "select id, status, trim(body) as body from {{ ref('tickets') }}",
    "models/urgent.sql": """\
        {{ config(materialized='table') }}
        select id, SMART_LLM('Summarize.', body, max_tokens => 10) as summary
        from {{ ref('stg_tickets') }}
        where status = 'open' and SMART_LLM('Urgent?', body, labels => ['yes', 'no']) = 'yes'
        """,
    "models/kinds.sql": """\
        {{ config(materialized='table') }}
        select id, SMART_LLM('Kind?', body, labels => ['a', 'b'], accuracy => 0.8) as kind
        from {{ ref('stg_tickets') }}
        """,
}


def openai_profile(server) -> str:
    return (f"demo:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/dev.duckdb\n"
            f"      llm:\n        provider: openai\n        base_url: {server.base_url}\n"
            f"        api_key: {server.api_key}\n        models:\n"
            f"          - {{name: sim-large, input_price_per_1m: 10, output_price_per_1m: 30, reference: true}}\n"
            f"          - {{name: sim-small, input_price_per_1m: 1, output_price_per_1m: 2}}\n")


@pytest.fixture
def server():
    with LocalLLMServer(SIMULATOR, api_key="sk-local-plan-test") as running:
        yield running


def plan_json(cli, root, *args) -> dict:
    result = cli("plan", "--project-dir", root, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def tasks_by_model(plan: dict) -> dict[str, list[dict]]:
    return {model["name"]: model["tasks"] for model in plan["models"]}


def test_plan_on_a_fresh_project_counts_from_the_upstream_sql_and_creates_no_database(make_project, cli):
    root = make_project(FILES)
    plan = plan_json(cli, root)

    assert not (root / "target" / "dev.duckdb").exists()
    tasks = tasks_by_model(plan)
    kinds, = tasks["kinds"]
    assert (kinds["rows"], kinds["distinct_inputs"]) == (300, 40)
    urgent_filter, summary = tasks["urgent"]
    open_rows = sum(1 for i in range(300) if i % 3)
    assert urgent_filter["rows"] == open_rows and not urgent_filter["upper_bound"]
    assert summary["rows"] == open_rows and summary["upper_bound"]
    assert any("upper bound" in note for note in summary["notes"])
    for task in tasks["kinds"] + tasks["urgent"]:
        assert task["least"] <= task["low"] <= task["expected"] <= task["high"] <= task["most"]
        assert task["input_tokens"] > 0 and task["reference_only_cost"] > 0
    assert plan["simulated"] is True
    assert "estimated" in plan["tokens"] or "tiktoken" in plan["tokens"]
    assert plan["total"]["tasks"] == 3 and plan["total"]["upper_bound"] is True


def test_plan_changes_nothing_in_the_database_and_sends_no_request(make_project, cli, server):
    root = make_project({**FILES, "profiles.yml": openai_profile(server)})
    assert cli("build", "--project-dir", root).exit_code == 0
    database = root / "target" / "dev.duckdb"
    before, digest = relations(database), hashlib.sha256(database.read_bytes()).hexdigest()
    server.reset_log()
    (root / "models" / "kinds.sql").write_text(FILES["models/kinds.sql"].replace("'Kind?'", "'Kind now?'"))

    text = cli("plan", "--project-dir", root)
    dry = cli("build", "--dry-run", "--project-dir", root, "--select", "kinds")

    assert text.exit_code == 0 and dry.exit_code == 0, text.output + dry.output
    assert server.log.requests == 0
    assert relations(database) == before
    assert hashlib.sha256(database.read_bytes()).hexdigest() == digest
    assert "Total: 3 LLM tasks" in text.output and "Total: 1 LLM task," in dry.output
    assert "No model is called and the database is not changed" in text.output


def test_answers_in_the_cache_are_counted_free(make_project, cli):
    root = make_project(FILES)
    assert cli("build", "--project-dir", root).exit_code == 0
    plan = plan_json(cli, root, "--select", "kinds")

    kinds, = tasks_by_model(plan)["kinds"]
    assert kinds["distinct_inputs"] == 40
    assert 0 < kinds["cached_inputs"]["sim-large"] <= 40 and kinds["cached_inputs"]["sim-small"] > 0
    assert kinds["expected"] == kinds["low"] == kinds["high"] == 0
    assert kinds["most"] > 0


def test_a_budget_is_checked_against_the_plan(make_project, cli):
    root = make_project(FILES)
    result = cli("plan", "--project-dir", root, "--max-cost", "0.000001")

    assert result.exit_code == 0
    assert "Spending limit $0.0000 (--max-cost): the build is likely to stop" in result.output


def test_the_plan_and_the_explain_show_a_cascade_method(make_project, cli):
    files = dict(FILES)
    files["models/kinds.sql"] = files["models/kinds.sql"].replace("accuracy => 0.8", "accuracy => 0.8, method => 'cascade'")
    root = make_project(files)
    kinds, = tasks_by_model(plan_json(cli, root))["kinds"]
    assert kinds["options"]["method"] == "cascade"
    assert any("method cascade: forecast as the item-blind mix" in note for note in kinds["notes"])
    text = cli("plan", "--project-dir", root)
    assert text.exit_code == 0, text.output
    assert "SMART (cascade): expected" in text.output and "SMART (mix): expected" in text.output
    explained = cli("compile", "--project-dir", root, "--explain")
    assert explained.exit_code == 0, explained.output
    assert "method cascade" in explained.output
