"""The engine records where profiling stood at each checkpoint, for the report, without changing a decision."""

import asyncio

import numpy as np

from smart_sql.llm.base import ModelSpec
from smart_sql.smart.engine import run_smart
from smart_sql.smart.simulate import SimulatedAnswers, SimulatedModel

LADDER = [ModelSpec("big", 30.0, 60.0, reference=True), ModelSpec("small", 1.0, 2.0), ModelSpec("tiny", 0.4, 0.4)]


def run(items: int, small: float, tiny: float, progress=None):
    answers = SimulatedAnswers([SimulatedModel("big", 1.0, 100, 2), SimulatedModel("small", small, 100, 2),
                                SimulatedModel("tiny", tiny, 100, 2)], items, seed=3)
    return asyncio.run(run_smart(np.ones(items, dtype=np.int64), LADDER, answers, accuracy=0.9, seed=7,
                                 progress=progress))


def test_each_checkpoint_holds_the_rows_profiled_cost_and_each_open_candidates_interval():
    events = []
    result = run(5000, small=0.95, tiny=0.5, progress=events.append)
    checkpoints = result.account.checkpoints
    assert len(checkpoints) >= 3
    assert [c.rows_profiled for c in checkpoints] == sorted({c.rows_profiled for c in checkpoints})
    assert checkpoints[-1].items_profiled == result.account.items_profiled
    assert checkpoints[-1].cost == result.account.profiling_cost
    for candidate in result.account.candidates:
        seen = [c for c in checkpoints if candidate.model in c.candidates]
        last = seen[-1].candidates[candidate.model]
        assert seen[-1].rows_profiled == candidate.profiled_rows
        assert (last["lower"], last["upper"], last["decision"]) == (candidate.lower_bound, candidate.upper_bound,
                                                                    candidate.decision)
        assert all(0 <= c.candidates[candidate.model]["lower"] <= c.candidates[candidate.model]["upper"] <= 1
                   for c in seen)
    assert [e.checkpoint for e in events if e.checkpoint is not None] == checkpoints

