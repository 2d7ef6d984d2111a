"""The `llm` block of a profile target: parsed and validated into plain data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import ConfigError
from ..smart.agreement import COMPARISONS
from .base import ModelSpec
from .score_distributions import PRESETS, ScoreDistribution

PROVIDERS = ("simulated", "openai")
LONG_INPUT = ("fail", "truncate")
"""What a task does with a text over `max_input_tokens`: fail before any request, or send it cut short."""
METHODS = ("mix", "single", "reference", "cascade", "auto")

# Used when a `simulated` target names no models: prices of the SMART paper's GPT-4 ladder
# (early 2024), under names that say they are not real models.
DEFAULT_SIMULATED_MODELS = (
    ModelSpec("sim-large", 30.0, 60.0, reference=True),
    ModelSpec("sim-medium", 1.5, 2.0),
    ModelSpec("sim-small", 1.0, 2.0),
)
DEFAULT_SIMULATED_AGREEMENT = {"sim-medium": 0.95, "sim-small": 0.9}


@dataclass(frozen=True)
class SimulatedSettings:
    agreement: Mapping[str, float] = field(default_factory=dict)
    """Rate at which each model agrees with the reference; the default for unnamed ones is 0.9."""
    latency_ms: float = 0.0
    failure_rate: float = 0.0
    """Share of requests that fail once with a transient error before succeeding."""
    scores: Mapping[str, ScoreDistribution] = field(default_factory=dict)
    """The distribution of each model's confidence scores; a model not named here gives none."""


@dataclass(frozen=True)
class LLMConfig:
    provider: str = "simulated"
    models: tuple[ModelSpec, ...] = DEFAULT_SIMULATED_MODELS
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    max_concurrency: int = 16
    timeout_seconds: float = 60.0
    """How long one attempt may take."""
    retry_timeout_seconds: float = 300.0
    """How long one request may go on being retried (transient failures) before its model fails."""
    cache: bool = True
    cache_path: str | None = None
    """The response cache's file (SQLite); default `<target-path>/llm_cache.sqlite`."""
    accuracy: float = 0.9
    confidence: float = 0.95
    method: str = "mix"
    max_tokens: int | None = None
    temperature: float = 0.0
    seed: int = 0
    compare: str = "normalized"
    """How answers without `labels` are compared and stored: see smart_sql.smart.agreement."""
    max_invalid_share: float = 0.05
    """Share of the reference model's answers that may be invalid before a task fails."""
    simulated: SimulatedSettings = field(default_factory=SimulatedSettings)
    max_cost: float | None = None
    """Dollars the requests of one build may cost at most (see smart_sql.llm.budget); None: no limit."""
    max_input_tokens: int | None = None
    """Most tokens the prompt and text of one request may hold; see `on_long_input`."""
    on_long_input: str = "fail"
    """One of LONG_INPUT."""

    @property
    def reference(self) -> ModelSpec:
        return next(m for m in self.models if m.reference)

    def model(self, name: str) -> ModelSpec | None:
        return next((m for m in self.models if m.name == name), None)


