"""Token counts estimated from text length, where no server reports them: the simulated provider,
a server that sends no usage, and cost estimates before a run."""

from __future__ import annotations

import math

CHARS_PER_TOKEN = 4
FRAMING_TOKENS = 24
"""Tokens of the fixed instructions around the user's prompt, as the openai provider sends them."""


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def estimate_tokens_sql(column: str) -> str:
    """`estimate_tokens` as a DuckDB expression over a text column."""
    return f"greatest(1, ceil(length({column}) / {CHARS_PER_TOKEN}))"
