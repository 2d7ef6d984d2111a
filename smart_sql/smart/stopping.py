"""Whether profiling more items pays, and where the error probability is best spent.

`decide` compares the cost of finishing now with the expected cost of profiling on, stopping at
the best of the next checkpoints, and then finishing. `plan_allocation` looks at the pilot
sample and puts the error probability on the (candidate, checkpoint) bounds most likely to be
used. Both integrate over each candidate's uncertain agreement rate with a Beta posterior. They
only steer; the guarantee comes from the bounds in `bounds.py`, valid whatever is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from smart_sql.smart.bounds import approximate_upper_rate
from smart_sql.smart.mix import mix_cost

LOOKAHEAD_CHECKPOINTS = 8
POSTERIOR_SAMPLES = 128
ALLOCATION_SAMPLES = 512
ALLOCATION_FLOOR = 0.1
"""Share of the stage-1 error spread evenly over every (candidate, checkpoint)."""
NOMINAL_BOUNDS = 6
"""The first planning round assumes the stage-1 error is spread over about this many bounds."""
SPREAD = {-1: 0.5, 0: 1.0, 1: 0.5}


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
    certified_disagreeing: np.ndarray
    """Disagreeing rows among the draws after the pilot (the ones the bounds use)."""
    disagreement_bounds: np.ndarray
    """Certified upper bound on disagreeing rows in the table outside the pilot."""


@dataclass(frozen=True)
class Setting:
    """What stays fixed during a run."""

    costs: np.ndarray
    """Expected cost of one item per model."""
    reference: int
    accuracy: float
    total_rows: int
    pilot: int
    """Rows drawn before any bound is computed; bounds are about the other rows."""
    remaining: Callable[[int], Remaining]
    single: bool = False

    @property
    def population(self) -> int:
        """Rows the bounds are about: every row outside the pilot."""
        return self.total_rows - self.pilot


@dataclass(frozen=True)
class StopDecision:
    keep_profiling: bool
    cost_now: float
    best_future_cost: float


def remaining_agreement(bounds, disagreeing, rows_left: float, reference: int) -> np.ndarray:
    """Certified agreement rate of each model on the rows left, from the stage-1 bounds."""
    rates = 1 - np.clip((np.asarray(bounds, dtype=float) - np.asarray(disagreeing)) / max(rows_left, 1.0), 0, 1)
    rates[..., reference] = 1.0
    return rates


def owed_rate(accuracy: float, total_rows: int, left: Remaining) -> float:
    """Agreement rate the rows left must reach, crediting the reference answers already obtained."""
    if left.rows <= 0:
        return 0.0
    return (accuracy * total_rows - left.profiled_rows) / left.rows


def finishing_cost(setting: Setting, draws, bounds, certified_disagreeing) -> np.ndarray:
    """Cost of answering every item left after `draws` with the cheapest certified mix.

    `draws` is one checkpoint, or an array of them matching the leading axes of `bounds`
    (bounds and disagreements have the models on their last axis)."""
    bounds = np.asarray(bounds, dtype=float)
    draws = np.asarray(draws)
    left = [setting.remaining(int(d)) for d in draws.ravel()]
    shape = draws.shape + (1,) * (bounds.ndim - 1 - draws.ndim)

    def per_checkpoint(value) -> np.ndarray:
        return np.array([value(r) for r in left]).reshape(shape)

    rows = per_checkpoint(lambda r: max(r.rows, 1.0))
    owed = per_checkpoint(lambda r: owed_rate(setting.accuracy, setting.total_rows, r))
    rates = 1 - np.clip((bounds - certified_disagreeing) / rows[..., None], 0, 1)
    rates[..., setting.reference] = 1.0
    cost = mix_cost(setting.costs, rates, owed, reference=setting.reference, single=setting.single)
    return per_checkpoint(lambda r: r.items) * cost


def decide(state: ProfileState, setting: Setting, future_draws: np.ndarray, future_errors: np.ndarray,
           rng: np.random.Generator, finish_now: float | None = None) -> StopDecision:
    """Compare finishing now with profiling on, then finishing.

    Profiling on is valued over simulated paths: each draws a rate per open candidate from its
    posterior and the disagreements of the rows up to each of the next checkpoints, one path
    through all of them, and stops at the checkpoint where that path finishes cheapest. Knowing
    each path's best checkpoint flatters profiling on a little; the decision is taken again at
    every checkpoint with what the new rows showed. Measured cheaper than valuing each checkpoint
    by its mean alone, which ignores that profiling can stop early (benchmarks/cost_paper.py).

    future_errors: (checkpoints, models) error allowed for each bound at those checkpoints.
    finish_now: what finishing now really costs, when the caller knows it: the mix as it would be
    assigned, with the stage-2 slack that `finishing_cost` leaves out. It replaces the estimate of
    finishing now, and the continuations' finishing costs are scaled by the same ratio, so both
    sides of the comparison carry the slack."""
    cost_now = float(finishing_cost(setting, state.draws, state.disagreement_bounds, state.certified_disagreeing))
    slack = 1.0
    if finish_now is not None:
        slack = finish_now / cost_now if cost_now > 0 else 1.0
        cost_now = finish_now
    if not state.open.any() or len(future_draws) == 0:
        return StopDecision(False, cost_now, float("inf"))
    open_models = np.flatnonzero(state.open)
    draws = np.asarray(future_draws[:LOOKAHEAD_CHECKPOINTS], dtype=np.int64)
    errors = np.asarray(future_errors[:LOOKAHEAD_CHECKPOINTS])[:, open_models][:, None, :]
    looks = len(draws)
    rates = rng.beta(1 + state.agreeing[open_models], 1 + state.disagreeing[open_models],
                     size=(POSTERIOR_SAMPLES, len(open_models)))
    certified_draws = (draws - setting.pilot)[:, None, None]
    extra = np.maximum(draws - max(state.draws, setting.pilot), 0)[:, None, None]
    disagreeing = np.tile(state.certified_disagreeing.astype(float), (looks, POSTERIOR_SAMPLES, 1))
    bounds = np.tile(state.disagreement_bounds.astype(float), (looks, POSTERIOR_SAMPLES, 1))
    steps = np.diff(extra, axis=0, prepend=0)
    disagreeing[:, :, open_models] += np.cumsum(rng.binomial(steps, 1 - rates), axis=0)
    fresh = setting.population * approximate_upper_rate(certified_draws, disagreeing[:, :, open_models], errors)
    bounds[:, :, open_models] = np.where(certified_draws > 0, fresh, bounds[:, :, open_models])
    finish = slack * finishing_cost(setting, draws, bounds, disagreeing)
    items_now = setting.remaining(state.draws).items
    per_profiled_item = setting.costs[setting.reference] + setting.costs[open_models].sum()
    profiling = np.array([items_now - setting.remaining(int(d)).items for d in draws]) * per_profiled_item
    best_future = float(np.mean(np.min(profiling[:, None] + finish, axis=0)))
    return StopDecision(best_future < cost_now, cost_now, best_future)


def plan_allocation(setting: Setting, agreeing: np.ndarray, disagreeing: np.ndarray, candidates: np.ndarray,
                    checkpoints: np.ndarray, error: float, rng: np.random.Generator,
                    rounds: int = 3) -> np.ndarray:
    """Weights (models x checkpoints) for the stage-1 error: how much, over the posterior left by
    the pilot, each candidate's bound at each checkpoint is worth to the cheapest run.
    Each round plans with the error levels the previous round's weights would give."""
    models = len(setting.costs)
    floor = np.zeros((models, len(checkpoints)))
    floor[candidates] = 1.0
    floor /= floor.sum()
    rates = np.ones((ALLOCATION_SAMPLES, models))
    rates[:, candidates] = rng.beta(1 + agreeing[candidates], 1 + disagreeing[candidates],
                                    size=(ALLOCATION_SAMPLES, int(candidates.sum())))
    seen = [rng.binomial(int(draws) - setting.pilot, 1 - rates).astype(float) for draws in checkpoints]
    levels = np.broadcast_to(error / NOMINAL_BOUNDS, floor.shape)
    weights = floor
    for _ in range(rounds):
        usage = _bound_usage(setting, candidates, checkpoints, seen, levels)
        if usage.sum() == 0:
            return floor
        usage = _spread(usage)
        weights = (1 - ALLOCATION_FLOOR) * usage / usage.sum() + ALLOCATION_FLOOR * floor
        levels = error * weights
    return weights


