"""`smart-sql debug` and the start of a build check the LLM endpoint where it costs nothing (GET /models)."""

from __future__ import annotations

import socket

import pytest

from smart_sql.llm.local_server import LocalLLMServer
from smart_sql.llm.simulated import Simulator

from conftest import SIM_LARGE, SIM_SMALL, openai_profiles

API_KEY = "sk-local-0123456789abcdefSECRET"
WRONG_KEY = "sk-wrong-9876543210fedcbaSECRET"
SIMULATOR = Simulator("sim-large", {"sim-small": 0.85})
TICKETS = "id,body\n" + "".join(f"{i},ticket {i}\n" for i in range(40))


def profiles(base_url: str, key: str = API_KEY, *extra_models: dict) -> str:
    return openai_profiles(base_url, key, models=(SIM_LARGE, SIM_SMALL, *extra_models), retry_timeout_seconds=2)


@pytest.fixture
def server():
    with LocalLLMServer(SIMULATOR, api_key=API_KEY) as running:
        yield running


def dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_debug_lists_the_configured_models_the_server_serves(make_project, cli, server):
    root = make_project({"profiles.yml": profiles(server.base_url)})
    result = cli("debug", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert f"llm endpoint {server.base_url}: reachable, API key accepted" in result.output
    assert "llm models listed by the server: sim-large, sim-small" in result.output
    assert "All checks passed." in result.output
    assert server.log.model_listings == 1 and server.log.requests == 0


def test_debug_says_when_the_key_is_rejected_and_never_shows_it(make_project, cli, server):
    root = make_project({"profiles.yml": profiles(server.base_url, key=WRONG_KEY)})
    result = cli("debug", "--project-dir", root)
    assert result.exit_code == 1
    assert "reachable, but the API key was rejected (HTTP 401" in result.output
    assert "All checks passed" not in result.output
    assert WRONG_KEY not in result.output and "SECRET" not in result.output


def test_debug_says_when_the_server_cannot_be_reached(make_project, cli):
    url = dead_url()
    root = make_project({"profiles.yml": profiles(url)})
    result = cli("debug", "--project-dir", root)
    assert result.exit_code == 1
    assert f"llm endpoint {url}: not reachable" in result.output
    assert "All checks passed" not in result.output


def test_debug_names_a_configured_model_the_server_does_not_serve(make_project, cli, server):
    extra = {"name": "gpt-nonexistent", "input_price_per_1m": 1, "output_price_per_1m": 1}
    root = make_project({"profiles.yml": profiles(server.base_url, API_KEY, extra)})
    result = cli("debug", "--project-dir", root)
    assert result.exit_code == 1
    assert "llm models not listed by the server: gpt-nonexistent" in result.output


def test_a_rejected_key_stops_the_build_before_any_model_is_built_or_request_sent(make_project, cli, server, query):
    root = make_project({"profiles.yml": profiles(server.base_url, key=WRONG_KEY), "seeds/tickets.csv": TICKETS,
                         "models/stg_tickets.sql": "select * from {{ ref('tickets') }}",
                         "models/kinds.sql": "select id, SMART_LLM('Urgent?', body, labels => ['yes', 'no']) as k "
                                             "from {{ ref('stg_tickets') }}"})
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 1
    assert "API key was rejected" in result.output and "nothing was built" in result.output
    assert WRONG_KEY not in result.output
    assert server.log.requests == 0
    assert not (root / "target" / "dev.duckdb").exists() or not query(
        root, "select * from information_schema.tables where table_name = 'stg_tickets'")


def test_a_build_without_llm_tasks_does_not_ask_the_server(make_project, cli, server):
    root = make_project({"profiles.yml": profiles(server.base_url, key=WRONG_KEY), "models/a.sql": "select 1 as x"})
    assert cli("build", "--project-dir", root).exit_code == 0
    assert server.log.model_listings == 0
