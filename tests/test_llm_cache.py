import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest

from smart_sql.llm.base import LLMRequest, LLMResponse, RequestOptions
from smart_sql.llm.cache import (FLUSH_SECONDS, PAID_FLUSH_SECONDS, CachedProvider, ResponseCache, cache_stats,
                                 clear_cache, request_key, request_keys)
from smart_sql.llm.config import parse_llm_config
from smart_sql.llm.factory import open_provider
from smart_sql.llm.simulated import SimulatedProvider


class CountingProvider(SimulatedProvider):
    """The simulated provider, counting what is sent, optionally failing after `fail_after` answers."""

    def __init__(self, fail_after=None):
        super().__init__(parse_llm_config({"provider": "simulated"}))
        self.sent = Counter()
        self.fail_after = fail_after
        self.answered = 0

    def respond(self, request):
        if self.fail_after is not None and self.answered >= self.fail_after:
            raise RuntimeError("killed mid-way")
        self.sent[(request.model, request.text)] += 1
        self.answered += 1
        return super().respond(request)


def requests(count, model="sim-small", labels=("yes", "no")):
    return [LLMRequest(model, "Is it urgent?", f"ticket {i}", RequestOptions(labels=labels)) for i in range(count)]


def test_key_covers_endpoint_model_prompt_text_and_options():
    base = LLMRequest("m", "p", "t", RequestOptions(max_tokens=5, temperature=0.0, labels=("a", "b")))
    variants = [
        LLMRequest("m2", "p", "t", base.options),
        LLMRequest("m", "p2", "t", base.options),
        LLMRequest("m", "p", "t2", base.options),
        LLMRequest("m", "p", "t", RequestOptions(max_tokens=6, labels=("a", "b"))),
        LLMRequest("m", "p", "t", RequestOptions(max_tokens=5, temperature=0.5, labels=("a", "b"))),
        LLMRequest("m", "p", "t", RequestOptions(max_tokens=5, labels=("a", "c"))),
    ]
    key = request_key("openai:https://x/v1", base)
    assert key == request_key("openai:https://x/v1", LLMRequest("m", "p", "t", base.options))
    assert key != request_key("openai:https://y/v1", base)
    assert len({key, *(request_key("openai:https://x/v1", v) for v in variants)}) == 1 + len(variants)
    same_temperature = RequestOptions(max_tokens=5, temperature=0, labels=("a", "b"))
    assert request_key("openai:https://x/v1", LLMRequest("m", "p", "t", same_temperature)) == key


def test_keys_of_a_batch_are_the_keys_the_cache_has_always_used():
    import hashlib
    import json

    def first_format_key(endpoint, request):
        labels = list(request.options.labels) if request.options.labels is not None else None
        options = json.dumps([1, request.options.max_tokens, float(request.options.temperature), labels])
        digest = hashlib.blake2b(digest_size=20)
        for part in (endpoint, request.model, request.prompt, request.text, options):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)
        return digest.digest()

    batch = requests(3) + requests(2, model="sim-large", labels=None) + [
        LLMRequest("sim-large", "Other prompt", "ticket 1", RequestOptions(max_tokens=3, temperature=0.5))]
    assert request_keys("simulated:x", batch) == [first_format_key("simulated:x", r) for r in batch]
    assert request_key("simulated:x", batch[4]) == first_format_key("simulated:x", batch[4])


def test_hits_are_free_and_only_misses_are_sent(tmp_path):
    inner = CountingProvider()
    cached = CachedProvider(inner, ResponseCache(tmp_path / "cache.sqlite"))
    first = asyncio.run(cached.complete(requests(10)))
    second = asyncio.run(cached.complete(requests(15)))
    assert (cached.hits, cached.misses) == (10, 15)
    assert not any(r.cached for r in first)
    assert [r.cached for r in second] == [True] * 10 + [False] * 5
    assert [r.answer for r in second[:10]] == [r.answer for r in first]
    assert second[0].input_tokens == first[0].input_tokens
    assert max(inner.sent.values()) == 1 and len(inner.sent) == 15
    asyncio.run(cached.aclose())


