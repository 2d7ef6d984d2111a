"""The arguments of one SMART_LLM call: checked against the rules and the target's `llm` block."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from ..errors import ModelError
from ..llm.config import METHODS, LLMConfig
from ..smart.agreement import COMPARISONS, normalize

FUNCTION_NAME = "SMART_LLM"
OPTION_NAMES = ("accuracy", "confidence", "models", "reference", "labels", "max_tokens",
                "temperature", "method", "seed", "compare", "max_invalid_share", "empty_text", "max_cost")

EMPTY_TEXT = ("null", "send")
"""What a call does with texts that are empty or only blank: 'null' (the default) answers NULL
without a call, as for a NULL text; 'send' sends them to the model like any text."""


@dataclass(frozen=True)
class CallOptions:
    """Everything that decides a call's answers, with the `llm` block's defaults filled in."""

    accuracy: float
    confidence: float
    models: tuple[str, ...]
    """The ladder, in the order of the `llm` block; always includes `reference`."""
    reference: str
    labels: tuple[str, ...] | None
    max_tokens: int | None
    temperature: float
    method: str
    seed: int
    compare: str = "normalized"
    max_invalid_share: float = 0.05
    empty_text: str = "null"
    """One of EMPTY_TEXT."""
    max_cost: float | None = None
    """Dollars this call's requests may cost at most, within the build's limit (smart_sql.llm.budget)."""

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "confidence": self.confidence, "models": list(self.models),
                "reference": self.reference, "labels": list(self.labels) if self.labels else None,
                "max_tokens": self.max_tokens, "temperature": self.temperature, "method": self.method,
                "seed": self.seed, "compare": self.compare, "max_invalid_share": self.max_invalid_share,
                "empty_text": self.empty_text, "max_cost": self.max_cost}


def is_smart_llm(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.upper() == FUNCTION_NAME


def call_position(call: exp.Anonymous, ordinal: int) -> str:
    line, column = call.meta.get("line"), call.meta.get("col")
    where = f"line {line}, column {column}" if line else "position unknown"
    if line and not in_model_file(call):
        where += " of the compiled SQL"
    return f"SMART_LLM call #{ordinal} ({where})"


def in_model_file(call: exp.Anonymous) -> bool:
    """Whether the call's line and column are in the model file (else in the compiled SQL)."""
    return call.meta.get("in_file", True)


class CallErrors:
    """Builds errors that name the model file, the call and its position."""

    def __init__(self, call: exp.Anonymous, ordinal: int, path: str | Path | None):
        self.call, self.ordinal, self.path = call, ordinal, path

    def __call__(self, message: str, hint: str | None = None) -> ModelError:
        return ModelError(f"{call_position(self.call, self.ordinal)}: {message}",
                          path=self.path, line=self.call.meta.get("line") if in_model_file(self.call) else None,
                          hint=hint)


def split_arguments(call: exp.Anonymous, fail: CallErrors) -> tuple[exp.Expression, exp.Expression, dict]:
    """The prompt and text expressions and the named options (name -> value expression)."""
    positional: list[exp.Expression] = []
    named: dict[str, exp.Expression] = {}
    for arg in call.expressions:
        if isinstance(arg, (exp.Kwarg, exp.PropertyEQ)):
            name = arg.this.name.lower()
            if name not in OPTION_NAMES:
                raise fail(f"unknown argument `{arg.this.name}`", f"named arguments: {', '.join(OPTION_NAMES)}")
            if name in named:
                raise fail(f"argument `{name}` is given twice")
            named[name] = arg.expression
        elif named:
            raise fail("positional arguments must come before the named ones",
                       "write SMART_LLM(prompt, text, accuracy => 0.9, ...)")
        else:
            positional.append(arg)
    if len(positional) != 2:
        raise fail(f"expected 2 positional arguments (prompt, text), got {len(positional)}",
                   "write SMART_LLM(prompt, text [, name => value ...])")
    return positional[0], positional[1], named


