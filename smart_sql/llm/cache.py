"""The response cache: every answer already received, so a rebuild never pays twice.

Entries are keyed by a hash of (provider endpoint, model, prompt, text, options) and hold the model
name, the answer (None for an invalid answer, kept so that it is not paid again), its token usage,
the model version that served it and a confidence score; never the prompt, the text or a credential.
The file (cache_store) may be shared by any number of builds at once. Lookups run off the event
loop; answers are handed to a writer thread (cache_writer) that commits them within
`flush_seconds`. When the file cannot take them (full disk, read-only location) the cause is
reported, the answers are kept in memory and tried again, and at the end of the run any left are
saved in a journal (cache_journal) that the next run imports: a paid answer is never dropped.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import hashlib
import json
import logging
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from ..errors import LLMError
from . import cache_journal, cache_legacy
from .base import LLMRequest, LLMResponse, OnResponse, Provider, RequestOptions
from .cache_store import Entry, NotACache, Store, cause
from .cache_writer import Writer

if TYPE_CHECKING:
    from ..smart.engine import ResponseBatch

log = logging.getLogger(__name__)

KEY_VERSION = 1
FLUSH_SECONDS = 0.25
PAID_FLUSH_SECONDS = 0.05
"""Paid answers are committed sooner: a process killed outright loses at most this much of them."""


def request_key(endpoint: str, request: LLMRequest) -> bytes:
    return request_keys(endpoint, [request])[0]


def request_keys(endpoint: str, requests: Sequence[LLMRequest]) -> list[bytes]:
    """The hash of (endpoint, model, prompt, text, options) of each request, each field length-prefixed.
    The hash of the fields before the text is computed once per (model, prompt) and copied."""
    heads: dict[tuple[str, str], hashlib.blake2b] = {}
    keys = []
    options, options_field = None, b""
    for request in requests:
        head = heads.get((request.model, request.prompt))
        if head is None:
            head = heads[request.model, request.prompt] = hashlib.blake2b(digest_size=20)
            for part in (endpoint, request.model, request.prompt):
                head.update(_field(part))
        if request.options is not options:
            options, options_field = request.options, _options_field(request.options)
        digest = head.copy()
        text = request.text.encode("utf-8", "surrogatepass")
        digest.update(len(text).to_bytes(8, "big") + text + options_field)
        keys.append(digest.digest())
    return keys


def column_keys(endpoint: str, model: str, prompts: Sequence[str], texts: Sequence[str],
                options: RequestOptions) -> list[bytes]:
    """`request_keys` of the requests (model, prompt, text, options) of one model and options."""
    heads: dict[str, hashlib.blake2b] = {}
    options_field = _options_field(options)
    keys = []
    for prompt, text in zip(prompts, texts):
        head = heads.get(prompt)
        if head is None:
            head = heads[prompt] = hashlib.blake2b(digest_size=20)
            for part in (endpoint, model, prompt):
                head.update(_field(part))
        digest = head.copy()
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big") + data + options_field)
        keys.append(digest.digest())
    return keys


def _field(text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return len(data).to_bytes(8, "big") + data


@functools.lru_cache(maxsize=256)
def _options_field(options: RequestOptions) -> bytes:
    labels = list(options.labels) if options.labels is not None else None
    return _field(json.dumps([KEY_VERSION, options.max_tokens, float(options.temperature), labels],
                             ensure_ascii=False))


class ResponseCache:
    """Lookups (from any thread) and writes (handed to the writer thread) on one cache file."""

    def __init__(self, path: str | Path, flush_seconds: float = FLUSH_SECONDS):
        self.path = Path(path)
        self.flush_seconds = flush_seconds
        self.failure: str | None = None
        """Why the file could not be written, as last reported; None while all is well."""
        self._reported: set[str] = set()
        self._lock = threading.Lock()
        self._closing = threading.Lock()
        self._closed = False
        if cache_legacy.is_old_format(self.path):
            raise cache_legacy.refusal(self.path)
        self._store = self._open()
        self._writer = Writer(self._open_for_writing, flush_seconds, self._write_failed, self._write_recovered)
        _open_caches.add(self)

    def _open(self) -> Store | None:
        try:
            store = self._open_for_writing()
        except (sqlite3.Error, OSError) as error:
            self._report(error, "answers it holds are served, new ones kept in memory until the run ends")
            return self._open_for_reading()
        self._import_kept_answers(store)
        return store

    def _open_for_writing(self) -> Store:
        return _store(self.path)

    def _open_for_reading(self) -> Store | None:
        if not self.path.exists():
            return None
        try:
            return _store(self.path, read_only=True)
        except (sqlite3.Error, OSError) as error:
            self._report(error, "no answer is served from it")
            return None

    def _import_kept_answers(self, store: Store) -> None:
        """Journals of earlier runs and an old-format cache beside this one, imported once."""
        journals = cache_journal.find(self.path)
        old = cache_legacy.old_cache_beside(self.path)
        if not journals and old is None:
            return
        try:
            with store.transaction():
                for journal in journals:
                    store.insert(cache_journal.read(journal))
                imported = self._import_old_cache(store, old) if old is not None and old.exists() else 0
        except (sqlite3.Error, OSError) as error:
            self._report(error, "earlier answers kept in journals or an old cache are imported by a later run")
            return
        for journal in journals:
            journal.unlink(missing_ok=True)
        if imported is not None and old is not None:
            try:
                retired = cache_legacy.retire(old)
            except FileNotFoundError:
                return  # another process imported it at the same time
            except OSError as error:
                log.warning("imported the old-format response cache %s into %s but cannot rename it (%s); "
                            "the next run imports it again, which changes nothing", old, self.path, error)
                return
            log.warning("imported %d answers of the old-format response cache %s into %s; the old file is "
                        "kept as %s and can be deleted", imported, old, self.path, retired.name)

    @staticmethod
    def _import_old_cache(store: Store, old: Path) -> int | None:
        import duckdb

        try:
            return store.insert(cache_legacy.read_old_cache(old))
        except duckdb.Error as error:
            log.warning("the old-format response cache %s cannot be imported yet (%s); its answers are not "
                        "used by this run", old, error)
            return None

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, LLMResponse]:
        """The cached answer of each key that has one; safe to call from any thread."""
        return {key: LLMResponse(answer, input_tokens, output_tokens, True, served_model, invalid, score)
                for key, answer, input_tokens, output_tokens, served_model, invalid, score in self.get_rows(keys)}

    def get_rows(self, keys: Sequence[bytes]) -> list[tuple]:
        """(key, answer, input_tokens, output_tokens, served_model, invalid, score) of each key that has a
        cached answer, in no particular order; safe to call from any thread."""
        found, missing = [], keys
        unwritten = self._writer.unwritten
        if unwritten:
            missing = []
            for key in keys:
                entry = unwritten.get(key)
                if entry is None:
                    missing.append(key)
                else:
                    found.append((key, entry.answer, entry.input_tokens, entry.output_tokens, entry.served_model,
                                  entry.invalid, entry.score))
        if missing and self._store is not None:
            with self._lock:
                found.extend(self._store.get_rows(missing))
        return found

    def known(self, keys: Sequence[bytes]) -> set[bytes]:
        """The keys that have a cached answer, without reading the answers; safe from any thread."""
        unwritten = self._writer.unwritten
        found = {key for key in keys if key in unwritten}
        missing = [key for key in keys if key not in found]
        if missing and self._store is not None:
            with self._lock:
                found |= self._store.contains_many(missing)
        return found

    def put(self, key: bytes, model: str, response: LLMResponse) -> None:
        self._writer.put(Entry(key, model, response.answer, response.input_tokens, response.output_tokens,
                               response.served_model, time.time(), response.invalid, response.score))

    @property
    def pending(self) -> int:
        """Answers handed over and not committed yet."""
        return len(self._writer.unwritten)

    def flush(self) -> None:
        """Wait until every answer put so far is committed (or kept in memory after a failure)."""
        self._writer.flush()

    def stats(self) -> dict:
        self.flush()
        models = {}
        if self._store is not None:
            with self._lock:
                models = self._store.stats()
        return {"path": str(self.path), "entries": sum(m["entries"] for m in models.values()),
                "models": models}

    def clear(self) -> int:
        self.flush()
        if self._store is None or self._store.read_only:
            raise LLMError(f"cannot clear the response cache: {self.failure}", path=self.path)
        with self._lock:
            return self._store.clear()

    def close(self) -> None:
        """Commit what is left; answers that still cannot be committed go to a journal."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
            _open_caches.discard(self)
            left = self._writer.close()
            if left:
                self._save_journal(left)
            if self._store is not None:
                with self._lock:
                    self._store.close()
                self._store = None

    def _save_journal(self, entries: list[Entry]) -> None:
        try:
            journal = cache_journal.save(self.path, entries)
        except OSError as error:
            log.error("%d answers received could not be stored in the response cache %s (%s) nor in a "
                      "journal: %s; they will be paid for again", len(entries), self.path, self.failure, error)
            return
        log.warning("%d answers received could not be stored in the response cache %s (%s); they are saved "
                    "in %s, which the next run that can write the cache imports", len(entries), self.path,
                    self.failure, journal)

    def _write_failed(self, error: BaseException, kept: int) -> None:
        self._report(error, f"{kept} answers are kept in memory and tried again, a last time when the run ends")

    def _write_recovered(self, committed: int) -> None:
        log.warning("the response cache %s can be written again: the %d answers waiting are committed",
                    self.path, committed)
        self.failure = None
        self._reported.clear()

    def _report(self, error: BaseException, consequence: str) -> None:
        """Say once per cause why the file cannot be written, and what happens to the answers."""
        self.failure = cause(error, self.path)
        if self.failure not in self._reported:
            self._reported.add(self.failure)
            log.warning("the response cache %s cannot be written: %s; %s", self.path, self.failure, consequence)


