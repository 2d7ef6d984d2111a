"""Does `smart-sql plan` say what the build then spends? The plan's expected cost and stated range
against the build's real spend, per LLM task, on the example project and on synthetic tables.

Each synthetic table has `rows` rows of distinct texts (lengths vary) and two SMART_LLM columns
(accuracy 0.9 and 0.8) over the simulated provider with the agreement rates of a setting. For every
project: `plan_build` first (fresh project, empty cache), then a real build; the spend per task
comes from the build's SMART accounts. Prints one JSON line per task (with --json) and a summary
line: the share of tasks whose spend fell inside the plan's range (target >= 0.9) and the spread
of spend / expected. Everything here is simulated; nothing is paid.

    python benchmarks/plan_accuracy.py [--sizes 1000,10000,100000] [--settings all] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {
    "strong": {"sim-medium": 0.95, "sim-small": 0.92},
    "mixed": {"sim-medium": 0.9, "sim-small": 0.75},
    "weak": {"sim-medium": 0.8, "sim-small": 0.6},
}


class _Quiet:
    def info(self, message: str) -> None:
        pass

    def node_finished(self, index, total, result) -> None:
        pass

    def summary(self, results) -> None:
        pass


def example_project(folder: Path) -> Path:
    root = folder / "example"
    root.mkdir()
    for name in ("models", "seeds", "macros"):
        shutil.copytree(ROOT / name, root / name)
    for name in ("smart_sql_project.yml", "profiles.yml"):
        shutil.copy(ROOT / name, root / name)
    return root


def synthetic_project(folder: Path, rows: int, setting: str) -> Path:
    root = folder / f"synthetic_{setting}_{rows}"
    (root / "models").mkdir(parents=True)
    agreement = "".join(f"            {name}: {rate}\n" for name, rate in SETTINGS[setting].items())
    (root / "smart_sql_project.yml").write_text("name: synthetic\nprofile: synthetic\n")
    (root / "profiles.yml").write_text(
        "synthetic:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/dev.duckdb\n"
        "      llm:\n        provider: simulated\n        simulated:\n          agreement:\n" + agreement)
    (root / "models" / "texts.sql").write_text(
        f"select i as id, 'review ' || i || ' ' || repeat('of the product ', (i % 7) + 1) as body "
        f"from range({rows}) r(i)")
    (root / "models" / "labelled.sql").write_text(
        "{{ config(materialized='table') }}\n"
        "select id,\n"
        "  SMART_LLM('Sentiment?', body, labels => ['positive', 'negative', 'mixed'], accuracy => 0.9) as s90,\n"
        "  SMART_LLM('Topic?', body, labels => ['price', 'quality', 'delivery', 'other'], accuracy => 0.8) as t80\n"
        "from {{ ref('texts') }}\n")
    return root


def measure(root: Path, project_name: str) -> list[dict]:
    from smart_sql.execute import build
    from smart_sql.llm_sql import LLMRunner
    from smart_sql.plan.build import plan_build
    from smart_sql.project import load_project

    project = load_project(root)
    started = time.perf_counter()
    plan = plan_build(project)
    plan_seconds = time.perf_counter() - started
    runner = LLMRunner(project.target.llm, cache_path=project.llm_cache_path)
    with runner:
        build(project, sql_transform=runner, reporter=_Quiet())
    spent = {(model, report.task.id): report.account["total_cost"]
             for model, reports in runner.reports.items() for report in reports if report.account}
    rows = []
    for model in plan.models:
        for task in model.tasks:
            cost = spent.get((model.name, task.id))
            if cost is None:
                continue
            rows.append({"project": project_name, "model": model.name, "task": task.id, "rows": task.rows,
                         "expected": round(task.expected, 6), "low": round(task.low, 6),
                         "high": round(task.high, 6), "most": round(task.most, 6), "spent": round(cost, 6),
                         "ratio": round(cost / task.expected, 4) if task.expected else None,
                         "inside": task.low - 1e-9 <= cost <= task.high + 1e-9,
                         "within_worst_case": cost <= task.most + 1e-9,
                         "plan_seconds": round(plan_seconds, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--settings", default="all", help="comma-separated of: " + ", ".join(SETTINGS))
    parser.add_argument("--no-example", action="store_true", help="leave out the example project")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = list(SETTINGS) if args.settings == "all" else args.settings.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        if not args.no_example:
            rows += measure(example_project(Path(folder)), "example")
        for size in (int(s) for s in args.sizes.split(",") if s):
            for setting in settings:
                rows += measure(synthetic_project(Path(folder), size, setting), f"{setting} {size:,} rows")
    ratios = [row["ratio"] for row in rows if row["ratio"] is not None]
    summary = {"summary": True, "tasks": len(rows), "inside_share": round(np.mean([r["inside"] for r in rows]), 4),
               "within_worst_case_share": round(np.mean([r["within_worst_case"] for r in rows]), 4),
               "ratio_median": round(float(np.median(ratios)), 4) if ratios else None,
               "ratio_min": round(min(ratios), 4) if ratios else None,
               "ratio_max": round(max(ratios), 4) if ratios else None, "target_inside_share": 0.9}
    for row in rows + [summary]:
        if args.json:
            print(json.dumps(row))
        elif "summary" in row:
            print(f"{row['tasks']} tasks: spend inside the plan's range in {row['inside_share']:.0%} "
                  f"(target 90%), within the worst case in {row['within_worst_case_share']:.0%}; "
                  f"spend / expected median {row['ratio_median']}, from {row['ratio_min']} to {row['ratio_max']}")
        else:
            print(f"{row['project']:>24} {row['model']:>26} {row['task']:>3} {row['rows']:>7,} rows: "
                  f"expected ${row['expected']:.4f} (range ${row['low']:.4f} to ${row['high']:.4f}), "
                  f"spent ${row['spent']:.4f}, ratio {row['ratio']}, {'inside' if row['inside'] else 'OUTSIDE'}")


if __name__ == "__main__":
    main()
