"""What the engine stores and certifies: each row's value under the call's comparison, and invalid
answers (empty, or naming no label) counted, stored as NULL and never certified. Simulated answers."""

import asyncio

import numpy as np
import pytest

from smart_sql.llm.base import ModelSpec
from smart_sql.smart.engine import InvalidAnswers, ResponseBatch, run_smart

LADDER = [ModelSpec("big", 30.0, 60.0, reference=True), ModelSpec("small", 1.0, 2.0)]


def scripted(answers_by_model):
    """Answer item i with answers_by_model[model](i)."""
    async def answer(model, items):
        texts = [answers_by_model[model](i) for i in items]
        return ResponseBatch(texts, np.full(len(items), 100.0), np.full(len(items), 2.0), np.zeros(len(items), bool))
    return answer


def run(answer, items, **options):
    options.setdefault("accuracy", 0.9)
    return asyncio.run(run_smart(np.ones(items, dtype=np.int64), LADDER, answer, **options))


def test_a_case_sensitive_code_is_stored_as_the_reference_would_write_it():
    items = 4000
    answer = scripted({"big": lambda i: f"Code-{i % 7}", "small": lambda i: f"code-{i % 7}."})
    result = run(answer, items)
    as_written = np.mean([a == f"Code-{i % 7}" for i, a in enumerate(result.answers)])
    assert as_written >= 0.9
    assert result.account.candidates[0].lower_bound == 0.0
    casefolded = run(answer, items, compare="casefold")
    assert casefolded.models.count("small") > 0.8 * items
    assert set(casefolded.answers) <= {f"code-{k}" for k in range(7)}


def test_exact_comparison_stores_the_text_as_written():
    answer = scripted({"big": lambda i: " A ", "small": lambda i: "A"})
    result = run(answer, 3000, compare="exact")
    assert result.answers.count(" A ") >= 0.9 * 3000
    assert result.account.candidates[0].agreeing_rows == 0
    assert set(run(answer, 3000).answers) == {"A"}


def test_invalid_candidate_answers_are_null_counted_and_disagree():
    items = 3000
    answer = scripted({"big": lambda i: "positive", "small": lambda i: "" if i % 10 == 0 else "positive"})
    result = run(answer, items, labels=["positive", "negative"], accuracy=0.8)
    usage = result.account.usage
    assert usage["small"].invalid_answers > 0 and usage["big"].invalid_answers == 0
    null_rows = sum(a is None for a in result.answers)
    assert result.account.null_rows == null_rows == sum(1 for i, m in enumerate(result.models)
                                                        if m == "small" and i % 10 == 0)
    candidate = result.account.candidates[0]
    assert candidate.agreeing_rows < candidate.profiled_rows
    assert np.mean([a == "positive" for a in result.answers]) >= 0.8


def test_rows_the_reference_answered_invalidly_are_not_certified():
    items = 400
    answer = scripted({"big": lambda i: "maybe" if i % 50 == 0 else "positive", "small": lambda i: "negative"})
    result = run(answer, items, labels=["positive", "negative"], accuracy=0.5, max_invalid_share=0.1)
    account = result.account
    assert account.reference_invalid_rows == sum(1 for i, m in enumerate(result.models)
                                                 if m == "big" and i % 50 == 0) > 0
    realized = np.mean([a == "positive" for a in result.answers])
    assert realized >= account.lower_bound


def test_a_reference_that_gives_no_valid_answer_fails_before_the_mix_is_paid():
    calls = {"big": 0, "small": 0}

    def reply(model):
        def text(i):
            calls[model] += 1
            return "" if model == "big" else "positive"
        return text

    with pytest.raises(InvalidAnswers, match=r"answers of the reference model big named none of the labels.*''"):
        run(scripted({"big": reply("big"), "small": reply("small")}), 5000, labels=["positive", "negative"])
    assert calls["big"] <= 100


def test_a_few_invalid_reference_answers_within_the_share_pass():
    answer = scripted({"big": lambda i: "" if i % 20 == 0 else "positive", "small": lambda i: "positive"})
    result = run(answer, 2000, labels=["positive", "negative"], max_invalid_share=0.2)
    assert result.account.usage["big"].invalid_answers > 0
    with pytest.raises(InvalidAnswers, match="more than max_invalid_share = 0.001"):
        run(answer, 2000, labels=["positive", "negative"], max_invalid_share=0.001)


def test_the_failure_shows_what_the_server_sent_when_the_provider_kept_an_excerpt():
    from smart_sql.llm.base import LLMResponse

    async def answer(model, items):
        return [LLMResponse(None, 10, 1, invalid="I am not sure.") for _ in items]

    with pytest.raises(InvalidAnswers, match=r"for instance: 'I am not sure\.'"):
        asyncio.run(run_smart(np.ones(500, dtype=np.int64), LADDER, answer, accuracy=0.9, labels=["a", "b"]))
