"""Which cascade to run, and how many rows to sample per model: planned from the pilot alone.

The pilot's rows, with every candidate's score and agreement, stand in for the table. For a
ladder (cheapest model first) and a sample size per model, the rows are routed down the ladder
as the certified thresholds would route them, with the threshold each model would reach estimated
by the same test on the expected sample (a Wilson bound in place of the exact one). Only pilot data
enters, so nothing here touches the guarantee; it steers the cost.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from smart_sql.smart.bounds import approximate_upper_rate

SAMPLE_SHARES = ((0.01, 0.02, 0.05, 0.1, 0.2, 0.35), (0.02, 0.05, 0.15))
"""Sample sizes tried per model, as shares of the rows that reach it: for one model, for several."""
BUDGET_SHARES = (0.5, 0.7, 0.85, 0.95)
"""Shares of the disagreements still allowed that a model other than the last may spend."""
RESAMPLES = 32
"""Bootstrap resamples of the pilot over which the chosen plan's cost is averaged (`robust_cost`)."""
MIN_SAMPLE = 100
"""Fewest rows sampled per model: with fewer, the thresholds follow the sample's noise more than the scores."""
PRIOR_ROWS = 1.0
"""Pseudo-rows at the model's disagreement rate over the whole region, added to the rate estimated
above each threshold: a pilot that saw no disagreement above it is not proof of none."""


@dataclass(frozen=True)
class CascadePlan:
    ladder: tuple[int, ...]
    """Models in the order they answer, cheapest first (the reference is not in it: it answers last)."""
    samples: tuple[float, ...]
    """Share of the rows reaching each model to sample for its threshold (see `sample_rows`)."""
    budget_shares: tuple[float, ...]
    """Share of the disagreements still allowed that each model may spend (the last one: all)."""
    expected_cost: float
    """Expected cost of answering the items left (the pilot excluded), on the pilot as it is."""


@dataclass(frozen=True)
class PilotEvidence:
    """Per candidate, over the pilot's rows (with repeats): scores and agreement with the reference."""

    scores: np.ndarray
    agrees: np.ndarray


def plan_cascade(costs: np.ndarray, reference: int, scored: list[int], pilot: PilotEvidence, *, items_left: int,
                 rows_left: int, total_rows: int, accuracy: float, error: float) -> CascadePlan | None:
    """The cheapest cascade over ordered subsets of the scored candidates cheaper than the
    reference, with its sample sizes; None when no candidate is cheaper than the reference."""
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
                                          rows_left, total_rows, accuracy, level)
                    if best is None or cost < best.expected_cost:
                        best = CascadePlan(ladder, shares, (*spend, 1.0), cost)
    return best


def robust_cost(plan: CascadePlan, costs: np.ndarray, reference: int, pilot: PilotEvidence, rng: np.random.Generator,
                *, items_left: int, rows_left: int, total_rows: int, accuracy: float, error: float) -> float:
    """The plan's expected cost averaged over bootstrap resamples of the pilot: what it may cost
    when the rows it samples look worse than the pilot did (an unlucky pilot flatters a cascade)."""
    rows = pilot.scores.shape[1]
    level = error / len(plan.ladder)
    total = 0.0
    for _ in range(RESAMPLES):
        picked = rng.integers(0, rows, rows)
        resampled = PilotEvidence(pilot.scores[:, picked], pilot.agrees[:, picked])
        total += _expected_cost(costs, reference, plan.ladder, plan.samples, plan.budget_shares, resampled,
                                items_left, rows_left, total_rows, accuracy, level)
    return total / RESAMPLES


def sample_rows(share: float, region_rows: float) -> int:
    """Rows to sample out of a model's region for a planned share."""
    return int(min(max(MIN_SAMPLE, round(share * region_rows)), region_rows // 2))


def _expected_cost(costs, reference, ladder, shares, spend, pilot: PilotEvidence, items_left, rows_left,
                   total_rows, accuracy, level) -> float:
    pilot_rows = pilot.scores.shape[1]
    items_per_row = items_left / rows_left
    reaching = np.ones(pilot_rows, dtype=bool)
    budget = np.floor((1 - accuracy) * total_rows)
    unsampled = 1.0
    """Share of the rows under the thresholds so far that no sample drew (the drawn ones are the reference's)."""
    cost = 0.0
    for model, share, budget_share in zip(ladder, shares, spend):
        if not reaching.any():
            break
        region_rows = rows_left * reaching.mean() * unsampled
        sample = sample_rows(share, region_rows)
        cost += costs[model] * region_rows * items_per_row + costs[reference] * sample * items_per_row
        accepted, used = _estimated_threshold(pilot.scores[model], pilot.agrees[model], reaching, region_rows,
                                              sample, np.floor(budget * budget_share), level)
        budget -= used
        reaching &= ~accepted
        unsampled *= 1 - sample / max(region_rows, 1.0)
    cost += costs[reference] * rows_left * reaching.mean() * unsampled * items_per_row
    return float(cost)


def _estimated_threshold(scores, agrees, reaching, region_rows, sample, allowed, level):
    """Pilot rows the model would keep, and the disagreements the test would certify for them
    (thresholds only between distinct scores, as the real grid has them)."""
    rows = np.flatnonzero(reaching)
    order = rows[np.argsort(-scores[rows], kind="stable")]
    ranked = scores[order]
    kept = np.arange(1, len(order) + 1)
    share = kept / len(rows)
    population = share * region_rows
    wrong = np.cumsum(~agrees[order])
    rate = (wrong + PRIOR_ROWS * wrong[-1] / len(rows)) / (kept + PRIOR_ROWS)
    draws = sample * share
    bound = approximate_upper_rate(draws, draws * rate, level) * population
    boundary = np.append(ranked[1:] < ranked[:-1], True)
    passing = np.cumprod((bound <= allowed)[boundary]).astype(bool)
    accepted = np.zeros(len(reaching), dtype=bool)
    if not passing.any():
        return accepted, 0.0
    last = int(np.flatnonzero(boundary)[np.flatnonzero(passing)[-1]])
    accepted[order[:last + 1]] = True
    return accepted, float(allowed - draws[last] * rate[last])