def test_identical_requests_in_one_batch_are_sent_once(tmp_path):
    inner = CountingProvider()
    cached = CachedProvider(inner, ResponseCache(tmp_path / "cache.sqlite"))
    doubled = requests(5) + requests(5)
    seen = []
    result = asyncio.run(cached.complete(doubled, lambda i, r: seen.append(i)))
    assert sum(inner.sent.values()) == 5
    assert sorted(seen) == list(range(10))
    assert [r.answer for r in result[:5]] == [r.answer for r in result[5:]]
    assert [r.cached for r in result] == [False] * 5 + [True] * 5
    asyncio.run(cached.aclose())


def test_answers_survive_reopening_and_other_models_miss(tmp_path):
    path = tmp_path / "cache.sqlite"
    config = parse_llm_config({"provider": "simulated"})
    provider = open_provider(config, path)
    asyncio.run(provider.complete(requests(20)))
    asyncio.run(provider.aclose())

    reopened = open_provider(config, path)
    again = asyncio.run(reopened.complete(requests(20) + requests(3, model="sim-medium")))
    assert (reopened.hits, reopened.misses) == (20, 3)
    assert [r.cached for r in again] == [True] * 20 + [False] * 3
    asyncio.run(reopened.aclose())
    assert cache_stats(path)["models"] == {
        "sim-small": {"entries": 20, "input_tokens": sum(r.input_tokens for r in again[:20]),
                      "output_tokens": sum(r.output_tokens for r in again[:20])},
        "sim-medium": {"entries": 3, "input_tokens": sum(r.input_tokens for r in again[20:]),
                       "output_tokens": sum(r.output_tokens for r in again[20:])}}


def test_a_run_killed_mid_way_keeps_every_answer_it_received(tmp_path):
    path = tmp_path / "cache.sqlite"
    killed = CountingProvider(fail_after=37)
    cached = CachedProvider(killed, ResponseCache(path))
    with pytest.raises(RuntimeError, match="killed"):
        asyncio.run(cached.complete(requests(100)))
    cached.cache.close()

    rerun = CountingProvider()
    cached = CachedProvider(rerun, ResponseCache(path))
    result = asyncio.run(cached.complete(requests(100)))
    asyncio.run(cached.aclose())
    assert set(killed.sent).isdisjoint(rerun.sent)
    assert len(killed.sent) == 37 and len(rerun.sent) == 63
    assert sum(r.cached for r in result) == 37


def test_a_cancelled_run_keeps_every_answer_it_received(tmp_path):
    path = tmp_path / "cache.sqlite"
    config = parse_llm_config({"provider": "simulated", "max_concurrency": 4, "simulated": {"latency_ms": 20}})
    received = []

    async def cancel_after_some_answers():
        provider = open_provider(config, path)
        task = asyncio.ensure_future(provider.complete(requests(40), lambda i, r: received.append(i)))
        while len(received) < 10:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await provider.aclose()

    asyncio.run(cancel_after_some_answers())
    assert 10 <= len(received) < 40
    rerun = open_provider(parse_llm_config({"provider": "simulated"}), path)
    asyncio.run(rerun.complete(requests(40)))
    asyncio.run(rerun.aclose())
    assert (rerun.hits, rerun.misses) == (len(received), 40 - len(received))


