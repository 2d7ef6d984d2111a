"""The openai provider over real HTTP against the local OpenAI-compatible server."""

import asyncio
import email.utils
import logging
import time
import types

import pytest

from smart_sql.errors import LLMError
from smart_sql.llm.base import LLMRequest, RequestOptions
from smart_sql.llm.config import parse_llm_config
from smart_sql.llm.factory import make_provider, open_provider
from smart_sql.llm.local_server import OFF_LABEL_ANSWER, LocalLLMServer
from smart_sql.llm.openai_provider import retry_after_seconds
from smart_sql.llm.simulated import Simulator

API_KEY = "sk-test-0123456789abcdefSECRET"
SIMULATOR = Simulator("sim-large", {"sim-small": 0.7})
LABELS = ("positive", "negative", "neutral")


@pytest.fixture
def server():
    with LocalLLMServer(SIMULATOR, api_key=API_KEY) as running:
        yield running


def config(server, **overrides):
    block = {"provider": "openai", "base_url": server.base_url, "api_key": API_KEY,
             "max_concurrency": 8, "timeout_seconds": 5, "retry_timeout_seconds": 20,
             "models": [{"name": "sim-large", "input_price_per_1m": 10, "output_price_per_1m": 30, "reference": True},
                        {"name": "sim-small", "input_price_per_1m": 1, "output_price_per_1m": 2}]}
    block.update(overrides)
    return parse_llm_config(block)


def batch(count, model="sim-small", labels=None):
    return [LLMRequest(model, "Classify the sentiment.", f"review {i}", RequestOptions(labels=labels))
            for i in range(count)]


def expected(requests):
    return [SIMULATOR.answer(r.model, r.prompt, r.text, r.options.labels) for r in requests]


async def run(provider, requests, on_response=None):
    try:
        return await provider.complete(requests, on_response)
    finally:
        await provider.aclose()


def complete(provider, requests):
    return asyncio.run(run(provider, requests))


def test_answers_and_usage_come_from_the_server(server):
    requests = batch(30)
    responses = complete(make_provider(config(server)), requests)
    assert [r.answer for r in responses] == expected(requests)
    assert responses[0].input_tokens == SIMULATOR.usage(requests[0].prompt, requests[0].text, responses[0].answer)[0]
    assert not any(r.cached for r in responses)
    assert server.log.by_model == {"sim-small": 30}


def test_concurrency_stays_within_the_bound_and_uses_it(server):
    server.faults.latency_ms = 30
    complete(make_provider(config(server, max_concurrency=5)), batch(40))
    assert server.log.max_in_flight == 5


@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "malformed", "drop", "timeout"])
def test_transient_faults_are_retried_with_identical_answers(server, fault):
    requests = batch(24, labels=LABELS)
    setattr(server.faults, fault, 0.3)
    server.faults.timeout_seconds = 1.5
    provider = make_provider(config(server, timeout_seconds=0.5 if fault == "timeout" else 10))
    responses = complete(provider, requests)
    assert [r.answer for r in responses] == expected(requests)
    faulted = {r.text for r in requests if server.faults.pick(r.model, r.prompt, r.text) == fault}
    assert faulted
    assert {key[2] for key, count in server.log.attempts.items() if count > 1} >= faulted
    if fault == "timeout":
        assert provider.retries >= len(faulted)
    else:
        assert provider.retries == len(faulted)
        assert server.log.by_model["sim-small"] == 24


def test_retry_after_is_honoured(server):
    server.faults.rate_limit = 1.0
    server.faults.retry_after = "0.4"
    requests = batch(3)
    complete(make_provider(config(server)), requests)
    for times in server.log.attempt_times.values():
        assert len(times) == 2 and times[1] - times[0] >= 0.4


@pytest.mark.parametrize("headers, seconds", [
    ({"retry-after": "2"}, 2.0), ({"retry-after": "0.25"}, 0.25), ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
    ({"retry-after": "in 30 s, as a date"}, 30.0), ({"retry-after": "soon"}, None), ({}, None)])
