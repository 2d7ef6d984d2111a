"""The `openai` provider: chat completions on any OpenAI-compatible server through `AsyncOpenAI`.

The client's own retry machinery handles transient failures (429, 5xx, timeouts, dropped
connections) with exponential backoff that honours `Retry-After`. On top of it an adaptive limit
(`AdaptiveLimit`) bounds the requests in flight by `max_concurrency`, halves it under a burst of 429s
and lets it grow back slowly. Permanent failures raise `LLMError` naming the model and the cause.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Sequence

from ..errors import LLMError
from ..smart.agreement import to_label
from .base import LLMRequest, LLMResponse, OnResponse
from .concurrency import AdaptiveLimit, run_workers
from .config import LLMConfig
from .stopping import RequestsStopped, sending_stopped
from .tokens import estimate_tokens

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
KEYLESS_PLACEHOLDER = "no-key"
"""Sent to servers configured without a key (Ollama, llama.cpp, vLLM usually need none)."""
MALFORMED_RETRIES = 2

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


def read_label_answer(content: str, labels: Sequence[str], structured: bool) -> str:
    """The label an answer names; the raw answer (stripped) when it names none."""
    if structured:
        try:
            value = json.loads(content)[LABEL_FIELD]
        except (ValueError, TypeError, KeyError):
            value = None
        if value in labels:
            return value
    return to_label(content, labels) or content.strip()


@dataclass
class _Attempt:
    """The current request's state, visible to the HTTP hooks running in the same task."""

    epoch: int = 0
    sends: int = 0


_attempt: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar("smart_sql_attempt", default=None)


class _RetryRefused(BaseException):
    """Raised by the send hook for a retry due after sending stopped: not an Exception, so that the
    client neither wraps nor retries it."""


