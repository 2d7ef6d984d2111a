import asyncio
import json

import pytest

from smart_sql.errors import LLMError
from smart_sql.llm.base import LLMRequest, RequestOptions
from smart_sql.llm.config import parse_llm_config
from smart_sql.llm.factory import make_provider
from smart_sql.llm.simulated import NO_LABEL, SimulatedProvider, Simulator, _hash

LABELS = ("positive", "negative", "neutral")


def provider(**simulated) -> SimulatedProvider:
    block = {"provider": "simulated", "max_concurrency": 8}
    if simulated:
        block["simulated"] = simulated
    return make_provider(parse_llm_config(block))


def batch(model, count, labels=LABELS, prompt="Classify the sentiment."):
    options = RequestOptions(labels=labels)
    return [LLMRequest(model, prompt, f"review number {i}", options) for i in range(count)]


def answers(p, requests):
    return [r.answer for r in asyncio.run(p.complete(requests))]


def test_is_labelled_simulated_and_deterministic():
    p = provider()
    assert p.simulated is True and p.name == "simulated" and p.endpoint.startswith("simulated:")
    requests = batch("sim-small", 300)
    assert answers(p, requests) == answers(provider(), requests)


def test_candidates_agree_with_the_reference_at_their_configured_rate():
    p = provider(agreement={"sim-medium": 0.6, "sim-small": 0.9})
    reference = answers(p, batch("sim-large", 5000))
    for model, rate in (("sim-medium", 0.6), ("sim-small", 0.9)):
        candidate = answers(p, batch(model, 5000))
        observed = sum(a == b for a, b in zip(candidate, reference)) / 5000
        assert abs(observed - rate) < 0.03, (model, observed)


def test_labels_are_respected_and_a_disagreeing_answer_differs():
    p = provider(agreement={"sim-medium": 0.0})
    reference = answers(p, batch("sim-large", 500))
    candidate = answers(p, batch("sim-medium", 500))
    assert set(reference) == set(LABELS)
    assert set(candidate) <= set(LABELS)
    assert all(a != b for a, b in zip(candidate, reference))


def test_free_text_answers_are_short_phrases_that_differ_when_disagreeing():
    p = provider(agreement={"sim-small": 0.0})
    reference = answers(p, batch("sim-large", 200, labels=None))
    candidate = answers(p, batch("sim-small", 200, labels=None))
    assert all(1 <= len(a.split()) <= 3 for a in reference)
    assert len(set(reference)) > 50
    assert all(a != b for a, b in zip(candidate, reference))


def test_a_single_label_leaves_a_disagreeing_model_nothing_but_no_label():
    simulator = Simulator("ref", {"cheap": 0.0})
    assert simulator.answer("cheap", "p", "t", ["yes"]) == NO_LABEL
    assert simulator.answer("ref", "p", "t", ["yes"]) == "yes"


def test_token_counts_follow_text_length_and_max_tokens():
    p = provider()
    short, long = asyncio.run(p.complete([
        LLMRequest("sim-large", "Summarize.", "a" * 40),
        LLMRequest("sim-large", "Summarize.", "a" * 4000, RequestOptions(max_tokens=1)),
    ]))
    assert long.input_tokens - short.input_tokens == (4000 - 40) // 4
    assert long.output_tokens == 1 and short.output_tokens >= 1


def test_unknown_model_is_a_clear_error():
    with pytest.raises(LLMError, match="(?s)unknown model .gpt-9.*sim-large"):
        asyncio.run(provider().complete(batch("gpt-9", 3)))


def test_injected_failures_are_retried_and_change_no_answer():
    requests = batch("sim-small", 400)
    clean = answers(provider(), requests)
    flaky = provider(failure_rate=0.25)
    assert answers(flaky, requests) == clean
    assert 60 < flaky.retries < 140
    assert flaky.requests_sent == 400 + flaky.retries