def parse_options(named: dict[str, exp.Expression], config: LLMConfig, fail: CallErrors) -> CallOptions:
    values = {name: _literal(name, node, fail) for name, node in named.items()}
    configured = [m.name for m in config.models]

    def configured_name(name: str, value) -> str:
        if not isinstance(value, str) or value not in configured:
            raise fail(f"`{name}` names {value!r}, which is not a configured model",
                       f"models in the target's llm block: {', '.join(configured)}")
        return value

    reference = configured_name("reference", values["reference"]) if "reference" in values else config.reference.name
    if "models" in values:
        raw = values["models"]
        listed = raw if isinstance(raw, list) else [raw]
        if not listed:
            raise fail("`models` is empty", "list model names, e.g. models => ['gpt-4o', 'gpt-4o-mini']")
        chosen = {configured_name("models", name) for name in listed}
    else:
        chosen = set(configured)
    chosen.add(reference)

    return CallOptions(
        accuracy=_probability(values, "accuracy", config.accuracy, fail, allow_one=True),
        confidence=_probability(values, "confidence", config.confidence, fail, allow_one=False),
        models=tuple(name for name in configured if name in chosen),
        reference=reference,
        labels=_labels(values.get("labels"), fail) if "labels" in values else None,
        max_tokens=_integer(values, "max_tokens", config.max_tokens, fail, low=1),
        temperature=_number(values, "temperature", config.temperature, fail, low=0.0),
        method=_method(values.get("method", config.method), fail),
        seed=_integer(values, "seed", config.seed, fail),
        compare=_compare(values, config.compare, fail),
        max_invalid_share=_share(values, "max_invalid_share", config.max_invalid_share, fail),
        empty_text=_choice(values, "empty_text", EMPTY_TEXT, fail),
        max_cost=_number(values, "max_cost", None, fail, low=0.0),
    )


def _literal(name: str, node: exp.Expression, fail: CallErrors):
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        return int(node.this) if node.this.isdigit() else float(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return -_literal(name, node.this, fail)
    if isinstance(node, exp.Array):
        return [_literal(name, item, fail) for item in node.expressions]
    raise fail(f"`{name}` must be a literal value, got {node.sql(dialect='duckdb')}",
               "option values are constants: numbers, 'strings' or ['lists', 'of', 'strings']")


def _number(values, name, default, fail, low=None):
    value = values.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(f"`{name}` must be a number, got {value!r}")
    if low is not None and value < low:
        raise fail(f"`{name}` must be >= {low}, got {value!r}")
    return float(value)


def _integer(values, name, default, fail, low=None):
    value = _number(values, name, default, fail, low)
    if value is None:
        return None
    if not value.is_integer():
        raise fail(f"`{name}` must be an integer, got {values.get(name)!r}")
    return int(value)


def _probability(values, name, default, fail, *, allow_one):
    value = _number(values, name, default, fail)
    if not (0 < value <= 1 if allow_one else 0 < value < 1):
        interval = "(0, 1]" if allow_one else "(0, 1)"
        raise fail(f"`{name}` must be in {interval}, got {values.get(name)!r}",
                   "accuracy => 1.0 means the reference model on every row" if allow_one else None)
    return value


def _labels(value, fail) -> tuple[str, ...]:
    hint = "write labels => ['positive', 'negative']"
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail("`labels` must be a non-empty list of non-empty strings", hint)
    normalized = [normalize(v) for v in value]
    if len(set(normalized)) != len(normalized):
        raise fail(f"`labels` must be distinct (ignoring case and punctuation), got {value}", hint)
    return tuple(value)


def _compare(values, default, fail) -> str:
    if "compare" in values and "labels" in values:
        raise fail("`compare` and `labels` cannot be combined: with labels, answers are compared by the label "
                   "they name, and the column stores that label", "drop `compare`, or drop `labels`")
    value = values.get("compare", default)
    if value not in COMPARISONS:
        raise fail(f"`compare` must be one of {', '.join(COMPARISONS)}, got {value!r}",
                   "'normalized' ignores spacing, quotes and trailing punctuation; 'casefold' ignores case too; "
                   "'exact' compares and stores the text as the model wrote it")
    return value


def _share(values, name, default, fail) -> float:
    value = _number(values, name, default, fail, low=0.0)
    if value > 1:
        raise fail(f"`{name}` must be in [0, 1], got {values.get(name)!r}")
    return value


def _choice(values, name, choices, fail) -> str:
    value = values.get(name, choices[0])
    if value not in choices:
        raise fail(f"`{name}` must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    return value


def _method(value, fail) -> str:
    if value not in METHODS:
        raise fail(f"`method` must be one of {', '.join(METHODS)}, got {value!r}",
                   "'mix' = cheapest guaranteed mix, 'single' = one cheaper model, 'reference' = no savings, "
                   "'cascade' = route rows by the cheaper models' confidence scores, 'auto' = mix or cascade, "
                   "whichever the pilot expects cheaper")
    return value
