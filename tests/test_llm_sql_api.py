"""The Python entry point: one statement with SMART_LLM against a DuckDB connection."""

import asyncio
import re

import duckdb
import pytest

import smart_sql
from smart_sql import api
from smart_sql.errors import LLMError, ModelError
from smart_sql.llm.config import parse_llm_config

pytestmark = pytest.mark.filterwarnings("ignore::smart_sql.api.SimulatedAnswersWarning")


@pytest.fixture
def conn():
    connection = duckdb.connect()
    connection.execute("create table notes as select * from (values (1, 'buy milk'), (2, 'call mom'), "
                       "(3, 'buy milk'), (4, null)) t(id, body)")
    yield connection
    connection.close()


def test_sql_returns_a_relation_with_the_column_filled(conn):
    with pytest.warns(api.SimulatedAnswersWarning, match="simulated provider, not from a real model"):
        relation = smart_sql.sql(conn, "select id, SMART_LLM('Is it a chore?', body, labels => ['yes', 'no']) "
                                       "as chore from notes order by id", llm={"provider": "simulated"})
    assert isinstance(relation, duckdb.DuckDBPyRelation)
    rows = relation.fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert rows[0][1] == rows[2][1] and rows[0][1] in ("yes", "no")
    assert rows[3][1] is None


def test_run_reports_what_each_task_did_and_that_it_was_simulated(conn):
    result = api.run(conn, "select SMART_LLM('Summarize', body) as s from notes", {"provider": "simulated"})
    assert result.simulated is True
    (report,) = result.reports
    assert (report.rows, report.distinct_inputs) == (3, 2)
    assert "__smart_llm_q" in result.rewritten_sql


def test_relations_of_earlier_statements_stay_valid(conn):
    first = smart_sql.sql(conn, "select SMART_LLM('A', body) as a from notes where id = 1")
    second = smart_sql.sql(conn, "select SMART_LLM('B', body) as b from notes where id = 2")
    assert first.fetchall() != second.fetchall()
    assert len(first.fetchall()) == 1 and first.fetchall()[0][0] is not None


def test_works_inside_a_running_event_loop(conn):
    async def notebook_cell():
        return smart_sql.sql(conn, "select SMART_LLM('Summarize', body) as s from notes where body is not null").fetchall()

    rows = asyncio.run(notebook_cell())
    assert len(rows) == 3 and all(r[0] for r in rows)


def test_statement_without_calls_runs_as_is(conn):
    assert smart_sql.sql(conn, "select count(*) from notes").fetchall() == [(4,)]


def test_bad_call_raises_a_model_error(conn):
    with pytest.raises(ModelError, match=r"<sql>:1: SMART_LLM call #1 \(line 1, column 8\): `method` must be one of"):
        smart_sql.sql(conn, "select SMART_LLM('p', body, method => 'best') from notes")


class RefusingProvider:
    name, simulated, endpoint = "openai", False, "http://127.0.0.1:9/v1"

    async def complete(self, requests, on_response=None):
        raise LLMError("openai: the server refused the API key (401)", hint="check OPENAI_API_KEY")

    async def aclose(self):
        return None


def test_a_provider_failure_names_the_call_and_keeps_its_hint(conn):
    with pytest.raises(LLMError) as caught:
        api.run(conn, "select SMART_LLM('p', body) from notes", provider=RefusingProvider())
    message = str(caught.value)
    assert message.startswith("<sql>: SMART_LLM call #1 (line 1, column 8): openai: the server refused the API key")
    assert "hint: check OPENAI_API_KEY" in message


def test_an_input_query_that_cannot_run_is_explained(conn):
    with pytest.raises(ModelError, match=r"SMART_LLM call #1 \(line 1, column 16\): the input query failed: .*outer_note"):
        smart_sql.sql(conn, "select (select SMART_LLM('p', body || outer_note) from notes) "
                            "from (select 'x' as outer_note)")


def test_long_batches_say_how_many_answers_have_arrived(conn):
    from smart_sql.llm.config import parse_llm_config
    from smart_sql.llm_sql import LLMRunner
    from smart_sql.rewrite.plan import rewrite_sql

    config = parse_llm_config({"provider": "simulated", "cache": False})
    conn.execute("create table docs as select 'text ' || i as body from range(50) r(i)")
    lines = []
    runner = LLMRunner(config, progress=lines.append, progress_every=0)
    try:
        runner.run_tasks(conn, rewrite_sql("select SMART_LLM('Topic?', body, method => 'reference') as t from docs",
                                           config))
    finally:
        runner.close()
    counts = [re.search(r"answering: (\d+) of 50 answers", line) for line in lines]
    assert [int(found.group(1)) for found in counts if found] == list(range(1, 50))


