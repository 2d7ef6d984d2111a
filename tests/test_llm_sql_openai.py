"""SMART_LLM end to end through the openai provider, over real HTTP to the local server."""

import logging

import duckdb
import pytest

from smart_sql import api
from smart_sql.llm.config import parse_llm_config
from smart_sql.llm.local_server import LocalLLMServer
from smart_sql.llm.simulated import Simulator

API_KEY = "sk-local-0123456789abcdefSECRET"
SIMULATOR = Simulator("sim-large", {"sim-small": 0.8})
LABELS = ["urgent", "normal"]


@pytest.fixture
def server():
    with LocalLLMServer(SIMULATOR, api_key=API_KEY) as running:
        yield running


def test_exact_column_over_http_matches_the_reference_and_sends_each_input_once(server):
    config = parse_llm_config({
        "provider": "openai", "base_url": server.base_url, "api_key": API_KEY, "max_concurrency": 8,
        "timeout_seconds": 5,
        "models": [{"name": "sim-large", "input_price_per_1m": 10, "output_price_per_1m": 30, "reference": True},
                   {"name": "sim-small", "input_price_per_1m": 1, "output_price_per_1m": 2}]})
    conn = duckdb.connect()
    conn.execute("create table tickets as select i as id, case when i % 9 = 0 then null "
                 "else 'ticket ' || (i % 25) end as body from range(120) r(i)")
    result = api.run(conn, "select id, body, SMART_LLM('Urgent or normal?', body, labels => ['urgent', 'normal'], "
                           "accuracy => 1.0) as kind from tickets", config)

    assert result.simulated is False
    rows = result.relation.fetchall()
    assert len(rows) == 120
    for _, body, kind in rows:
        assert kind == (None if body is None else SIMULATOR.reference_answer("Urgent or normal?", body, LABELS))
    distinct = conn.execute("select count(distinct body) from tickets").fetchone()[0]
    assert server.log.by_model == {"sim-large": distinct}
    assert set(server.log.attempts.values()) == {1}
    assert API_KEY not in result.rewritten_sql + repr([r.to_dict() for r in result.reports])


@pytest.mark.parametrize("latency, grace", [(0.2, 5.0), (5.0, 0.3)], ids=["answers within grace", "grace runs out"])
def test_a_stopped_task_sends_nothing_more_and_waits_for_requests_in_flight_at_most_the_grace(
        server, tmp_path, latency, grace):
    import threading
    import time

    from smart_sql.llm.cache import cache_stats
    from smart_sql.llm_sql import LLMRunner
    from smart_sql.rewrite.plan import rewrite_sql

    server.faults.latency_ms = latency * 1000
    config = parse_llm_config({"provider": "openai", "base_url": server.base_url, "api_key": API_KEY,
                               "max_concurrency": 4, "timeout_seconds": 30,
                               "models": [{"name": "sim-large", "input_price_per_1m": 10, "output_price_per_1m": 30,
                                           "reference": True}]})
    conn = duckdb.connect()
    conn.execute("create table docs as select 'doc ' || i as body from range(40) r(i)")
    runner = LLMRunner(config, cache_path=tmp_path / "cache.duckdb", grace_seconds=grace)
    stopped = []

    def stop_when_four_are_in_flight():
        while len(server.log.arrival_times) < 4:
            time.sleep(0.002)
        stopped.append(time.monotonic())
        runner.stop()

    threading.Thread(target=stop_when_four_are_in_flight).start()
    with pytest.raises(KeyboardInterrupt):
        runner.run_tasks(conn, rewrite_sql("select SMART_LLM('Topic?', body) as t from docs", config))
    waited = time.monotonic() - stopped[0]
    runner.close()
    assert len(server.log.arrival_times) == 4
    assert waited < min(latency, grace) + 0.5
    cached = cache_stats(tmp_path / "cache.duckdb")["entries"]
    assert cached == (4 if latency < grace else 0)


