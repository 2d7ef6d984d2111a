"""What a SMART run may spend, before it runs: numbers in, numbers out.

`spend_bounds` gives what no run can go under or over, from the engine's structure alone.
`forecast_costs` runs the engine itself (`run_smart`) over the real items with agreement bits drawn
from a prior on each candidate's rate, so the forecast pays for profiling, the stopping rule, the
stage-2 slack of the mix and the heavy-item rule exactly as the build will.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from smart_sql.llm.base import ModelSpec
from smart_sql.smart.bounds import checkpoint_schedule
from smart_sql.smart.engine import ResponseBatch, run_smart

AGREE, DISAGREE = "same", "other"


@dataclass(frozen=True)
class ItemCosts:
    """Per model (rows, in ladder order) and distinct item (columns): what one request costs.
    Cached answers cost nothing."""

    input_tokens: np.ndarray
    """(items,) input tokens of each item."""
    output_tokens: np.ndarray
    """(models, items) output tokens."""
    cached: np.ndarray
    """(models, items) whether the answer is in the response cache."""
    answers: np.ndarray | None = None
    """(models, items) the cached answers (None where not cached): a forecast replays them."""

    def dollars(self, models: Sequence[ModelSpec]) -> np.ndarray:
        cost = np.array([[m.input_price_per_1m] for m in models]) * self.input_tokens[None, :]
        cost = cost + np.array([[m.output_price_per_1m] for m in models]) * self.output_tokens
        return np.where(self.cached, 0.0, cost / 1e6)


def spend_bounds(dollars: np.ndarray, counts: Sequence[int], reference: int, *, profiles: bool) -> tuple[float, float]:
    """(least, most) a run can spend, given `dollars` (models x items, 0 where cached).

    Every item is answered by at least one model, and by one model at the end; items met while
    profiling are answered by the reference and by every candidate. Profiling stops at the last
    checkpoint (at most half the rows), so at most that many items are profiled. `profiles`: whether
    the run may profile at all (not for method 'reference', accuracy 1, or no candidate)."""
    dollars = np.asarray(dollars, dtype=float)
    if dollars.shape[1] == 0:
        return 0.0, 0.0
    if not profiles:
        total = float(dollars[reference].sum())
        return total, total
    least = float(dollars.min(axis=0).sum())
    dearest = dollars.max(axis=0)
    schedule = checkpoint_schedule(int(np.sum(counts)))
    profiled = min(dollars.shape[1], int(schedule[-1]) if len(schedule) else 0)
    extra = np.sort(dollars.sum(axis=0) - dearest)[::-1][:profiled]
    return least, float(dearest.sum() + extra.sum())


@dataclass(frozen=True)
class AgreementPrior:
    """Beta(agreeing + 1, disagreeing + 1) belief on a candidate's agreement rate with the reference;
    `fixed` when the rate is known (the simulated provider's settings)."""

    agreeing: float
    disagreeing: float
    fixed: bool = False

    @property
    def mean(self) -> float:
        if self.fixed:
            return self.agreeing / (self.agreeing + self.disagreeing)
        return (self.agreeing + 1) / (self.agreeing + self.disagreeing + 2)

    def draw(self, rng: np.random.Generator) -> float:
        return self.mean if self.fixed else float(rng.beta(self.agreeing + 1, self.disagreeing + 1))


def forecast_costs(counts: Sequence[int], models: Sequence[ModelSpec], items: ItemCosts,
                   priors: Mapping[str, AgreementPrior], *, accuracy: float, confidence: float, seed: int,
                   method: str = "mix", runs: int = 16, draw_seed: int = 0, keys=None) -> np.ndarray:
    """What `runs` runs of the engine would spend, each on answers drawn afresh (each candidate's
    rate from its prior, then whether it agrees on each item) except the cached ones, which are
    replayed as they are. The engine's own seed is the task's, as in the build; only the draws vary,
    so a rerun whose answers are all cached is forecast at exactly what it costs: nothing. `keys` are
    the inputs' keys, as the build passes them, and the engine is told which answers are cached."""
    rng = np.random.default_rng(draw_seed)
    counts = np.asarray(counts, dtype=np.int64)
    return np.array([_one_run(counts, models, items, _answers(models, priors, items, rng),
                              accuracy, confidence, seed, method, keys) for _ in range(runs)])


def _answers(models: Sequence[ModelSpec], priors: Mapping[str, AgreementPrior], items: ItemCosts,
             rng: np.random.Generator) -> np.ndarray:
    """(models, items) answers for one forecast run: the cached ones as they are, the others drawn so
    that each candidate agrees with the reference at a rate drawn from its prior."""
    size = items.cached.shape[1]
    reference = next(i for i, m in enumerate(models) if m.reference)
    rates = np.array([1.0 if m.reference else priors[m.name].draw(rng) for m in models])
    agrees = rng.random((len(models), size)) < rates[:, None]
    truth = np.full(size, AGREE, dtype=object)
    if items.answers is None or not items.cached.any():
        answers = np.where(agrees, AGREE, DISAGREE).astype(object)
        answers[reference] = truth
        return answers
    known = items.cached
    truth[known[reference]] = items.answers[reference, known[reference]]
    for row in range(len(models)):
        unknown_truth = ~known[reference] & known[row] & agrees[row]
        truth[unknown_truth] = items.answers[row, unknown_truth]
    answers = np.where(agrees, truth[None, :], DISAGREE).astype(object)
    answers[reference] = truth
    answers[known] = items.answers[known]
    return answers


def _one_run(counts, models, items: ItemCosts, answers: np.ndarray, accuracy, confidence, seed, method,
             keys=None) -> float:
    index = {m.name: i for i, m in enumerate(models)}

    async def answer(model: str, indices: Sequence[int]) -> ResponseBatch:
        row, chosen = index[model], np.asarray(indices, dtype=np.int64)
        return ResponseBatch(answers[row, chosen].tolist(), items.input_tokens[chosen],
                             items.output_tokens[row, chosen], items.cached[row, chosen])

    result = asyncio.run(run_smart(counts, list(models), answer, accuracy=accuracy, confidence=confidence,
                                   seed=seed, method=method, compare="exact", keys=keys,
                                   known={m.name: items.cached[i] for i, m in enumerate(models)}))
    return result.account.total_cost
