"""Which cascade to run, and how many rows to sample per model: planned from the pilot alone.

The pilot's rows, with every candidate's score and agreement, stand in for the table. For a
ladder (cheapest model first), a sample share and a budget share per model, `SIMULATIONS` runs
are simulated: each resamples the pilot (bootstrap), draws the sample each model would get (how
many sampled rows fall next to each pilot row, and how many of them disagree) and walks the
thresholds as the real test does (a Wilson bound in place of the exact one). The plan is the
cheapest on average, with the same random draws for every plan compared. Only pilot data enters,
so nothing here touches the guarantee; it steers the cost.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from smart_sql.smart.bounds import approximate_upper_rate

SAMPLE_SHARES = ((0.005, 0.01, 0.02, 0.05, 0.1, 0.2), (0.01, 0.03, 0.1))
"""Sample sizes tried per model, as shares of the rows that reach it: for one model, for several."""
BUDGET_SHARES = (0.5, 0.7, 0.85, 0.95)
"""Shares of the disagreements still allowed that a model other than the last may spend."""
SIMULATIONS = 24
MIN_SAMPLE = 40
"""Fewest rows sampled per model."""
PRIOR_ROWS = 1.0
"""A pilot row stands for rows that disagree as it does, but for this many pilot rows' worth spread
over them at the model's rate over the region: a pilot that saw no disagreement near a score is
not proof of none."""


@dataclass(frozen=True)
class CascadePlan:
    ladder: tuple[int, ...]
    """Models in the order they answer, cheapest first (the reference is not in it: it answers last)."""
    samples: tuple[float, ...]
    """Share of the rows reaching each model to sample for its threshold (see `sample_rows`)."""
    budget_shares: tuple[float, ...]
    """Share of the disagreements still allowed that each model may spend (the last one: all)."""
    expected_cost: float
    """Expected cost of answering the items left (the pilot excluded)."""


@dataclass(frozen=True)
class PilotEvidence:
    """Per candidate, over the pilot's rows (with repeats): scores and agreement with the reference."""

    scores: np.ndarray
    agrees: np.ndarray


def plan_cascade(costs: np.ndarray, reference: int, scored: list[int], pilot: PilotEvidence, *, items_left: int,
                 rows_left: int, total_rows: int, accuracy: float, error: float, seed: int = 0) -> CascadePlan | None:
    """The cheapest cascade over ordered subsets of the scored candidates cheaper than the
    reference, with its sample and budget shares; None when no candidate is cheaper than the reference."""
    usable = sorted((i for i in scored if costs[i] < costs[reference]), key=lambda i: costs[i])
    if not usable or rows_left == 0:
        return None
    best: CascadePlan | None = None
    for size in range(1, len(usable) + 1):
        for ladder in itertools.combinations(usable, size):
            level = error / len(ladder)
            for shares in itertools.product(SAMPLE_SHARES[size > 1], repeat=size):
                for spend in itertools.product(BUDGET_SHARES, repeat=size - 1):
                    cost = _expected_cost(costs, reference, ladder, shares, (*spend, 1.0), pilot, items_left,
                                          rows_left, total_rows, accuracy, level, np.random.default_rng(seed))
                    if best is None or cost < best.expected_cost:
                        best = CascadePlan(ladder, shares, (*spend, 1.0), cost)
    return best


def sample_rows(share: float, region_rows):
    """Rows to sample out of a model's region for a planned share."""
    return np.minimum(np.maximum(MIN_SAMPLE, np.round(share * np.asarray(region_rows, dtype=float))),
                      np.asarray(region_rows, dtype=float) // 2).astype(np.int64)


def _expected_cost(costs, reference, ladder, shares, spend, pilot: PilotEvidence, items_left, rows_left,
                   total_rows, accuracy, level, rng: np.random.Generator) -> float:
    rows = pilot.scores.shape[1]
    picked = rng.integers(0, rows, (SIMULATIONS, rows))
    items_per_row = items_left / rows_left
    reaching = np.ones((SIMULATIONS, rows), dtype=bool)
    unsampled = np.ones(SIMULATIONS)
    """Share of the rows under the thresholds so far that no sample drew (the drawn ones are the reference's)."""
    budget = np.full(SIMULATIONS, np.floor((1 - accuracy) * total_rows))
    cost = np.zeros(SIMULATIONS)
    for model, share, budget_share in zip(ladder, shares, spend):
        region_rows = rows_left * reaching.mean(axis=1) * unsampled
        sample = np.where(region_rows >= 1, sample_rows(share, region_rows), 0)
        cost += (costs[model] * region_rows + costs[reference] * sample) * items_per_row
        accepted, used = _simulated_threshold(pilot.scores[model][picked], pilot.agrees[model][picked], reaching,
                                              region_rows, sample, np.floor(budget * budget_share), level, rng)
        budget -= used
        reaching &= ~accepted
        unsampled *= 1 - sample / np.maximum(region_rows, 1.0)
    cost += costs[reference] * rows_left * reaching.mean(axis=1) * unsampled * items_per_row
    return float(cost.mean())


def _simulated_threshold(scores, agrees, reaching, region_rows, sample, allowed, level, rng):
    """Per simulation: the pilot rows the model keeps, and the disagreements certified for them."""
    simulations, rows = scores.shape
    reach_count = np.maximum(reaching.sum(axis=1), 1)
    ranked_scores = np.where(reaching, scores, -np.inf)
    order = np.argsort(-ranked_scores, axis=1, kind="stable")
    ranked = np.take_along_axis(ranked_scores, order, axis=1)
    inside = np.take_along_axis(reaching, order, axis=1)
    wrong = ~np.take_along_axis(agrees, order, axis=1) & inside
    base = wrong.sum(axis=1, keepdims=True) / reach_count[:, None]
    spread = np.minimum(PRIOR_ROWS / reach_count, 1.0)[:, None]
    rate = (1 - spread) * wrong + spread * base
    drawn = rng.poisson(np.where(inside, (sample / reach_count)[:, None], 0.0))
    seen = rng.binomial(drawn, rate)
    draws, disagreements = np.cumsum(drawn, axis=1), np.cumsum(seen, axis=1)
    population = np.arange(1, rows + 1)[None, :] * (region_rows / reach_count)[:, None]
    bound = approximate_upper_rate(draws, disagreements, level) * population
    passes = (bound <= allowed[:, None]) | (population <= allowed[:, None])
    boundary = np.append(ranked[:, 1:] < ranked[:, :-1], np.ones((simulations, 1), dtype=bool), axis=1) & inside
    failed = boundary & ~passes
    first_failure = np.where(failed.any(axis=1), failed.argmax(axis=1), rows)
    last_pass = np.where(boundary & (np.arange(rows)[None, :] < first_failure[:, None]), np.arange(rows)[None, :], -1)
    chosen = last_pass.max(axis=1)
    kept_sorted = np.arange(rows)[None, :] <= chosen[:, None]
    accepted = np.zeros_like(reaching)
    np.put_along_axis(accepted, order, kept_sorted & inside, axis=1)
    corrected = np.where(chosen >= 0, np.take_along_axis(disagreements, np.maximum(chosen, 0)[:, None], axis=1)[:, 0], 0)
    used = np.where(chosen >= 0, allowed - corrected, 0.0)
    return accepted, used
