"""Does the guarantee hold? Failure rates of the SMART engine at adversarial settings.

Each setting is a simulated table on which some candidates disagree with the reference on exactly a
chosen share of the rows (placed at random, or on the heaviest or lightest items of Zipf-weighted
rows), run through the same `run_smart` code path as the SQL engine. The settings cover the whole
range of `accuracy` (0.01 to 0.999), tables of 1 to 100,000 rows (every size around the pilot and
the first checkpoints), several candidates at and just below the target, a candidate that is always
wrong (where a run without profiling used to credit unchecked rows), weighted rows and confidence
from 0.5 to 0.99. The `cascade` group runs `method => 'cascade'` and `'auto'` with scores that
mislead: uninformative, anti-informative (higher where the model is wrong), miscalibrated
(a third of the wrong answers scored as high as right ones), informative on half the items and
anti on the other (position) or anti on the longest texts (length).
The incremental settings run twice: first on a table A, then on A plus new rows B
with every answer of the first run free (as the response cache serves it), the disagreements placed
only in A, only in B or on the heaviest items; the failure is measured over the second run's whole
output, and `known_paid` counts the answers the second run paid again for A's inputs.

A trial fails twice over: when the realized share of rows agreeing with the reference falls below
`accuracy`, and when it falls below the engine's own certified `lower_bound`. Both failure rates
must stay at or under 1 - confidence, up to the sampling slack of the trials (a one-sided 99%
binomial margin, reported as `limit`). Everything here is simulated.

    python benchmarks/guarantee.py --trials 1000 [--json] [--workers 2] [--only size]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from smart_sql.llm.base import ModelSpec
from smart_sql.smart.engine import ResponseBatch, run_smart
from smart_sql.smart.simulate import SimulatedAnswers, SimulatedModel

LADDER = [ModelSpec("reference", 30.0, 60.0, reference=True), ModelSpec("cheap", 1.0, 2.0),
          ModelSpec("mid", 3.0, 6.0), ModelSpec("useless", 0.4, 0.4)]
CANDIDATES = [m.name for m in LADDER if not m.reference]
CHUNK_TRIALS = 50
"""Trials per job: small enough that both workers stay busy to the end."""
LARGEST_COUNT = 1_000


@dataclass(frozen=True)
class Setting:
    group: str
    rows: int
    """Items; with `zipf` each stands for several rows."""
    accuracy: float
    confidence: float
    rates: tuple[float, ...]
    """Agreement with the reference of cheap, mid and useless (None: left out of the ladder)."""
    placement: str = "random"
    zipf: float | None = None
    exact: bool = True
    """Exactly the declared share of rows disagrees; otherwise each item disagrees at random."""
    method: str = "mix"
    scores: str | None = None
    """The candidates' score distribution (`simulate.SCORES`), None for no scores."""
    first_run: int | None = None
    """Incremental: items of the table A of the first run (the first ones); the rest are B."""
    grown: bool = False
    """Incremental: B also adds rows to A's items (their counts grow), not only new items."""

    @property
    def name(self) -> str:
        rates = "/".join("-" if r is None else f"{r:g}" for r in self.rates)
        weights = f" zipf {self.zipf:g} errors on {self.placement}" if self.zipf else ""
        draws = "" if self.exact else " bernoulli"
        method = "" if self.method == "mix" else f" {self.method} {self.scores} scores"
        if self.first_run is not None:
            weights = (f" zipf {self.zipf:g}" if self.zipf else "") + (
                f" after {self.first_run}{' grown' if self.grown else ''} errors on {self.placement}")
        return (f"{self.group}: {self.rows} items{weights} acc {self.accuracy:g} conf {self.confidence:g} "
                f"rates {rates}{draws}{method}")

    def ladder(self) -> list[ModelSpec]:
        return [LADDER[0]] + [m for m, r in zip(LADDER[1:], self.rates) if r is not None]

    def simulated_models(self) -> list[SimulatedModel]:
        return [SimulatedModel("reference", 1.0, 100, 1)] + [
            SimulatedModel(name, rate, 100, 1, self.scores) for name, rate in zip(CANDIDATES, self.rates)
            if rate is not None]

    def counts(self, seed: int) -> np.ndarray:
        if self.zipf is None:
            return np.ones(self.rows, dtype=np.int64)
        return np.random.default_rng([seed, 1]).zipf(self.zipf, self.rows).clip(max=LARGEST_COUNT)


