"""`llm.max_input_tokens`: a text whose request would hold more tokens is cut to fit, with a warning
(`on_long_input: truncate`), or fails its task before any request (`fail`, the default). Never sent
silently."""

from __future__ import annotations

from typing import Sequence

from ..errors import LLMError
from .tokens import CHARS_PER_TOKEN, count_tokens, tokenizer


def limit_inputs(prompts: Sequence[str], texts: Sequence[str], max_tokens: int | None, on_long_input: str,
                 what: str) -> tuple[list[str], str | None]:
    """The texts to send, and a warning when some were cut; raises LLMError (with `fail`) naming the
    longest input when one is over the limit."""
    texts = list(texts)
    if max_tokens is None:
        return texts, None
    prompt_tokens = {prompt: count_tokens(prompt) for prompt in set(prompts)}
    long = [(i, prompt_tokens[p] + count_tokens(t)) for i, (p, t) in enumerate(zip(prompts, texts))]
    long = [(i, n) for i, n in long if n > max_tokens]
    if not long:
        return texts, None
    longest = max(n for _, n in long)
    if on_long_input == "fail" or any(prompt_tokens[prompts[i]] >= max_tokens for i, _ in long):
        raise LLMError(f"{what}: {len(long)} input(s) hold more than max_input_tokens = {max_tokens} tokens "
                       f"(the longest {longest}); nothing was sent",
                       hint="raise llm.max_input_tokens, shorten the texts in SQL (e.g. left(text, 4000)), or set "
                            "llm.on_long_input: truncate to send them cut to the limit")
    for i, _ in long:
        texts[i] = truncate(texts[i], max_tokens - prompt_tokens[prompts[i]])
    return texts, (f"{len(long)} text(s) over max_input_tokens = {max_tokens} (the longest {longest} tokens) "
                   f"were cut to fit before sending")


def truncate(text: str, tokens: int) -> str:
    """The start of `text` that holds at most `tokens` tokens (as `count_tokens` counts them)."""
    encoder = tokenizer()
    if encoder is not None:
        return encoder.decode(encoder.encode(text, disallowed_special=())[:tokens])
    return text[:tokens * CHARS_PER_TOKEN]
