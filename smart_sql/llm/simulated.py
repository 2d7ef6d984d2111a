"""The simulated provider: offline, deterministic answers for trying a pipeline, tests and benchmarks.

The reference model's answer to (prompt, text) comes from a hash of the pair. Every other model gives
the same answer with probability equal to its configured agreement rate, decided by a hash of
(model, prompt, text), and otherwise a different one. Token counts follow the text length. A model
given a score distribution (`simulated.scores`, see score_distributions) gives each answer a
confidence score drawn, by a hash of (model, prompt, text), from the distribution of agreeing or of
disagreeing answers; the reference's answers count as agreeing. With `latency_ms`, at most
`max_concurrency` requests wait at once over all the batches in flight.
Nothing here comes from a real model: `simulated` is True and reports must say so.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..errors import LLMError
from .base import LLMRequest, LLMResponse, OnResponse
from .budget import SpendingRefused, admit, current_budget, raise_if_refused, settle
from .concurrency import run_workers
from .config import LLMConfig
from .score_distributions import ScoreDistribution
from .tokens import FRAMING_TOKENS, estimate_tokens

DEFAULT_AGREEMENT = 0.9

_ADJECTIVES = ("amber", "brisk", "calm", "dusty", "eager", "faint", "grand", "hollow",
               "icy", "jolly", "keen", "lunar", "mellow", "noble", "olive", "plain")
_NOUNS = ("anchor", "bridge", "cedar", "delta", "ember", "falcon", "garden", "harbor",
          "island", "jasper", "kettle", "lantern", "meadow", "needle", "orchard", "pebble")
_PHRASES = tuple(f"{a} {n}" for a in _ADJECTIVES for n in _NOUNS)
NO_LABEL = "none of these"
"""What a disagreeing model answers when a single label leaves no other label to give."""


def _hash(*parts: str) -> int:
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def unit_interval(*parts: str) -> float:
    """A number in [0, 1) fixed by `parts`."""
    return _hash(*parts) / 2.0**64


@dataclass(frozen=True)
class Simulator:
    """Answers as the simulated models would; shared by the simulated provider and the local server."""

    reference: str
    agreement: Mapping[str, float]
    scores: Mapping[str, ScoreDistribution] = field(default_factory=dict)
    """The distribution of each model's confidence scores; a model not named here gives none."""

    @classmethod
    def from_config(cls, config: LLMConfig) -> "Simulator":
        rates = {m.name: config.simulated.agreement.get(m.name, DEFAULT_AGREEMENT)
                 for m in config.models if not m.reference}
        return cls(config.reference.name, rates, dict(config.simulated.scores))

    @property
    def models(self) -> tuple[str, ...]:
        return (self.reference, *self.agreement)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the simulated answers or their scores would (and without scores is what it
        was before them, so that the cache keeps its answers)."""
        settings = [self.reference, sorted(self.agreement.items())]
        if self.scores:
            settings.append(sorted(self.scores.items()))
        return f"{_hash(json.dumps(settings)):016x}"[:12]

    def reference_answer(self, prompt: str, text: str, labels: Sequence[str] | None = None) -> str:
        pick = _hash("reference", prompt, text)
        if labels:
            return labels[pick % len(labels)]
        return _PHRASES[pick % len(_PHRASES)]

    def answer(self, model: str, prompt: str, text: str, labels: Sequence[str] | None = None) -> str:
        if model != self.reference and model not in self.agreement:
            raise LLMError(f"simulated provider: unknown model {model!r}",
                           hint=f"configured models: {', '.join(self.models)}")
        truth = self.reference_answer(prompt, text, labels)
        if model == self.reference or unit_interval("agree", model, prompt, text) < self.agreement[model]:
            return truth
        return self._other_answer(truth, model, prompt, text, labels)

    def score(self, model: str, prompt: str, text: str, answer: str,
              labels: Sequence[str] | None = None) -> float | None:
        """The confidence `model` has in `answer`; None for a model without a score distribution."""
        distribution = self.scores.get(model)
        if distribution is None:
            return None
        agrees = answer == self.reference_answer(prompt, text, labels)
        return distribution.draw(agrees, unit_interval("score", model, prompt, text))

    def _other_answer(self, truth: str, model: str, prompt: str, text: str,
                      labels: Sequence[str] | None) -> str:
        choices = [label for label in labels if label != truth] if labels else \
            [phrase for phrase in _PHRASES if phrase != truth]
        if not choices:
            return NO_LABEL
        return choices[_hash("disagree", model, prompt, text) % len(choices)]

    def fails_once(self, model: str, prompt: str, text: str, failure_rate: float) -> bool:
        return failure_rate > 0 and unit_interval("fail", model, prompt, text) < failure_rate

    @staticmethod
    def usage(prompt: str, text: str, answer: str) -> tuple[int, int]:
        return FRAMING_TOKENS + estimate_tokens(prompt) + estimate_tokens(text), estimate_tokens(answer)


class SimulatedProvider:
    """Offline provider. With `latency_ms` each request waits that long, at most `max_concurrency`
    at a time; a request picked by `failure_rate` fails once and is retried, costing one more round trip."""

    name = "simulated"
    simulated = True

    def __init__(self, config: LLMConfig):
        self.simulator = Simulator.from_config(config)
        self.endpoint = f"simulated:{self.simulator.fingerprint}"
        self.latency_seconds = config.simulated.latency_ms / 1000.0
        self.failure_rate = config.simulated.failure_rate
        self.max_concurrency = config.max_concurrency
        self.requests_sent = 0
        self.retries = 0
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def _shared_slots(self) -> asyncio.Semaphore:
        """The `max_concurrency` slots that every batch of this provider takes turns in (one set per
        event loop: a semaphore belongs to the loop it was first used in)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.max_concurrency))
        return self._slots[1]

    def respond(self, request: LLMRequest) -> LLMResponse:
        labels = request.options.labels
        answer = self.simulator.answer(request.model, request.prompt, request.text, labels)
        input_tokens, output_tokens = self.simulator.usage(request.prompt, request.text, answer)
        if request.options.max_tokens is not None:
            output_tokens = min(output_tokens, request.options.max_tokens)
        score = self.simulator.score(request.model, request.prompt, request.text, answer, labels)
        return LLMResponse(answer, input_tokens, output_tokens, score=score)

    def _attempts(self, request: LLMRequest) -> int:
        return 2 if self.simulator.fails_once(request.model, request.prompt, request.text, self.failure_rate) else 1

    async def complete(self, requests: Sequence[LLMRequest],
                       on_response: OnResponse | None = None) -> list[LLMResponse]:
        if self.latency_seconds > 0:
            return await self._complete_with_latency(requests, on_response)
        budgeted = current_budget() is not None
        responses = []
        for index, request in enumerate(requests):
            if index % 2048 == 2047:
                await asyncio.sleep(0)
            try:
                response = self._answer_within_budget(request) if budgeted else self._answer(request)
            except SpendingRefused:
                raise_if_refused()
            responses.append(response)
            if on_response is not None:
                on_response(index, response)
        return responses

    def _answer(self, request: LLMRequest) -> LLMResponse:
        attempts = self._attempts(request)
        self.requests_sent += attempts
        self.retries += attempts - 1
        return self.respond(request)

    def _answer_within_budget(self, request: LLMRequest) -> LLMResponse:
        ticket = admit(request)
        response = self._answer(request)
        settle(ticket, response.input_tokens, response.output_tokens)
        return response

    async def _complete_with_latency(self, requests, on_response) -> list[LLMResponse]:
        responses: list[LLMResponse | None] = [None] * len(requests)
        pending = iter(enumerate(requests))
        slots = self._shared_slots()

        async def worker():
            for index, request in pending:
                async with slots:
                    try:
                        ticket = admit(request)
                    except SpendingRefused:
                        return
                    response = self.respond(request)
                    attempts = self._attempts(request)
                    for _ in range(attempts):
                        self.requests_sent += 1
                        await asyncio.sleep(self.latency_seconds)
                self.retries += attempts - 1
                settle(ticket, response.input_tokens, response.output_tokens)
                responses[index] = response
                if on_response is not None:
                    on_response(index, response)

        await run_workers(worker, min(self.max_concurrency, len(requests)))
        if any(response is None for response in responses):
            raise_if_refused()
        return responses  # type: ignore[return-value]

    async def aclose(self) -> None:
        return None