def test_retry_after_is_read_in_seconds_milliseconds_or_as_a_date(headers, seconds):
    if headers.get("retry-after") == "in 30 s, as a date":
        headers = {"retry-after": email.utils.formatdate(time.time() + 30, usegmt=True)}
    error = types.SimpleNamespace(response=types.SimpleNamespace(headers=headers))
    assert retry_after_seconds(error) == (pytest.approx(seconds, abs=1.5) if seconds else None)


def test_a_request_refused_more_than_six_times_in_a_row_still_gets_its_answer(server):
    server.faults.rate_limit = 0.3
    server.faults.server_error = 0.2
    server.faults.fault_attempts = 8
    server.faults.retry_after = "0.01"
    block = {"provider": "openai", "base_url": server.base_url, "api_key": API_KEY, "max_concurrency": 8,
             "models": [{"name": "sim-small", "input_price_per_1m": 1, "output_price_per_1m": 2, "reference": True}]}
    requests = batch(20)
    responses = complete(make_provider(parse_llm_config(block)), requests)
    assert [r.answer for r in responses] == expected(requests)
    assert max(server.log.attempts.values()) == 9
    assert set(server.log.completions.values()) == {1}


def test_a_request_waiting_out_retry_after_leaves_its_slot_to_the_others(server):
    server.faults.rate_limit = 0.3
    server.faults.retry_after = "0.3"
    requests = batch(8)
    complete(make_provider(config(server, max_concurrency=1)), requests)
    refused = [times for times in server.log.attempt_times.values() if len(times) == 2]
    assert refused
    others = [times[0] for times in server.log.attempt_times.values()]
    for first, second in refused:
        assert second - first >= 0.3
        assert any(first < other < second for other in others)


def test_a_server_allowing_four_in_flight_brings_the_limit_down_and_answers_every_request(server):
    server.faults.max_concurrency = 4
    server.faults.latency_ms = 20
    server.faults.retry_after = "0.02"
    provider = make_provider(config(server, max_concurrency=16))
    requests = batch(120)
    responses = complete(provider, requests)
    assert [r.answer for r in responses] == expected(requests)
    assert provider.rate_limited > 0
    assert provider.limit.lowest <= 8
    assert provider.limit.limit > provider.limit.lowest


def test_rate_limits_beyond_the_retry_budget_stop_with_advice(server):
    server.faults.rate_limit = 1.0
    server.faults.fault_attempts = 1000
    with pytest.raises(LLMError, match="(?s)last: HTTP 429.*lower max_concurrency"):
        complete(make_provider(config(server, retry_timeout_seconds=0)), batch(2))
    assert set(server.log.by_status) == {429}
    assert set(server.log.attempts.values()) == {1}


def test_an_unreachable_server_is_reported_after_the_retry_budget(server):
    url = server.base_url
    server.stop()
    block = {"base_url": url, "retry_timeout_seconds": 1, "timeout_seconds": 0.5}
    with pytest.raises(LLMError, match="(?s)still failing after .* attempts.*could not connect.*check base_url"):
        complete(make_provider(config(server, **block)), batch(1))


def test_labels_are_enforced_with_a_json_schema(server):
    requests = batch(20, labels=LABELS)
    responses = complete(make_provider(config(server)), requests)
    assert [r.answer for r in responses] == expected(requests)
    assert server.log.by_status == {200: 20}


def test_labels_fall_back_to_parsing_when_the_server_rejects_response_format(server):
    server.faults.reject_response_format = True
    requests = batch(20, labels=LABELS)
    provider = make_provider(config(server, max_concurrency=1))
    responses = complete(provider, requests)
    assert [r.answer for r in responses] == expected(requests)
    assert server.log.by_status == {400: 1, 200: 20}


