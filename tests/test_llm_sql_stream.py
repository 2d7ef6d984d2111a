"""A task's inputs stream from DuckDB and its answers stream back: the same answers as the engine
given every input at once, Python memory bounded by the chunks, no result table after a failure."""

import asyncio
import tracemalloc
from dataclasses import replace

import duckdb
import numpy as np
import pytest

from smart_sql import api
from smart_sql.errors import ModelError
from smart_sql.llm.base import LLMRequest
from smart_sql.llm.config import parse_llm_config
from smart_sql.llm.simulated import SimulatedProvider
from smart_sql.llm_sql import LLMRunner
from smart_sql.plan.items import request_options
from smart_sql.smart.engine import run_smart

LLM = {"provider": "simulated", "seed": 4, "cache": False}
QUERY = "SELECT id, SMART_LLM('Name the topic.', body, accuracy => 0.9) AS topic FROM docs"


def make_docs(conn, rows: int, distinct: int, chars: int = 40) -> None:
    conn.execute(f"CREATE TABLE docs AS SELECT i AS id, left(repeat(md5((i * 7919 % {distinct})::VARCHAR), "
                 f"{chars // 32 + 1}), {chars}) AS body FROM range({rows}) r(i)")


def in_memory(conn, config, task):
    """The task run as the engine is given it all at once: every input, in (prompt, text) order."""
    prompts, texts, counts, keys = zip(*conn.execute(
        f"SELECT prompt, text, n, md5_number_lower(prompt || chr(0) || text) FROM ({task.input_sql}) "
        f"ORDER BY prompt, text").fetchall())
    ladder = [replace(m, reference=m.name == task.options.reference) for m in config.models
              if m.name in task.options.models]
    provider, sent = SimulatedProvider(config), request_options(task.options)

    async def answer(model, indices):
        return await provider.complete([LLMRequest(model, prompts[i], texts[i], sent) for i in indices])

    options = task.options
    result = asyncio.run(run_smart(counts, ladder, answer, accuracy=options.accuracy, confidence=options.confidence,
                                   seed=task.seed, keys=np.array(keys, dtype=np.uint64), method=options.method,
                                   compare=options.compare,
                                   max_invalid_share=options.max_invalid_share))
    return dict(zip(texts, zip(result.answers, result.models))), result.account.to_dict()


def test_streamed_answers_are_those_of_the_engine_given_every_input_at_once():
    conn = duckdb.connect()
    make_docs(conn, rows=30_000, distinct=12_000)
    config = parse_llm_config(LLM)
    result = api.run(conn, QUERY, config)
    (report,) = result.reports
    streamed = dict(conn.execute(f"SELECT __smart_text, (__smart_answer, __smart_model) "
                                 f"FROM {report.task.table}").fetchall())
    expected, account = in_memory(conn, config, report.task)
    assert len(streamed) == 12_000 and streamed == expected
    assert report.account == account
    assert set(report.answers_by_model) == {model for _, model in expected.values()}
    assert len(report.answers_by_model) > 1, "the mix should use a candidate, so that chunks of two models stream"
    by_row = conn.execute(f"SELECT count(*), count(topic) FROM ({result.rewritten_sql})").fetchone()
    assert by_row == (30_000, 30_000)


def test_python_memory_is_bounded_by_the_chunks_not_by_the_inputs():
    conn = duckdb.connect()
    distinct, chars = 200_000, 1000
    make_docs(conn, rows=distinct, distinct=distinct, chars=chars)
    config = parse_llm_config({**LLM, "models": [{"name": "sim-large", "input_price_per_1m": 30.0,
                                                  "output_price_per_1m": 60.0, "reference": True}]})
    tracemalloc.start()
    try:
        result = api.run(conn, QUERY, config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.reports[0].distinct_inputs == distinct
    text_bytes = distinct * chars
    assert peak < 0.3 * text_bytes, f"peak {peak / 2**20:.0f} MiB of Python memory for {text_bytes / 2**20:.0f} MiB of text"


class FailingProvider(SimulatedProvider):
    """Answers the first chunks, then fails."""

    def __init__(self, config, after: int):
        super().__init__(config)
        self.calls, self.after = 0, after

    async def complete(self, requests, on_response=None):
        self.calls += 1
        if self.calls > self.after:
            raise ConnectionError("the server went away")
        return await super().complete(requests, on_response)


def test_a_task_that_fails_half_way_leaves_no_result_table_and_no_inputs():
    conn = duckdb.connect()
    make_docs(conn, rows=20_000, distinct=20_000)
    config = parse_llm_config({**LLM, "models": [{"name": "sim-large", "input_price_per_1m": 30.0,
                                                  "output_price_per_1m": 60.0, "reference": True}]})
    provider = FailingProvider(config, after=2)
    with LLMRunner(config, provider=provider) as runner:
        with pytest.raises(ModelError, match="ConnectionError: the server went away"):
            runner.sql_transform("model_x", QUERY, conn)
        tables = {name for (name,) in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert tables == {"docs", "__smart_llm_model_x_t1"}
        assert conn.execute("SELECT count(*) FROM __smart_llm_model_x_t1").fetchone() == (0,), \
            "the result table is still the empty one the statement was checked against"
    assert provider.calls > 2


def test_inputs_held_in_memory_have_the_keys_duckdb_gives():
    import duckdb

    from smart_sql.llm_inputs import MemoryInputs

    prompts, texts = ["Is it urgent?", "Résumé", ""], ["note ü", "", "x\0y"]
    inputs = MemoryInputs(prompts, texts, [1, 2, 3])
    conn = duckdb.connect()
    expected = [conn.execute("SELECT md5_number_lower(? || chr(0) || ?)", [p, t]).fetchone()[0]
                for p, t in zip(prompts, texts)]
    assert inputs.keys.tolist() == expected
