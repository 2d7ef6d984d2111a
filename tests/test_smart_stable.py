"""Stable randomness and free answers in the SMART engine: the row order and the mix intervals are
functions of (seed, input key), cached answers are used without breaking the certificate."""

import asyncio
from collections import Counter

import numpy as np
import pytest

from smart_sql.llm.base import ModelSpec
from smart_sql.smart.engine import ResponseBatch, run_smart
from smart_sql.smart.randomness import RowOrder

REFERENCE = ModelSpec("reference", 30.0, 60.0, reference=True)
CHEAP = ModelSpec("cheap", 1.0, 2.0)
USELESS = ModelSpec("useless", 0.4, 0.4)


class CachedModels:
    """The reference answers 'right'; each candidate is wrong on a fixed set of keys. Answers are
    kept per (model, key) as a response cache would, and every paid answer is recorded."""

    def __init__(self, wrong: dict[str, set[int]]):
        self.wrong = wrong
        self.cache: set[tuple[str, int]] = set()
        self.paid: list[tuple[str, int]] = []

    def callback(self, keys):
        async def answer(model, items):
            picked = [int(keys[i]) for i in items]
            cached = np.array([(model, k) in self.cache for k in picked])
            self.paid += [(model, k) for k, hit in zip(picked, cached) if not hit]
            self.cache.update((model, k) for k in picked)
            answers = ["wrong" if k in self.wrong.get(model, ()) else "right" for k in picked]
            return ResponseBatch(answers, np.full(len(items), 100.0), np.full(len(items), 2.0), cached)
        return answer

    def known(self, models, keys):
        return {m.name: np.array([(m.name, int(k)) in self.cache for k in keys]) for m in models}


def run(models, counts, keys, cached, known=None, **options):
    return asyncio.run(run_smart(counts, models, cached.callback(keys), keys=keys, known=known, **options))


def test_the_row_order_is_uniform_over_the_rows():
    counts = np.array([1, 3, 2])
    orders = Counter(tuple(np.concatenate([o.take(2), o.take(4)]).tolist())
                     for o in (RowOrder(seed, np.arange(3, dtype=np.uint64), counts) for seed in range(6000)))
    assert len(orders) == 60, "every arrangement of the multiset 0 1 1 1 2 2 appears"
    from scipy.stats import chisquare
    assert chisquare(list(orders.values())).pvalue > 1e-3


def test_new_items_do_not_reorder_the_rows_of_the_others():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2 ** 63, 3000, dtype=np.uint64)
    counts = rng.zipf(2.0, 3000).clip(max=200)
    alone = RowOrder(5, keys[:2000], counts[:2000]).take(int(counts[:2000].sum()))
    mixed = RowOrder(5, keys, counts)
    merged = np.concatenate([mixed.take(100), mixed.take(2000), mixed.take(int(counts.sum()))])
    assert np.array_equal(merged[merged < 2000], alone)


def test_the_order_keeps_only_the_rows_drawn_in_memory():
    counts = np.full(10_000, 10_000, dtype=np.int64)
    order = RowOrder(0, np.arange(10_000, dtype=np.uint64), counts)
    order.take(5_000)
    assert order.emitted.sum() <= 20 * 5_000, "of 100 million rows, about the rows drawn are computed"


def test_a_run_whose_reference_answers_are_all_cached_costs_nothing():
    keys = np.arange(3000, dtype=np.uint64) * 7919
    cached = CachedModels({"cheap": set(keys[:200].tolist())})
    counts = np.ones(3000, dtype=np.int64)
    run([REFERENCE], counts, keys, cached, accuracy=0.9)
    cached.paid.clear()
    result = run([REFERENCE, CHEAP, USELESS], counts, keys, cached, known=cached.known([REFERENCE], keys),
                 accuracy=0.9)
    assert cached.paid == []
    account = result.account
    assert account.total_cost == 0 and account.reference_only_cost == 0
    assert account.reference_only_cost_without_cache > 0
    assert account.lower_bound == 1.0 and set(result.answers) == {"right"}


@pytest.mark.parametrize("seed", range(8))
def test_free_candidate_answers_outside_their_group_are_counted_at_their_worst(seed):
    """Every candidate answer is cached and the useless model is wrong everywhere: keeping its free
    answers beyond the slack would break the accuracy; they may only take the slack."""
    rows = 2000
    keys = np.random.default_rng(seed).integers(0, 2 ** 63, rows, dtype=np.uint64)
    cached = CachedModels({"useless": set(keys.tolist())})
    counts = np.ones(rows, dtype=np.int64)
    for model in (CHEAP, USELESS):
        asyncio.run(cached.callback(keys)(model.name, list(range(rows))))
    ladder = [REFERENCE, CHEAP, USELESS]
    result = run(ladder, counts, keys, cached, known=cached.known(ladder, keys), accuracy=0.8, seed=seed)
    realized = np.mean([a == "right" for a in result.answers])
    assert realized >= 0.8 and realized >= result.account.lower_bound - 1e-12
    assert result.account.free_answers_used > 0
    assert not any(model == "useless" and key not in cached.wrong["useless"] for model, key in cached.paid)


def test_a_second_run_pays_for_a_known_input_only_where_its_sample_reaches_further():
    """Adding a third more rows: the mix pays for no input answered before and moves no answer; the
    only known inputs paid are the few the larger run's sample draws beyond the first run's
    (profiled, so answered by the reference), and the guarantee holds over the whole output."""
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 2 ** 63, 4000, dtype=np.uint64)
    cached = CachedModels({"cheap": set(rng.choice(keys, 200, replace=False).tolist())})
    ladder = [REFERENCE, CHEAP, USELESS]
    first = run(ladder, np.ones(3000, dtype=np.int64), keys[:3000], cached, accuracy=0.9)
    cached.paid.clear()
    second = run(ladder, np.ones(4000, dtype=np.int64), keys, cached, known=cached.known(ladder, keys),
                 accuracy=0.9)
    position = {int(k): i for i, k in enumerate(keys)}
    paid_known = {position[k] for _, k in cached.paid if position[k] < 3000}
    assert all(second.models[i] == "reference" for i in paid_known)
    assert len(paid_known) <= 0.02 * 3000
    moved = {i for i in range(3000) if second.answers[i] != first.answers[i]}
    assert moved <= paid_known
    realized = np.mean([a == "right" for a in second.answers])
    assert realized >= 0.9 and realized >= second.account.lower_bound - 1e-12