def test_models_that_refuse_max_tokens_get_max_completion_tokens(server):
    server.faults.reject_max_tokens = True
    requests = [r._replace(options=RequestOptions(max_tokens=3)) for r in batch(10)]
    responses = complete(make_provider(config(server, max_concurrency=1)), requests)
    assert [r.answer for r in responses] == expected(requests)
    assert all(r.output_tokens <= 3 for r in responses)
    assert server.log.by_status == {400: 1, 200: 10}


def test_models_that_refuse_temperature_get_their_default(server, caplog):
    server.faults.reject_temperature = True
    requests = batch(10)
    with caplog.at_level(logging.WARNING):
        responses = complete(make_provider(config(server, max_concurrency=1)), requests)
    assert [r.answer for r in responses] == expected(requests)
    assert server.log.by_status == {400: 1, 200: 10}
    assert "accepts only its default temperature" in caplog.text


def test_a_server_down_longer_than_the_retry_budget_fails_the_model_and_keeps_the_answers(server, tmp_path):
    server.faults.outage_after = 12
    server.faults.retry_after = "0.05"
    cache_path = tmp_path / "llm_cache.duckdb"
    requests = batch(40)
    started = time.monotonic()
    with pytest.raises(LLMError) as raised:
        complete(open_provider(config(server, max_concurrency=2, retry_timeout_seconds=0.6), cache_path), requests)
    assert 0.5 <= time.monotonic() - started < 5
    message = str(raised.value)
    for fragment in ("'sim-small'", server.base_url, "HTTP 503", "0.6 s", "retry_timeout_seconds",
                     "answers received so far are cached"):
        assert fragment in message
    assert API_KEY not in message
    paid = set(server.log.completions)
    assert len(paid) == 12

    server.faults.outage_after = None
    server.reset_log()
    responses = complete(open_provider(config(server), cache_path), requests)
    assert [r.answer for r in responses] == expected(requests)
    assert {r.text for r, response in zip(requests, responses) if response.cached} == {key[2] for key in paid}
    assert not paid & set(server.log.attempts)


@pytest.mark.parametrize("fault, labels", [("empty", None), ("null", None), ("empty", LABELS), ("null", LABELS),
                                           ("off_label", LABELS)])
def test_an_invalid_answer_is_asked_for_once_more(server, fault, labels):
    setattr(server.faults, fault, 0.3)
    requests = batch(20, labels=labels)
    responses = complete(make_provider(config(server)), requests)
    assert [r.answer for r in responses] == expected(requests)
    assert not any(r.invalid for r in responses)
    faulted = {r.text for r in requests if server.faults.pick(r.model, r.prompt, r.text) == fault}
    assert faulted
    assert {key[2] for key, count in server.log.completions.items() if count == 2} == faulted
    assert max(server.log.completions.values()) == 2


def test_an_answer_outside_the_labels_is_valid_for_a_call_without_labels(server):
    server.faults.off_label = 0.3
    responses = complete(make_provider(config(server)), batch(20))
    assert OFF_LABEL_ANSWER in [r.answer for r in responses]
    assert set(server.log.completions.values()) == {1}


@pytest.mark.parametrize("fault, labels, excerpt", [("empty", None, ""), ("null", LABELS, "null"),
                                                    ("off_label", LABELS, OFF_LABEL_ANSWER)])
def test_an_answer_invalid_twice_is_none_with_an_excerpt_and_is_cached(server, tmp_path, fault, labels, excerpt):
    setattr(server.faults, fault, 0.3)
    server.faults.fault_attempts = 10
    cache_path = tmp_path / "llm_cache.duckdb"
    requests = batch(20, labels=labels)
    first = complete(open_provider(config(server), cache_path), requests)
    faulted = [server.faults.pick(r.model, r.prompt, r.text) == fault for r in requests]
    assert any(faulted)
    for request, response, bad in zip(requests, first, faulted):
        if bad:
            assert response.answer is None and response.invalid == excerpt
            assert server.log.completions[request[:3]] == 2
            assert response.input_tokens == 2 * SIMULATOR.usage(request.prompt, request.text, "")[0]
        else:
            assert response.invalid is None and response.answer is not None
    server.reset_log()
    again = complete(open_provider(config(server), cache_path), requests)
    assert server.log.requests == 0
    assert [(r.answer, r.invalid, r.cached) for r in again] == [(r.answer, r.invalid, True) for r in first]