def below(accuracy: float) -> float:
    """A candidate just below the target."""
    return accuracy - 0.01 if accuracy >= 0.05 else accuracy / 2


def at_and_below(accuracy: float) -> tuple[float, float, float]:
    return accuracy, below(accuracy), 0.0


def settings() -> list[Setting]:
    sizes = (1, 2, 5, 10, 19, 20, 21, 39, 40, 41, 59, 60, 61, 89, 90, 91, 135, 136, 137, 201, 202, 203,
             300, 1_000, 3_000, 10_000, 30_000, 100_000)
    found = [Setting("audit", rows, accuracy, 0.9, (None, None, 0.0))
             for rows, accuracy in ((100, 0.2), (60, 0.5), (100, 0.5), (1_000, 0.05), (3_000, 0.01), (60, 0.8))]
    found += [Setting("size", rows, 0.9, 0.9, at_and_below(0.9)) for rows in sizes]
    found += [Setting("size", rows, 0.5, 0.9, at_and_below(0.5)) for rows in (40, 60, 61, 90, 100, 136, 300)]
    found += [Setting("accuracy", 3_000, accuracy, 0.9, at_and_below(accuracy))
              for accuracy in (0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999)]
    found += [Setting("accuracy", 300, accuracy, 0.9, at_and_below(accuracy)) for accuracy in (0.01, 0.2, 0.99, 0.999)]
    found += [Setting("confidence", 3_000, 0.9, confidence, at_and_below(0.9)) for confidence in (0.5, 0.8, 0.95, 0.99)]
    found += [Setting("confidence", 300, 0.9, 0.5, at_and_below(0.9))]
    found += [Setting("candidates", 3_000, 0.9, 0.9, rates)
              for rates in ((0.9, 0.9, 0.9), (below(0.9), below(0.9), below(0.9)), (below(0.9), 0.9, 0.0))]
    found += [Setting("bernoulli", rows, 0.9, 0.95, at_and_below(0.9), exact=False) for rows in (3_000, 30_000)]
    found += [Setting("weighted", items, accuracy, 0.9, at_and_below(accuracy), placement, 2.0)
              for items in (1_000, 10_000) for accuracy in (0.9, 0.5) for placement in ("heaviest", "lightest")]
    found += [Setting("incremental", rows, accuracy, 0.9, at_and_below(accuracy), placement, first_run=first)
              for rows, first in ((4_000, 2_000), (4_000, 1_000)) for accuracy in (0.9, 0.5)
              for placement in ("A", "B")]
    found += [Setting("incremental", 2_000, 0.9, 0.9, at_and_below(0.9), placement, 2.0, first_run=1_000,
                      grown=grown) for placement, grown in (("heaviest", False), ("A", True), ("B", True))]
    return found + cascade_settings()


def cascade_settings() -> list[Setting]:
    found = [Setting("cascade", 3_000, 0.9, 0.9, at_and_below(0.9), method="cascade", scores=scores)
             for scores in ("uninformative", "anti", "miscalibrated", "position", "length", "informative")]
    found += [Setting("cascade", rows, accuracy, 0.9, at_and_below(accuracy), method="cascade", scores=scores)
              for rows, accuracy, scores in ((300, 0.9, "anti"), (1_000, 0.5, "miscalibrated"), (3_000, 0.99, "length"),
                                             (3_000, 0.2, "anti"), (30_000, 0.9, "position"))]
    found += [Setting("cascade", rows, 0.9, 0.9, at_and_below(0.9), method="auto", scores=scores)
              for rows, scores in ((3_000, "position"), (10_000, "miscalibrated"), (1_000, "uninformative"))]
    found += [Setting("cascade", 1_000, 0.9, 0.9, at_and_below(0.9), "heaviest", 2.0, method="cascade", scores="length"),
              Setting("cascade", 3_000, 0.9, 0.8, at_and_below(0.9), method="cascade", scores="anti")]
    return found