def test_a_model_that_fails_for_good_lets_the_other_models_answers_in_flight_land_in_the_cache(server, tmp_path):
    from smart_sql.errors import LLMError
    from smart_sql.llm.cache import cache_stats
    from smart_sql.llm_sql import LLMRunner
    from smart_sql.rewrite.plan import rewrite_sql

    server.faults.model_latency_ms = {"sim-large": 300}
    config = parse_llm_config({
        "provider": "openai", "base_url": server.base_url, "api_key": API_KEY, "max_concurrency": 8,
        "timeout_seconds": 30,
        "models": [{"name": "sim-large", "input_price_per_1m": 10, "output_price_per_1m": 30, "reference": True},
                   {"name": "sim-retired", "input_price_per_1m": 1, "output_price_per_1m": 2}]})
    conn = duckdb.connect()
    conn.execute("create table docs as select 'doc ' || i as body from range(200) r(i)")
    runner = LLMRunner(config, cache_path=tmp_path / "cache.duckdb")
    with pytest.raises(LLMError, match="sim-retired"):
        runner.run_tasks(conn, rewrite_sql("select SMART_LLM('Topic?', body) as t from docs", config))
    runner.close()
    sent = server.log.arrivals_by_model["sim-large"]
    assert sent > 0
    assert server.log.by_model["sim-large"] == sent  # answered, none hung up on while the server worked on it
    assert cache_stats(tmp_path / "cache.duckdb")["entries"] == sent


def test_a_task_answered_by_two_versions_of_a_model_says_so(server, tmp_path, caplog):
    from smart_sql.llm_sql import LLMRunner
    from smart_sql.rewrite.plan import rewrite_sql

    config = parse_llm_config({
        "provider": "openai", "base_url": server.base_url, "api_key": API_KEY, "max_concurrency": 8,
        "models": [{"name": "sim-large", "input_price_per_1m": 10, "output_price_per_1m": 30, "reference": True}]})
    conn = duckdb.connect()
    conn.execute("create table tickets as select i as id, 'ticket ' || i as body from range(40) r(i)")
    query = "select id, SMART_LLM('Urgent or normal?', body, labels => ['urgent', 'normal']) as kind from tickets"
    server.system_fingerprint = "fp_old"
    with caplog.at_level(logging.WARNING):
        api.run(conn, query.replace("from tickets", "from tickets where id < 25"), config,
                cache_path=tmp_path / "cache.sqlite")
    assert "served versions" not in caplog.text

    server.system_fingerprint = "fp_new"
    lines = []
    with LLMRunner(config, cache_path=tmp_path / "cache.sqlite", progress=lines.append) as runner:
        runner.run_tasks(conn, rewrite_sql(query, config, path="<sql>", table_prefix="__smart_llm_t"))
    warnings = [line for line in lines if "served versions" in line]
    assert len(warnings) == 1
    assert "sim-large from 2 served versions (sim-large (fp_new), sim-large (fp_old))" in warnings[0]


TICKETS = "id,body\n" + "".join(f"{i},ticket {i % 60} about order {i % 7}\n" for i in range(90))
KIND_MODEL = """\
select id, SMART_LLM('Is this ticket urgent?', body, labels => ['urgent', 'normal'], accuracy => 0.8) as kind
from {{ ref('tickets') }}
"""


def build_with_scores(make_project, cli, query, folder, **faults):
    """Build the ticket kinds against the local server; the rows, the scores in the cache and the
    scores the server gave each answer it sent."""
    import sqlite3

    from conftest import openai_profiles
    from smart_sql.llm.local_server import Faults

    with LocalLLMServer(SIMULATOR, api_key=API_KEY, faults=Faults(**faults)) as running:
        root = make_project({"profiles.yml": openai_profiles(running.base_url, API_KEY, max_concurrency=4),
                             "seeds/tickets.csv": TICKETS, "models/ticket_kinds.sql": KIND_MODEL}, folder=folder)
        result = cli("build", "--project-dir", root)
        simulator = running.simulator
        given = sorted(simulator.score(model, prompt, text, simulator.answer(model, prompt, text, LABELS), LABELS)
                       for model, prompt, text in running.log.completions)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(root / "target" / "llm_cache.sqlite") as cache:
        cached = [score for (score,) in cache.execute("select score from responses order by score")]
    return query(root, "select id, kind from ticket_kinds order by id"), cached, given


def test_a_build_keeps_the_score_of_each_answer_from_the_servers_logprobs(make_project, cli, query):
    rows, cached, given = build_with_scores(make_project, cli, query, "with_logprobs")
    assert len(cached) == len(given) >= 60
    assert cached == pytest.approx(given, abs=1e-9)
    omitted_rows, omitted, _ = build_with_scores(make_project, cli, query, "without_logprobs", omit_logprobs=True)
    refused_rows, refused, _ = build_with_scores(make_project, cli, query, "refusing_logprobs", reject_logprobs=True)
    assert omitted_rows == refused_rows == rows
    assert omitted == refused == [None] * len(cached)
