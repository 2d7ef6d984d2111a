"""Log probabilities for the local test server's answers, in the chat completions format.

The answer is cut into tokens (runs of up to four word characters or one other character, each with
the space before it). With labels, the server stands for a model that gives the label it answers the
probability `score` and shares the rest evenly among the other labels; at each token of the answer,
the alternatives listed are the next tokens of the labels still possible there, each with the
probability of those labels given the tokens before. The tokens before the label, and those after
it once no other label is possible, are certain (log probability 0). Reading the label's
probability back from these (label_probability) gives `score`.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

_TOKEN = re.compile(r" ?\w{1,4}| ?[^\w\s]|\s", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def answer_logprobs(content: str, top: int, label_start: int | None = None, answer: str | None = None,
                    labels: Sequence[str] | None = None, score: float | None = None) -> dict:
    """`choices[0].logprobs` of `content`; with `labels` and a `score`, the label `answer` written at
    `label_start` has probability `score` and the other labels share the rest."""
    tokens = tokenize(content)
    probabilities: list[list[tuple[str, float]]] = [[(token, 1.0)] for token in tokens]
    if labels and answer in labels and score is not None and label_start is not None:
        first, start = _token_at(tokens, label_start)
        head, tail = content[start:label_start], content[label_start + len(answer):]
        sequences = {label: tokenize(head + label + tail) for label in labels}
        weights = {label: score if label == answer else (1 - score) / (len(labels) - 1) for label in labels}
        probabilities[first:] = _next_token_probabilities(sequences, weights, answer)
    return {"content": [_entry(options, top) for options in probabilities], "refusal": None}


def _token_at(tokens: list[str], offset: int) -> tuple[int, int]:
    """The index of the token holding character `offset`, and where that token starts."""
    start = 0
    for index, token in enumerate(tokens):
        if start + len(token) > offset:
            return index, start
        start += len(token)
    raise ValueError("offset beyond the text")


def _next_token_probabilities(sequences: dict[str, list[str]], weights: dict[str, float],
                              answer: str) -> list[list[tuple[str, float]]]:
    """At each token of `answer`'s sequence: the chosen token first, then the other next tokens of
    the labels that agree with it so far, each with its probability given those tokens."""
    chosen = sequences[answer]
    positions = []
    for index, token in enumerate(chosen):
        possible = [label for label, tokens in sequences.items() if tokens[:index] == chosen[:index]]
        total = sum(weights[label] for label in possible) or 1.0
        next_tokens: dict[str, float] = {token: 0.0}
        for label in possible:
            if index < len(sequences[label]):
                following = sequences[label][index]
                next_tokens[following] = next_tokens.get(following, 0.0) + weights[label] / total
        positions.append(list(next_tokens.items()))
    return positions


def _entry(options: list[tuple[str, float]], top: int) -> dict:
    """One token (the first of `options`) with the `top` most likely of `options` listed."""
    token, probability = options[0]
    listed = sorted(options, key=lambda option: -option[1])[:top]
    return {**_token(token, probability), "top_logprobs": [_token(text, p) for text, p in listed]}


def _token(text: str, probability: float) -> dict:
    return {"token": text, "logprob": math.log(probability) if probability > 0 else -9999.0,
            "bytes": list(text.encode("utf-8"))}
