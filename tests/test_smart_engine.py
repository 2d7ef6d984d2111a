import asyncio
from collections import Counter
import subprocess
import sys

import numpy as np
import pytest

from smart_sql.llm.base import LLMResponse, ModelSpec
from smart_sql.smart.engine import SmartProgress, run_smart
from smart_sql.smart.simulate import SimulatedAnswers, SimulatedModel

LADDER = [ModelSpec("big", 30.0, 60.0, reference=True), ModelSpec("small", 1.0, 2.0), ModelSpec("tiny", 0.4, 0.4)]


def simulated(small: float, tiny: float = 0.0, items: int = 1000, seed: int = 0) -> SimulatedAnswers:
    return SimulatedAnswers([SimulatedModel("big", 1.0, 100, 2), SimulatedModel("small", small, 100, 2),
                             SimulatedModel("tiny", tiny, 100, 2)], items, seed=seed)


def run(answers, items, **options):
    options.setdefault("accuracy", 0.9)
    return asyncio.run(run_smart(options.pop("counts", np.ones(items, dtype=np.int64)), LADDER, answers, **options))


def decision(result, model):
    return next(c for c in result.account.candidates if c.model == model)


def test_a_tiny_table_goes_straight_to_the_reference():
    answers = simulated(1.0, items=25)
    result = run(answers, 25)
    assert result.account.items_profiled == 0
    assert result.account.usage["small"].calls == 0
    assert result.models.count("big") >= 0.9 * 25
    assert answers.realized_agreement(result.answers) >= 0.9


def test_a_perfect_cheap_model_is_accepted_after_a_short_profile():
    answers = simulated(1.0, items=20_000)
    result = run(answers, 20_000)
    assert decision(result, "small").decision == "accepted"
    assert result.account.items_profiled <= 300
    assert result.models.count("small") > 0.9 * 20_000
    assert result.account.savings > 10


def test_a_useless_model_is_rejected_quickly():
    result = run(simulated(0.97, tiny=0.0, items=5000), 5000)
    tiny = decision(result, "tiny")
    assert tiny.decision == "rejected"
    assert tiny.profiled_rows <= 50


def test_same_seed_same_run_and_another_seed_another_sample():
    first = run(simulated(0.95, items=3000, seed=1), 3000, seed=5)
    again = run(simulated(0.95, items=3000, seed=1), 3000, seed=5)
    other = run(simulated(0.95, items=3000, seed=1), 3000, seed=6)
    assert first.answers == again.answers and first.models == again.models
    assert first.account.to_dict() == again.account.to_dict()
    assert first.models != other.models


def test_the_account_adds_up():
    items = 4000
    result = run(simulated(0.96, items=items), items)
    account = result.account
    per_item = {m.name: m.cost(100, 2) for m in LADDER}
    for name, usage in account.usage.items():
        assert usage.cost == pytest.approx(usage.calls * per_item[name])
        assert usage.input_tokens == 100 * usage.calls
    assert account.usage["big"].calls == result.models.count("big") >= account.items_profiled
    for name in ("small", "tiny"):
        assert account.usage[name].calls == result.models.count(name) + decision(result, name).profiled_rows
    assert account.total_cost == pytest.approx(sum(u.cost for u in account.usage.values()))
    profiled_calls = {name: account.items_profiled if name == "big" else decision(result, name).profiled_rows
                      for name in per_item}
    assert account.profiling_cost == pytest.approx(sum(per_item[n] * calls for n, calls in profiled_calls.items()))
    assert account.reference_only_cost == pytest.approx(items * per_item["big"])
    assert account.savings == pytest.approx(account.reference_only_cost / account.total_cost)
    assert sum(account.mix_shares.values()) == pytest.approx(1.0)
    assert account.lower_bound >= 0.9
    assert all(answer is not None for answer in result.answers)
    data = account.to_dict()
    assert data["total_cost"] == pytest.approx(account.total_cost) and data["items"] == items


def test_no_items_no_calls():
    result = run(simulated(1.0, items=1), 0)
    assert result.answers == [] and result.models == []
    assert result.account.total_cost == 0 and result.account.items == 0


