"""The engine asks its answer callback a chunk at a time and can hand final answers to a sink."""

import asyncio

import numpy as np
import pytest

from smart_sql.llm.base import ModelSpec
from smart_sql.smart import engine
from smart_sql.smart.engine import run_smart
from smart_sql.smart.simulate import SimulatedAnswers, SimulatedModel

LADDER = [ModelSpec("big", 30.0, 60.0, reference=True), ModelSpec("small", 1.0, 2.0), ModelSpec("tiny", 0.4, 0.4)]

ITEMS = 30_000


def answers() -> SimulatedAnswers:
    return SimulatedAnswers([SimulatedModel("big", 1.0, 100, 2), SimulatedModel("small", 0.97, 100, 2),
                             SimulatedModel("tiny", 0.5, 100, 2)], ITEMS, seed=3)


def run(callback, **options):
    counts = np.random.default_rng(5).integers(1, 4, ITEMS)
    return asyncio.run(run_smart(counts, LADDER, callback, accuracy=0.9, seed=11, **options))


class Recording:
    """The simulated answers, with the size of every call recorded."""

    def __init__(self):
        self.inner = answers()
        self.sizes: list[int] = []

    async def __call__(self, model, items):
        self.sizes.append(len(items))
        return await self.inner(model, items)


def test_asking_in_chunks_gives_the_answers_and_account_of_one_call_per_model(monkeypatch):
    chunk = engine.ASK_CHUNK
    chunked = Recording()
    in_chunks = run(chunked)
    monkeypatch.setattr(engine, "ASK_CHUNK", 10 * ITEMS)
    whole = Recording()
    at_once = run(whole)
    assert max(chunked.sizes) == chunk < max(whole.sizes)
    assert in_chunks.answers == at_once.answers and in_chunks.models == at_once.models
    assert in_chunks.account.to_dict() == at_once.account.to_dict()
    assert set(in_chunks.models) >= {"big", "small"}


def test_a_sink_receives_every_final_answer_once_and_the_result_holds_none():
    received: dict[int, tuple[str, str]] = {}

    async def sink(items, values, model):
        for item, value in zip(items.tolist(), values):
            assert item not in received
            received[item] = (value, model)

    streamed = run(answers(), on_answers=sink)
    kept = run(answers())
    assert streamed.answers is None and streamed.models is None
    assert [received[i] for i in range(ITEMS)] == list(zip(kept.answers, kept.models))
    assert streamed.account.to_dict() == kept.account.to_dict()


def test_a_failing_chunk_starts_no_other_and_waits_for_those_in_flight():
    started, finished = [], []

    async def failing(model, items):
        started.append(len(items))
        if len(started) == 3:
            raise RuntimeError("the server went away")
        await asyncio.sleep(0.01)
        finished.append(len(items))
        return await answers()(model, items)

    with pytest.raises(RuntimeError, match="went away"):
        asyncio.run(run_smart(np.ones(ITEMS, dtype=np.int64), LADDER, failing, accuracy=1.0))
    assert len(started) == 3 < engine.CHUNKS_IN_FLIGHT < -(-ITEMS // engine.ASK_CHUNK)
    assert len(finished) == 2
