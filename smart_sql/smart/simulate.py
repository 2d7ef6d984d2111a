"""A vectorized stand-in for real models: each model agrees with the reference on an item with a
declared probability (seeded Bernoulli draws) and uses a fixed number of tokens per item.

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


@dataclass(frozen=True)
class SimulatedModel:
    name: str
    agreement: float
    input_tokens: float
    output_tokens: float


class SimulatedAnswers:
    """The answer callback of `run_smart` over simulated models. Wrong answers always differ
    from the reference's. Call `realized_agreement` afterwards to score the output."""

    def __init__(self, models: Sequence[SimulatedModel], items: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.models = {m.name: m for m in models}
        self.agrees = {m.name: rng.random(items) < m.agreement for m in models}

    async def __call__(self, model: str, items: Sequence[int]) -> ResponseBatch:
        spec = self.models[model]
        picked = np.asarray(items, dtype=np.int64)
        answers = np.where(self.agrees[model][picked], REFERENCE_ANSWER, OTHER_ANSWER).tolist()
        return ResponseBatch(answers, np.full(len(picked), spec.input_tokens),
                             np.full(len(picked), spec.output_tokens), np.zeros(len(picked), dtype=bool))

    def realized_agreement(self, answers: Sequence[str | None], counts=None) -> float:
        """Share of rows whose answer is the reference's."""
        right = (np.asarray(answers, dtype=object) == REFERENCE_ANSWER).astype(float)
        weights = np.ones(len(right)) if counts is None else np.asarray(counts, dtype=float)
        return float(np.dot(right, weights) / weights.sum())
