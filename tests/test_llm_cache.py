import asyncio
from collections import Counter

import duckdb
import pytest

from smart_sql.llm.base import LLMRequest, LLMResponse, RequestOptions
from smart_sql.llm.cache import (FLUSH_SECONDS, PAID_FLUSH_SECONDS, CachedProvider, ResponseCache, cache_stats,
                                 clear_cache, request_key)
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


def test_hits_are_free_and_only_misses_are_sent(tmp_path):
    inner = CountingProvider()
    cached = CachedProvider(inner, ResponseCache(tmp_path / "cache.duckdb"))
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
    cached = CachedProvider(inner, ResponseCache(tmp_path / "cache.duckdb"))
    doubled = requests(5) + requests(5)
    seen = []
    result = asyncio.run(cached.complete(doubled, lambda i, r: seen.append(i)))
    assert sum(inner.sent.values()) == 5
    assert sorted(seen) == list(range(10))
    assert [r.answer for r in result[:5]] == [r.answer for r in result[5:]]
    assert [r.cached for r in result] == [False] * 5 + [True] * 5
    asyncio.run(cached.aclose())


def test_answers_survive_reopening_and_other_models_miss(tmp_path):
    path = tmp_path / "cache.duckdb"
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
    path = tmp_path / "cache.duckdb"
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
    path = tmp_path / "cache.duckdb"
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
    path = tmp_path / "sub" / "cache.duckdb"
    assert cache_stats(path) == {"path": str(path), "entries": 0, "models": {}}
    assert not path.exists()
    cache = ResponseCache(path)
    cache.put("k1", "m", LLMResponse("yes", 10, 1))
    cache.put("k2", "m", LLMResponse("no", 12, 2))
    assert cache.stats()["models"] == {"m": {"entries": 2, "input_tokens": 22, "output_tokens": 3}}
    cache.close()
    assert clear_cache(path) == 2
    assert cache_stats(path)["entries"] == 0


def test_no_cache_when_disabled(tmp_path):
    config = parse_llm_config({"provider": "simulated"})
    assert isinstance(open_provider(config, tmp_path / "c.duckdb", use_cache=False), SimulatedProvider)
    assert isinstance(open_provider(parse_llm_config({"cache": False}), tmp_path / "c.duckdb"), SimulatedProvider)
    assert isinstance(open_provider(config, None), SimulatedProvider)
    assert not (tmp_path / "c.duckdb").exists()


def test_cache_commands_find_the_cache_of_the_target(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from smart_sql.cli import main

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["init", "demo"]).exit_code == 0
    provider = open_provider(parse_llm_config({"provider": "simulated"}), tmp_path / "demo/target/llm_cache.duckdb")
    asyncio.run(provider.complete(requests(4)))
    asyncio.run(provider.aclose())

    stats = runner.invoke(main, ["cache", "stats", "--project-dir", "demo"])
    assert stats.exit_code == 0 and "answers: 4" in stats.output and "sim-small: 4 answers" in stats.output
    refused = runner.invoke(main, ["cache", "clear", "--project-dir", "demo"], input="n\n")
    assert refused.exit_code == 1 and cache_stats(tmp_path / "demo/target/llm_cache.duckdb")["entries"] == 4
    cleared = runner.invoke(main, ["cache", "clear", "--project-dir", "demo", "--yes"])
    assert cleared.exit_code == 0 and "removed 4 answers" in cleared.output
    assert cache_stats(tmp_path / "demo/target/llm_cache.duckdb")["entries"] == 0


def test_answers_are_committed_while_the_run_goes_on(tmp_path):
    config = parse_llm_config({"provider": "simulated", "max_concurrency": 2, "simulated": {"latency_ms": 30}})
    provider = open_provider(config, tmp_path / "cache.duckdb")
    assert provider.cache.flush_seconds == FLUSH_SECONDS
    committed_mid_run = []

    async def watch():
        task = asyncio.ensure_future(provider.complete(requests(40)))
        while provider.cache.pending == 0:
            await asyncio.sleep(0.005)
        await asyncio.sleep(FLUSH_SECONDS + 0.1)
        with duckdb.connect(str(tmp_path / "cache.duckdb")) as other:
            committed_mid_run.append(other.execute("select count(*) from llm_responses").fetchone()[0])
        assert not task.done()
        await task
        await provider.aclose()

    asyncio.run(watch())
    assert 0 < committed_mid_run[0] < 40


def test_paid_answers_are_committed_sooner(tmp_path):
    config = parse_llm_config({"provider": "openai", "api_key": "sk-test", "base_url": "http://127.0.0.1:9/v1",
                               "models": [{"name": "m", "input_price_per_1m": 1, "output_price_per_1m": 1,
                                           "reference": True}]})
    provider = open_provider(config, tmp_path / "cache.duckdb")
    assert provider.cache.flush_seconds == PAID_FLUSH_SECONDS < FLUSH_SECONDS
    asyncio.run(provider.aclose())


def test_an_invalid_answer_is_kept_as_none_with_its_excerpt_also_in_an_older_cache(tmp_path):
    path = tmp_path / "cache.duckdb"
    with duckdb.connect(str(path)) as older:
        older.execute("create table llm_responses (key varchar primary key, model varchar not null, "
                      "answer varchar not null, input_tokens bigint not null, output_tokens bigint not null, "
                      "created_at timestamp not null default current_timestamp)")
        older.execute("insert into llm_responses (key, model, answer, input_tokens, output_tokens) "
                      "values ('k0', 'm', 'yes', 5, 1)")
    cache = ResponseCache(path)
    cache.put("k1", "m", LLMResponse(None, 10, 0, invalid="null"))
    cache.put("k2", "m", LLMResponse(None, 12, 3, invalid="I cannot tell."))
    cache.close()
    reopened = ResponseCache(path)
    assert reopened.get_many(["k0", "k1", "k2"]) == {
        "k0": LLMResponse("yes", 5, 1, cached=True),
        "k1": LLMResponse(None, 10, 0, cached=True, invalid="null"),
        "k2": LLMResponse(None, 12, 3, cached=True, invalid="I cannot tell.")}
    reopened.close()
