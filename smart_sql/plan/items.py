"""What each request of one task costs, per model and distinct input: tokens in (counted), tokens
out (bounded or expected), and whether the response cache already holds the answer."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from ..llm.base import LLMRequest, ModelSpec, RequestOptions
from ..llm.budget import RESERVED_OUTPUT_TOKENS
from ..llm.cache import request_keys
from ..llm.tokens import FRAMING_TOKENS, count_tokens
from ..rewrite.options import CallOptions
from ..smart.spend import ItemCosts

EXPECTED_OUTPUT_TOKENS = 8
"""Output tokens per answer assumed for a call without labels when no earlier run measured them."""
LABEL_OVERHEAD_TOKENS = 6
"""What a structured label answer adds around the label itself ({"label": ...}), at most."""

Lookup = Callable[[Sequence[bytes]], Mapping[bytes, object]]


def request_options(options: CallOptions) -> RequestOptions:
    return RequestOptions(max_tokens=options.max_tokens, temperature=options.temperature, labels=options.labels)


def input_tokens(prompts: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    per_prompt = {prompt: count_tokens(prompt) for prompt in set(prompts)}
    return np.array([FRAMING_TOKENS + per_prompt[p] + count_tokens(t) for p, t in zip(prompts, texts)],
                    dtype=np.int64)


def worst_output_tokens(options: CallOptions) -> int:
    """The most tokens one answer is counted at before the run: max_tokens, else a label's JSON, else
    the budget's reservation."""
    if options.max_tokens:
        return options.max_tokens
    if options.labels:
        return max(count_tokens(label) for label in options.labels) + LABEL_OVERHEAD_TOKENS
    return RESERVED_OUTPUT_TOKENS


def expected_output_tokens(options: CallOptions, model: str, measured: Mapping[str, float]) -> float:
    """Tokens one answer is expected to hold: as measured by an earlier run of the task, else a label,
    else EXPECTED_OUTPUT_TOKENS (capped by max_tokens)."""
    if model in measured:
        return measured[model]
    if options.labels:
        return float(np.mean([count_tokens(label) for label in options.labels]))
    return float(min(options.max_tokens or EXPECTED_OUTPUT_TOKENS, EXPECTED_OUTPUT_TOKENS))


def cached_answers(lookup: Lookup | None, endpoint: str, ladder: Sequence[ModelSpec], options: CallOptions,
                   prompts: Sequence[str], texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(models, items) whether the cache holds each model's answer to each input, and that answer."""
    mask = np.zeros((len(ladder), len(prompts)), dtype=bool)
    answers = np.full((len(ladder), len(prompts)), None, dtype=object)
    if lookup is None or not len(prompts):
        return mask, answers
    sent = request_options(options)
    for row, model in enumerate(ladder):
        keys = request_keys(endpoint, [LLMRequest(model.name, p, t, sent) for p, t in zip(prompts, texts)])
        found = lookup(keys)
        for column, key in enumerate(keys):
            if key in found:
                mask[row, column] = True
                answers[row, column] = found[key].answer
    return mask, answers


def cached_mask(lookup: Lookup | None, endpoint: str, ladder: Sequence[ModelSpec], options: CallOptions,
                prompts: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    return cached_answers(lookup, endpoint, ladder, options, prompts, texts)[0]


def item_costs(options: CallOptions, ladder: Sequence[ModelSpec], prompts: Sequence[str], texts: Sequence[str],
               cached: np.ndarray, *, worst: bool, measured: Mapping[str, float] | None = None,
               answers: np.ndarray | None = None) -> ItemCosts:
    tokens = input_tokens(prompts, texts)
    if worst:
        out = np.full((len(ladder), len(prompts)), float(worst_output_tokens(options)))
    else:
        out = np.array([[expected_output_tokens(options, m.name, measured or {})] * len(prompts) for m in ladder],
                       dtype=float).reshape(len(ladder), len(prompts))
    return ItemCosts(tokens, out, cached, answers)