def test_stats_and_clear(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite"
    assert cache_stats(path) == {"path": str(path), "entries": 0, "models": {}}
    assert not path.exists()
    cache = ResponseCache(path)
    cache.put(b"k1", "m", LLMResponse("yes", 10, 1))
    cache.put(b"k2", "m", LLMResponse("no", 12, 2))
    assert cache.stats()["models"] == {"m": {"entries": 2, "input_tokens": 22, "output_tokens": 3}}
    cache.close()
    assert clear_cache(path) == 2
    assert cache_stats(path)["entries"] == 0


def test_no_cache_when_disabled(tmp_path):
    config = parse_llm_config({"provider": "simulated"})
    assert isinstance(open_provider(config, tmp_path / "c.sqlite", use_cache=False), SimulatedProvider)
    assert isinstance(open_provider(parse_llm_config({"cache": False}), tmp_path / "c.sqlite"), SimulatedProvider)
    assert isinstance(open_provider(config, None), SimulatedProvider)
    assert not (tmp_path / "c.sqlite").exists()


def test_cache_commands_find_the_cache_of_the_target(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from smart_sql.cli import main

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["init", "demo"]).exit_code == 0
    provider = open_provider(parse_llm_config({"provider": "simulated"}), tmp_path / "demo/target/llm_cache.sqlite")
    asyncio.run(provider.complete(requests(4)))
    asyncio.run(provider.aclose())

    stats = runner.invoke(main, ["cache", "stats", "--project-dir", "demo"])
    assert stats.exit_code == 0 and "answers: 4" in stats.output and "sim-small: 4 answers" in stats.output
    refused = runner.invoke(main, ["cache", "clear", "--project-dir", "demo"], input="n\n")
    assert refused.exit_code == 1 and cache_stats(tmp_path / "demo/target/llm_cache.sqlite")["entries"] == 4
    cleared = runner.invoke(main, ["cache", "clear", "--project-dir", "demo", "--yes"])
    assert cleared.exit_code == 0 and "removed 4 answers" in cleared.output
    assert cache_stats(tmp_path / "demo/target/llm_cache.sqlite")["entries"] == 0


def test_answers_are_committed_while_the_run_goes_on(tmp_path):
    config = parse_llm_config({"provider": "simulated", "max_concurrency": 2, "simulated": {"latency_ms": 30}})
    provider = open_provider(config, tmp_path / "cache.sqlite")
    assert provider.cache.flush_seconds == FLUSH_SECONDS
    committed_mid_run = []

    async def watch():
        task = asyncio.ensure_future(provider.complete(requests(40)))
        while provider.cache.pending == 0:
            await asyncio.sleep(0.005)
        await asyncio.sleep(FLUSH_SECONDS + 0.1)
        other = sqlite3.connect(tmp_path / "cache.sqlite")
        committed_mid_run.append(other.execute("select count(*) from responses").fetchone()[0])
        other.close()
        assert not task.done()
        await task
        await provider.aclose()

    asyncio.run(watch())
    assert 0 < committed_mid_run[0] < 40


def test_paid_answers_are_committed_sooner(tmp_path):
    config = parse_llm_config({"provider": "openai", "api_key": "sk-test", "base_url": "http://127.0.0.1:9/v1",
                               "models": [{"name": "m", "input_price_per_1m": 1, "output_price_per_1m": 1,
                                           "reference": True}]})
    provider = open_provider(config, tmp_path / "cache.sqlite")
    assert provider.cache.flush_seconds == PAID_FLUSH_SECONDS < FLUSH_SECONDS
    asyncio.run(provider.aclose())


WRITER_SCRIPT = textwrap.dedent("""
    import asyncio, sys, time
    from pathlib import Path
    from smart_sql.llm.base import LLMRequest, RequestOptions
    from smart_sql.llm.config import parse_llm_config
    from smart_sql.llm.factory import open_provider

    path, name, start, count, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
    config = parse_llm_config({"provider": "simulated", "max_concurrency": 8, "simulated": {"latency_ms": 2}})
    provider = open_provider(config, Path(path))
    (ready / name).touch()
    deadline = time.monotonic() + 20
    while len(list(ready.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    requests = [LLMRequest("sim-small", "Is it urgent?", f"ticket {i}", RequestOptions(labels=("yes", "no")))
                for i in range(start, start + count)]
    asyncio.run(provider.complete(requests))
    asyncio.run(provider.aclose())
""")


def test_two_processes_build_with_one_cache_file_at_the_same_time(tmp_path):
    path, ready = tmp_path / "cache.sqlite", tmp_path / "ready"
    ready.mkdir()
    runs = [subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(path), name, str(start), "600", str(ready)],
                             stderr=subprocess.PIPE, text=True)
            for name, start in (("first", 0), ("second", 400))]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    assert cache_stats(path)["entries"] == 1000
    rerun = open_provider(parse_llm_config({"provider": "simulated"}), path)
    asyncio.run(rerun.complete(requests(1000)))
    asyncio.run(rerun.aclose())
    assert (rerun.hits, rerun.misses) == (1000, 0)


KILLED_SCRIPT = textwrap.dedent("""
    import asyncio, sys, time
    from smart_sql.llm.base import LLMRequest, RequestOptions
    from smart_sql.llm.cache import PAID_FLUSH_SECONDS, CachedProvider, ResponseCache
    from smart_sql.llm.config import parse_llm_config
    from smart_sql.llm.simulated import SimulatedProvider

    config = parse_llm_config({"provider": "simulated", "max_concurrency": 4, "simulated": {"latency_ms": 4}})
    provider = CachedProvider(SimulatedProvider(config), ResponseCache(sys.argv[1], PAID_FLUSH_SECONDS))
    requests = [LLMRequest("sim-small", "Is it urgent?", f"ticket {i}", RequestOptions(labels=("yes", "no")))
                for i in range(100000)]

    def received(index, response):
        print(index, time.monotonic(), flush=True)

    asyncio.run(provider.complete(requests, received))
""")


