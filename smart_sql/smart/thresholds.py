"""Score thresholds certified by fixed-sequence testing on a finite population of rows.

Numbers in, decisions out. For one model of the cascade, the rows still to route form a known set
(a *region*); the model's score on each is known. For a threshold t, A(t) is the region's rows
whose score is at least t, K(t) the number of them on which the model disagrees with the reference
(unknown, fixed). A uniform sample of the region's rows, drawn without replacement, puts a uniform
sample of n_A(t) rows into A(t), of which d(t) disagree: given n_A(t), d(t) is hypergeometric
(|A(t)|, K(t), n_A(t)). The null "K(t) > allowed" is rejected when its exact p-value is at most
the level. Thresholds are tested from the most confident down and the first one not rejected ends
the sequence, so one level covers every threshold tried (see docs/smart.md, "The cascade").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID_POINTS = 64
"""At most this many thresholds are tried per model (score quantiles of the region's rows)."""


def exceedance_p_value(population: int, draws: int, disagreements: int, allowed: int, tie_break: float = 1.0) -> float:
    """Exact p-value of the null 'more than `allowed` of the `population` rows disagree', given
    `disagreements` among `draws` rows sampled without replacement: P(H < d) + tie_break * P(H = d)
    with H ~ Hypergeom(population, allowed + 1, draws), the least favourable point of the null
    (the hypergeometric grows stochastically with its successes). A tie_break drawn uniformly on
    [0, 1] apart from the sample makes the test's level exact."""
    from scipy.stats import hypergeom

    if allowed < 0:
        return 1.0
    if allowed >= population:
        return 0.0
    below = float(hypergeom.cdf(disagreements - 1, population, allowed + 1, draws)) if disagreements > 0 else 0.0
    return below + tie_break * float(hypergeom.pmf(disagreements, population, allowed + 1, draws))


@dataclass(frozen=True)
class ThresholdTest:
    """What a threshold search saw: per threshold tried (most confident first) the rows at or
    above it, the sampled ones, their disagreements and the disagreements allowed."""

    thresholds: np.ndarray
    population: np.ndarray
    draws: np.ndarray
    disagreements: np.ndarray
    allowed: np.ndarray
    p_values: np.ndarray
    chosen: int
    """Index of the lowest threshold reached by the sequence, -1 when the first was not rejected."""

    @property
    def threshold(self) -> float:
        return float(self.thresholds[self.chosen]) if self.chosen >= 0 else float("inf")


def threshold_grid(scores: np.ndarray, weights: np.ndarray, points: int = GRID_POINTS) -> np.ndarray:
    """Candidate thresholds, highest first: the distinct scores at evenly spaced row quantiles.
    They depend on the scores only, never on the sample's agreement."""
    finite = np.isfinite(scores)
    if not finite.any():
        return np.array([], dtype=float)
    order = np.argsort(-scores[finite], kind="stable")
    ranked, cumulative = scores[finite][order], np.cumsum(weights[finite][order])
    marks = cumulative[-1] * np.arange(1, points + 1) / points
    picked = ranked[np.minimum(np.searchsorted(cumulative, marks - 1e-9), len(ranked) - 1)]
    return np.unique(picked)[::-1]


def fixed_sequence_threshold(scores: np.ndarray, weights: np.ndarray, sampled_rows: np.ndarray,
                             sampled_disagreements: np.ndarray, allowed: float, level: float,
                             tie_break: float = 1.0, grid: np.ndarray | None = None) -> ThresholdTest:
    """Walk the thresholds from the highest down; reject 'K(t) > allowed' while the exact
    p-value stays at or under `level`, and stop at the first threshold where it does not.

    Per region item: its score (NaN: never accepted), its rows (`weights`), how many of its rows the
    sample drew and how many of those disagree. `allowed`, the disagreeing rows allowed at or above
    the threshold, must be fixed before the sample is seen.
    With probability >= 1 - level the chosen threshold's rows hold at most its allowed disagreements."""
    scores = np.where(np.isfinite(scores), scores, -np.inf)
    grid = threshold_grid(scores, weights) if grid is None else grid
    population, draws, wrong, limits, p_values = [], [], [], [], []
    chosen = -1
    for index, threshold in enumerate(grid):
        above = scores >= threshold
        population.append(int(weights[above].sum()))
        draws.append(int(sampled_rows[above].sum()))
        wrong.append(int(sampled_disagreements[above].sum()))
        limits.append(int(np.floor(allowed + 1e-9)))
        p_values.append(exceedance_p_value(population[-1], draws[-1], wrong[-1], limits[-1], tie_break))
        if p_values[-1] > level:
            break
        chosen = index
    tried = len(population)
    return ThresholdTest(np.asarray(grid[:tried], dtype=float), np.array(population, dtype=np.int64),
                         np.array(draws, dtype=np.int64), np.array(wrong, dtype=np.int64),
                         np.array(limits, dtype=np.int64), np.array(p_values, dtype=float), chosen)