_open_caches: "weakref.WeakSet[ResponseCache]" = weakref.WeakSet()


@atexit.register
def _close_open_caches() -> None:
    """An interpreter that exits without closing a cache still commits what it received."""
    for cache in list(_open_caches):
        cache.close()


def _store(path: Path, read_only: bool = False) -> Store:
    try:
        return Store(path, read_only=read_only)
    except NotACache as error:
        raise LLMError(str(error), hint="point cache_path at another file, or move this one away") from None


def cache_stats(path: str | Path) -> dict:
    """Entries and token totals per model; an absent file is an empty cache (and is not created)."""
    if not _exists(Path(path)):
        return {"path": str(path), "entries": 0, "models": {}}
    cache = ResponseCache(path)
    try:
        return cache.stats()
    finally:
        cache.close()


def clear_cache(path: str | Path) -> int:
    """Delete every cached answer; returns how many there were."""
    if not _exists(Path(path)):
        return 0
    cache = ResponseCache(path)
    try:
        return cache.clear()
    finally:
        cache.close()


def _exists(path: Path) -> bool:
    return path.exists() or cache_legacy.old_cache_beside(path) is not None or bool(cache_journal.find(path))


class CachedProvider:
    """Serves answers already in the cache (cached=True, free) and sends only the rest, each
    distinct request once; every answer received is handed to the cache as it arrives."""

    def __init__(self, provider: Provider, cache: ResponseCache):
        self.provider = provider
        self.cache = cache
        self.name = provider.name
        self.simulated = provider.simulated
        self.endpoint = provider.endpoint
        self.hits = 0
        self.misses = 0

    async def complete(self, requests: Sequence[LLMRequest],
                       on_response: OnResponse | None = None) -> list[LLMResponse]:
        keys, found = await asyncio.get_running_loop().run_in_executor(None, self._look_up, requests)
        responses: list[LLMResponse | None] = [None] * len(requests)
        waiting: dict[bytes, list[int]] = {}
        for index, key in enumerate(keys):
            response = found.get(key)
            if response is None:
                waiting.setdefault(key, []).append(index)
                continue
            responses[index] = response
            if on_response is not None:
                on_response(index, response)
        self.hits += len(requests) - len(waiting)
        self.misses += len(waiting)
        to_send = list(waiting)

        def received(position: int, response: LLMResponse) -> None:
            key = to_send[position]
            first, *repeats = waiting[key]
            self.cache.put(key, requests[first].model, response)
            self._deliver(responses, [first], response, on_response)
            self._deliver(responses, repeats, response._replace(cached=True), on_response)

        await self.provider.complete([requests[waiting[key][0]] for key in to_send], received)
        return responses  # type: ignore[return-value]

    async def complete_columns(self, model: str, prompts: Sequence[str], texts: Sequence[str], options: RequestOptions,
                               on_response: OnResponse | None = None) -> "ResponseBatch":
        """`complete` for the distinct requests of one model and options, in columns: cached answers go
        from the file into the batch without a response object each (the warm rebuild's path)."""
        from ..smart.engine import ResponseBatch

        keys, rows = await asyncio.get_running_loop().run_in_executor(
            None, self._look_up_columns, model, prompts, texts, options)
        position = dict(zip(keys, range(len(keys))))
        if len(position) < len(keys):
            requests = [LLMRequest(model, p, t, options) for p, t in zip(prompts, texts)]
            return ResponseBatch.from_responses(await self.complete(requests, on_response))
        batch = _Columns(len(keys))
        batch.fill_cached([position[row[0]] for row in rows], rows)
        if on_response is not None:
            for index in np.flatnonzero(batch.cached):
                on_response(int(index), batch.response(index))
        missing = np.flatnonzero(~batch.cached)
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)

        def received(number: int, response: LLMResponse) -> None:
            index = int(missing[number])
            self.cache.put(keys[index], model, response)
            batch.fill(index, response)
            if on_response is not None:
                on_response(index, response)

        if len(missing):
            await self.provider.complete([LLMRequest(model, prompts[i], texts[i], options) for i in missing], received)
        return batch.to_batch()

    def _look_up_columns(self, model: str, prompts, texts, options) -> tuple[list[bytes], list[tuple]]:
        keys = column_keys(self.endpoint, model, prompts, texts, options)
        return keys, self.cache.get_rows(keys)

    def known_columns(self, model: str, prompts: Sequence[str], texts: Sequence[str],
                      options: RequestOptions) -> np.ndarray:
        """Whether the cache answers each of the distinct requests of one model and options (free),
        without reading the answers; blocking, run it off the loop."""
        keys = column_keys(self.endpoint, model, prompts, texts, options)
        held = self.cache.known(keys)
        return np.fromiter((key in held for key in keys), dtype=bool, count=len(keys))

    def _look_up(self, requests: Sequence[LLMRequest]) -> tuple[list[bytes], dict[bytes, LLMResponse]]:
        keys = request_keys(self.endpoint, requests)
        return keys, self.cache.get_many(keys)

    @staticmethod
    def _deliver(responses: list, indexes: Iterable[int], response: LLMResponse,
                 on_response: OnResponse | None) -> None:
        for index in indexes:
            responses[index] = response
            if on_response is not None:
                on_response(index, response)

    async def aclose(self) -> None:
        try:
            await self.provider.aclose()
        finally:
            await asyncio.get_running_loop().run_in_executor(None, self.cache.close)


