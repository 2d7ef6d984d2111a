"""`llm.max_input_tokens`: a text whose request would hold more tokens is cut to fit, with a warning
(`on_long_input: truncate`), or fails its task before any request (`fail`, the default). Never sent
silently. A task's inputs can be surveyed a chunk at a time (`LongInputs`) and cut as they are sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..errors import LLMError
from .tokens import CHARS_PER_TOKEN, count_tokens, tokenizer


@dataclass
class LongInputs:
    """The inputs over the limit among those surveyed so far."""

    max_tokens: int
    count: int = 0
    longest: int = 0
    prompt_too_long: bool = False
    """Whether the prompt of a long input alone reaches the limit (no cut of its text can fit it)."""

    def survey(self, prompts: Sequence[str], texts: Sequence[str]) -> None:
        prompt_tokens = {prompt: count_tokens(prompt) for prompt in set(prompts)}
        for prompt, text in zip(prompts, texts):
            tokens = prompt_tokens[prompt] + count_tokens(text)
            if tokens > self.max_tokens:
                self.count += 1
                self.longest = max(self.longest, tokens)
                self.prompt_too_long |= prompt_tokens[prompt] >= self.max_tokens

    def verdict(self, on_long_input: str, what: str) -> str | None:
        """Raise LLMError (with `fail`, or when a prompt alone is too long) naming the longest input;
        else the warning to show when some texts will be cut, None when none."""
        if not self.count:
            return None
        if on_long_input == "fail" or self.prompt_too_long:
            raise LLMError(f"{what}: {self.count} input(s) hold more than max_input_tokens = {self.max_tokens} tokens "
                           f"(the longest {self.longest}); nothing was sent",
                           hint="raise llm.max_input_tokens, shorten the texts in SQL (e.g. left(text, 4000)), or set "
                                "llm.on_long_input: truncate to send them cut to the limit")
        return (f"{self.count} text(s) over max_input_tokens = {self.max_tokens} (the longest {self.longest} tokens) "
                f"were cut to fit before sending")


def limit_inputs(prompts: Sequence[str], texts: Sequence[str], max_tokens: int | None, on_long_input: str,
                 what: str) -> tuple[list[str], str | None]:
    """The texts to send, and a warning when some were cut; raises LLMError (with `fail`) naming the
    longest input when one is over the limit."""
    if max_tokens is None:
        return list(texts), None
    long = LongInputs(max_tokens)
    long.survey(prompts, texts)
    warning = long.verdict(on_long_input, what)
    return (cut_inputs(prompts, texts, max_tokens) if warning else list(texts)), warning


def cut_inputs(prompts: Sequence[str], texts: Sequence[str], max_tokens: int) -> list[str]:
    """Each text, cut where its request would hold more than `max_tokens` tokens."""
    prompt_tokens = {prompt: count_tokens(prompt) for prompt in set(prompts)}
    return [truncate(text, max_tokens - prompt_tokens[prompt])
            if prompt_tokens[prompt] + count_tokens(text) > max_tokens else text
            for prompt, text in zip(prompts, texts)]


def truncate(text: str, tokens: int) -> str:
    """The start of `text` that holds at most `tokens` tokens (as `count_tokens` counts them)."""
    encoder = tokenizer()
    if encoder is not None:
        return encoder.decode(encoder.encode(text, disallowed_special=())[:tokens])
    return text[:tokens * CHARS_PER_TOKEN]