@dataclass
class Tally:
    """Outcomes of some trials of one setting."""

    trials: int = 0
    under_accuracy: int = 0
    under_certificate: int = 0
    cost_share: float = 0.0
    profiled_items: float = 0.0
    seconds: float = 0.0
    known_paid: int = 0

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(self.trials + other.trials, self.under_accuracy + other.under_accuracy,
                     self.under_certificate + other.under_certificate, self.cost_share + other.cost_share,
                     self.profiled_items + other.profiled_items, self.seconds + other.seconds,
                     self.known_paid + other.known_paid)


def run_trials(setting: Setting, seeds: range) -> Tally:
    async def outcomes() -> Tally:
        tally = Tally()
        for seed in seeds:
            if setting.first_run is not None:
                tally += await incremental_trial(setting, seed)
                continue
            counts = setting.counts(seed)
            answers = SimulatedAnswers(setting.simulated_models(), setting.rows, seed=seed, exact=setting.exact,
                                       counts=counts, placement=setting.placement)
            result = await run_smart(counts, setting.ladder(), answers, accuracy=setting.accuracy,
                                     confidence=setting.confidence, seed=seed, method=setting.method)
            realized = answers.realized_agreement(result.answers, counts)
            account = result.account
            tally += Tally(1, int(realized < setting.accuracy), int(realized < account.lower_bound - 1e-12),
                           account.total_cost / account.reference_only_cost, account.items_profiled)
        return tally

    started = time.perf_counter()
    tally = asyncio.run(outcomes())
    tally.seconds = time.perf_counter() - started
    return tally


class CachedAnswers:
    """Simulated answers served as the response cache would: an answer once given is free after."""

    def __init__(self, answers: SimulatedAnswers, items: int):
        self.answers = answers
        self.given = {name: np.zeros(items, dtype=bool) for name in answers.models}
        self.paid = {name: np.zeros(items, dtype=bool) for name in answers.models}

    async def __call__(self, model: str, items) -> ResponseBatch:
        picked = np.asarray(items, dtype=np.int64)
        batch = await self.answers(model, picked)
        cached = self.given[model][picked].copy()
        self.paid[model][picked[~cached]] = True
        self.given[model][picked] = True
        return replace(batch, cached=cached)

    def known(self, items: int) -> dict[str, np.ndarray]:
        return {name: given[:items].copy() for name, given in self.given.items()}


def incremental_agreement(rate: float, counts: np.ndarray, first_run: int, placement: str,
                          rng: np.random.Generator) -> np.ndarray:
    """Items that agree: as many rows as fit under (1 - rate) of all rows disagree, all of them on
    A's items, on B's, or on the heaviest items."""
    eligible = {"A": np.arange(first_run), "B": np.arange(first_run, len(counts)),
                "heaviest": np.arange(len(counts))}[placement]
    order = rng.permutation(eligible)
    if placement == "heaviest":
        order = order[np.argsort(-counts[order], kind="stable")]
    budget = int(np.floor((1 - rate) * counts.sum() + 1e-9))
    agrees = np.ones(len(counts), dtype=bool)
    for item in order:
        if counts[item] <= budget:
            agrees[item] = False
            budget -= int(counts[item])
    return agrees


