"""`llm.max_input_tokens`: a text over the limit fails its task before any request, or is sent cut
to the limit with a warning (`on_long_input: truncate`); it is never sent whole."""

from __future__ import annotations

import pytest

from smart_sql.llm.local_server import LocalLLMServer
from smart_sql.llm.simulated import Simulator
from smart_sql.llm.tokens import count_tokens

SIMULATOR = Simulator("sim-large", {})
LONG = "word " * 400


@pytest.fixture
def server():
    with LocalLLMServer(SIMULATOR, api_key="sk-local-long-input") as running:
        yield running


def files(server, on_long_input: str) -> dict:
    return {
        "profiles.yml": (f"demo:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
                         f"      path: target/dev.duckdb\n      llm:\n        provider: openai\n"
                         f"        base_url: {server.base_url}\n        api_key: {server.api_key}\n"
                         f"        max_input_tokens: 50\n        on_long_input: {on_long_input}\n        models:\n"
                         f"          - {{name: sim-large, input_price_per_1m: 1, output_price_per_1m: 1, "
                         f"reference: true}}\n"),
        "models/notes.sql": f"select * from (values (1, 'short note'), (2, '{LONG}')) t(id, body)",
        "models/topics.sql": "select id, SMART_LLM('Topic?', body) as topic from {{ ref('notes') }}",
    }


def test_a_text_over_max_input_tokens_fails_the_task_before_any_request(make_project, cli, server):
    result = cli("build", "--project-dir", make_project(files(server, "fail")))

    assert result.exit_code == 1
    assert "1 input(s) hold more than max_input_tokens = 50 tokens" in result.output
    assert "on_long_input: truncate" in result.output
    assert server.log.requests == 0


def test_truncate_sends_the_text_cut_to_the_limit_and_says_so(make_project, cli, server):
    result = cli("build", "--project-dir", make_project(files(server, "truncate")))

    assert result.exit_code == 0, result.output
    assert "1 text(s) over max_input_tokens = 50" in result.output and "were cut to fit" in result.output
    sent = {text for _, _, text in server.log.attempts}
    assert "short note" in sent and LONG.strip() not in {text.strip() for text in sent}
    cut, = sent - {"short note"}
    assert LONG.startswith(cut) and count_tokens("Topic?") + count_tokens(cut) <= 50
