"""The cascade: certified score thresholds, routing down the ladder, the fallback to the mix, and
failure rates on adversarial score distributions."""

import asyncio

import numpy as np
import pytest
from scipy.stats import binom, hypergeom

from smart_sql.llm.base import ModelSpec
from smart_sql.smart.engine import ResponseBatch, run_smart
from smart_sql.smart.simulate import SimulatedAnswers, SimulatedModel
from smart_sql.smart.thresholds import exceedance_p_value, fixed_sequence_threshold

LADDER = [ModelSpec("reference", 30.0, 60.0, reference=True), ModelSpec("cheap", 1.0, 2.0),
          ModelSpec("mid", 3.0, 6.0)]


@pytest.mark.parametrize("population,draws,seen,allowed", [(50, 10, 2, 7), (1000, 80, 0, 30), (300, 120, 9, 20)])
def test_exceedance_p_value_is_the_exact_hypergeometric_tail(population, draws, seen, allowed):
    at_null = hypergeom(population, allowed + 1, draws)
    below = sum(at_null.pmf(d) for d in range(seen))
    assert exceedance_p_value(population, draws, seen, allowed) == pytest.approx(below + at_null.pmf(seen), rel=1e-9)
    assert exceedance_p_value(population, draws, seen, allowed, 0.25) == pytest.approx(
        below + 0.25 * at_null.pmf(seen), rel=1e-9)


@pytest.mark.parametrize("population,draws,allowed", [(60, 15, 5), (400, 40, 30)])
def test_randomized_test_rejects_a_true_null_with_exactly_its_level(population, draws, allowed):
    level = 0.05
    at_null = hypergeom(population, allowed + 1, draws)
    rejection = 0.0
    for seen in range(draws + 1):
        below = sum(at_null.pmf(d) for d in range(seen))
        mass = at_null.pmf(seen)
        # p = below + V * mass <= level for V uniform on [0, 1]
        chance = 1.0 if below + mass <= level else max(0.0, (level - below) / mass) if mass else 0.0
        rejection += mass * min(chance, 1.0)
    assert rejection == pytest.approx(level, abs=1e-9)
    # a null further in (more disagreements) is rejected less often
    further = hypergeom(population, allowed + 5, draws)
    rate = sum(further.pmf(s) * min(1.0, max(0.0, (level - exceedance_p_value(population, draws, s, allowed, 0.0))
                                              / max(hypergeom.pmf(s, population, allowed + 1, draws), 1e-300)))
               for s in range(draws + 1))
    assert rate < level


def test_fixed_sequence_stops_at_the_first_threshold_not_rejected():
    scores = np.array([0.9] * 40 + [0.6] * 40 + [0.3] * 40)
    weights = np.ones(120, dtype=np.int64)
    sampled = np.zeros(120, dtype=np.int64)
    sampled[::2] = 1
    wrong = np.zeros(120, dtype=np.int64)
    wrong[80::2] = 1  # every sampled row under 0.6 disagrees
    test = fixed_sequence_threshold(scores, weights, sampled, wrong, 10, 0.05,
                                    grid=np.array([0.9, 0.6, 0.3]))
    assert test.threshold == 0.6
    assert list(test.population) == [40, 80, 120] and list(test.draws) == [20, 40, 60]
    assert list(test.disagreements) == [0, 0, 20]
    assert test.p_values[2] > 0.05 >= test.p_values[1]
    nothing = fixed_sequence_threshold(scores, weights, sampled, np.where(sampled > 0, 1, 0), 1,
                                       0.05, grid=np.array([0.9, 0.6, 0.3]))
    assert nothing.chosen == -1 and nothing.threshold == float("inf") and len(nothing.p_values) == 1


class HandMade:
    """cheap is right on items 0-1999 (score 0.9) and wrong on 2000-2999 (score 0.1); mid is right
    on 2000-2999 (score 0.9) and wrong on 0-1999 (score 0.2)."""

    def __init__(self, items: int = 3000):
        index = np.arange(items)
        self.right = {"reference": np.ones(items, bool), "cheap": index < 2000, "mid": index >= 2000}
        self.scores = {"reference": None, "cheap": np.where(index < 2000, 0.9, 0.1),
                       "mid": np.where(index >= 2000, 0.9, 0.2)}

    async def __call__(self, model, items):
        items = np.asarray(items)
        answers = np.where(self.right[model][items], "yes", "no").tolist()
        scores = None if self.scores[model] is None else self.scores[model][items]
        return ResponseBatch(answers, np.full(len(items), 100), np.full(len(items), 1),
                             np.zeros(len(items), bool), scores=scores)


