"""The response cache: a DuckDB file of answers already received, so a rebuild never pays twice.

Rows are keyed by a hash of (provider endpoint, model, prompt, text, options). Only hashes, the model
name, the answer (NULL when it stayed invalid, with an excerpt of what was sent) and its token usage
are stored; never the prompt, the text or any credential.
Answers are written as they arrive and committed in small batches, so an interrupted build keeps
what it already paid for.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import time
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import LLMError
from .base import LLMRequest, LLMResponse, OnResponse, Provider, RequestOptions

KEY_VERSION = 1
FLUSH_ROWS = 4096
FLUSH_SECONDS = 0.25
PAID_FLUSH_SECONDS = 0.05
"""Paid answers are committed sooner: a process killed outright loses at most this much of them."""

_SCHEMA = """
create table if not exists llm_responses (
    key varchar primary key,
    model varchar not null,
    answer varchar,
    input_tokens bigint not null,
    output_tokens bigint not null,
    created_at timestamp not null default current_timestamp,
    invalid varchar
)
"""
_UPGRADES = ("alter table llm_responses alter column answer drop not null",
             "alter table llm_responses add column if not exists invalid varchar")
"""Bring a cache written before invalid answers were kept to the current schema."""


def request_key(endpoint: str, request: LLMRequest) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for part in (endpoint, request.model, request.prompt, request.text, _options_text(request.options)):
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


@functools.lru_cache(maxsize=256)
def _options_text(options: RequestOptions) -> str:
    labels = list(options.labels) if options.labels is not None else None
    return json.dumps([KEY_VERSION, options.max_tokens, float(options.temperature), labels], ensure_ascii=False)


class ResponseCache:
    def __init__(self, path: str | Path, flush_seconds: float = FLUSH_SECONDS):
        import duckdb

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = duckdb.connect(str(self.path))
        except duckdb.Error as error:
            raise LLMError(f"cannot open the response cache: {error}", path=self.path,
                           hint="another smart-sql process may be using it; wait for it, "
                                "or run with --no-cache") from None
        self._connection.execute(_SCHEMA)
        for statement in _UPGRADES:
            self._connection.execute(statement)
        self.flush_seconds = flush_seconds
        self._pending: list[tuple[str, str, str | None, int, int, str | None]] = []
        self._last_flush = time.monotonic()

    def get_many(self, keys: Sequence[str]) -> dict[str, LLMResponse]:
        if not keys:
            return {}
        rows = self._connection.execute(
            "select key, answer, input_tokens, output_tokens, invalid from llm_responses "
            "where key in (select unnest($keys))", {"keys": list(keys)}).fetchall()
        found = {key: LLMResponse(answer, input_tokens, output_tokens, True, invalid)
                 for key, answer, input_tokens, output_tokens, invalid in rows}
        wanted = set(keys)
        for key, _model, answer, input_tokens, output_tokens, invalid in self._pending:
            if key in wanted and key not in found:
                found[key] = LLMResponse(answer, input_tokens, output_tokens, True, invalid)
        return found

    def put(self, key: str, model: str, response: LLMResponse) -> None:
        self._pending.append((key, model, response.answer, response.input_tokens, response.output_tokens,
                              response.invalid))
        if len(self._pending) >= FLUSH_ROWS or time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        columns = list(zip(*self._pending))
        self._connection.execute(
            "insert into llm_responses (key, model, answer, input_tokens, output_tokens, invalid) "
            "select unnest($k), unnest($m), unnest($a), unnest($i), unnest($o), unnest($x) on conflict do nothing",
            {"k": list(columns[0]), "m": list(columns[1]), "a": list(columns[2]),
             "i": list(columns[3]), "o": list(columns[4]), "x": list(columns[5])})
        self._pending.clear()

    def stats(self) -> dict:
        self.flush()
        rows = self._connection.execute(
            "select model, count(*), sum(input_tokens), sum(output_tokens) from llm_responses "
            "group by model order by model").fetchall()
        models = {model: {"entries": count, "input_tokens": int(inp), "output_tokens": int(out)}
                  for model, count, inp, out in rows}
        return {"path": str(self.path), "entries": sum(m["entries"] for m in models.values()),
                "models": models}

    def clear(self) -> int:
        self._pending.clear()
        removed = self._connection.execute("select count(*) from llm_responses").fetchone()[0]
        self._connection.execute("delete from llm_responses")
        self._connection.execute("checkpoint")
        return removed

    def close(self) -> None:
        if self._connection is None:
            return
        self.flush()
        self._connection.close()
        self._connection = None


def cache_stats(path: str | Path) -> dict:
    """Entries and token totals per model; an absent file is an empty cache (and is not created)."""
    if not Path(path).exists():
        return {"path": str(path), "entries": 0, "models": {}}
    cache = ResponseCache(path)
    try:
        return cache.stats()
    finally:
        cache.close()


def clear_cache(path: str | Path) -> int:
    """Delete every cached answer; returns how many there were."""
    if not Path(path).exists():
        return 0
    cache = ResponseCache(path)
    try:
        return cache.clear()
    finally:
        cache.close()


class CachedProvider:
    """Serves answers already in the cache (cached=True, free) and sends only the rest, each
    distinct request once; every answer received is written to the cache as it arrives."""

    def __init__(self, provider: Provider, cache: ResponseCache):
        self.provider = provider
        self.cache = cache
        self.name = provider.name
        self.simulated = provider.simulated
        self.endpoint = provider.endpoint
        self.hits = 0
        self.misses = 0
        self._flush_timer: asyncio.TimerHandle | None = None

    async def complete(self, requests: Sequence[LLMRequest],
                       on_response: OnResponse | None = None) -> list[LLMResponse]:
        keys = [request_key(self.endpoint, request) for request in requests]
        found = self.cache.get_many(keys)
        responses: list[LLMResponse | None] = [None] * len(requests)
        waiting: dict[str, list[int]] = {}
        for index, key in enumerate(keys):
            if key in found:
                self._deliver(responses, [index], found[key], on_response)
            else:
                waiting.setdefault(key, []).append(index)
        self.hits += len(requests) - len(waiting)
        self.misses += len(waiting)
        to_send = list(waiting)

        def received(position: int, response: LLMResponse) -> None:
            key = to_send[position]
            first, *repeats = waiting[key]
            self.cache.put(key, requests[first].model, response)
            self._schedule_flush()
            self._deliver(responses, [first], response, on_response)
            self._deliver(responses, repeats, _as_cached(response), on_response)

        try:
            await self.provider.complete([requests[waiting[key][0]] for key in to_send], received)
        finally:
            self._cancel_flush()
            self.cache.flush()
        return responses  # type: ignore[return-value]

    @staticmethod
    def _deliver(responses: list, indexes: Iterable[int], response: LLMResponse,
                 on_response: OnResponse | None) -> None:
        for index in indexes:
            responses[index] = response
            if on_response is not None:
                on_response(index, response)

    def _schedule_flush(self) -> None:
        if self._flush_timer is None and self.cache.pending:
            loop = asyncio.get_running_loop()
            self._flush_timer = loop.call_later(self.cache.flush_seconds, self._timed_flush)

    def _timed_flush(self) -> None:
        self._flush_timer = None
        self.cache.flush()

    def _cancel_flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None

    async def aclose(self) -> None:
        try:
            await self.provider.aclose()
        finally:
            self.cache.close()


def _as_cached(response: LLMResponse) -> LLMResponse:
    return response._replace(cached=True)
