"""The account a build prints, writes to run_results.json and records in the history table."""

from __future__ import annotations

import json
import re
from pathlib import Path


REVIEWS = 1500
MODEL = """\
select id, SMART_LLM('Classify the sentiment.', body, labels => ['positive', 'negative', 'mixed'],
                     accuracy => 0.9) as sentiment
from {{ ref('reviews') }}
"""


def reviews_csv(count: int, start: int = 0) -> str:
    return "id,body\n" + "".join(f"{i},review number {i} of a lamp\n" for i in range(start, start + count))


def tasks(root: Path) -> list[dict]:
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    return [task for r in results for task in r.get("extras", {}).get("llm", {}).get("tasks", [])]


def test_the_console_names_as_many_profiled_items_as_run_results(make_project, cli):
    root = make_project({"seeds/reviews.csv": reviews_csv(REVIEWS), "models/moods.sql": MODEL})
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    profiled = [int(n) for n in re.findall(r"profiled (\d+) items", result.output)]
    [task] = tasks(root)
    assert task["account"]["items_profiled"] > 20
    assert profiled[-1] == task["account"]["items_profiled"]


def test_a_rebuild_after_new_rows_credits_its_savings_to_the_cache_not_to_smart(make_project, cli):
    root = make_project({"seeds/reviews.csv": reviews_csv(REVIEWS), "models/moods.sql": MODEL})
    assert cli("build", "--project-dir", root).exit_code == 0
    (root / "seeds" / "reviews.csv").write_text(reviews_csv(REVIEWS + 50), encoding="utf-8")
    rebuild = cli("build", "--project-dir", root)
    [cached] = tasks(root)
    assert cli("build", "--project-dir", root, "--no-cache").exit_code == 0
    [uncached] = tasks(root)

    claimed = float(re.search(r"(\d+\.\d)x cheaper", rebuild.output).group(1))
    account = cached["account"]
    honest = account["reference_only_cost"] / uncached["account"]["total_cost"]
    assert account["reference_only_cost"] / account["total_cost"] > honest + 0.5, "the cache did save a lot"
    assert claimed <= round(honest, 1) + 0.05


def test_the_savings_split_adds_up_to_the_reference_alone(make_project, cli):
    root = make_project({"seeds/reviews.csv": reviews_csv(REVIEWS), "models/moods.sql": MODEL})
    assert cli("build", "--project-dir", root).exit_code == 0
    (root / "seeds" / "reviews.csv").write_text(reviews_csv(REVIEWS + 50), encoding="utf-8")
    rebuild = cli("build", "--project-dir", root)
    [task] = tasks(root)
    spend = task["spend"]
    assert spend["saved_by_cache"] > 0 and spend["answers_from_cache"] > REVIEWS // 2
    assert abs(spend["cost"] + spend["saved_by_cache"] + spend["saved_by_smart"]
               - spend["reference_only_cost"]) < 1e-9
    assert f"${spend['saved_by_cache']:.4f} by the cache" in rebuild.output
    assert f"{spend['answers_from_cache']:,} answers from the cache" in rebuild.output