def test_rows_go_down_a_three_model_ladder_by_score():
    answers = HandMade()
    result = asyncio.run(run_smart(np.ones(3000, dtype=np.int64), LADDER, answers, accuracy=0.95, confidence=0.9,
                                   method="cascade"))
    account, models = result.account, np.array(result.models)
    assert account.method_used == "cascade"
    assert [level.model for level in account.cascade_levels] == ["cheap", "mid"]
    assert [level.threshold for level in account.cascade_levels] == [0.9, 0.9]
    assert set(models[:2000]) <= {"cheap", "reference"} and set(models[2000:]) <= {"mid", "reference"}
    assert np.mean(models[:2000] == "cheap") > 0.7 and np.mean(models[2000:] == "mid") > 0.7
    assert all(answer == "yes" for answer in result.answers)
    assert account.row_shares["cheap"] == pytest.approx(np.mean(models == "cheap"))
    assert account.lower_bound >= 0.95
    assert account.total_cost < 0.3 * account.reference_only_cost


def test_models_without_scores_fall_back_to_the_mix():
    models = [SimulatedModel("reference", 1.0, 100, 1), SimulatedModel("cheap", 0.95, 100, 1),
              SimulatedModel("mid", 0.97, 100, 1)]
    answers = SimulatedAnswers(models, 3000, seed=1, exact=True)
    result = asyncio.run(run_smart(np.ones(3000, dtype=np.int64), LADDER, answers, accuracy=0.9, confidence=0.9,
                                   method="cascade", seed=1))
    assert result.account.method_used == "mix"
    assert "no candidate model gave confidence scores" in result.account.method_reason
    assert result.account.cascade_levels == [] and result.account.mix_shares
    assert answers.realized_agreement(result.answers) >= 0.9


def test_only_the_scored_models_enter_the_cascade():
    models = [SimulatedModel("reference", 1.0, 100, 1), SimulatedModel("cheap", 0.85, 100, 1, "sharp"),
              SimulatedModel("mid", 0.95, 100, 1)]
    answers = SimulatedAnswers(models, 3000, seed=2, exact=True)
    result = asyncio.run(run_smart(np.ones(3000, dtype=np.int64), LADDER, answers, accuracy=0.9, confidence=0.9,
                                   method="cascade", seed=2))
    assert result.account.method_used == "cascade"
    assert [level.model for level in result.account.cascade_levels] == ["cheap"]
    assert "mid" not in result.models


TRIALS = 40


@pytest.mark.parametrize("scores,method,zipf", [("anti", "cascade", False), ("miscalibrated", "cascade", True),
                                                ("position", "auto", False), ("length", "cascade", True)])
def test_failure_rate_on_adversarial_scores_stays_within_the_error(scores, method, zipf):
    confidence, accuracy, failures, certificate_failures = 0.8, 0.9, 0, 0
    for seed in range(TRIALS):
        counts = (np.random.default_rng(seed).zipf(2.0, 400).clip(max=50) if zipf
                  else np.ones(400, dtype=np.int64))
        models = [SimulatedModel("reference", 1.0, 100, 1), SimulatedModel("cheap", accuracy, 100, 1, scores),
                  SimulatedModel("mid", accuracy - 0.01, 100, 1, scores)]
        answers = SimulatedAnswers(models, 400, seed=seed, exact=True, counts=counts)
        result = asyncio.run(run_smart(counts, LADDER, answers, accuracy=accuracy, confidence=confidence,
                                       method=method, seed=seed))
        realized = answers.realized_agreement(result.answers, counts)
        failures += realized < accuracy
        certificate_failures += realized < result.account.lower_bound - 1e-12
    limit = binom.ppf(0.999, TRIALS, 1 - confidence)
    assert failures <= limit and certificate_failures <= limit


def test_a_cascade_hands_every_final_answer_to_the_sink_once():
    received: dict[int, tuple[str, str]] = {}

    async def sink(items, values, model):
        for item, value in zip(items.tolist(), values):
            assert item not in received
            received[item] = (value, model)

    def run(**sink_option):
        return asyncio.run(run_smart(np.ones(3000, dtype=np.int64), LADDER, HandMade(), accuracy=0.95,
                                     confidence=0.9, method="cascade", **sink_option))

    streamed, kept = run(on_answers=sink), run()
    assert streamed.account.method_used == kept.account.method_used == "cascade"
    assert [received[i] for i in range(3000)] == list(zip(kept.answers, kept.models))
    assert streamed.account.to_dict() == kept.account.to_dict()
