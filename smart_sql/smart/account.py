"""What a SMART run spent, decided and certified, as plain data with a JSON-able `to_dict()`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class ModelUsage:
    calls: int = 0
    cached_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    invalid_answers: int = 0
    """Answers without a value (empty, or naming no label), profiling included: stored as NULL."""
    cached_cost: float = 0.0
    """What the calls answered from the cache would have cost at this model's prices (not paid)."""


@dataclass
class CandidateDecision:
    """The fate of one cheaper model: 'accepted', 'rejected' or 'open' when profiling stopped."""

    model: str
    decision: str
    profiled_rows: int
    agreeing_rows: int
    lower_bound: float
    """Certified agreement rate on the whole table (stage 1) when it was last profiled."""
    upper_bound: float


@dataclass
class Checkpoint:
    """Profiling as it stood at one checkpoint: recorded for the report, never read by decisions."""

    rows_profiled: int
    """Rows drawn so far (with repeats: the bounds count draws)."""
    items_profiled: int
    cost: float
    """What the run had paid so far."""
    candidates: dict[str, dict] = field(default_factory=dict)
    """Per candidate profiled at this checkpoint: its decision and certified [lower, upper] agreement rate."""


@dataclass
class CascadeLevel:
    """One model of a cascade: the score threshold certified for it and the rows it kept."""

    model: str
    threshold: float | None
    """Its answers at or above this score were kept; None when no threshold was certified."""
    rows_sampled: int
    """Rows of the model's region answered by the reference to test the thresholds."""
    rows_reaching: int
    """Rows that reached this model (not kept by a cheaper one, not yet answered by the reference)."""
    rows_kept: int
    allowed_disagreements: float
    """Disagreeing rows the test certified at most for the rows at or above the threshold."""
    certified_disagreements: float
    """Of those, the ones left in the output (the sampled rows got the reference's answer)."""
    thresholds_tried: int


@dataclass
class SmartAccount:
    items: int
    rows: int
    items_profiled: int = 0
    rows_profiled: int = 0
    profiling_cost: float = 0.0
    """What the calls made while profiling (pilot included) cost; the rest of total_cost is the mix."""
    usage: dict[str, ModelUsage] = field(default_factory=dict)
    reference_model: str = ""
    reference_only_cost: float = 0.0
    """What the reference model alone would cost on every item, its answers in the cache free."""
    reference_only_cost_without_cache: float = 0.0
    """The same at full price, as if nothing were cached."""
    free_answers_used: int = 0
    """Items of the mix answered by a model whose answer was already in the cache."""
    candidates: list[CandidateDecision] = field(default_factory=list)
    mix_shares: dict[str, float] = field(default_factory=dict)
    """Share of the items left after profiling given to each model."""
    accuracy: float = 0.0
    confidence: float = 0.0
    lower_bound: float = 1.0
    """Certified lower bound on the share of rows whose value equals the reference's valid value."""
    null_rows: int = 0
    """Rows left NULL because their answer was invalid."""
    reference_invalid_rows: int = 0
    """Of those, the rows the reference itself answered: they count against the certified agreement."""
    method: str = "mix"
    method_used: str = ""
    """The method that answered the rows left: with 'auto' or 'cascade', 'mix' or 'cascade'."""
    method_reason: str = ""
    cascade_levels: list[CascadeLevel] = field(default_factory=list)
    row_shares: dict[str, float] = field(default_factory=dict)
    """Share of all rows whose answer came from each model (profiling included)."""
    stopped_because: str = ""
    checkpoints: list[Checkpoint] = field(default_factory=list)

    @property
    def total_cost(self) -> float:
        return sum(usage.cost for usage in self.usage.values())

    @property
    def savings(self) -> float:
        """How many times cheaper than the reference model on every item."""
        return self.reference_only_cost / self.total_cost if self.total_cost > 0 else float("inf")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["total_cost"] = self.total_cost
        data["savings"] = self.savings if self.total_cost > 0 else None
        return data
