"""The response cache's column path (a warm rebuild's): the answers, usage and flags `complete` gives."""

import asyncio

import numpy as np

from smart_sql.llm.base import LLMRequest, RequestOptions
from smart_sql.llm.cache import CachedProvider, ResponseCache, column_keys, request_keys
from smart_sql.llm.config import parse_llm_config
from smart_sql.llm.simulated import SimulatedProvider

CONFIG = parse_llm_config({"provider": "simulated"})
OPTIONS = RequestOptions(labels=("yes", "no"))
PROMPTS = ["Is it urgent?"] * 40 + ["Is it ü?"] * 20
TEXTS = [f"note {i} ü" for i in range(60)]


def test_column_keys_are_the_request_keys():
    requests = [LLMRequest("sim-small", p, t, OPTIONS) for p, t in zip(PROMPTS, TEXTS)]
    assert column_keys("simulated:x", "sim-small", PROMPTS, TEXTS, OPTIONS) == request_keys("simulated:x", requests)


def test_columns_hold_what_complete_gives_for_hits_and_misses(tmp_path):
    path = tmp_path / "cache.sqlite"
    first = CachedProvider(SimulatedProvider(CONFIG), ResponseCache(path))
    asyncio.run(first.complete([LLMRequest("sim-large", p, t, OPTIONS) for p, t in zip(PROMPTS[::2], TEXTS[::2])]))
    asyncio.run(first.aclose())

    by_columns = CachedProvider(SimulatedProvider(CONFIG), ResponseCache(path))
    seen = []
    batch = asyncio.run(by_columns.complete_columns("sim-large", PROMPTS, TEXTS, OPTIONS,
                                                    lambda i, r: seen.append((i, r.cached))))
    asyncio.run(by_columns.aclose())
    by_responses = CachedProvider(SimulatedProvider(CONFIG), ResponseCache(tmp_path / "other.sqlite"))
    asyncio.run(by_responses.complete([LLMRequest("sim-large", p, t, OPTIONS) for p, t in zip(PROMPTS[::2], TEXTS[::2])]))
    responses = asyncio.run(by_responses.complete([LLMRequest("sim-large", p, t, OPTIONS) for p, t in zip(PROMPTS, TEXTS)]))
    asyncio.run(by_responses.aclose())

    assert list(batch.answers) == [r.answer for r in responses]
    assert batch.input_tokens.tolist() == [r.input_tokens for r in responses]
    assert batch.output_tokens.tolist() == [r.output_tokens for r in responses]
    assert batch.cached.tolist() == [r.cached for r in responses] == [i % 2 == 0 for i in range(60)]
    assert (by_columns.hits, by_columns.misses) == (30, 30)
    assert sorted(seen) == [(i, i % 2 == 0) for i in range(60)]

    rerun = CachedProvider(SimulatedProvider(CONFIG), ResponseCache(path))
    again = asyncio.run(rerun.complete_columns("sim-large", PROMPTS, TEXTS, OPTIONS))
    asyncio.run(rerun.aclose())
    assert bool(np.all(again.cached)) and list(again.answers) == list(batch.answers), "every miss was cached"


def test_columns_carry_the_scores_of_cached_answers(tmp_path):
    config = parse_llm_config({"provider": "simulated", "simulated": {"scores": "informative"}})
    path = tmp_path / "cache.sqlite"
    first = CachedProvider(SimulatedProvider(config), ResponseCache(path))
    fresh = asyncio.run(first.complete_columns("sim-large", PROMPTS, TEXTS, OPTIONS))
    asyncio.run(first.aclose())
    warm = CachedProvider(SimulatedProvider(config), ResponseCache(path))
    again = asyncio.run(warm.complete_columns("sim-large", PROMPTS, TEXTS, OPTIONS))
    asyncio.run(warm.aclose())
    assert bool(np.all(again.cached)) and np.isfinite(fresh.scores).all()
    assert again.scores.tolist() == fresh.scores.tolist()


def test_known_columns_flag_the_requests_the_cache_answers_without_paying(tmp_path):
    path = tmp_path / "cache.sqlite"
    first = CachedProvider(SimulatedProvider(CONFIG), ResponseCache(path))
    asyncio.run(first.complete([LLMRequest("sim-large", p, t, OPTIONS) for p, t in zip(PROMPTS[::2], TEXTS[::2])]))
    asyncio.run(first.aclose())
    again = CachedProvider(SimulatedProvider(CONFIG), ResponseCache(path))
    flags = again.known_columns("sim-large", PROMPTS, TEXTS, OPTIONS)
    assert flags.tolist() == [i % 2 == 0 for i in range(60)]
    assert not again.known_columns("sim-small", PROMPTS, TEXTS, OPTIONS).any()
    assert (again.hits, again.misses) == (0, 0)
    asyncio.run(again.aclose())
