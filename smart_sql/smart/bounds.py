"""Confidence bounds on disagreement counts, the checkpoint schedule and the error budget.

All bounds are about a finite population of rows (see docs/smart.md):
stage 1 bounds the disagreeing rows of the whole table from a uniform sample drawn without
replacement (exact hypergeometric), stage 2 bounds the disagreeing rows that a random
assignment hands to one model. scipy is imported inside the functions that need it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIRST_CHECKPOINT = 20
CHECKPOINT_RATIO = 1.5
STAGE_TWO_SHARE = 0.1


def checkpoint_schedule(total_rows: int, first: int = FIRST_CHECKPOINT,
                        ratio: float = CHECKPOINT_RATIO) -> np.ndarray:
    """Numbers of sampled rows at which profiling may stop: first (the pilot), first*ratio, ... up
    to half the table. Empty when no checkpoint fits after the pilot: too small to profile."""
    points: list[int] = []
    size = float(first)
    while round(size) <= total_rows // 2:
        if not points or round(size) > points[-1]:
            points.append(round(size))
        size *= ratio
    return np.array(points if len(points) > 1 else [], dtype=np.int64)


@dataclass(frozen=True)
class ErrorAllocation:
    """How the error probability 1 - confidence is split over every bound that may be used:
    stage_one[model, checkpoint] for the bound on a candidate's disagreeing rows at a checkpoint,
    fixed before the rows those bounds use are seen (the pilot sample plans them), and stage_two
    for the rows the random assignment hands to the models, split once the mix is known, before
    the assignment is drawn (`stage_two_levels`; see docs/smart.md)."""

    stage_one: np.ndarray
    stage_two: float

    @classmethod
    def planned(cls, error: float, weights: np.ndarray) -> "ErrorAllocation":
        """Split `error` in proportion to `weights` (models x checkpoints, reference row zero)."""
        weights = np.asarray(weights, dtype=float)
        shares = weights / weights.sum()
        return cls(error * (1 - STAGE_TWO_SHARE) * shares, error * STAGE_TWO_SHARE)

    def stage_two_levels(self, needs_bound: np.ndarray) -> np.ndarray:
        """The stage-2 error split evenly over the models whose group needs a bound."""
        needs_bound = np.asarray(needs_bound, dtype=bool)
        return np.where(needs_bound, self.stage_two / max(int(needs_bound.sum()), 1), 0.0)

    @classmethod
    def uniform(cls, error: float, candidates: np.ndarray, checkpoints: int) -> "ErrorAllocation":
        weights = np.zeros((len(candidates), max(checkpoints, 1)))
        weights[np.asarray(candidates, dtype=bool)] = 1.0
        return cls.planned(error, weights)


def disagreement_upper_bound(population: int, draws, disagreements, error, tie_break=1.0) -> np.ndarray:
    """Largest K such that P(H < disagreements) + tie_break * P(H = disagreements) > error, with
    H ~ Hypergeom(population, K, draws): with probability >= 1 - error the population holds at most
    this many disagreeing rows. With no error to spend (error <= 0) nothing is excluded.

    tie_break = 1 is the exact (Clopper-Pearson type) bound, whose miss probability is at most
    `error` and often well under it, because the count is discrete. A tie_break drawn uniformly on
    [0, 1], independently of the sample, makes the miss probability exactly `error` (the randomized
    probability integral transform) and the bound never looser."""
    from scipy.stats import hypergeom

    draws = np.asarray(draws, dtype=np.int64)
    seen = np.asarray(disagreements, dtype=np.int64)
    draws, seen, error, tie_break = np.broadcast_arrays(draws, seen, np.asarray(error, dtype=float),
                                                        np.asarray(tie_break, dtype=float))

    def plausible(k):
        below = hypergeom.cdf(seen - 1, population, k, draws)
        return below + tie_break * hypergeom.pmf(seen, population, k, draws) > error

    low, high = seen.copy(), population - (draws - seen)
    spent = error <= 0
    low = np.where(spent, high, low)
    guess_low = population * approximate_upper_rate(draws, seen, np.minimum(4 * error, 0.5))
    guess_high = population * approximate_upper_rate(draws, seen, error / 4) + 1
    guess_low = np.clip(np.floor(guess_low), low, high).astype(np.int64)
    guess_high = np.clip(np.ceil(guess_high), low, high).astype(np.int64)
    low = np.where(plausible(guess_low), guess_low, low)
    high = np.where(plausible(guess_high) | spent, high, guess_high)
    while np.any(low < high):
        middle = (low + high + 1) // 2
        ok = plausible(middle)
        low = np.where(ok, middle, low)
        high = np.where(ok, high, middle - 1)
    return low


def approximate_upper_rate(draws, disagreements, error: float | np.ndarray) -> np.ndarray:
    """Wilson score upper bound on the disagreement rate: fast and vectorized, used only to plan
    (it is not an exact bound and ignores the finite population)."""
    from scipy.special import ndtri

    draws = np.maximum(np.asarray(draws, dtype=float), 1e-9)
    rate = np.asarray(disagreements, dtype=float) / draws
    error = np.asarray(error, dtype=float)
    z = ndtri(1 - np.clip(error, 1e-15, 0.5))
    z2 = z * z
    centre = rate + z2 / (2 * draws)
    spread = z * np.sqrt(rate * (1 - rate) / draws + z2 / (4 * draws * draws))
    return np.where(error > 0, np.minimum((centre + spread) / (1 + z2 / draws), 1.0), 1.0)


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
    if error <= 0:
        return float(min(disagreeing_rows, assigned_items * largest_count))
    share = assigned_items / remaining_items
    mean = share * disagreeing_rows
    variance = share * largest_count * disagreeing_rows
    log_term = np.log(1 / error)
    scale = largest_count * log_term / 3
    deviation = scale + np.sqrt(scale ** 2 + 2 * variance * log_term)
    return float(min(mean + deviation, disagreeing_rows, assigned_items * largest_count))
