"""Cost of the SMART engine on the published benchmark settings (simulated, as the paper does).

Each item's agreement with the reference is a seeded Bernoulli draw at the model's published
agreement rate and every item uses the published average token counts; the engine runs through
the same `run_smart` code path the SQL layer uses. All figures are simulated.

    python benchmarks/cost_paper.py --dataset imdb --accuracy 0.8 0.9 --trials 10 --seed 0 [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import time
from pathlib import Path

import numpy as np

from smart_sql.llm.base import ModelSpec
from smart_sql.smart.engine import run_smart
from smart_sql.smart.mix import mix_cost
from smart_sql.smart.simulate import SimulatedAnswers, SimulatedModel

SETTINGS = Path(__file__).with_name("paper_settings.csv")
REFERENCE = "gpt-4"
DATASETS = ("imdb", "sms_spam", "ag_news")
PUBLISHED = {
    "imdb": {0.80: 18.33, 0.90: 21.85, 0.94: 27.23, 0.98: 372.90},
    "sms_spam": {0.80: 0.380, 0.90: 0.675, 0.94: 5.39, 0.98: 8.11},
    "ag_news": {0.80: 12.46, 0.90: 14.51, 0.94: 143.17, 0.98: 294.61},
}
"""Mean cost of the published multi-model method with its own code (confidence 0.95)."""


def load_setting(dataset: str) -> tuple[int, list[ModelSpec], list[SimulatedModel]]:
    rows = [row for row in csv.DictReader(SETTINGS.open()) if row["dataset"] == dataset]
    if not rows:
        raise SystemExit(f"{SETTINGS}: no dataset {dataset!r}")
    specs = [ModelSpec(r["model"], float(r["input_price_per_1m"]), float(r["output_price_per_1m"]),
                       reference=r["model"] == REFERENCE) for r in rows]
    simulated = [SimulatedModel(r["model"], float(r["agreement_with_reference"]),
                                float(r["input_tokens_per_item"]), float(r["output_tokens_per_item"])) for r in rows]
    return int(rows[0]["n_items"]), specs, simulated


def item_costs(specs: list[ModelSpec], simulated: list[SimulatedModel]) -> np.ndarray:
    return np.array([spec.cost(m.input_tokens, m.output_tokens) for spec, m in zip(specs, simulated)])


def oracle_cost(items: int, specs: list[ModelSpec], simulated: list[SimulatedModel], accuracy: float) -> float:
    """The cheapest mix if the true agreement rates were known and nothing had to be profiled."""
    reference = next(i for i, s in enumerate(specs) if s.reference)
    rates = np.array([1.0 if s.reference else m.agreement for s, m in zip(specs, simulated)])
    return items * float(mix_cost(item_costs(specs, simulated), rates, accuracy, reference=reference))


async def run_trials(dataset: str, accuracy: float, confidence: float, trials: int, seed: int) -> dict:
    items, specs, simulated = load_setting(dataset)
    counts = np.ones(items, dtype=np.int64)
    costs, profiling_costs, agreement, profiled, started = [], [], [], [], time.perf_counter()
    for trial in range(trials):
        answers = SimulatedAnswers(simulated, items, seed=seed + trial)
        result = await run_smart(counts, specs, answers, accuracy=accuracy, confidence=confidence,
                                 seed=seed + trial)
        costs.append(result.account.total_cost)
        profiling_costs.append(result.account.profiling_cost)
        profiled.append(result.account.items_profiled)
        agreement.append(answers.realized_agreement(result.answers))
    reference = next(i for i, s in enumerate(specs) if s.reference)
    reference_only = items * float(item_costs(specs, simulated)[reference])
    mean_cost = float(np.mean(costs))
    return {"dataset": dataset, "accuracy": accuracy, "confidence": confidence, "trials": trials,
            "mean_cost": round(mean_cost, 4), "reference_only_cost": round(reference_only, 2),
            "oracle_cost": round(oracle_cost(items, specs, simulated, accuracy), 4),
            "savings": round(reference_only / mean_cost, 2),
            "failure_rate": float(np.mean(np.array(agreement) < accuracy)),
            "mean_profiled_items": float(np.mean(profiled)),
            "mean_profiling_cost": round(float(np.mean(profiling_costs)), 4),
            "mean_realized_agreement": round(float(np.mean(agreement)), 4),
            "seconds_per_trial": (time.perf_counter() - started) / trials}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--accuracy", nargs="+", type=float, default=[round(0.80 + 0.02 * i, 2) for i in range(10)])
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args()
    if not args.json:
        print("simulated runs of the published settings; costs in dollars")
        print(f"{'dataset':<9} {'acc':>5} {'mean cost':>10} {'oracle':>9} {'published':>9} {'ref only':>9} "
              f"{'savings':>8} {'failures':>8} {'profiled':>9} {'profiling':>9} {'agreement':>9} {'s/trial':>7}")
    for dataset in args.dataset:
        for accuracy in args.accuracy:
            row = asyncio.run(run_trials(dataset, accuracy, args.confidence, args.trials, args.seed))
            seconds = row.pop("seconds_per_trial")
            if args.json:
                print(json.dumps(row), flush=True)
                continue
            published = PUBLISHED[dataset].get(round(accuracy, 2))
            print(f"{dataset:<9} {accuracy:>5.2f} {row['mean_cost']:>10.3f} {row['oracle_cost']:>9.3f} "
                  f"{published if published is not None else '-':>9} {row['reference_only_cost']:>9.2f} "
                  f"{row['savings']:>7.1f}x {row['failure_rate']:>8.2f} {row['mean_profiled_items']:>9.0f} "
                  f"{row['mean_profiling_cost']:>9.3f} {row['mean_realized_agreement']:>9.4f} "
                  f"{seconds:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
