"""The `openai` provider: chat completions on any OpenAI-compatible server through `AsyncOpenAI`.

Transient failures (429, 408, 409, 5xx, timeouts, dropped connections) are retried (tenacity) with
jittered exponential backoff, or after the server's `Retry-After`, for up to `retry_timeout_seconds`
per request; a request waiting to be retried holds no slot. An adaptive limit (`AdaptiveLimit`)
bounds the requests in flight by `max_concurrency` and follows the refusals that load explains.
An answer that is empty, null, or none of the call's labels is asked for once more; one still invalid
comes back with `answer=None` and an excerpt in `invalid`. Permanent failures, and transient ones
outlasting the retry budget, raise `LLMError` naming the model, the server, the cause and what to do.

A call with `labels` asks for log probabilities (`logprobs`, the TOP_LOGPROBS most likely tokens at
each position) and scores its answer with the label's probability among the labels (see
label_probability for how). A server that sends none gives no score; a model the server refuses
them for (400) is asked without them from then on, and gives no score.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import re
import time
from typing import Sequence

from ..errors import LLMError
from ..smart.agreement import to_label
from .base import LLMRequest, LLMResponse, OnResponse
from .budget import SpendingRefused, admit, charge_worst_case, raise_if_refused, release, settle
from .concurrency import AdaptiveLimit, run_workers
from .config import LLMConfig
from .label_probability import label_probability
from .stopping import RequestsStopped, sending_stopped
from .tokens import estimate_tokens

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
KEYLESS_PLACEHOLDER = "no-key"
"""Sent to servers configured without a key (Ollama, llama.cpp, vLLM usually need none)."""
MALFORMED_RETRIES = 2
UNDERWAY_PER_SLOT = 4
"""Requests underway per slot of `max_concurrency`, so that those waiting out a backoff leave their
slots to others."""
BACKOFF_SECONDS = 0.5
"""Backoff without `Retry-After`: a random wait up to this, doubled at each attempt..."""
MAX_BACKOFF_SECONDS = 30.0
"""...up to this."""
RETRY_AFTER_JITTER = 0.1
"""`Retry-After` is waited out plus up to this share of it, so that refused requests do not come back together."""
EXCERPT_CHARS = 80
TOP_LOGPROBS = 20
"""The most the chat completions API lists per position."""

SYSTEM_FRAMING = ("Follow the instruction below for the text the user sends. "
                  "Reply with the answer only, as briefly as possible.")
LABELS_LINE = "Reply with exactly one of these labels: "
INSTRUCTION_MARKER = "\n\nInstruction:\n"
LABEL_FIELD = "label"


def build_messages(prompt: str, text: str, labels: Sequence[str] | None) -> list[dict]:
    """The user's prompt is the instruction (system message, shared by every row of a column, so
    servers can cache the prefix); the row's text is the user message."""
    system = SYSTEM_FRAMING
    if labels:
        system += "\n" + LABELS_LINE + json.dumps(list(labels), ensure_ascii=False)
    return [{"role": "system", "content": system + INSTRUCTION_MARKER + prompt},
            {"role": "user", "content": text}]


def label_response_format(labels: Sequence[str]) -> dict:
    schema = {"type": "object",
              "properties": {LABEL_FIELD: {"type": "string", "enum": list(labels)}},
              "required": [LABEL_FIELD], "additionalProperties": False}
    return {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": schema}}


def read_label_answer(content: str, labels: Sequence[str], structured: bool) -> str | None:
    """The label an answer names; None when it names none."""
    if structured:
        try:
            value = json.loads(content)[LABEL_FIELD]
        except (ValueError, TypeError, KeyError):
            value = None
        if value in labels:
            return value
    return to_label(content, labels)


def read_answer(content: str | None, labels: Sequence[str] | None,
                structured: bool) -> tuple[str | None, str | None]:
    """(answer, None), or (None, an excerpt) for an empty or null answer or one naming none of `labels`."""
    answer = content.strip() if content else None
    if answer and labels:
        answer = read_label_answer(content, labels, structured)
    return (answer, None) if answer else (None, answer_excerpt(content))


def answer_excerpt(content: str | None) -> str:
    """What the server sent, shortened for an error message: 'null' for no content."""
    return "null" if content is None else content[:EXCERPT_CHARS]


def is_transient(error: BaseException) -> bool:
    import openai

    if isinstance(error, openai.APIConnectionError):
        return True
    return isinstance(error, openai.APIStatusError) and (error.status_code in (408, 409, 429)
                                                         or error.status_code >= 500)


def retry_after_seconds(error: BaseException) -> float | None:
    """The wait a refusal asks for (`retry-after-ms`, or `Retry-After` in seconds or as a date)."""
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def backoff(retry_state) -> float:
    """Seconds to wait before the next attempt: the server's `Retry-After` when it sent one, else
    exponential backoff with full jitter."""
    asked = retry_after_seconds(retry_state.outcome.exception())
    if asked is not None:
        return asked * (1 + random.uniform(0, RETRY_AFTER_JITTER))
    return random.uniform(0, min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2 ** (retry_state.attempt_number - 1)))