class OpenAIProvider:
    name = "openai"
    simulated = False

    def __init__(self, config: LLMConfig):
        self.base_url = (config.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.endpoint = f"openai:{self.base_url}"
        self.limit = AdaptiveLimit(config.max_concurrency)
        self.requests_sent = 0
        self.retries = 0
        self.rate_limited = 0
        self._config = config
        self._api_key = _resolve_api_key(config)
        self._client = None
        self._without_schema: set[str] = set()
        self._max_completion_tokens: set[str] = set()
        self._default_temperature: set[str] = set()
        self._warned_usage = False

    def _scrub(self, message: str) -> str:
        return scrub_secret(message, self._api_key)

    def _get_client(self):
        if self._client is None:
            import openai

            http_client = openai.DefaultAsyncHttpxClient(
                event_hooks={"request": [self._on_send], "response": [self._on_receive]})
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key, base_url=self.base_url, timeout=self._config.timeout_seconds,
                max_retries=self._config.max_retries, http_client=http_client)
        return self._client

    async def _on_send(self, request) -> None:
        if sending_stopped():
            raise _RetryRefused
        self.requests_sent += 1
        attempt = _attempt.get()
        if attempt is not None:
            attempt.sends += 1
            if attempt.sends > 1:
                self.retries += 1
            attempt.epoch = self.limit.epoch

    async def _on_receive(self, response) -> None:
        if response.status_code == 429:
            self.rate_limited += 1
            attempt = _attempt.get()
            self.limit.on_rate_limited(attempt.epoch if attempt is not None else self.limit.epoch)

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
                    async with self.limit:
                        response = await self._complete_one(client, request)
                except _RetryRefused:
                    return
                self.limit.on_success()
                responses[index] = response
                if on_response is not None:
                    on_response(index, response)

        await run_workers(worker, min(self._config.max_concurrency, len(requests)))
        if any(response is None for response in responses):
            raise RequestsStopped(f"{self.base_url}: stopped before every answer came")
        return responses  # type: ignore[return-value]

    async def _complete_one(self, client, request: LLMRequest) -> LLMResponse:
        import openai

        labels = request.options.labels
        structured = bool(labels) and request.model not in self._without_schema
        for attempt in range(MALFORMED_RETRIES + 1):
            _attempt.set(_Attempt(epoch=self.limit.epoch))
            try:
                completion = await self._create(client, request, structured)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as error:
                if self._asks_for_max_completion_tokens(request, error):
                    self._max_completion_tokens.add(request.model)
                    continue
                if self._refuses_temperature(request, error):
                    log.warning("%s: model %s accepts only its default temperature; sending none",
                                self.base_url, request.model)
                    self._default_temperature.add(request.model)
                    continue
                if not structured:
                    raise self._permanent_error(request, error) from None
                log.info("%s rejected structured output for %s; parsing plain answers instead",
                         self.base_url, request.model)
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
        raise LLMError(f"model {request.model!r} at {self.base_url}: the server keeps sending answers "
                       "that are not chat completions", hint="check that base_url points at an "
                       "OpenAI-compatible /v1 endpoint")

    async def _create(self, client, request: LLMRequest, structured: bool):
        options = request.options
        kwargs = {}
        if options.max_tokens is not None:
            limit = "max_completion_tokens" if request.model in self._max_completion_tokens else "max_tokens"
            kwargs[limit] = options.max_tokens
        if structured:
            kwargs["response_format"] = label_response_format(options.labels)
        if request.model not in self._default_temperature:
            kwargs["temperature"] = options.temperature
        return await client.chat.completions.create(
            model=request.model, messages=build_messages(request.prompt, request.text, options.labels), **kwargs)

    def _asks_for_max_completion_tokens(self, request: LLMRequest, error: Exception) -> bool:
        """Newer OpenAI models refuse `max_tokens` and name `max_completion_tokens` instead."""
        return (request.options.max_tokens is not None and request.model not in self._max_completion_tokens
                and "max_completion_tokens" in _error_message(error))

    def _refuses_temperature(self, request: LLMRequest, error: Exception) -> bool:
        """Reasoning models refuse any temperature but their default."""
        message = _error_message(error)
        return request.model not in self._default_temperature and "'temperature'" in message

    def _parse(self, request: LLMRequest, completion, structured: bool) -> LLMResponse | None:
        choices = getattr(completion, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            return None
        content = choices[0].message.content or ""
        labels = request.options.labels
        answer = read_label_answer(content, labels, structured) if labels else content.strip()
        usage = getattr(completion, "usage", None)
        if usage is not None and usage.prompt_tokens is not None:
            return LLMResponse(answer, usage.prompt_tokens, usage.completion_tokens or 0,
                               served_model=served_model(completion))
        if not self._warned_usage:
            log.warning("%s reports no token usage; estimating tokens from text length", self.base_url)
            self._warned_usage = True
        return LLMResponse(answer, estimate_tokens(request.prompt) + estimate_tokens(request.text),
                           estimate_tokens(content), served_model=served_model(completion))

    def _permanent_error(self, request: LLMRequest, error: Exception) -> LLMError:
        import openai

        status = getattr(error, "status_code", None)
        cause = self._scrub(_error_message(error))
        hints = {401: "check the api_key of the llm block (it is read from the environment)",
                 403: "the key may lack access to this model or endpoint",
                 404: "check the model name and base_url",
                 429: "the server kept rate-limiting; lower max_concurrency or raise max_retries",
                 400: "the server rejected the request; check max_tokens, temperature and the model"}
        if isinstance(error, openai.APITimeoutError):
            what, hint = f"timed out after {self._config.max_retries} retries", \
                "raise timeout_seconds or max_retries in the llm block"
        elif isinstance(error, openai.APIConnectionError):
            what, hint = f"could not connect after {self._config.max_retries} retries ({cause})", \
                "check base_url and the network"
        elif isinstance(error, (openai.APIResponseValidationError, ValueError)):
            what, hint = f"sent malformed responses ({cause})", "check that base_url is an OpenAI-compatible endpoint"
        else:
            what = f"HTTP {status}: {cause}" if status else cause
            hint = hints.get(status, "transient server errors were retried; try again later"
                             if status and status >= 500 else None)
        return LLMError(f"model {request.model!r} at {self.base_url}: {what}", hint=hint)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


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