def parse_llm_config(block: Mapping[str, Any] | None, *, source: str = "profiles.yml") -> LLMConfig:
    """Validate a target's `llm` block. `source` names the file for error messages."""
    if block is None:
        block = {}
    if not isinstance(block, Mapping):
        raise ConfigError("the `llm` block must be a mapping", path=source)

    def fail(message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(f"llm: {message}", path=source, hint=hint)

    if "max_retries" in block:
        raise fail("`max_retries` is no longer read: a request is retried for up to `retry_timeout_seconds` "
                   "(default 300) however many attempts that takes",
                   "remove max_retries, or replace it with retry_timeout_seconds: <seconds>")
    known = {"provider", "models", "api_key", "base_url", "max_concurrency", "timeout_seconds",
             "retry_timeout_seconds", "cache", "cache_path", "accuracy", "confidence", "method", "max_tokens",
             "temperature", "seed", "compare", "max_invalid_share", "simulated", "max_cost", "max_input_tokens",
             "on_long_input"}
    unknown = sorted(set(block) - known)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}", f"allowed keys: {', '.join(sorted(known))}")

    provider = block.get("provider", "simulated")
    if provider not in PROVIDERS:
        raise fail(f"unknown provider {provider!r}", f"use one of: {', '.join(PROVIDERS)}")

    raw_models = block.get("models")
    if raw_models is None:
        if provider != "simulated":
            raise fail("the openai provider needs a `models` list",
                       "e.g. models: [{name: gpt-4o, input_price_per_1m: 2.5, output_price_per_1m: 10, reference: true}]")
        models = DEFAULT_SIMULATED_MODELS
    else:
        models = tuple(_parse_model(m, i, fail) for i, m in enumerate(_as_list(raw_models, "models", fail)))
    if not models:
        raise fail("`models` is empty", "list at least the reference model")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise fail(f"model names must be distinct, got {names}")
    references = [m.name for m in models if m.reference]
    if len(references) != 1:
        raise fail(f"exactly one model must have `reference: true`, found {len(references)}"
                   + (f" ({', '.join(references)})" if references else ""))

    simulated = _parse_simulated(block.get("simulated"), models, provider, fail)
    method = block.get("method", "mix")
    if method not in METHODS:
        raise fail(f"unknown method {method!r}", f"use one of: {', '.join(METHODS)}")
    on_long_input = block.get("on_long_input", "fail")
    if on_long_input not in LONG_INPUT:
        raise fail(f"unknown on_long_input {on_long_input!r}", f"use one of: {', '.join(LONG_INPUT)}")
    compare = block.get("compare", "normalized")
    if compare not in COMPARISONS:
        raise fail(f"unknown compare {compare!r}", f"use one of: {', '.join(COMPARISONS)}")

    return LLMConfig(
        provider=provider,
        models=models,
        api_key=_optional_str(block.get("api_key"), "api_key", fail),
        base_url=_optional_str(block.get("base_url"), "base_url", fail),
        max_concurrency=_number(block, "max_concurrency", 16, fail, int, low=1),
        timeout_seconds=_number(block, "timeout_seconds", 60.0, fail, float, low=0.001),
        retry_timeout_seconds=_number(block, "retry_timeout_seconds", 300.0, fail, float, low=0.0),
        cache=bool(block.get("cache", True)),
        cache_path=_optional_str(block.get("cache_path"), "cache_path", fail),
        accuracy=_probability(block, "accuracy", 0.9, fail, allow_one=True),
        confidence=_probability(block, "confidence", 0.95, fail, allow_one=False),
        method=method,
        max_tokens=_number(block, "max_tokens", None, fail, int, low=1),
        temperature=_number(block, "temperature", 0.0, fail, float, low=0.0),
        seed=_number(block, "seed", 0, fail, int),
        compare=compare,
        max_invalid_share=_probability(block, "max_invalid_share", 0.05, fail, allow_one=True, allow_zero=True),
        simulated=simulated,
        max_cost=_number(block, "max_cost", None, fail, float, low=0.0),
        max_input_tokens=_number(block, "max_input_tokens", None, fail, int, low=1),
        on_long_input=on_long_input,
    )


def _as_list(value, key, fail):
    if not isinstance(value, list):
        raise fail(f"`{key}` must be a list")
    return value


def _parse_model(raw, index, fail) -> ModelSpec:
    if isinstance(raw, str):
        raise fail(f"models[{index}] ({raw!r}) needs prices",
                   f"write {{name: {raw}, input_price_per_1m: ..., output_price_per_1m: ...}}")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise fail(f"models[{index}] must be a mapping with a `name`")
    name = raw["name"]
    extra = sorted(set(raw) - {"name", "input_price_per_1m", "output_price_per_1m", "reference"})
    if extra:
        raise fail(f"model {name!r}: unknown key(s) {', '.join(extra)}")
    prices = []
    for key in ("input_price_per_1m", "output_price_per_1m"):
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise fail(f"model {name!r}: `{key}` must be a number >= 0 (dollars per million tokens)")
        prices.append(float(value))
    return ModelSpec(name, prices[0], prices[1], reference=bool(raw.get("reference", False)))