def test_every_item_is_answered_by_the_model_named_and_left_items_only_once():
    items = 2000
    calls = []
    answers = simulated(0.95, items=items)

    async def recording(model, indices):
        calls.append((model, list(indices)))
        return await answers(model, indices)

    result = run(recording, items)
    asked = {(model, index) for model, indices in calls for index in indices}
    assert all((model, index) in asked for index, model in enumerate(result.models))
    times_asked = Counter(index for _, indices in calls for index in indices)
    assert len(times_asked) == items
    assert sum(1 for n in times_asked.values() if n == 1) == items - result.account.items_profiled
    assert len(calls) < 60


def test_cached_answers_cost_nothing():
    async def half_cached(model, indices):
        return [LLMResponse("yes", 100, 2, cached=i % 2 == 0) for i in indices]

    result = run(half_cached, 200, method="reference")
    usage = result.account.usage["big"]
    assert usage.calls == 200 and usage.cached_calls == 100
    assert usage.cost == pytest.approx(100 * LADDER[0].cost(100, 2))
    assert result.account.reference_only_cost == pytest.approx(200 * LADDER[0].cost(100, 2))


def test_rows_count_not_items():
    items = 3000
    counts = np.ones(items, dtype=np.int64)
    counts[:5] = 2000
    answers = simulated(0.9, items=items, seed=2)
    answers.agrees["small"][:5] = False
    result = run(answers, items, counts=counts, seed=3)
    assert result.account.rows == int(counts.sum())
    assert answers.realized_agreement(result.answers, counts) >= 0.9
    assert all(model == "big" for model in result.models[:5])


@pytest.mark.parametrize("options", [{"method": "reference"}, {"accuracy": 1.0}])
def test_reference_everywhere_when_asked(options):
    result = run(simulated(1.0, items=500), 500, **options)
    assert set(result.models) == {"big"}
    assert result.account.items_profiled == 0
    assert result.account.lower_bound == 1.0


def test_single_uses_one_cheaper_model_at_most():
    result = run(simulated(0.97, items=20_000), 20_000, method="single")
    assert set(result.models) <= {"big", "small"}


def test_labels_decide_agreement():
    async def wordy(model, indices):
        text = "Positive." if model == "big" else "The sentiment is positive"
        return [LLMResponse(text, 10, 1) for _ in indices]

    with_labels = run(wordy, 20_000, labels=["positive", "negative"])
    without = run(wordy, 20_000)
    assert decision(with_labels, "small").decision == "accepted"
    assert decision(without, "small").agreeing_rows == 0


def test_progress_is_reported_in_few_events():
    events = []
    run(simulated(0.95, items=5000), 5000, progress=events.append)
    assert all(isinstance(e, SmartProgress) for e in events)
    assert events[0].phase == "profiling" and events[-1].phase == "done"
    assert any(e.phase == "answering" for e in events) and len(events) < 40


def test_the_guarantee_holds_on_most_seeds_when_the_candidate_sits_at_the_target():
    failures = 0
    for seed in range(25):
        answers = simulated(0.9, items=2000, seed=seed)
        result = run(answers, 2000, seed=seed, confidence=0.9)
        failures += answers.realized_agreement(result.answers) < 0.9
        assert result.account.lower_bound >= 0.9
    assert failures <= 6


@pytest.mark.parametrize("models, message", [
    ([ModelSpec("a", 1, 1)], "exactly one model must be the reference"),
    ([ModelSpec("a", 1, 1, reference=True), ModelSpec("b", 1, 1, reference=True)], "exactly one"),
])
def test_ladders_without_one_reference_are_refused(models, message):
    with pytest.raises(ValueError, match=message):
        asyncio.run(run_smart([1, 1], models, simulated(1.0, items=2), accuracy=0.9))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="accuracy"):
        run(simulated(1.0, items=2), 2, accuracy=1.5)
    with pytest.raises(ValueError, match="method"):
        run(simulated(1.0, items=2), 2, method="cheapest")
    with pytest.raises(ValueError, match="counts"):
        run(simulated(1.0, items=2), 2, counts=[1, 0])


def test_a_plain_import_does_not_load_scipy():
    code = "import sys, smart_sql.smart.engine, smart_sql.smart.simulate; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_row_guarantee_holds_with_repeated_items():
    failures = 0
    for seed in range(15):
        counts = np.random.default_rng(seed).integers(1, 5, size=2000)
        answers = simulated(0.9, items=2000, seed=seed)
        result = run(answers, 2000, counts=counts, seed=seed, confidence=0.9)
        assert result.account.rows == counts.sum() and result.account.lower_bound >= 0.9
        failures += answers.realized_agreement(result.answers, counts) < 0.9
    assert failures <= 4
