"""Token counts estimated from text, where no server reports them: the simulated provider, a server
that sends no usage, cost estimates before a run (`smart-sql plan`) and the budget's reservations."""

from __future__ import annotations

import functools
import math

CHARS_PER_TOKEN = 4
FRAMING_TOKENS = 24
"""Tokens of the fixed instructions around the user's prompt, as the openai provider sends them."""
MESSAGE_OVERHEAD_TOKENS = 16
"""What a chat request adds around its messages (roles, separators), at most, for the worst case."""
TOKENIZER_ENCODING = "o200k_base"


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def estimate_tokens_sql(column: str) -> str:
    """`estimate_tokens` as a DuckDB expression over a text column."""
    return f"greatest(1, ceil(length({column}) / {CHARS_PER_TOKEN}))"


def most_tokens(text: str) -> int:
    """An upper bound on the tokens of `text` under any byte-level BPE tokenizer (every token of
    OpenAI's and most open models' tokenizers stands for at least one byte of UTF-8)."""
    return max(1, len(text.encode("utf-8", "surrogatepass")))


@functools.lru_cache(maxsize=1)
def tokenizer():
    """tiktoken's encoder when tiktoken is installed and its encoding loads (offline: from its
    cache), else None."""
    try:
        import tiktoken

        return tiktoken.get_encoding(TOKENIZER_ENCODING)
    except Exception:
        return None


def counting_method() -> str:
    """How `count_tokens` counts, as the plan says it."""
    if tokenizer() is not None:
        return f"tiktoken {TOKENIZER_ENCODING}"
    return f"estimated from text length ({CHARS_PER_TOKEN} characters per token)"


def count_tokens(text: str) -> int:
    """Tokens of `text`: tiktoken's count when installed, else `estimate_tokens`."""
    encoder = tokenizer()
    if encoder is None:
        return estimate_tokens(text)
    return max(1, len(encoder.encode(text, disallowed_special=())))
