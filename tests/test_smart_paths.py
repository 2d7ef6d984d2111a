"""Every way a run can reach the mix keeps the guarantee: realized agreement >= accuracy and >= the
certified lower bound. Each test forces one path with hand-made answers (simulated)."""

import asyncio

import numpy as np
import pytest

from smart_sql.llm.base import ModelSpec
from smart_sql.smart.engine import ResponseBatch, run_smart

REFERENCE = ModelSpec("reference", 30.0, 60.0, reference=True)
USELESS = ModelSpec("useless", 0.4, 0.4)


def always_wrong(candidate_names):
    async def answer(model, items):
        text = "wrong" if model in candidate_names else "right"
        return ResponseBatch([text] * len(items), np.full(len(items), 100.0), np.full(len(items), 2.0),
                             np.zeros(len(items), bool))
    return answer


def realized(result) -> float:
    return float(np.mean([a == "right" for a in result.answers])) if result.answers else 1.0


@pytest.mark.parametrize("rows, accuracy", [(100, 0.2), (60, 0.5), (100, 0.5), (1000, 0.05), (3000, 0.01),
                                            (60, 0.8)])
def test_a_run_that_does_not_profile_credits_no_unchecked_row(rows, accuracy):
    for seed in range(5):
        result = asyncio.run(run_smart(np.ones(rows, np.int64), [REFERENCE, USELESS], always_wrong({"useless"}),
                                       accuracy=accuracy, confidence=0.9, seed=seed))
        assert realized(result) >= accuracy
        assert realized(result) >= result.account.lower_bound - 1e-12


@pytest.mark.parametrize("rows, accuracy", [(100, 0.2), (3000, 0.01)])
def test_without_profiling_a_candidate_only_takes_the_slack(rows, accuracy):
    result = asyncio.run(run_smart(np.ones(rows, np.int64), [REFERENCE, USELESS], always_wrong({"useless"}),
                                   accuracy=accuracy, confidence=0.9, seed=0))
    assert result.account.stopped_because == "table too small to repay profiling"
    assert result.account.items_profiled == 0
    assert result.models.count("reference") >= accuracy * rows
