"""Confidence bounds on disagreement counts, the checkpoint schedule and the error budget.

All bounds are about a finite population of rows (see docs/smart.md):
stage 1 bounds the disagreeing rows of the whole table from a uniform sample drawn without
replacement (exact hypergeometric), stage 2 bounds the disagreeing rows that a random
assignment hands to one model. scipy is imported inside the functions that need it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIRST_CHECKPOINT = 30
CHECKPOINT_RATIO = 1.5
STAGE_TWO_SHARE = 0.1


def checkpoint_schedule(total_rows: int, first: int = FIRST_CHECKPOINT,
                        ratio: float = CHECKPOINT_RATIO) -> np.ndarray:
    """Numbers of sampled rows at which profiling may stop: first, first*ratio, ... up to half
    the table. Empty for tables too small to profile."""
    points: list[int] = []
    size = float(first)
    while round(size) <= total_rows // 2:
        if not points or round(size) > points[-1]:
            points.append(round(size))
        size *= ratio
    return np.array(points, dtype=np.int64)


@dataclass(frozen=True)
class ErrorAllocation:
    """How the error probability 1 - confidence is split over every bound that may be used:
    stage_one[model, checkpoint] for the bound on a candidate's disagreeing rows at a checkpoint,
    stage_two[model] for the rows the random assignment hands to that model. The shares are fixed
    before the data the bounds use is seen (the pilot sample plans them; see docs/smart.md)."""

    stage_one: np.ndarray
    stage_two: np.ndarray

    @classmethod
    def planned(cls, error: float, weights: np.ndarray) -> "ErrorAllocation":
        """Split `error` in proportion to `weights` (models x checkpoints, reference row zero)."""
        weights = np.asarray(weights, dtype=float)
        shares = weights / weights.sum()
        return cls(error * (1 - STAGE_TWO_SHARE) * shares, error * STAGE_TWO_SHARE * shares.sum(axis=1))

    @classmethod
    def uniform(cls, error: float, candidates: np.ndarray, checkpoints: int) -> "ErrorAllocation":
        weights = np.zeros((len(candidates), max(checkpoints, 1)))
        weights[np.asarray(candidates, dtype=bool)] = 1.0
        return cls.planned(error, weights)


def disagreement_upper_bound(population: int, draws, disagreements, error: float) -> np.ndarray:
    """Largest K such that P(Hypergeom(population, K, draws) <= disagreements) > error: with
    probability >= 1 - error the population holds at most this many disagreeing rows."""
    from scipy.stats import hypergeom

    draws = np.asarray(draws, dtype=np.int64)
    seen = np.asarray(disagreements, dtype=np.int64)
    low = seen.copy()
    high = population - (draws - seen)
    while np.any(low < high):
        middle = (low + high + 1) // 2
        plausible = hypergeom.cdf(seen, population, middle, draws) > error
        low = np.where(plausible, middle, low)
        high = np.where(plausible, high, middle - 1)
    return low


def disagreement_lower_bound(population: int, draws, disagreements, error: float) -> np.ndarray:
    """Smallest K such that P(Hypergeom(population, K, draws) >= disagreements) > error."""
    from scipy.stats import hypergeom

    draws = np.asarray(draws, dtype=np.int64)
    seen = np.asarray(disagreements, dtype=np.int64)
    low = seen.copy()
    high = population - (draws - seen)
    while np.any(low < high):
        middle = (low + high) // 2
        plausible = hypergeom.sf(seen - 1, population, middle, draws) > error
        high = np.where(plausible, middle, high)
        low = np.where(plausible, low, middle + 1)
    return low


def approximate_upper_rate(draws, disagreements, error: float | np.ndarray) -> np.ndarray:
    """Clopper-Pearson upper bound on the disagreement rate; fast and vectorized, used only to
    plan (it ignores the finite population, so it is a little wider than the exact bound)."""
    from scipy.special import betaincinv

    draws = np.asarray(draws, dtype=float)
    seen = np.asarray(disagreements, dtype=float)
    full = seen >= draws
    rate = betaincinv(seen + 1, np.where(full, 1.0, draws - seen), 1 - np.asarray(error, dtype=float))
    return np.where(full, 1.0, rate)


def assigned_disagreement_bound(remaining: int, remaining_disagreements: int, assigned: int,
                                error: float) -> int:
    """Smallest t with P(Hypergeom(remaining, remaining_disagreements, assigned) > t) <= error:
    a bound on the disagreeing rows among `assigned` rows drawn at random (all counts 1)."""
    from scipy.stats import hypergeom

    if assigned == 0 or remaining_disagreements == 0:
        return 0
    high = min(assigned, remaining_disagreements)
    if remaining_disagreements >= remaining:
        return high
    low = max(0, assigned - (remaining - remaining_disagreements))
    while low < high:
        middle = (low + high) // 2
        if hypergeom.sf(middle, remaining, remaining_disagreements, assigned) <= error:
            high = middle
        else:
            low = middle + 1
    return int(low)


def weighted_assigned_disagreement_bound(remaining_items: int, disagreeing_rows: float,
                                         assigned_items: int, largest_count: int,
                                         error: float) -> float:
    """Bound on the disagreeing rows in `assigned_items` items drawn at random without replacement
    from `remaining_items` items whose disagreeing rows sum to at most `disagreeing_rows`, each item
    holding at most `largest_count` rows. Bernstein's inequality, valid without replacement by
    Hoeffding's comparison theorem."""
    if assigned_items == 0 or disagreeing_rows <= 0:
        return 0.0
    share = assigned_items / remaining_items
    mean = share * disagreeing_rows
    variance = share * largest_count * disagreeing_rows
    log_term = np.log(1 / error)
    scale = largest_count * log_term / 3
    deviation = scale + np.sqrt(scale ** 2 + 2 * variance * log_term)
    return float(min(mean + deviation, disagreeing_rows, assigned_items * largest_count))