async def incremental_trial(setting: Setting, seed: int) -> Tally:
    """Run 1 on A, run 2 on A and B with run 1's answers free; the failure is over run 2's output."""
    counts = setting.counts(seed)
    first = setting.first_run
    first_counts = counts[:first]
    if setting.grown:
        first_counts = np.maximum(1, counts[:first] // 2)
    answers = SimulatedAnswers(setting.simulated_models(), setting.rows, seed=seed)
    rng = np.random.default_rng([seed, 2])
    for model in setting.simulated_models()[1:]:
        answers.agrees[model.name] = incremental_agreement(model.agreement, counts, first, setting.placement, rng)
    cache = CachedAnswers(answers, setting.rows)
    keys = np.arange(setting.rows, dtype=np.uint64)
    await run_smart(first_counts, setting.ladder(), cache, accuracy=setting.accuracy,
                    confidence=setting.confidence, seed=seed, keys=keys[:first], known=cache.known(first))
    for paid in cache.paid.values():
        paid[:] = False
    result = await run_smart(counts, setting.ladder(), cache, accuracy=setting.accuracy,
                             confidence=setting.confidence, seed=seed, keys=keys, known=cache.known(setting.rows))
    realized = answers.realized_agreement(result.answers, counts)
    account = result.account
    known_paid = int(sum(paid[:first].sum() for paid in cache.paid.values()))
    return Tally(1, int(realized < setting.accuracy), int(realized < account.lower_bound - 1e-12),
                 account.total_cost / account.reference_only_cost_without_cache, account.items_profiled,
                 known_paid=known_paid)


def summary(setting: Setting, tally: Tally) -> dict:
    allowed = round(1 - setting.confidence, 10)
    limit = sampling_limit(allowed, tally.trials)
    row = {"setting": setting.name, "group": setting.group, "trials": tally.trials,
           "failure_rate": tally.under_accuracy / tally.trials,
           "certificate_failure_rate": tally.under_certificate / tally.trials,
           "allowed": allowed, "limit": limit,
           "cost_vs_reference": round(tally.cost_share / tally.trials, 4),
           "mean_profiled_items": tally.profiled_items / tally.trials, "seconds": round(tally.seconds, 1)}
    if setting.first_run is not None:
        row["mean_known_paid"] = tally.known_paid / tally.trials
    row["ok"] = row["failure_rate"] <= limit and row["certificate_failure_rate"] <= limit
    return row


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
    parser.add_argument("--only", nargs="*", help="groups to run (audit, size, accuracy, confidence, candidates, "
                                                  "bernoulli, weighted, cascade, incremental)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line, then a summary object")
    args = parser.parse_args()
    chosen = [s for s in settings() if not args.only or s.group in args.only]
    seeds = chunks(args.trials, args.seed, CHUNK_TRIALS)
    started = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(args.workers) as pool:
        jobs = [[pool.submit(run_trials, setting, part) for part in seeds] for setting in chosen]
        if not args.json:
            print("simulated; a trial fails when the realized agreement is under the accuracy (fail) "
                  "or under the certified bound (cert)")
            print(f"{'setting':<78} {'trials':>6} {'fail':>6} {'cert':>6} {'allowed':>7} {'limit':>6} "
                  f"{'cost/ref':>8} {'profiled':>8}  ok")
        for setting, parts in zip(chosen, jobs):
            row = summary(setting, sum((part.result() for part in parts), Tally()))
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                print(f"{row['setting']:<78} {row['trials']:>6} {row['failure_rate']:>6.3f} "
                      f"{row['certificate_failure_rate']:>6.3f} {row['allowed']:>7.2f} {row['limit']:>6.3f} "
                      f"{row['cost_vs_reference']:>8.3f} {row['mean_profiled_items']:>8.0f}  "
                      f"{'yes' if row['ok'] else 'NO'}"
                      + (f"  known paid {row['mean_known_paid']:.1f}" if "mean_known_paid" in row else ""), flush=True)
    total = {"settings": len(rows), "held": sum(r["ok"] for r in rows),
             "worst_failure_over_allowed": max(max(r["failure_rate"], r["certificate_failure_rate"]) / r["allowed"]
                                               for r in rows),
             "minutes": round((time.perf_counter() - started) / 60, 1)}
    print(json.dumps(total) if args.json else
          f"held in {total['held']} of {total['settings']} settings; worst failure rate "
          f"{total['worst_failure_over_allowed']:.2f} of the allowed; {total['minutes']} minutes")


if __name__ == "__main__":
    main()
