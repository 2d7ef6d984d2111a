"""Whether profiling more items pays: the expected cost of profiling up to one of the next
checkpoints and then finishing, against the cost of finishing now.

The expectation integrates over each open candidate's uncertain agreement rate with a Beta
posterior and over the sampling of the extra items. This only steers the decision; the guarantee
comes from the bounds in `bounds.py`, which stay valid whatever is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from smart_sql.smart.bounds import approximate_upper_rate
from smart_sql.smart.mix import mix_cost

LOOKAHEAD_CHECKPOINTS = 8
POSTERIOR_SAMPLES = 128


@dataclass(frozen=True)
class Remaining:
    """What is left to answer once `draws` rows have been sampled."""

    items: float
    rows: float
    profiled_rows: float


@dataclass(frozen=True)
class ProfileState:
    """Profiling so far. Arrays run over models (reference included, its entries unused)."""

    draws: int
    agreeing: np.ndarray
    disagreeing: np.ndarray
    open: np.ndarray
    """Candidates still being profiled."""
    disagreement_bounds: np.ndarray
    """Certified upper bound on disagreeing rows in the table, per model (stage 1)."""


@dataclass(frozen=True)
class StopDecision:
    keep_profiling: bool
    cost_now: float
    best_future_cost: float


def remaining_agreement(state_bounds, disagreeing, rows_left: float, reference: int) -> np.ndarray:
    """Certified agreement rate of each model on the rows left, from the stage-1 bounds."""
    rates = 1 - np.clip((np.asarray(state_bounds) - np.asarray(disagreeing)) / max(rows_left, 1.0), 0, 1)
    rates = np.asarray(rates, dtype=float)
    rates[..., reference] = 1.0
    return rates


def owed_rate(accuracy: float, total_rows: int, left: Remaining) -> float:
    """Agreement rate the rows left must reach, crediting the reference answers already obtained."""
    if left.rows <= 0:
        return 0.0
    return (accuracy * total_rows - left.profiled_rows) / left.rows


def decide(state: ProfileState, *, costs: np.ndarray, reference: int, accuracy: float, total_rows: int,
           remaining: Callable[[int], Remaining], future_draws: np.ndarray, future_errors: np.ndarray,
           rng: np.random.Generator, single: bool = False) -> StopDecision:
    """Compare finishing now with profiling up to each of the next checkpoints, then finishing."""
    now = remaining(state.draws)
    rates_now = remaining_agreement(state.disagreement_bounds, state.disagreeing, now.rows, reference)
    cost_now = now.items * float(mix_cost(costs, rates_now, owed_rate(accuracy, total_rows, now),
                                          reference=reference, single=single))
    future_draws = future_draws[:LOOKAHEAD_CHECKPOINTS]
    if not state.open.any() or len(future_draws) == 0:
        return StopDecision(False, cost_now, float("inf"))
    future_errors = future_errors[:LOOKAHEAD_CHECKPOINTS]
    per_profiled_item = costs[reference] + costs[state.open].sum()
    open_models = np.flatnonzero(state.open)
    rates = rng.beta(1 + state.agreeing[open_models], 1 + state.disagreeing[open_models],
                     size=(POSTERIOR_SAMPLES, len(open_models)))
    best_future = float("inf")
    for draws, error in zip(future_draws, future_errors):
        later = remaining(int(draws))
        extra = int(draws) - state.draws
        disagreeing = np.broadcast_to(state.disagreeing.astype(float), (POSTERIOR_SAMPLES, len(costs))).copy()
        disagreeing[:, open_models] += rng.binomial(extra, 1 - rates)
        bounds = np.broadcast_to(state.disagreement_bounds.astype(float), disagreeing.shape).copy()
        bounds[:, open_models] = total_rows * approximate_upper_rate(draws, disagreeing[:, open_models], error)
        future_rates = remaining_agreement(bounds, disagreeing, later.rows, reference)
        finish = later.items * mix_cost(costs, future_rates, owed_rate(accuracy, total_rows, later),
                                        reference=reference, single=single)
        profiling = (now.items - later.items) * per_profiled_item
        best_future = min(best_future, profiling + float(finish.mean()))
    return StopDecision(best_future < cost_now, cost_now, best_future)