def test_latency_path_gives_the_same_answers_in_order_and_reports_each():
    requests = batch("sim-medium", 40)
    seen = {}
    slow = provider(latency_ms=5, failure_rate=0.2)
    result = asyncio.run(slow.complete(requests, lambda i, r: seen.setdefault(i, r.answer)))
    assert [r.answer for r in result] == answers(provider(), requests)
    assert [seen[i] for i in range(40)] == [r.answer for r in result]
    assert slow.retries > 0


def test_max_concurrency_is_one_limit_over_all_the_batches_in_flight(monkeypatch):
    in_flight = peak = 0
    real_sleep = asyncio.sleep

    async def counted_sleep(seconds):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await real_sleep(seconds)
        finally:
            in_flight -= 1

    slow = provider(latency_ms=10)
    monkeypatch.setattr(asyncio, "sleep", counted_sleep)

    async def two_batches():
        return await asyncio.gather(slow.complete(batch("sim-small", 24)), slow.complete(batch("sim-medium", 24)))

    small, medium = asyncio.run(two_batches())
    assert peak == 8
    assert [r.answer for r in small] == answers(provider(), batch("sim-small", 24))
    assert len(medium) == 24
    again = asyncio.run(two_batches())
    assert peak == 8 and [r.answer for r in again[0]] == [r.answer for r in small]


def scored(p, model, count=4000):
    requests = batch(model, count)
    reference = answers(p, batch("sim-large", count))
    responses = asyncio.run(p.complete(requests))
    agreeing = [r.score for r, truth in zip(responses, reference) if r.answer == truth]
    disagreeing = [r.score for r, truth in zip(responses, reference) if r.answer != truth]
    return agreeing, disagreeing


def mean(values):
    return sum(values) / len(values)


@pytest.mark.parametrize("preset, agreeing_mean, disagreeing_mean", [
    ("uninformative", 4 / 6, 4 / 6), ("informative", 6 / 8, 2 / 5), ("sharp", 20 / 21, 1 / 5),
    ("miscalibrated", 30 / 31, 12 / 13), ("inverted", 2 / 5, 6 / 8)])
def test_scores_follow_the_distribution_of_agreeing_and_of_disagreeing_answers(preset, agreeing_mean,
                                                                               disagreeing_mean):
    p = provider(agreement={"sim-small": 0.7}, scores=preset)
    agreeing, disagreeing = scored(p, "sim-small")
    assert abs(len(agreeing) / 4000 - 0.7) < 0.03
    assert all(0 <= score <= 1 for score in agreeing + disagreeing)
    assert abs(mean(agreeing) - agreeing_mean) < 0.02 and abs(mean(disagreeing) - disagreeing_mean) < 0.03


def test_scores_are_deterministic_and_given_by_beta_parameters_per_model():
    settings = {"agreement": {"sim-small": 0.8},
                "scores": {"sim-small": {"agreeing": [9, 1], "disagreeing": [1, 9]}, "sim-large": "sharp"}}
    agreeing, disagreeing = scored(provider(**settings), "sim-small", 2000)
    assert abs(mean(agreeing) - 0.9) < 0.02 and abs(mean(disagreeing) - 0.1) < 0.02
    assert scored(provider(**settings), "sim-small", 2000) == (agreeing, disagreeing)
    reference, wrong = scored(provider(**settings), "sim-large", 2000)
    assert not wrong and abs(mean(reference) - 20 / 21) < 0.02
    assert {r.score for r in asyncio.run(provider(**settings).complete(batch("sim-medium", 50)))} == {None}


def test_without_scores_configured_answers_have_none_and_the_cache_keys_stay_as_they_were():
    assert {r.score for r in asyncio.run(provider().complete(batch("sim-small", 50)))} == {None}
    settings_before_scores = json.dumps(["sim-large", [["sim-medium", 0.95], ["sim-small", 0.9]]])
    assert provider(agreement={"sim-small": 0.9}).endpoint == f"simulated:{_hash(settings_before_scores):016x}"[:22]
    assert provider(agreement={"sim-small": 0.9}, scores="sharp").endpoint != provider(
        agreement={"sim-small": 0.9}).endpoint


def test_scores_change_no_answer():
    requests = batch("sim-small", 300)
    assert answers(provider(scores="inverted"), requests) == answers(provider(), requests)
