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


def output_tokens_range(options: CallOptions, model: str, measured: Mapping[str, float],
                        simulated: bool) -> tuple[float, float, float]:
    """(low, expected, high) tokens of one answer: as measured by an earlier run of the task
    (within 20%), a label (plus its JSON wrapping from a real server), or for free text between one
    token and max_tokens (EXPECTED_OUTPUT_TOKENS expected, and four times that when unbounded)."""
    if model in measured:
        return 0.8 * measured[model], measured[model], 1.25 * measured[model]
    if options.labels:
        tokens = [count_tokens(label) for label in options.labels]
        wrapping = 0 if simulated else LABEL_OVERHEAD_TOKENS
        return float(min(tokens)), float(np.mean(tokens)) + wrapping, float(max(tokens)) + wrapping
    bound = options.max_tokens or 4 * EXPECTED_OUTPUT_TOKENS
    return 1.0, float(min(bound, EXPECTED_OUTPUT_TOKENS)), float(bound)


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
               cached: np.ndarray, *, output: str, measured: Mapping[str, float] | None = None,
               simulated: bool = False, answers: np.ndarray | None = None) -> ItemCosts:
    """Costs with answers at `output` tokens: 'worst' (their bound, for the budget), or 'low',
    'expected', 'high' (see output_tokens_range)."""
    tokens = input_tokens(prompts, texts)
    if output == "worst":
        per_model = [float(worst_output_tokens(options))] * len(ladder)
    else:
        which = ("low", "expected", "high").index(output)
        per_model = [output_tokens_range(options, m.name, measured or {}, simulated)[which] for m in ladder]
    out = np.repeat(np.array(per_model, dtype=float)[:, None], len(prompts), axis=1)
    return ItemCosts(tokens, out, cached, answers)
