"""Every way a run can reach the mix keeps the guarantee: realized agreement >= accuracy and >= the
certified lower bound. Each test forces one path with hand-made answers (simulated)."""

import asyncio

import numpy as np
import pytest
from scipy.stats import binom

from smart_sql.llm.base import ModelSpec
from smart_sql.smart import engine
from smart_sql.smart.bounds import checkpoint_schedule
from smart_sql.smart.engine import HEAVY_ITEM_FACTOR, ResponseBatch, run_smart
from smart_sql.smart.simulate import SimulatedAnswers, SimulatedModel
from smart_sql.smart.stopping import StopDecision

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


# Every path that reaches the mix, forced one at a time. A trial fails when the realized agreement
# falls under the accuracy or under the engine's own certified bound; over the seeds the failures
# must stay within what the confidence allows (a one-sided 99.9% binomial margin).

LADDER = [REFERENCE, ModelSpec("cheap", 1.0, 2.0), ModelSpec("mid", 3.0, 6.0), USELESS]


def adversarial(rows, at, below, counts=None, placement="random", seed=0) -> SimulatedAnswers:
    models = [SimulatedModel("reference", 1.0, 100, 2), SimulatedModel("cheap", at, 100, 2),
              SimulatedModel("mid", below, 100, 2), SimulatedModel("useless", 0.0, 100, 2)]
    return SimulatedAnswers(models, rows, seed=seed, exact=True, counts=counts, placement=placement)


def failures_within_confidence(trials, confidence, run_one) -> list:
    results, failed = [], 0
    for seed in range(trials):
        result, answers, counts, accuracy = run_one(seed)
        realized_share = answers.realized_agreement(result.answers, counts)
        failed += realized_share < accuracy or realized_share < result.account.lower_bound - 1e-12
        results.append(result)
    assert failed <= binom.ppf(0.999, trials, 1 - confidence), f"{failed} of {trials} trials failed"
    return results


def stop_at(monkeypatch, checkpoint: int):
    """Make the engine stop profiling at the given checkpoint (0 = before the pilot)."""
    calls = {"n": 0}

    def decide(state, *args, **kwargs):
        position, calls["n"] = calls["n"], calls["n"] + 1
        return StopDecision(position < checkpoint, 0.0, 0.0)

    monkeypatch.setattr(engine, "decide", decide)
    return calls


@pytest.mark.parametrize("checkpoint", [0, 1, 2, 3, 5, 8])
def test_stopping_at_any_checkpoint_keeps_the_guarantee(monkeypatch, checkpoint):
    rows, accuracy, confidence = 1500, 0.9, 0.8

    def run_one(seed):
        stop_at(monkeypatch, checkpoint)
        answers = adversarial(rows, accuracy, accuracy - 0.02, seed=seed)
        result = asyncio.run(run_smart(np.ones(rows, np.int64), LADDER, answers, accuracy=accuracy,
                                       confidence=confidence, seed=seed))
        return result, answers, None, accuracy

    results = failures_within_confidence(20, confidence, run_one)
    schedule = checkpoint_schedule(rows)
    expected = 0 if checkpoint == 0 else int(schedule[checkpoint - 1])
    assert {r.account.rows_profiled for r in results} == {expected}


def test_candidates_that_never_agree_are_rejected_or_only_take_the_slack():
    rows, accuracy = 2000, 0.7

    def run_one(seed):
        answers = adversarial(rows, 0.0, 0.0, seed=seed)
        result = asyncio.run(run_smart(np.ones(rows, np.int64), LADDER, answers, accuracy=accuracy,
                                       confidence=0.9, seed=seed))
        return result, answers, None, accuracy

    for result in failures_within_confidence(10, 1.0 - 1e-9, run_one):
        assert all(c.decision != "accepted" and c.lower_bound == 0.0 for c in result.account.candidates)
        assert result.models.count("reference") >= accuracy * rows


def test_every_candidate_accepted_and_the_cheapest_takes_the_rows():
    rows, accuracy = 5000, 0.9

    def run_one(seed):
        answers = adversarial(rows, 1.0, 1.0, seed=seed)
        result = asyncio.run(run_smart(np.ones(rows, np.int64), LADDER[:3], answers, accuracy=accuracy,
                                       confidence=0.9, seed=seed))
        return result, answers, None, accuracy

    for result in failures_within_confidence(5, 0.9, run_one):
        assert {c.model: c.decision for c in result.account.candidates}["cheap"] == "accepted"
        assert result.models.count("cheap") > 0.8 * rows


@pytest.mark.parametrize("placement", ["heaviest", "lightest"])
def test_weighted_rows_with_the_disagreements_on_the_heavy_or_the_light_items(placement):
    items, accuracy, confidence = 3000, 0.9, 0.8
    counts = np.random.default_rng(7).zipf(1.6, items).clip(max=5000)

    def run_one(seed):
        answers = adversarial(items, accuracy, accuracy - 0.03, counts=counts, placement=placement, seed=seed)
        result = asyncio.run(run_smart(counts, LADDER, answers, accuracy=accuracy, confidence=confidence,
                                       seed=seed))
        return result, answers, counts, accuracy

    for result in failures_within_confidence(20, confidence, run_one):
        heavy = np.flatnonzero(~result_profiled(result) & (counts > HEAVY_ITEM_FACTOR * counts.mean()))
        assert all(result.models[i] == "reference" for i in heavy)


def result_profiled(result) -> np.ndarray:
    return np.array([m == "reference" for m in result.models])


def test_single_uses_at_most_one_cheaper_model_and_keeps_the_guarantee():
    rows, accuracy, confidence = 4000, 0.85, 0.8

    def run_one(seed):
        answers = adversarial(rows, 0.9, 0.88, seed=seed)
        result = asyncio.run(run_smart(np.ones(rows, np.int64), LADDER, answers, accuracy=accuracy,
                                       confidence=confidence, seed=seed, method="single"))
        return result, answers, None, accuracy

    for result in failures_within_confidence(15, confidence, run_one):
        assert len(set(result.models) - {"reference"}) <= 1


@pytest.mark.parametrize("accuracy", [0.99, 0.999])
def test_an_owed_rate_reaching_one_falls_back_to_the_reference(accuracy):
    rows, confidence = 3000, 0.9

    def run_one(seed):
        answers = adversarial(rows, accuracy, accuracy - 0.005, seed=seed)
        result = asyncio.run(run_smart(np.ones(rows, np.int64), LADDER, answers, accuracy=accuracy,
                                       confidence=confidence, seed=seed))
        return result, answers, None, accuracy

    failures_within_confidence(10, confidence, run_one)
