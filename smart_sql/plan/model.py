"""The plan as plain data, with a JSON-able `to_dict()`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

RANGE_MARGIN = 0.25
"""The stated range is the forecast runs' span widened by this share of it on each side (and 5% of
the expected cost), within what any run can spend: see benchmarks/plan_accuracy.py."""


@dataclass
class TaskPlan:
    id: str
    calls: list[str]
    options: dict
    reference: str
    rows: int = 0
    distinct_inputs: int = 0
    cached_inputs: dict[str, int] = field(default_factory=dict)
    """Per model, the distinct inputs whose answer the response cache holds (free)."""
    input_tokens: int = 0
    """Input tokens of one request per distinct input."""
    output_tokens: float = 0.0
    """Expected output tokens of one answer per distinct input."""
    reference_only_cost: float = 0.0
    """The reference model on every distinct input not in its cache."""
    expected: float = 0.0
    low: float = 0.0
    high: float = 0.0
    least: float = 0.0
    """No run can spend less."""
    most: float = 0.0
    """No run can spend more, with answers at their bound (the budget's worst case)."""
    prior: str = ""
    upper_bound: bool = False
    """Counted as if every row passed another task's LLM filter."""
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def set_forecast(self, costs: np.ndarray, low_scale: float = 1.0, high_scale: float = 1.0) -> None:
        """The expected cost (the forecast runs' mean) and the range: their span widened by
        RANGE_MARGIN, scaled for answers shorter or longer than expected, within [least, most]."""
        self.expected = float(np.mean(costs))
        span = float(np.max(costs) - np.min(costs))
        margin = RANGE_MARGIN * span + 0.05 * self.expected
        self.low = max(self.least, (float(np.min(costs)) - margin) * low_scale)
        if self.upper_bound:
            self.low = self.least
        self.high = min(max(self.most, self.low), (float(np.max(costs)) + margin) * high_scale)


@dataclass
class ModelPlan:
    name: str
    path: str
    incremental: bool = False
    """Planned as an incremental run: only the rows the model's is_incremental() filter lets in."""
    tasks: list[TaskPlan] = field(default_factory=list)


@dataclass
class BuildPlan:
    project: str
    target: str
    provider: str
    tokens: str
    """How tokens were counted."""
    max_cost: float | None = None
    max_cost_source: str = ""
    models: list[ModelPlan] = field(default_factory=list)

    @property
    def tasks(self) -> list[TaskPlan]:
        return [task for model in self.models for task in model.tasks]

    def total(self, name: str) -> float:
        return float(sum(getattr(task, name) for task in self.tasks))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["simulated"] = self.provider == "simulated"
        data["total"] = {name: self.total(name) for name in
                         ("expected", "low", "high", "least", "most", "reference_only_cost")}
        data["total"]["tasks"] = len(self.tasks)
        data["total"]["upper_bound"] = any(task.upper_bound for task in self.tasks)
        return data
