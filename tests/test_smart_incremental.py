"""Answers that stay put across runs: a text answered before is never paid again by an incremental
run, new rows do not move old inputs' answers, and the guarantee holds over the second run's output
(simulated provider, real builds)."""

import json

import numpy as np
import pytest

from conftest import write
from smart_sql.llm.simulated import SimulatedProvider

MODEL = """\
    {{ config(materialized='%s') }}
    select review_id, body,
           SMART_LLM('Is the customer happy?', body, labels => ['yes', 'no'], accuracy => 0.9) as happy
    from {{ ref('reviews') }}
    %s
"""
INCREMENTAL_FILTER = "{% if is_incremental() %} where review_id > (select max(review_id) from {{ this }}) {% endif %}"


def reviews_csv(bodies) -> str:
    return "review_id,body\n" + "".join(f"{i},{body}\n" for i, body in enumerate(bodies, start=1))


@pytest.fixture
def asked(monkeypatch):
    """Every (model, text) the simulated provider is asked to answer (paid), in order."""
    sent: list[tuple[str, str]] = []
    original = SimulatedProvider.complete

    async def complete(self, requests, on_response=None):
        sent.extend((r.model, r.text) for r in requests)
        return await original(self, requests, on_response)

    monkeypatch.setattr(SimulatedProvider, "complete", complete)
    return sent


def llm_task(root):
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    (model,) = [r for r in results if r["name"] == "moods"]
    (task,) = model["extras"]["llm"]["tasks"]
    return task


def texts(start, stop):
    return [f"review number {i} about the kettle" for i in range(start, stop)]


def test_an_incremental_run_pays_for_no_text_answered_before(make_project, cli, query, asked):
    first = texts(0, 1500)
    root = make_project({"seeds/reviews.csv": reviews_csv(first),
                         "models/moods.sql": MODEL % ("incremental", INCREMENTAL_FILTER)})
    assert cli("build", "--project-dir", root).exit_code == 0
    paid_first = len(asked)
    known = list(np.random.default_rng(0).choice(first, 750, replace=False))
    added = known + texts(1500, 2250)
    write(root, "seeds/reviews.csv", reviews_csv(first + added))
    asked.clear()
    assert cli("build", "--project-dir", root).exit_code == 0
    task = llm_task(root)
    assert (task["rows"], task["distinct_inputs"]) == (1500, 1500)
    paid_known = [text for _, text in asked if text in set(known)]
    assert paid_first > 0 and len(asked) > 0
    assert paid_known == [], f"{len(set(paid_known))} of {len(known)} known texts paid again"
    assert task["account"]["lower_bound"] >= 0.9


def test_adding_unrelated_rows_changes_no_existing_answer(make_project, cli, query, asked):
    first = texts(0, 700)
    root = make_project({"seeds/reviews.csv": reviews_csv(first), "models/moods.sql": MODEL % ("table", "")})
    assert cli("build", "--project-dir", root).exit_code == 0
    before = dict(query(root, "select body, happy from moods"))
    write(root, "seeds/reviews.csv", reviews_csv(first + texts(700, 750)))
    asked.clear()
    assert cli("build", "--project-dir", root).exit_code == 0
    after = dict(query(root, "select body, happy from moods"))
    moved = [body for body in first if after[body] != before[body]]
    assert moved == []
    assert {text for _, text in asked} <= set(texts(700, 750)), "only the new texts are paid"
