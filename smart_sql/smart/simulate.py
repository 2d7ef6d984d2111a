"""A vectorized stand-in for real models: each model agrees with the reference on an item with a
declared probability (seeded Bernoulli draws), or on exactly a declared share of the rows with the
disagreements placed at random, on the heaviest or on the lightest items; each model uses a fixed
number of tokens per item. A model may also give each answer a confidence score, drawn from a
distribution for agreeing and another for disagreeing answers (`SCORES`).

Used by the benchmarks and tests to run `run_smart` on the same code path as the SQL engine.
Everything it produces is simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from smart_sql.smart.engine import ResponseBatch

REFERENCE_ANSWER = "reference answer"
OTHER_ANSWER = "another answer"
PLACEMENTS = ("random", "heaviest", "lightest")
SCORES = ("uninformative", "informative", "sharp", "miscalibrated", "anti", "position", "length")
"""Score distributions: the same for agreeing and disagreeing answers (uninformative); higher when
agreeing (informative; sharp: nearly separated); overconfident, with a third of the disagreeing
answers scored as high as agreeing ones (miscalibrated); higher when disagreeing (anti); informative
on the first half of the items and anti on the second (position); informative on short texts and
anti on the longest third (length, with lognormal text lengths)."""


@dataclass(frozen=True)
class SimulatedModel:
    name: str
    agreement: float
    input_tokens: float
    output_tokens: float
    scores: str | None = None
    """One of SCORES, or None for a model that gives no scores."""


class SimulatedAnswers:
    """The answer callback of `run_smart` over simulated models. Wrong answers always differ
    from the reference's. Call `realized_agreement` afterwards to score the output.

    With `exact`, each model disagrees on exactly floor((1 - agreement) * rows) rows' worth of
    items (never more), chosen by `placement`: at random, or the heaviest / lightest items first
    (`counts` gives each item's rows)."""

    def __init__(self, models: Sequence[SimulatedModel], items: int, seed: int = 0, *, exact: bool = False,
                 counts=None, placement: str = "random"):
        rng = np.random.default_rng(seed)
        self.models = {m.name: m for m in models}
        counts = np.ones(items, dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64)
        self.agrees = {m.name: (_exact_agreement(m.agreement, counts, placement, rng) if exact
                                else rng.random(items) < m.agreement) for m in models}
        lengths = rng.lognormal(0.0, 1.0, items)
        self.scores = {m.name: simulated_scores(m.scores, self.agrees[m.name], lengths, rng)
                       for m in models if m.scores is not None}

    async def __call__(self, model: str, items: Sequence[int]) -> ResponseBatch:
        spec = self.models[model]
        picked = np.asarray(items, dtype=np.int64)
        answers = np.where(self.agrees[model][picked], REFERENCE_ANSWER, OTHER_ANSWER).tolist()
        scores = self.scores[model][picked] if model in self.scores else None
        return ResponseBatch(answers, np.full(len(picked), spec.input_tokens),
                             np.full(len(picked), spec.output_tokens), np.zeros(len(picked), dtype=bool),
                             scores=scores)

    def realized_agreement(self, answers: Sequence[str | None], counts=None) -> float:
        """Share of rows whose answer is the reference's."""
        right = (np.asarray(answers, dtype=object) == REFERENCE_ANSWER).astype(float)
        weights = np.ones(len(right)) if counts is None else np.asarray(counts, dtype=float)
        return float(np.dot(right, weights) / weights.sum())


def _exact_agreement(agreement: float, counts: np.ndarray, placement: str, rng: np.random.Generator) -> np.ndarray:
    """Items that agree, such that the disagreeing items hold as many rows as fit under
    (1 - agreement) of all rows, taken in the order `placement` gives."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
    order = rng.permutation(len(counts))
    if placement != "random":
        order = order[np.argsort(counts[order], kind="stable")]
        if placement == "heaviest":
            order = order[::-1]
    budget = int(np.floor((1 - agreement) * counts.sum() + 1e-9))
    agrees = np.ones(len(counts), dtype=bool)
    if placement == "random":
        agrees[order[np.cumsum(counts[order]) <= budget]] = False
        return agrees
    for item in order:
        if counts[item] <= budget:
            agrees[item] = False
            budget -= int(counts[item])
    return agrees


def simulated_scores(kind: str, agrees: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A confidence score in [0, 1] per item, drawn by `kind` (see SCORES) given whether it agrees."""
    if kind not in SCORES:
        raise ValueError(f"scores must be one of {', '.join(SCORES)}, got {kind!r}")
    size = len(agrees)
    informative = np.where(agrees, rng.beta(5, 2, size), rng.beta(2, 4, size))
    anti = np.where(agrees, rng.beta(2, 4, size), rng.beta(5, 2, size))
    if kind == "uninformative":
        return rng.random(size)
    if kind == "informative":
        return informative
    if kind == "sharp":
        return np.where(agrees, rng.beta(12, 1, size), rng.beta(1, 6, size))
    if kind == "miscalibrated":
        confident_wrong = ~agrees & (rng.random(size) < 1 / 3)
        return 0.8 + 0.2 * np.where(confident_wrong, rng.beta(5, 2, size), informative)
    if kind == "anti":
        return anti
    if kind == "position":
        return np.where(np.arange(size) < size / 2, informative, anti)
    return np.where(lengths < np.quantile(lengths, 2 / 3), informative, anti)