def _spread(usage: np.ndarray) -> np.ndarray:
    """Share each checkpoint's weight with its neighbours, so that a run stopping a little later
    than planned still finds error probability left."""
    padded = np.pad(usage, ((0, 0), (3, 3)))
    width = usage.shape[1]
    return sum(weight * padded[:, 3 - shift:3 - shift + width] for shift, weight in SPREAD.items())


def _bound_usage(setting: Setting, candidates: np.ndarray, checkpoints: np.ndarray, seen: list[np.ndarray],
                 levels: np.ndarray) -> np.ndarray:
    """For each (candidate, checkpoint): the money its bound saves, summed over the posterior
    scenarios in which stopping at that checkpoint is cheapest."""
    population = setting.population
    per_profiled_item = setting.costs[setting.reference] + setting.costs[candidates].sum()
    items_at_pilot = setting.remaining(setting.pilot).items
    seen = np.stack(seen)
    bounds = np.full(seen.shape, float(population))
    bounds[:, :, candidates] = population * approximate_upper_rate(
        (checkpoints - setting.pilot)[:, None, None], seen[:, :, candidates], levels[candidates].T[:, None, :])
    profiling = np.array([items_at_pilot - setting.remaining(int(d)).items for d in checkpoints]) * per_profiled_item
    best = np.argmin(profiling[:, None] + finishing_cost(setting, checkpoints, bounds, seen), axis=0)
    usage = np.zeros_like(levels, dtype=float)
    models = np.flatnonzero(candidates)
    for j, draws in enumerate(checkpoints):
        chosen = best == j
        if not chosen.any():
            continue
        cost = finishing_cost(setting, int(draws), bounds[j, chosen], seen[j, chosen])
        without = np.repeat(bounds[j, chosen][None], len(models), axis=0)
        without[np.arange(len(models)), :, models] = population
        worse = finishing_cost(setting, int(draws), without, seen[j, chosen])
        usage[models, j] += (worse - cost).sum(axis=1)
    return usage