@pytest.mark.parametrize("change, status, message", [
    ({"api_key": "sk-wrong-key-0123456789abcdef"}, 401, "(?s)HTTP 401.*api_key"),
    ({"models": [{"name": "gpt-nope", "input_price_per_1m": 1, "output_price_per_1m": 1, "reference": True}]},
     404, "(?s)model 'gpt-nope'.*HTTP 404.*does not exist"),
])
def test_permanent_errors_stop_with_a_clear_message_without_the_key(server, change, status, message):
    model = change.get("models", [{"name": "sim-small"}])[0]["name"]
    with pytest.raises(LLMError, match=message) as raised:
        complete(make_provider(config(server, **change)), batch(5, model=model))
    assert server.log.by_status[status] >= 1 and set(server.log.by_status) == {status}
    text = str(raised.value)
    assert API_KEY not in text and "sk-wrong-key" not in text
    assert server.base_url in text


def test_a_bad_request_is_permanent_and_not_retried(server):
    with pytest.raises(LLMError, match="(?s)HTTP 400: max_tokens.*hint"):
        complete(make_provider(config(server)), [LLMRequest("sim-small", "p", "t", RequestOptions(max_tokens=0))])
    assert server.log.by_status == {400: 1}


def test_the_key_never_reaches_logs_errors_or_the_cache(server, tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    server.faults.rate_limit = 0.3
    server.faults.server_error = 0.2
    cache_path = tmp_path / "llm_cache.sqlite"
    provider = open_provider(config(server), cache_path)
    complete(provider, batch(20, labels=LABELS))
    with pytest.raises(LLMError) as raised:
        complete(make_provider(config(server, api_key=API_KEY + "x")), batch(1))
    assert f"Bearer {API_KEY}" in server.log.authorization_headers
    captured = capfd.readouterr()
    for text in (caplog.text, captured.out, captured.err, str(raised.value), repr(raised.value)):
        assert API_KEY not in text
    assert API_KEY.encode() not in cache_path.read_bytes()
    assert "SECRET" not in caplog.text


def test_an_interrupted_run_over_http_never_asks_again_for_an_answer_received(server, tmp_path):
    server.faults.latency_ms = 10
    cache_path = tmp_path / "llm_cache.sqlite"
    requests = batch(60)
    received = []

    async def interrupted():
        provider = open_provider(config(server, max_concurrency=4), cache_path)
        task = asyncio.ensure_future(provider.complete(requests, lambda i, r: received.append(i)))
        while len(received) < 15:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await provider.aclose()

    asyncio.run(interrupted())
    first_attempts = dict(server.log.attempts)
    server.reset_log()
    responses = complete(open_provider(config(server), cache_path), requests)
    assert [r.answer for r in responses] == expected(requests)
    asked_again = {key[2] for key in server.log.attempts}
    assert not asked_again & {requests[i].text for i in received}
    assert sum(r.cached for r in responses) == len(received)
    assert len(first_attempts) >= len(received)


def test_no_key_without_base_url_is_a_configuration_problem(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    block = {"provider": "openai", "models": [
        {"name": "gpt-4o", "input_price_per_1m": 2.5, "output_price_per_1m": 10, "reference": True}]}
    with pytest.raises(LLMError, match="(?s)no API key.*OPENAI_API_KEY"):
        make_provider(parse_llm_config(block))


def test_the_served_model_version_is_recorded_and_cached_with_each_answer(server, tmp_path):
    server.system_fingerprint = "fp_2024"
    first = complete(open_provider(config(server), tmp_path / "llm_cache.sqlite"), batch(6))
    assert {r.served_model for r in first} == {"sim-small (fp_2024)"}
    server.system_fingerprint = None
    cached = complete(open_provider(config(server), tmp_path / "llm_cache.sqlite"), batch(8))
    assert [r.served_model for r in cached] == ["sim-small (fp_2024)"] * 6 + ["sim-small"] * 2
    assert [r.cached for r in cached] == [True] * 6 + [False] * 2


# Log probabilities in the chat completions format: choices[0].logprobs.content[i] holds {token,
# logprob, bytes, top_logprobs: [{token, logprob, bytes}]}.

STRUCTURED_COMPLETION = """{
  "id": "chatcmpl-AbC123", "object": "chat.completion", "created": 1733000000,
  "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_0ba0d124f1",
  "choices": [{
    "index": 0, "finish_reason": "stop",
    "message": {"role": "assistant", "content": "{\\"label\\":\\"positive\\"}", "refusal": null},
    "logprobs": {"content": [
      {"token": "{\\"", "logprob": 0.0, "bytes": [123, 34], "top_logprobs": [
        {"token": "{\\"", "logprob": 0.0, "bytes": [123, 34]}]},
      {"token": "label", "logprob": 0.0, "bytes": [108, 97, 98, 101, 108], "top_logprobs": [
        {"token": "label", "logprob": 0.0, "bytes": [108, 97, 98, 101, 108]}]},
      {"token": "\\":\\"", "logprob": -1.9e-07, "bytes": [34, 58, 34], "top_logprobs": [
        {"token": "\\":\\"", "logprob": -1.9e-07, "bytes": [34, 58, 34]}]},
      {"token": "positive", "logprob": -0.0211, "bytes": [112, 111, 115, 105, 116, 105, 118, 101], "top_logprobs": [
        {"token": "positive", "logprob": -0.0211, "bytes": [112, 111, 115, 105, 116, 105, 118, 101]},
        {"token": "neutral", "logprob": -4.1461, "bytes": [110, 101, 117, 116, 114, 97, 108]},
        {"token": "negative", "logprob": -5.8461, "bytes": [110, 101, 103, 97, 116, 105, 118, 101]},
        {"token": "Positive", "logprob": -9.2711, "bytes": [80, 111, 115, 105, 116, 105, 118, 101]},
        {"token": "mixed", "logprob": -10.021, "bytes": [109, 105, 120, 101, 100]}]},
      {"token": "\\"}", "logprob": 0.0, "bytes": [34, 125], "top_logprobs": [
        {"token": "\\"}", "logprob": 0.0, "bytes": [34, 125]}]}
    ], "refusal": null}
  }],
  "usage": {"prompt_tokens": 61, "completion_tokens": 5, "total_tokens": 66}
}"""


def completion_with(content, tokens, logprobs="present"):
    """A chat completion whose logprobs are `tokens`: [(token, logprob, [(alternative, logprob)])];
    `logprobs` 'null' sends null, 'missing' leaves the field out, as servers without them do."""
    import json

    from openai.types.chat import ChatCompletion

    def entry(token, logprob):
        text = token if isinstance(token, str) else bytes(token).decode("utf-8", "backslashreplace")
        raw = list(token.encode()) if isinstance(token, str) else list(token)
        return {"token": text, "logprob": logprob, "bytes": raw}

    choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
    if logprobs == "present":
        choice["logprobs"] = {"content": [{**entry(token, logprob), "top_logprobs": [
            entry(token, logprob), *(entry(alternative, p) for alternative, p in alternatives)]}
            for token, logprob, alternatives in tokens], "refusal": None}
    elif logprobs == "null":
        choice["logprobs"] = None
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [choice], "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}
    return ChatCompletion.model_validate(json.loads(json.dumps(body)))


def probability(*logprobs):
    import math

    return math.exp(sum(logprobs))


def score_of(completion, labels, structured=True):
    from smart_sql.llm.openai_provider import answer_score, read_answer

    choice = completion.choices[0]
    answer, _ = read_answer(choice.message.content, labels, structured)
    return answer, answer_score(choice, answer, labels, structured)


def test_a_structured_answer_scores_its_label_among_the_labels_with_case_variants_added():
    from openai.types.chat import ChatCompletion

    answer, score = score_of(ChatCompletion.model_validate_json(STRUCTURED_COMPLETION), LABELS)
    chosen = probability(-0.0211) + probability(-9.2711)
    assert answer == "positive"
    assert score == pytest.approx(chosen / (chosen + probability(-4.1461) + probability(-5.8461)), rel=1e-12)


def test_labels_sharing_their_first_token_are_told_apart_where_they_part():
    labels = ("very positive", "very negative", "neutral")
    completion = completion_with('{"label":"very negative"}', [
        ('{"', 0.0, []), ("label", 0.0, []), ('":"', 0.0, []),
        ("very", -0.2, [("neutral", -1.7), ("Very", -3.0)]),
        (" negative", -0.4, [(" positive", -1.1), (" neg", -6.0)]),
        ('"}', 0.0, [])])
    answer, score = score_of(completion, labels)
    very = probability(-0.2) + probability(-3.0)
    negative = very * (probability(-0.4) + probability(-6.0))
    positive = very * probability(-1.1)
    assert answer == "very negative"
    assert score == pytest.approx(negative / (negative + positive + probability(-1.7)), rel=1e-12)


def test_a_label_of_several_tokens_needs_only_those_that_set_it_apart():
    labels = ("billing", "unsubscribe", "other")
    completion = completion_with("unsubscribe", [
        ("uns", -0.3, [("billing", -1.5), ("other", -3.0), ("bill", -4.0)]),
        ("ubscribe", -0.05, [("ub", -3.0)])])
    answer, score = score_of(completion, labels, structured=False)
    chosen = probability(-0.3)
    assert answer == "unsubscribe"
    assert score == pytest.approx(chosen / (chosen + probability(-1.5) + probability(-4.0) + probability(-3.0)))


def test_a_plain_answer_is_scored_where_it_names_the_label_with_space_and_case_variants():
    completion = completion_with("Sentiment: Negative.", [
        ("Sent", -0.01, [("The", -2.0)]), ("iment", 0.0, []), (":", 0.0, []),
        (" Negative", -0.5, [(" Positive", -1.2), (" negative", -2.0), (" Neutral", -2.5),
                             ("Negative", -4.0), (" I", -5.0)]),
        (".", -0.1, [])])
    answer, score = score_of(completion, LABELS, structured=False)
    chosen = probability(-0.5) + probability(-2.0) + probability(-4.0)
    assert answer == "negative"
    assert score == pytest.approx(chosen / (chosen + probability(-1.2) + probability(-2.5)), rel=1e-12)


def test_a_label_whose_character_is_split_over_tokens_is_read_from_their_bytes():
    labels = ("négatif", "neutre", "positif")
    completion = completion_with("négatif", [
        ("n", -0.5, [("pos", -1.0)]),
        (b"\xc3", -0.1, [("eu", -2.4)]),
        (b"\xa9", -0.001, []),
        ("gatif", 0.0, [])])
    answer, score = score_of(completion, labels, structured=False)
    chosen = probability(-0.5, -0.1, -0.001)
    assert answer == "négatif"
    assert score == pytest.approx(chosen / (chosen + probability(-0.5, -2.4) + probability(-1.0)), rel=1e-12)


def test_an_alternative_starting_several_labels_is_shared_evenly_among_them():
    labels = ("very positive", "very negative", "neutral")
    completion = completion_with("very positive", [
        ("very", -0.2, [("ve", -2.0), ("neutral", -2.5), ("ne", -4.0)]),
        (" positive", -0.3, [(" negative", -1.4)])])
    answer, score = score_of(completion, labels, structured=False)
    positive = probability(-0.2, -0.3) + probability(-2.0) / 2
    negative = probability(-0.2, -1.4) + probability(-2.0) / 2
    neutral = probability(-2.5) + probability(-4.0)
    assert answer == "very positive"
    assert score == pytest.approx(positive / (positive + negative + neutral), rel=1e-12)


@pytest.mark.parametrize("logprobs", ["null", "missing"])
def test_a_server_that_sends_no_logprobs_gives_no_score(logprobs):
    completion = completion_with('{"label":"neutral"}', [], logprobs=logprobs)
    assert score_of(completion, LABELS) == ("neutral", None)


def test_logprobs_that_do_not_spell_the_answer_give_no_score():
    completion = completion_with('{"label":"neutral"}', [('{"label":"', 0.0, []), ("negative", -0.1, [])])
    assert score_of(completion, LABELS) == ("neutral", None)


def expected_scores(server, requests):
    simulator = server.simulator
    return [simulator.score(r.model, r.prompt, r.text, simulator.answer(r.model, r.prompt, r.text, r.options.labels),
                            r.options.labels) for r in requests]


@pytest.mark.parametrize("labels", [LABELS, ("very positive", "very negative", "neutral"), ("pos", "positive")])
@pytest.mark.parametrize("structured", [True, False], ids=["json schema", "plain answers"])
def test_the_score_read_from_the_servers_logprobs_is_the_probability_it_gave_the_label(server, labels, structured):
    server.faults.reject_response_format = not structured
    requests = batch(40, labels=labels) + batch(20, model="sim-large", labels=labels)
    responses = complete(make_provider(config(server)), requests)
    assert [r.answer for r in responses] == expected(requests)
    assert [r.score for r in responses] == pytest.approx(expected_scores(server, requests), abs=1e-9)
    assert len({round(r.score, 6) for r in responses}) > 50


def test_answers_without_labels_have_no_score(server):
    responses = complete(make_provider(config(server)), batch(10))
    assert [r.score for r in responses] == [None] * 10


def test_a_server_sending_no_logprobs_gives_answers_without_scores(server):
    server.faults.omit_logprobs = True
    requests = batch(20, labels=LABELS)
    responses = complete(make_provider(config(server)), requests)
    assert [r.answer for r in responses] == expected(requests)
    assert [r.score for r in responses] == [None] * 20


def test_a_model_refusing_logprobs_is_asked_without_them_from_then_on(server, caplog):
    server.faults.reject_logprobs = True
    requests = batch(30, labels=LABELS) + batch(30, model="sim-large", labels=LABELS)
    with caplog.at_level(logging.WARNING):
        responses = complete(make_provider(config(server, max_concurrency=2)), requests)
    assert [r.answer for r in responses] == expected(requests)
    assert [r.score for r in responses] == [None] * 60
    assert 2 <= server.log.by_status[400] <= 4 and server.log.by_status[200] == 60
    assert caplog.text.count("gives no log probabilities") == 2


def test_answers_cached_without_scores_are_found_again_when_scores_are_asked_for(server, tmp_path):
    server.faults.omit_logprobs = True
    requests = batch(10, labels=LABELS)
    first = complete(open_provider(config(server), tmp_path / "llm_cache.sqlite"), requests[:6])
    server.faults.omit_logprobs = False
    again = complete(open_provider(config(server), tmp_path / "llm_cache.sqlite"), requests)
    assert [r.cached for r in again] == [True] * 6 + [False] * 4
    assert [r.answer for r in again[:6]] == [r.answer for r in first]
    assert [r.score for r in again[:6]] == [None] * 6
    assert [r.score for r in again[6:]] == pytest.approx(expected_scores(server, requests[6:]), abs=1e-9)
    assert server.log.by_model == {"sim-small": 10}
