"""Does the guarantee hold? Failure rates of the SMART engine at adversarial settings.

A cheap candidate agrees with the reference at a rate exactly at, just above or just below the
target accuracy (0.90), on tables of 300, 3,000 and 30,000 rows, at confidence 0.90 and 0.95.
A trial fails when the realized share of rows agreeing with the reference falls below the target.
The failure rate must stay at or under 1 - confidence, up to the sampling slack of the trials
(a one-sided 99% binomial margin, reported as `limit`). Simulated answers, same `run_smart` code
path as the SQL engine.

    python benchmarks/guarantee.py --trials 1000 [--json] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from smart_sql.llm.base import ModelSpec
from smart_sql.smart.engine import run_smart
from smart_sql.smart.simulate import SimulatedAnswers, SimulatedModel

ACCURACY = 0.90
OFFSETS = {"at": 0.0, "just above": 0.01, "just below": -0.01}
SIZES = (300, 3_000, 30_000)
CONFIDENCES = (0.90, 0.95)
LADDER = [ModelSpec("reference", 30.0, 60.0, reference=True), ModelSpec("cheap", 1.0, 2.0),
          ModelSpec("useless", 0.4, 0.4)]
CHUNK_TRIALS = 50
"""Trials per job: small enough that both workers stay busy to the end."""


@dataclass(frozen=True)
class Setting:
    rows: int
    confidence: float
    position: str

    @property
    def name(self) -> str:
        return f"rows={self.rows} confidence={self.confidence} candidate {self.position} target"

    def simulated_models(self) -> list[SimulatedModel]:
        return [SimulatedModel("reference", 1.0, 100, 1),
                SimulatedModel("cheap", ACCURACY + OFFSETS[self.position], 100, 1),
                SimulatedModel("useless", 0.0, 100, 1)]


@dataclass
class Tally:
    """Outcomes of some trials of one setting."""

    trials: int = 0
    failures: int = 0
    cost_share: float = 0.0
    profiled_items: float = 0.0
    seconds: float = 0.0

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(self.trials + other.trials, self.failures + other.failures, self.cost_share + other.cost_share,
                     self.profiled_items + other.profiled_items, self.seconds + other.seconds)


def run_trials(setting: Setting, seeds: range) -> Tally:
    async def outcomes() -> Tally:
        counts = np.ones(setting.rows, dtype=np.int64)
        tally = Tally()
        for seed in seeds:
            answers = SimulatedAnswers(setting.simulated_models(), setting.rows, seed=seed)
            result = await run_smart(counts, LADDER, answers, accuracy=ACCURACY, confidence=setting.confidence,
                                     seed=seed)
            tally += Tally(1, int(answers.realized_agreement(result.answers) < ACCURACY),
                           result.account.total_cost / result.account.reference_only_cost,
                           result.account.items_profiled)
        return tally

    started = time.perf_counter()
    tally = asyncio.run(outcomes())
    tally.seconds = time.perf_counter() - started
    return tally


def summary(setting: Setting, tally: Tally) -> dict:
    allowed = round(1 - setting.confidence, 10)
    return {"setting": setting.name, "trials": tally.trials, "failure_rate": tally.failures / tally.trials,
            "allowed": allowed, "limit": sampling_limit(allowed, tally.trials),
            "cost_vs_reference": round(tally.cost_share / tally.trials, 4),
            "mean_profiled_items": tally.profiled_items / tally.trials, "seconds": round(tally.seconds, 1)}


def chunks(trials: int, seed: int, size: int) -> list[range]:
    return [range(start, min(start + size, seed + trials)) for start in range(seed, seed + trials, size)]


def sampling_limit(allowed: float, trials: int) -> float:
    """Largest failure rate a method failing with probability `allowed` exceeds only 1% of the time."""
    from scipy.stats import binom

    return float(binom.ppf(0.99, trials, allowed) / trials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args()
    settings = [Setting(rows, confidence, position) for confidence in CONFIDENCES for rows in SIZES
                for position in OFFSETS]
    seeds = chunks(args.trials, args.seed, CHUNK_TRIALS)
    with ProcessPoolExecutor(args.workers) as pool:
        jobs = [[pool.submit(run_trials, setting, part) for part in seeds] for setting in settings]
        if not args.json:
            print(f"simulated; target accuracy {ACCURACY}")
            print(f"{'setting':<58} {'trials':>6} {'failures':>8} {'allowed':>7} {'limit':>6} {'cost/ref':>8} "
                  f"{'profiled':>8}  ok")
        for setting, parts in zip(settings, jobs):
            row = summary(setting, sum((part.result() for part in parts), Tally()))
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                ok = "yes" if row["failure_rate"] <= row["limit"] else "NO"
                print(f"{row['setting']:<58} {row['trials']:>6} {row['failure_rate']:>8.3f} {row['allowed']:>7.2f} "
                      f"{row['limit']:>6.3f} {row['cost_vs_reference']:>8.3f} {row['mean_profiled_items']:>8.0f}"
                      f"  {ok}", flush=True)

if __name__ == "__main__":
    main()
