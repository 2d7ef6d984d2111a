"""The model mix: shares of the remaining items per model that minimize cost while the certified
agreement still owed is met.

`solve_mix` is the linear program (scipy HiGHS) used for the final assignment; `mix_cost` is the same
optimum in closed form, vectorized over many scenarios, used to plan. With one constraint besides
the shares summing to one, an optimal vertex uses at most two models, so enumerating pairs is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mix:
    shares: np.ndarray
    """Share of the remaining items per model, same order as the inputs."""
    cost_per_item: float


def solve_mix(costs, agreements, owed: float, *, reference: int, single: bool = False) -> Mix:
    """Minimize sum(f * costs) subject to sum(f * agreements) >= owed, sum(f) = 1, f >= 0.

    `agreements` are certified lower bounds (the reference's is 1). With `single`, at most one model
    besides the reference is used."""
    costs = np.asarray(costs, dtype=float)
    agreements = np.asarray(agreements, dtype=float)
    if single:
        options = [_solve_lp(costs[[i, reference]], agreements[[i, reference]], owed, [i, reference], len(costs))
                   for i in range(len(costs)) if i != reference]
        options.append(_only(reference, costs))
        return min(options, key=lambda mix: mix.cost_per_item)
    return _solve_lp(costs, agreements, owed, list(range(len(costs))), len(costs))


def _solve_lp(costs: np.ndarray, agreements: np.ndarray, owed: float, columns: list[int], width: int) -> Mix:
    from scipy.optimize import linprog

    reference = columns[int(np.argmax(agreements))]
    if owed > np.max(agreements):
        return _only(reference, np.zeros(width))
    result = linprog(costs, A_ub=[-agreements], b_ub=[-owed], A_eq=[np.ones(len(costs))], b_eq=[1.0],
                     bounds=(0, None), method="highs")
    if result.status != 0:
        return _only(reference, np.zeros(width))
    shares = np.zeros(width)
    shares[columns] = np.clip(result.x, 0, None)
    shares /= shares.sum()
    return Mix(shares, float(np.dot(result.x, costs)))


def _only(model: int, costs: np.ndarray) -> Mix:
    shares = np.zeros(len(costs))
    shares[model] = 1.0
    return Mix(shares, float(costs[model]))


def mix_cost(costs, agreements, owed, *, reference: int, single: bool = False) -> np.ndarray:
    """Optimal cost per item of the mix, for many scenarios at once.

    costs: (models,); agreements: (..., models); owed: broadcastable to agreements[..., 0].
    Scenarios where even the reference cannot meet `owed` cost the reference's price."""
    costs = np.asarray(costs, dtype=float)
    agreements = np.asarray(agreements, dtype=float)
    owed = np.broadcast_to(np.asarray(owed, dtype=float), agreements.shape[:-1])[..., None, None]
    high, low = agreements[..., :, None], agreements[..., None, :]
    feasible = (high >= owed) & ((low < owed) | (high == low))
    share = np.where(high > low, (owed - low) / np.where(high > low, high - low, 1.0), 1.0)
    share = np.clip(share, 0.0, 1.0)
    pair_cost = share * costs[:, None] + (1 - share) * costs[None, :]
    if single:
        allowed = np.zeros((len(costs), len(costs)), dtype=bool)
        allowed[reference, :] = allowed[:, reference] = True
        allowed |= np.eye(len(costs), dtype=bool)
        feasible &= allowed
    best = np.where(feasible, pair_cost, np.inf).min(axis=(-2, -1))
    return np.where(np.isfinite(best), best, costs[reference])