class _Columns:
    """A batch's answers being gathered, column by column."""

    def __init__(self, size: int):
        self.answers = np.full(size, None, dtype=object)
        self.input_tokens = np.zeros(size, dtype=np.int64)
        self.output_tokens = np.zeros(size, dtype=np.int64)
        self.cached = np.zeros(size, dtype=bool)
        self.served_models = np.full(size, None, dtype=object)
        self.invalid = np.full(size, None, dtype=object)
        self.scores = np.full(size, np.nan)

    def fill_cached(self, indexes: list[int], rows: list[tuple]) -> None:
        """Rows as `ResponseCache.get_rows` gives them, for the items at `indexes`."""
        if not rows:
            return
        _, answers, input_tokens, output_tokens, served_models, invalid, scores = zip(*rows)
        self.answers[indexes] = answers
        self.input_tokens[indexes] = input_tokens
        self.output_tokens[indexes] = output_tokens
        self.served_models[indexes] = served_models
        self.invalid[indexes] = invalid
        self.scores[indexes] = np.array(scores, dtype=float)
        self.cached[indexes] = True

    def fill(self, index: int, response: LLMResponse) -> None:
        self.answers[index] = response.answer
        self.input_tokens[index] = response.input_tokens
        self.output_tokens[index] = response.output_tokens
        self.cached[index] = response.cached
        self.served_models[index] = response.served_model
        self.invalid[index] = response.invalid
        if response.score is not None:
            self.scores[index] = response.score

    def response(self, index: int) -> LLMResponse:
        return LLMResponse(self.answers[index], int(self.input_tokens[index]), int(self.output_tokens[index]),
                           bool(self.cached[index]), self.served_models[index], self.invalid[index],
                           None if np.isnan(self.scores[index]) else float(self.scores[index]))

    def to_batch(self) -> "ResponseBatch":
        from ..smart.engine import ResponseBatch

        scores = None if np.isnan(self.scores).all() else self.scores
        return ResponseBatch(self.answers, self.input_tokens, self.output_tokens, self.cached, self.invalid, scores,
                             self.served_models)