def test_ctrl_c_while_answering_stops_the_run_instead_of_failing_one_model(conn, monkeypatch):
    from smart_sql import llm_sql

    def interrupted(self, coroutine):
        coroutine.close()
        raise KeyboardInterrupt

    monkeypatch.setattr(llm_sql._LoopThread, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        smart_sql.sql(conn, "select SMART_LLM('Summarize', body) as s from notes")


class RecordingProvider:
    """The simulated provider, keeping the texts it is asked about."""

    name, simulated = "simulated", True

    def __init__(self, config):
        from smart_sql.llm.simulated import SimulatedProvider

        self.inner = SimulatedProvider(config)
        self.endpoint = self.inner.endpoint
        self.texts = []

    async def complete(self, requests, on_response=None):
        self.texts.extend(request.text for request in requests)
        return await self.inner.complete(requests, on_response)

    async def aclose(self):
        return None


BLANK_TEXTS = ["", "   ", "\t\n", "\u00a0\u3000"]


SIMULATED = {"provider": "simulated", "cache": False}


def test_empty_and_blank_texts_answer_null_without_a_call_unless_the_call_sends_them():
    conn = duckdb.connect()
    conn.execute("create table notes (id int, body varchar)")
    conn.executemany("insert into notes values (?, ?)", list(enumerate([*BLANK_TEXTS, None, "buy milk"])))
    config = parse_llm_config(SIMULATED)
    provider = RecordingProvider(config)
    result = api.run(conn, "select id, SMART_LLM('Chore?', body) as chore from notes order by id", config,
                     provider=provider)
    answers = [chore for _, chore in result.relation.fetchall()]
    assert set(provider.texts) == {"buy milk"}
    assert answers[:5] == [None] * 5 and answers[5] is not None
    assert result.reports[0].rows == 1

    provider.texts.clear()
    result = api.run(conn, "select id, SMART_LLM('Chore?', body, empty_text => 'send') as chore from notes "
                           "order by id", config, provider=provider)
    assert set(provider.texts) == {*BLANK_TEXTS, "buy milk"}
    assert [chore is None for _, chore in result.relation.fetchall()] == [False] * 4 + [True, False]


def test_a_binder_error_is_placed_in_the_statement_before_any_call(conn):
    provider = RecordingProvider(parse_llm_config(SIMULATED))
    with pytest.raises(ModelError) as caught:
        api.run(conn, "select id,\n  SMART_LLM('p', body) as s,\n  nope\nfrom notes", provider=provider)
    assert str(caught.value).startswith('<sql>:3:3: the SQL does not bind: Binder Error: Referenced column "nope"')
    assert provider.texts == []


def test_the_engine_is_handed_each_answer_with_its_score(monkeypatch):
    import numpy as np

    import smart_sql.smart.engine as engine
    from smart_sql.llm.simulated import Simulator

    real_run_smart, batches = engine.run_smart, []

    async def recording_run_smart(counts, ladder, answer, **options):
        async def recorded(model, indices):
            result = await answer(model, indices)
            batch = result if isinstance(result, engine.ResponseBatch) else engine.ResponseBatch.from_responses(result)
            batches.append((model, batch))
            return result
        return await real_run_smart(counts, ladder, recorded, **options)

    monkeypatch.setattr(engine, "run_smart", recording_run_smart)
    llm = {"provider": "simulated", "simulated": {"scores": {"sim-small": "sharp"}}}
    connection = duckdb.connect()
    connection.execute("create table tickets as select 'ticket ' || i as body from range(400) r(i)")
    api.run(connection, "select SMART_LLM('Urgent?', body, labels => ['yes', 'no'], accuracy => 0.8) as urgent "
                        "from tickets", llm)
    scores = np.concatenate([batch.scores for model, batch in batches if model == "sim-small"])
    simulator = Simulator.from_config(parse_llm_config(llm))
    expected = sorted(simulator.score("sim-small", "Urgent?", f"ticket {i}",
                                      simulator.answer("sim-small", "Urgent?", f"ticket {i}", ["yes", "no"]),
                                      ["yes", "no"]) for i in range(400))
    assert len(scores) > 0 and set(np.round(scores, 12)) <= set(np.round(expected, 12))
    assert all(batch.scores is None for model, batch in batches if model != "sim-small")
