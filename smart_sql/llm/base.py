"""The provider interface shared by the SMART engine, the SQL layer and every provider.

Plain data only: no I/O, no heavy imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Protocol, Sequence


@dataclass(frozen=True)
class ModelSpec:
    """One model of the ladder with its prices in dollars per million tokens."""

    name: str
    input_price_per_1m: float
    output_price_per_1m: float
    reference: bool = False

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input_price_per_1m + output_tokens * self.output_price_per_1m) / 1e6


@dataclass(frozen=True)
class RequestOptions:
    max_tokens: int | None = None
    temperature: float = 0.0
    labels: tuple[str, ...] | None = None


class LLMRequest(NamedTuple):
    """A tuple, not a dataclass: a batch creates one per distinct input, twice as fast."""

    model: str
    prompt: str
    text: str
    options: RequestOptions = RequestOptions()


class LLMResponse(NamedTuple):
    """An answer with the token usage the server reported. `cached` answers cost nothing.
    `served_model` is the model version the server says answered (its `model` and
    `system_fingerprint`), None when it says nothing (and for simulated answers).

    `answer` is None when the server's answer stayed invalid (empty, null, or none of the call's
    labels) after being asked once more; `invalid` then holds a short excerpt of what it sent.
    `score` is the model's confidence in its answer, a probability in [0, 1], None where the
    provider gives none.
    """

    answer: str | None
    input_tokens: int
    output_tokens: int
    cached: bool = False
    served_model: str | None = None
    invalid: str | None = None
    score: float | None = None


OnResponse = Callable[[int, LLMResponse], None]
"""Called with (index into the batch, response) as each answer arrives."""


class Provider(Protocol):
    name: str
    """'openai' or 'simulated'."""
    simulated: bool
    """True when answers are not from a real model; every report must then say 'simulated'."""
    endpoint: str
    """Identifies the server (base URL, or 'simulated:<settings>') for cache keys; never holds secrets."""

    async def complete(self, requests: Sequence[LLMRequest],
                       on_response: OnResponse | None = None) -> list[LLMResponse]:
        """Answer every request (many in flight at once), in the order given."""
        ...

    async def aclose(self) -> None:
        ...