def test_a_process_killed_outright_loses_at_most_the_answers_of_the_last_50_ms(tmp_path):
    path = tmp_path / "cache.sqlite"
    child = subprocess.Popen([sys.executable, "-c", KILLED_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True)
    received = {}
    for line in child.stdout:
        index, at = line.split()
        received[int(index)] = float(at)
        if len(received) == 600:
            break
    os.kill(child.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    child.wait()
    commit_allowance = 0.03
    old_enough = [i for i, at in received.items() if at < killed_at - PAID_FLUSH_SECONDS - commit_allowance]
    assert len(old_enough) > 300
    endpoint = SimulatedProvider(parse_llm_config({"provider": "simulated"})).endpoint
    cache = ResponseCache(path)
    keys = [request_key(endpoint, LLMRequest("sim-small", "Is it urgent?", f"ticket {i}",
                                             RequestOptions(labels=("yes", "no")))) for i in old_enough]
    found = cache.get_many(keys)
    cache.close()
    assert len(found) == len(old_enough)


class InvalidAnswers(CountingProvider):
    """Answers None (an answer the caller found invalid) for every third text."""

    def respond(self, request):
        response = super().respond(request)
        if int(request.text.split()[-1]) % 3:
            return response
        return response._replace(answer=None, invalid=f"I cannot tell {request.text}")


def test_invalid_answers_are_kept_as_none_and_not_paid_again(tmp_path):
    path = tmp_path / "cache.sqlite"
    first = CachedProvider(InvalidAnswers(), ResponseCache(path))
    answers = [r.answer for r in asyncio.run(first.complete(requests(30)))]
    asyncio.run(first.aclose())
    assert answers.count(None) == 10

    second = CachedProvider(InvalidAnswers(), ResponseCache(path))
    again = asyncio.run(second.complete(requests(30)))
    asyncio.run(second.aclose())
    assert (second.hits, second.misses) == (30, 0) and not second.provider.sent
    assert [r.answer for r in again] == answers and all(r.cached for r in again)
    assert {r.invalid for r in again if r.answer is None} == {f"I cannot tell ticket {i}" for i in range(0, 30, 3)}


def test_each_entry_keeps_the_model_version_that_served_it(tmp_path):
    class Versioned(CountingProvider):
        def respond(self, request):
            return super().respond(request)._replace(served_model="sim-small-2025-01 (fp_1)")

    path = tmp_path / "cache.sqlite"
    first = CachedProvider(Versioned(), ResponseCache(path))
    asyncio.run(first.complete(requests(5)))
    asyncio.run(first.aclose())
    second = CachedProvider(CountingProvider(), ResponseCache(path))
    again = asyncio.run(second.complete(requests(5)))
    asyncio.run(second.aclose())
    assert {r.served_model for r in again} == {"sim-small-2025-01 (fp_1)"}
    with sqlite3.connect(path) as connection:
        assert connection.execute("select count(*) from responses where score is null").fetchone() == (5,)


@contextmanager
def small_filesystem(folder: Path, size: str):
    """A tmpfs of `size` mounted on `folder` (needs root; the test is skipped otherwise)."""
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small file system needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def temp_folder(tmp_path, monkeypatch):
    """The temporary folder (where journals go when the cache's own folder takes none), inside tmp_path."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_full_disk_is_reported_and_no_answer_is_lost(tmp_path, temp_folder, caplog):
    with small_filesystem(tmp_path / "disk", "1m") as disk:
        path = disk / "cache.sqlite"
        filler = disk / "filler"
        filler.write_bytes(b"\0" * 880_000)
        config = parse_llm_config({"provider": "simulated", "max_concurrency": 32, "simulated": {"latency_ms": 2}})
        provider = CachedProvider(SimulatedProvider(config), ResponseCache(path, flush_seconds=0.01))
        with caplog.at_level(logging.WARNING):
            result = asyncio.run(provider.complete(requests(3000)))
            asyncio.run(provider.aclose())
        assert len(result) == 3000
        assert "cannot be written: the disk is full" in caplog.text
        assert "could not be stored in the response cache" in caplog.text
        assert len(list(temp_folder.rglob("*.journal-*.jsonl"))) == 1
        filler.unlink()
        rerun = open_provider(parse_llm_config({"provider": "simulated"}), path)
        again = asyncio.run(rerun.complete(requests(3000)))
        asyncio.run(rerun.aclose())
        assert (rerun.hits, rerun.misses) == (3000, 0)
        assert [r.answer for r in again] == [r.answer for r in result]
        assert not list(temp_folder.rglob("*.journal-*.jsonl"))


def test_a_disk_that_fills_up_and_frees_again_keeps_every_answer(tmp_path, monkeypatch, caplog):
    from smart_sql.llm import cache_store

    failures = iter(range(3))
    real_put_many = cache_store.Store.put_many

    def full_disk_three_times(self, entries):
        if next(failures, None) is not None:
            raise sqlite3.OperationalError("database or disk is full")
        return real_put_many(self, entries)

    monkeypatch.setattr(cache_store.Store, "put_many", full_disk_three_times)
    config = parse_llm_config({"provider": "simulated", "max_concurrency": 4, "simulated": {"latency_ms": 5}})
    provider = CachedProvider(SimulatedProvider(config), ResponseCache(tmp_path / "cache.sqlite", 0.02))
    with caplog.at_level(logging.WARNING):
        asyncio.run(provider.complete(requests(200)))
        asyncio.run(provider.aclose())
    assert "cannot be written: the disk is full" in caplog.text
    assert "can be written again" in caplog.text
    assert cache_stats(tmp_path / "cache.sqlite")["entries"] == 200


def test_a_read_only_cache_serves_its_answers_and_keeps_the_new_ones(tmp_path, temp_folder, caplog):
    with small_filesystem(tmp_path / "disk", "4m") as disk:
        path = disk / "cache.sqlite"
        first = open_provider(parse_llm_config({"provider": "simulated"}), path)
        asyncio.run(first.complete(requests(20)))
        asyncio.run(first.aclose())
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        with caplog.at_level(logging.WARNING):
            second = open_provider(parse_llm_config({"provider": "simulated"}), path)
            asyncio.run(second.complete(requests(50)))
            asyncio.run(second.aclose())
        assert (second.hits, second.misses) == (20, 30)
        assert "read-only" in caplog.text and "another process" not in caplog.text
        assert list(temp_folder.rglob("*.journal-*.jsonl"))
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        third = open_provider(parse_llm_config({"provider": "simulated"}), path)
        asyncio.run(third.complete(requests(50)))
        asyncio.run(third.aclose())
        assert (third.hits, third.misses) == (50, 0)
        assert not list(temp_folder.rglob("*.journal-*.jsonl"))


OLD_FORMAT = """
create table llm_responses (key varchar primary key, model varchar not null, answer varchar not null,
    input_tokens bigint not null, output_tokens bigint not null,
    created_at timestamp not null default current_timestamp)
"""


def write_old_format_cache(path, count):
    """A response cache as the DuckDB-file format wrote it, holding the answers of requests(count)."""
    import duckdb

    provider = CountingProvider()
    with duckdb.connect(str(path)) as connection:
        connection.execute(OLD_FORMAT)
        for request in requests(count):
            response = provider.respond(request)
            connection.execute("insert into llm_responses (key, model, answer, input_tokens, output_tokens) "
                               "values (?, ?, ?, ?, ?)", [request_key(provider.endpoint, request).hex(),
                                                          request.model, response.answer,
                                                          response.input_tokens, response.output_tokens])


def test_an_old_format_cache_beside_the_new_one_is_imported_once(tmp_path, caplog):
    write_old_format_cache(tmp_path / "llm_cache.duckdb", 12)
    with caplog.at_level(logging.WARNING):
        provider = CachedProvider(CountingProvider(), ResponseCache(tmp_path / "llm_cache.sqlite"))
        result = asyncio.run(provider.complete(requests(20)))
        asyncio.run(provider.aclose())
    assert (provider.hits, provider.misses) == (12, 8)
    assert [r.answer for r in result] == [CountingProvider().respond(r).answer for r in requests(20)]
    assert "imported 12 answers" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["llm_cache.duckdb.imported", "llm_cache.sqlite"]
    assert cache_stats(tmp_path / "llm_cache.sqlite")["entries"] == 20


def test_an_old_format_file_where_the_cache_should_be_is_refused_with_what_to_do(tmp_path):
    from smart_sql.errors import LLMError

    write_old_format_cache(tmp_path / "answers.duckdb", 3)
    with pytest.raises(LLMError) as refused:
        open_provider(parse_llm_config({"provider": "simulated"}), tmp_path / "answers.duckdb")
    assert "old format" in str(refused.value) and "set cache_path to answers.sqlite" in str(refused.value)
    moved = open_provider(parse_llm_config({"provider": "simulated"}), tmp_path / "answers.sqlite")
    asyncio.run(moved.complete(requests(3)))
    asyncio.run(moved.aclose())
    assert (moved.hits, moved.misses) == (3, 0)


def test_a_file_that_is_no_cache_is_refused(tmp_path):
    from smart_sql.errors import LLMError

    (tmp_path / "notes.sqlite").write_text("not a database, but someone's notes " * 100)
    with pytest.raises(LLMError, match="not a response cache"):
        ResponseCache(tmp_path / "notes.sqlite")
    other = tmp_path / "warehouse.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("create table orders (id integer)")
    with pytest.raises(LLMError, match="something else"):
        ResponseCache(other)


def test_a_slow_commit_does_not_hold_up_the_requests_in_flight(tmp_path, monkeypatch):
    from smart_sql.llm import cache_store

    real_put_many = cache_store.Store.put_many

    def slow_disk(self, entries):
        time.sleep(0.3)
        return real_put_many(self, entries)

    monkeypatch.setattr(cache_store.Store, "put_many", slow_disk)
    config = parse_llm_config({"provider": "simulated", "max_concurrency": 4, "simulated": {"latency_ms": 10}})
    provider = CachedProvider(SimulatedProvider(config), ResponseCache(tmp_path / "cache.sqlite", 0.02))
    arrivals = []
    asyncio.run(provider.complete(requests(100), lambda i, r: arrivals.append(time.monotonic())))
    asyncio.run(provider.aclose())
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    assert max(gaps) < 0.15
    assert cache_stats(tmp_path / "cache.sqlite")["entries"] == 100


class Scored(CountingProvider):
    """Answers with a confidence that differs per request."""

    def respond(self, request):
        return super().respond(request)._replace(score=int(request.text.split()[-1]) / 10)


def test_a_cached_answer_keeps_its_score(tmp_path):
    path = tmp_path / "cache.sqlite"
    first = CachedProvider(Scored(), ResponseCache(path))
    fresh = asyncio.run(first.complete(requests(6) + requests(2)))
    unwritten = asyncio.run(first.complete(requests(6)))
    asyncio.run(first.aclose())
    second = CachedProvider(CountingProvider(), ResponseCache(path))
    again = asyncio.run(second.complete(requests(6)))
    asyncio.run(second.aclose())
    assert [r.score for r in fresh] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.0, 0.1]
    assert [r.cached for r in fresh] == [False] * 6 + [True] * 2
    assert [r.score for r in unwritten] == [r.score for r in again] == [r.score for r in fresh[:6]]
    assert all(r.cached for r in again) and not second.provider.sent


def test_asking_for_scores_changes_no_cache_key_and_answers_cached_without_one_are_hits(tmp_path):
    path = tmp_path / "cache.sqlite"
    unscored = CachedProvider(CountingProvider(), ResponseCache(path))
    asyncio.run(unscored.complete(requests(4)))
    asyncio.run(unscored.aclose())
    scored = CachedProvider(Scored(), ResponseCache(path))
    again = asyncio.run(scored.complete(requests(4)))
    asyncio.run(scored.aclose())
    assert (scored.hits, scored.misses) == (4, 0)
    assert [r.score for r in again] == [None] * 4


def test_a_journal_keeps_the_scores_and_reads_journals_written_before_scores(tmp_path):
    from smart_sql.llm import cache_journal
    from smart_sql.llm.cache_store import Entry

    path = tmp_path / "cache.sqlite"
    scored = Entry(b"k1", "sim-small", "yes", 10, 1, None, 1.0, None, 0.75)
    cache_journal.save(path, [scored])
    (tmp_path / "cache.sqlite.journal-old.jsonl").write_text('["6b32", "sim-small", "no", 10, 1, null, 1.0, null]\n')
    read = sorted((entry for journal in cache_journal.find(path) for entry in cache_journal.read(journal)))
    assert read == [scored, Entry(b"k2", "sim-small", "no", 10, 1, None, 1.0, None, None)]
