"""Spending limits (`--max-cost`, `llm.max_cost`, `max_cost =>`) over real HTTP to the local server:
a build stops before the limit and never past it, also with requests in flight, and the rerun
finishes the job without paying for any answer twice."""

from __future__ import annotations

import duckdb
import pytest

from smart_sql.llm.local_server import LocalLLMServer
from smart_sql.llm.simulated import Simulator

SIMULATOR = Simulator("sim-large", {"sim-small": 0.8})
PRICES = {"sim-large": (10.0, 30.0), "sim-small": (1.0, 2.0)}
PROMPT = "Summarize the ticket in three words."
DOCS = 120


@pytest.fixture
def server():
    with LocalLLMServer(SIMULATOR, api_key="sk-local-budget-test") as running:
        running.faults.latency_ms = 20
        yield running


def project_files(server, *, max_cost=None, call_options="accuracy => 1.0, max_tokens => 6") -> dict:
    llm = (f"        provider: openai\n        base_url: {server.base_url}\n        api_key: {server.api_key}\n"
           f"        max_concurrency: 8\n        timeout_seconds: 10\n"
           + (f"        max_cost: {max_cost}\n" if max_cost is not None else "")
           + "        models:\n"
           + "".join(f"          - {{name: {name}, input_price_per_1m: {i}, output_price_per_1m: {o}"
                     f"{', reference: true' if name == 'sim-large' else ''}}}\n"
                     for name, (i, o) in PRICES.items()))
    return {
        "profiles.yml": "demo:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
                        "      path: target/dev.duckdb\n      llm:\n" + llm,
        "models/docs.sql": f"select i as id, 'ticket number ' || i || ' about a broken lamp' as body "
                           f"from range({DOCS}) r(i)",
        "models/summaries.sql": f"select id, SMART_LLM('{PROMPT}', body, {call_options}) as summary "
                                "from {{ ref('docs') }}",
    }


def billed(server) -> float:
    """What the server's answers cost at the configured prices: every completion it sent counts."""
    total = 0.0
    for (model, prompt, text), count in server.log.completions.items():
        answer = SIMULATOR.answer(model, prompt, text)
        input_tokens, output_tokens = SIMULATOR.usage(prompt, text, answer)
        output_tokens = min(output_tokens, 6)
        price_in, price_out = PRICES[model]
        total += count * (input_tokens * price_in + output_tokens * price_out) / 1e6
    return total


def full_cost(output_at_bound: bool = False) -> float:
    """The reference on every input (accuracy 1.0): what the task costs when it finishes, or with
    every answer at max_tokens (its worst case, as the check before the task counts it)."""
    total = 0.0
    for i in range(DOCS):
        text = f"ticket number {i} about a broken lamp"
        input_tokens, output_tokens = SIMULATOR.usage(PROMPT, text, SIMULATOR.answer("sim-large", PROMPT, text))
        total += (input_tokens * 10 + (6 if output_at_bound else min(output_tokens, 6)) * 30) / 1e6
    return total


def tables(root) -> set[str]:
    with duckdb.connect(str(root / "target" / "dev.duckdb"), read_only=True) as conn:
        return {row[0] for row in conn.execute("select table_name from information_schema.tables").fetchall()}


def test_a_limit_below_the_worst_case_stops_the_task_before_any_request(make_project, cli, server):
    root = make_project(project_files(server))
    result = cli("build", "--project-dir", root, "--max-cost", f"{full_cost() / 2:.6f}")

    assert result.exit_code == 1
    assert "not started: this task may cost up to $" in result.output
    assert "--max-cost" in result.output and "select fewer models" in result.output
    assert server.log.requests == 0
    assert "summaries" not in tables(root)


def test_a_budget_stops_mid_task_with_requests_in_flight_never_past_it_and_the_rerun_pays_nothing_twice(
        make_project, cli, server):
    limit = full_cost(output_at_bound=True) * 1.0005
    root = make_project(project_files(server, max_cost=f"{limit:.8f}"))
    first = cli("build", "--project-dir", root)

    assert first.exit_code == 1, first.output
    assert "spending limit $" in first.output and "llm.max_cost" in first.output
    assert "no request was sent that could pass it" in first.output
    paid_first = billed(server)
    answered_first = sum(server.log.completions.values())
    assert 0 < answered_first < DOCS
    assert server.log.max_in_flight > 1
    assert paid_first <= limit
    assert "summaries" not in tables(root)

    second = cli("build", "--project-dir", root)
    assert second.exit_code == 0, second.output
    assert set(server.log.completions.values()) == {1}
    assert sum(server.log.completions.values()) == DOCS
    assert billed(server) - paid_first <= limit
    assert "summaries" in tables(root)


def test_max_cost_on_the_call_limits_that_task_within_the_build(make_project, cli, server):
    options = f"accuracy => 1.0, max_tokens => 6, max_cost => {full_cost() / 3:.6f}"
    root = make_project(project_files(server, call_options=options))
    result = cli("build", "--project-dir", root)

    assert result.exit_code == 1
    assert "max_cost => " in result.output and "not started" in result.output
    assert server.log.requests == 0


def test_without_a_limit_nothing_is_refused(make_project, cli, server):
    root = make_project(project_files(server))
    result = cli("build", "--project-dir", root)

    assert result.exit_code == 0, result.output
    assert sum(server.log.completions.values()) == DOCS
    assert billed(server) == pytest.approx(full_cost())


def test_limits_are_validated_where_they_are_written():
    from smart_sql.errors import ConfigError, ModelError
    from smart_sql.llm.config import parse_llm_config
    from smart_sql.rewrite.plan import rewrite_sql

    with pytest.raises(ConfigError, match="max_cost"):
        parse_llm_config({"max_cost": -1})
    with pytest.raises(ConfigError, match="(?s)on_long_input.*fail, truncate"):
        parse_llm_config({"on_long_input": "cut"})
    assert parse_llm_config({"max_cost": 2.5, "max_input_tokens": 100}).max_cost == 2.5
    with pytest.raises(ModelError, match="max_cost"):
        rewrite_sql("select SMART_LLM('p', t, max_cost => -1) from x", parse_llm_config({}))


def test_a_call_s_max_cost_does_not_change_its_seed():
    from smart_sql.llm.config import parse_llm_config
    from smart_sql.rewrite.plan import rewrite_sql

    config = parse_llm_config({})
    plain, = rewrite_sql("select SMART_LLM('p', t) from x", config, model="m").tasks
    limited, = rewrite_sql("select SMART_LLM('p', t, max_cost => 3) from x", config, model="m").tasks
    assert limited.options.max_cost == 3 and plain.seed == limited.seed


def test_a_task_that_does_not_start_stops_the_spending_of_the_rest_of_the_build(make_project, cli, server):
    files = project_files(server)
    files["models/tiny.sql"] = ("select SMART_LLM('Topic?', body, accuracy => 1.0, max_tokens => 2) as topic "
                                "from {{ ref('docs') }} where id = 0")
    root = make_project(files)
    result = cli("build", "--project-dir", root, "--max-cost", f"{full_cost() / 2:.6f}")

    assert result.exit_code == 1
    assert "not started: this task may cost up to $" in result.output
    tiny = result.output.split("Error in model tiny")[1]
    assert "reached" in tiny
    assert "the build stopped spending when task summaries_t1 (SMART_LLM call #1" in tiny
    assert server.log.requests == 0