class _RetryRefused(BaseException):
    """Raised for a request or a retry due after sending stopped: not an Exception, so that nothing
    wraps or retries it."""


class OpenAIProvider:
    name = "openai"
    simulated = False

    def __init__(self, config: LLMConfig):
        self.base_url = (config.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.endpoint = f"openai:{self.base_url}"
        self.server = public_url(self.base_url)
        """The base URL without credentials or query, for messages."""
        self.limit = AdaptiveLimit(config.max_concurrency)
        self.requests_sent = 0
        self.retries = 0
        self.rate_limited = 0
        self.invalid_retries = 0
        self._config = config
        self._api_key = _resolve_api_key(config)
        self._client = None
        self._without_schema: set[str] = set()
        self._max_completion_tokens: set[str] = set()
        self._default_temperature: set[str] = set()
        self._without_logprobs: set[str] = set()
        self._warned_usage = False

    def _scrub(self, message: str) -> str:
        return scrub_secret(message, self._api_key)

    def _get_client(self):
        if self._client is None:
            import openai

            self._client = openai.AsyncOpenAI(api_key=self._api_key, base_url=self.base_url,
                                              timeout=self._config.timeout_seconds, max_retries=0)
        return self._client

    async def complete(self, requests: Sequence[LLMRequest],
                       on_response: OnResponse | None = None) -> list[LLMResponse]:
        client = self._get_client()
        responses: list[LLMResponse | None] = [None] * len(requests)
        pending = iter(enumerate(requests))

        async def worker():
            for index, request in pending:
                if sending_stopped():
                    return
                try:
                    response = await self._complete_one(client, request)
                except (_RetryRefused, SpendingRefused):
                    return
                responses[index] = response
                if on_response is not None:
                    on_response(index, response)

        await run_workers(worker, min(UNDERWAY_PER_SLOT * self._config.max_concurrency, len(requests)))
        if any(response is None for response in responses):
            raise_if_refused()
            raise RequestsStopped(f"{self.base_url}: stopped before every answer came")
        return responses  # type: ignore[return-value]

    async def _complete_one(self, client, request: LLMRequest) -> LLMResponse:
        """An answer, asked for once more (a fresh request) when the first is invalid."""
        first = await self._answer(client, request)
        if first.invalid is None:
            return first
        self.invalid_retries += 1
        second = await self._answer(client, request)
        return second._replace(input_tokens=first.input_tokens + second.input_tokens,
                               output_tokens=first.output_tokens + second.output_tokens)

    async def _answer(self, client, request: LLMRequest) -> LLMResponse:
        import openai

        labels = request.options.labels
        structured = bool(labels) and request.model not in self._without_schema
        refused_logprobs = False
        for attempt in range(MALFORMED_RETRIES + 1):
            try:
                completion = await self._send(client, request, structured)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as error:
                if self._asks_for_max_completion_tokens(request, error):
                    self._max_completion_tokens.add(request.model)
                    continue
                if self._refuses_temperature(request, error):
                    log.warning("%s: model %s accepts only its default temperature; sending none",
                                self.server, request.model)
                    self._default_temperature.add(request.model)
                    continue
                if labels and not refused_logprobs and "logprobs" in _error_message(error):
                    refused_logprobs = True
                    self._stop_asking_for_logprobs(request.model)
                    continue
                if not structured:
                    raise self._permanent_error(request, error) from None
                log.info("%s rejected structured output for %s; parsing plain answers instead",
                         self.server, request.model)
                self._without_schema.add(request.model)
                structured = False
                continue
            except (openai.APIResponseValidationError, ValueError) as error:
                if attempt == MALFORMED_RETRIES:
                    raise self._permanent_error(request, error) from None
                self.retries += 1
                continue
            except openai.APIError as error:
                raise self._permanent_error(request, error) from None
            parsed = self._parse(request, completion, structured)
            if parsed is not None:
                return parsed
        raise LLMError(f"model {request.model!r} at {self.server}: the server keeps sending answers "
                       "that are not chat completions", hint="check that base_url points at an "
                       "OpenAI-compatible /v1 endpoint")

    async def _send(self, client, request: LLMRequest, structured: bool):
        """One completion, retrying transient failures until `retry_timeout_seconds` would be exceeded."""
        import openai
        import tenacity

        budget = self._config.retry_timeout_seconds
        retrying = tenacity.AsyncRetrying(retry=tenacity.retry_if_exception(is_transient), wait=backoff,
                                          stop=tenacity.stop_before_delay(budget), reraise=True)
        try:
            async for attempt in retrying:
                with attempt:
                    retry = attempt.retry_state.attempt_number > 1
                    self.retries += retry
                    async with self.limit.slot(retry) as slot:
                        if sending_stopped():
                            raise _RetryRefused
                        ticket = admit(request)
                        self.requests_sent += 1
                        try:
                            completion = await self._create(client, request, structured)
                        except openai.RateLimitError:
                            release(ticket)
                            self.rate_limited += 1
                            self.limit.on_refused(slot)
                            raise
                        except openai.APIStatusError:
                            release(ticket)
                            raise
                        except BaseException:
                            charge_worst_case(ticket)
                            raise
                        settle(ticket, *self._usage(request, completion))
                        self.limit.on_answered(slot)
                        return completion
        except openai.APIError as error:
            if not is_transient(error):
                raise
            raise self._retries_exhausted(request, error, retrying.statistics) from None

    async def _create(self, client, request: LLMRequest, structured: bool):
        options = request.options
        kwargs = {}
        if options.max_tokens is not None:
            limit = "max_completion_tokens" if request.model in self._max_completion_tokens else "max_tokens"
            kwargs[limit] = options.max_tokens
        if structured and request.model not in self._without_schema:
            kwargs["response_format"] = label_response_format(options.labels)
        if request.model not in self._default_temperature:
            kwargs["temperature"] = options.temperature
        if options.labels and request.model not in self._without_logprobs:
            kwargs.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        return await client.chat.completions.create(
            model=request.model, messages=build_messages(request.prompt, request.text, options.labels), **kwargs)

    def _asks_for_max_completion_tokens(self, request: LLMRequest, error: Exception) -> bool:
        """Newer OpenAI models refuse `max_tokens` and name `max_completion_tokens` instead."""
        return (request.options.max_tokens is not None and request.model not in self._max_completion_tokens
                and "max_completion_tokens" in _error_message(error))

    def _stop_asking_for_logprobs(self, model: str) -> None:
        """For a model that refuses `logprobs` (OpenAI's reasoning models, some servers)."""
        if model not in self._without_logprobs:
            log.warning("%s: model %s gives no log probabilities; its answers have no confidence score",
                        self.server, model)
            self._without_logprobs.add(model)

    def _refuses_temperature(self, request: LLMRequest, error: Exception) -> bool:
        """Reasoning models refuse any temperature but their default."""
        message = _error_message(error)
        return request.model not in self._default_temperature and "'temperature'" in message

    def _parse(self, request: LLMRequest, completion, structured: bool) -> LLMResponse | None:
        choices = getattr(completion, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            return None
        content = choices[0].message.content
        answer, invalid = read_answer(content, request.options.labels, structured)
        score = answer_score(choices[0], answer, request.options.labels, structured)
        usage = getattr(completion, "usage", None)
        if usage is not None and usage.prompt_tokens is not None:
            return LLMResponse(answer, usage.prompt_tokens, usage.completion_tokens or 0,
                               served_model=served_model(completion), invalid=invalid, score=score)
        if not self._warned_usage:
            log.warning("%s reports no token usage; estimating tokens from text length", self.server)
            self._warned_usage = True
        return LLMResponse(answer, estimate_tokens(request.prompt) + estimate_tokens(request.text),
                           estimate_tokens(content or ""), served_model=served_model(completion), invalid=invalid,
                           score=score)

    @staticmethod
    def _usage(request: LLMRequest, completion) -> tuple[int, int]:
        """The tokens a completion was billed for, as reported, or estimated where it says nothing."""
        usage = getattr(completion, "usage", None)
        if usage is not None and usage.prompt_tokens is not None:
            return usage.prompt_tokens, usage.completion_tokens or 0
        choices = getattr(completion, "choices", None) or []
        content = getattr(getattr(choices[0], "message", None), "content", None) if choices else None
        return estimate_tokens(request.prompt) + estimate_tokens(request.text), estimate_tokens(content or "")

    def _permanent_error(self, request: LLMRequest, error: Exception) -> LLMError:
        import openai

        status = getattr(error, "status_code", None)
        cause = self._scrub(_error_message(error))
        hints = {401: "check the api_key of the llm block (it is read from the environment)",
                 403: "the key may lack access to this model or endpoint",
                 404: "check the model name and base_url",
                 400: "the server rejected the request; check max_tokens, temperature and the model"}
        if isinstance(error, (openai.APIResponseValidationError, ValueError)):
            what, hint = f"sent malformed responses ({cause})", "check that base_url is an OpenAI-compatible endpoint"
        else:
            what, hint = (f"HTTP {status}: {cause}" if status else cause), hints.get(status)
        return LLMError(f"model {request.model!r} at {self.server}: {what}", hint=hint)

    def _retries_exhausted(self, request: LLMRequest, error: Exception, statistics: dict) -> LLMError:
        import openai

        cause = self._scrub(_error_message(error))
        if isinstance(error, openai.APITimeoutError):
            last, advice = f"timed out after {self._config.timeout_seconds:g} s", \
                "raise timeout_seconds if the model needs longer to answer"
        elif isinstance(error, openai.APIConnectionError):
            last, advice = f"could not connect ({cause})", "check base_url and the network"
        else:
            status = getattr(error, "status_code", None)
            last = f"HTTP {status}: {cause}"
            advice = ("lower max_concurrency or check the rate limits of the account" if status == 429
                      else "check the status of the server")
        attempts, seconds = statistics.get("attempt_number", 1), statistics.get("delay_since_first_attempt", 0.0)
        budget = self._config.retry_timeout_seconds
        return LLMError(
            f"model {request.model!r} at {self.server}: still failing after {attempts} attempts in {seconds:.1f} s "
            f"(retry_timeout_seconds: {budget:g} s); last: {last}",
            hint=f"the answers received so far are cached (unless the cache is off), so running the build again "
                 f"resumes where it stopped; {advice}, or raise retry_timeout_seconds in the llm block of profiles.yml")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def answer_score(choice, answer: str | None, labels: Sequence[str] | None, structured: bool) -> float | None:
    """The probability of the label answered, from the choice's log probabilities; None without them."""
    if answer is None or not labels:
        return None
    logprobs = getattr(getattr(choice, "logprobs", None), "content", None)
    return label_probability(choice.message.content, answer, labels, logprobs, LABEL_FIELD if structured else None)


def served_model(completion) -> str | None:
    """The version that answered: the completion's `model` (e.g. gpt-4o-2024-08-06), with its
    `system_fingerprint` (the backend configuration) in parentheses when the server sends one."""
    model = getattr(completion, "model", None) or None
    fingerprint = getattr(completion, "system_fingerprint", None) or None
    if model and fingerprint:
        return f"{model} ({fingerprint})"
    return model or fingerprint


def _error_message(error: Exception) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        detail = body.get("error", body)
        if isinstance(detail, dict) and isinstance(detail.get("message"), str):
            return detail["message"]
        if isinstance(detail, str):
            return detail
    return str(error) or type(error).__name__


def public_url(url: str) -> str:
    """`url` without user, password or query, which may hold secrets."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def scrub_secret(message: str, secret: str | None) -> str:
    """Remove a key, and anything shaped like an OpenAI key, from text meant for people."""
    if secret and secret != KEYLESS_PLACEHOLDER:
        message = message.replace(secret, "***")
    return re.sub(r"sk-[A-Za-z0-9_\-*]{6,}", "sk-***", message)


def _resolve_api_key(config: LLMConfig) -> str:
    key = config.api_key or os.environ.get("OPENAI_API_KEY")
    if key:
        return key
    if config.base_url:
        return KEYLESS_PLACEHOLDER
    raise LLMError("the openai provider has no API key",
                   hint="set api_key: \"{{ env_var('OPENAI_API_KEY') }}\" in the llm block of profiles.yml "
                        "and export OPENAI_API_KEY")