def _parse_simulated(raw, models, provider, fail) -> SimulatedSettings:
    if raw is None:
        defaults = {m.name: DEFAULT_SIMULATED_AGREEMENT.get(m.name, 0.9) for m in models if not m.reference}
        return SimulatedSettings(agreement=defaults)
    if not isinstance(raw, Mapping):
        raise fail("`simulated` must be a mapping (agreement, latency_ms, failure_rate, scores)")
    unknown = sorted(set(raw) - {"agreement", "latency_ms", "failure_rate", "scores"})
    if unknown:
        raise fail(f"simulated: unknown key(s) {', '.join(unknown)}", "allowed keys: agreement, failure_rate, "
                   "latency_ms, scores")
    agreement = dict(raw.get("agreement") or {})
    names = {m.name for m in models}
    for name, rate in agreement.items():
        if name not in names:
            raise fail(f"simulated.agreement names unknown model {name!r}", f"configured: {', '.join(sorted(names))}")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise fail(f"simulated.agreement.{name} must be a number between 0 and 1")
    for m in models:
        if not m.reference:
            agreement.setdefault(m.name, DEFAULT_SIMULATED_AGREEMENT.get(m.name, 0.9))
    return SimulatedSettings(
        agreement={k: float(v) for k, v in agreement.items()},
        latency_ms=_number(raw, "latency_ms", 0.0, fail, float, low=0.0, prefix="simulated."),
        failure_rate=_probability(raw, "failure_rate", 0.0, fail, allow_one=False, allow_zero=True,
                                  prefix="simulated."),
        scores=_parse_scores(raw.get("scores"), [m.name for m in models], fail),
    )


SCORES_HINT = (f"give a preset ({', '.join(PRESETS)}) or {{agreeing: [alpha, beta], disagreeing: [alpha, beta]}} "
               "(Beta parameters), for every model or per model name")


def _parse_scores(raw, names, fail) -> dict[str, ScoreDistribution]:
    """One distribution for every model, or one per model named."""
    if raw is None:
        return {}
    if isinstance(raw, str) or (isinstance(raw, Mapping) and {"agreeing", "disagreeing"} & set(raw)):
        distribution = _score_distribution(raw, "simulated.scores", fail)
        return {name: distribution for name in names}
    if not isinstance(raw, Mapping):
        raise fail(f"`simulated.scores` must be a preset name or a mapping, got {raw!r}", SCORES_HINT)
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise fail(f"simulated.scores names unknown model(s) {', '.join(map(str, unknown))}",
                   f"configured: {', '.join(names)}; or {SCORES_HINT}")
    return {name: _score_distribution(value, f"simulated.scores.{name}", fail) for name, value in raw.items()}


def _score_distribution(raw, where, fail) -> ScoreDistribution:
    if isinstance(raw, str):
        if raw not in PRESETS:
            raise fail(f"`{where}`: unknown preset {raw!r}", f"use one of: {', '.join(PRESETS)}")
        return PRESETS[raw]
    if not isinstance(raw, Mapping) or set(raw) != {"agreeing", "disagreeing"}:
        raise fail(f"`{where}` must be a preset name or a mapping with exactly `agreeing` and `disagreeing`",
                   SCORES_HINT)
    return ScoreDistribution(*(_beta_parameters(raw[kind], f"{where}.{kind}", fail)
                               for kind in ("agreeing", "disagreeing")))


def _beta_parameters(raw, where, fail) -> tuple[float, float]:
    if (not isinstance(raw, (list, tuple)) or len(raw) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf for v in raw)):
        raise fail(f"`{where}` must be two Beta parameters [alpha, beta], each > 0, got {raw!r}")
    return float(raw[0]), float(raw[1])


def _optional_str(value, key, fail):
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise fail(f"`{key}` must be a string")
    return value


def _number(block, key, default, fail, kind, low=None, prefix=""):
    value = block.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not float(value).is_integer()):
        raise fail(f"`{prefix}{key}` must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    if low is not None and value < low:
        raise fail(f"`{prefix}{key}` must be >= {low}, got {value!r}")
    return kind(value)


def _probability(block, key, default, fail, *, allow_one, allow_zero=False, prefix=""):
    value = _number(block, key, default, fail, float, prefix=prefix)
    ok = (0 <= value if allow_zero else 0 < value) and (value <= 1 if allow_one else value < 1)
    if not ok:
        interval = f"{'[' if allow_zero else '('}0, 1{']' if allow_one else ')'}"
        raise fail(f"`{prefix}{key}` must be in {interval}, got {value!r}")
    return value
