"""A build against a server that fails in the transient ways real ones do finishes in one go."""

from __future__ import annotations

from smart_sql.llm.local_server import Faults, LocalLLMServer
from smart_sql.llm.simulated import Simulator

from conftest import openai_profiles

API_KEY = "sk-local-0123456789abcdefSECRET"
SIMULATOR = Simulator("sim-large", {"sim-small": 0.85})
TICKETS = "id,body\n" + "".join(f"{i},ticket {i % 50} about order {i % 7}\n" for i in range(80))
MODEL = """\
select id, SMART_LLM('Is this ticket urgent?', body, labels => ['urgent', 'normal'], accuracy => 0.8) as kind
from {{ ref('tickets') }}
"""


def profiles(base_url: str) -> str:
    return openai_profiles(base_url, API_KEY, max_concurrency=8, timeout_seconds=5, retry_timeout_seconds=30)


def build(make_project, cli, query, faults: Faults, folder: str):
    """The rows built against a server with `faults`, and what the server saw."""
    with LocalLLMServer(SIMULATOR, api_key=API_KEY, faults=faults) as server:
        root = make_project({"profiles.yml": profiles(server.base_url), "seeds/tickets.csv": TICKETS,
                             "models/ticket_kinds.sql": MODEL}, folder=folder)
        result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    return query(root, "select id, kind from ticket_kinds order by id"), server.log


def test_refusals_errors_and_latency_spikes_cost_no_build_and_no_answer_twice(make_project, cli, query):
    """A quarter of the requests refused (429 with Retry-After) and a tenth failing (500), each seven
    times in a row, more than the six retries a request once had, plus latency spikes."""
    faults = Faults(latency_ms=2, rate_limit=0.25, server_error=0.10, fault_attempts=7, retry_after="0.05",
                    spike=0.1, spike_ms=300)
    faulty_rows, log = build(make_project, cli, query, faults, "faulty")
    clean_rows, clean_log = build(make_project, cli, query, Faults(latency_ms=2), "clean")

    assert faulty_rows == clean_rows and len(faulty_rows) == 80
    assert {kind for _, kind in faulty_rows} <= {"urgent", "normal"}
    assert log.by_status[429] > 0 and log.by_status[500] > 0
    assert max(log.attempts.values()) == 8
    assert set(log.completions.values()) == {1}
    assert log.completions == clean_log.completions


def test_a_server_down_past_the_retry_budget_fails_the_model_clearly_and_the_next_build_pays_nothing_twice(
        make_project, cli, query):
    faults = Faults(latency_ms=2, outage_after=30, retry_after="0.05")
    with LocalLLMServer(SIMULATOR, api_key=API_KEY, faults=faults) as server:
        root = make_project({"profiles.yml": profiles(server.base_url).replace("retry_timeout_seconds: 30",
                                                                               "retry_timeout_seconds: 0.5"),
                             "seeds/tickets.csv": TICKETS, "models/ticket_kinds.sql": MODEL})
        failed = cli("build", "--project-dir", root)
        assert failed.exit_code == 1
        for fragment in ("ticket_kinds.sql", "still failing after", "HTTP 503", server.base_url,
                         "retry_timeout_seconds", "answers received so far are cached"):
            assert fragment in failed.output
        assert API_KEY not in failed.output
        assert sum(server.log.completions.values()) == 30

        server.faults.outage_after = None
        rebuilt = cli("build", "--project-dir", root)
        assert rebuilt.exit_code == 0, rebuilt.output
    assert set(server.log.completions.values()) == {1}
    assert len(query(root, "select id, kind from ticket_kinds where kind is not null")) == 80
