"""What confidence routing saves: `mix`, `cascade` and `auto` against the oracle and BARGAIN.

Each setting is a simulated table (1,000 to 100,000 rows) and a ladder of 2 to 4 models whose
answers carry confidence scores drawn from a distribution for agreeing and one for disagreeing
answers (`smart_sql.smart.simulate.SCORES`: uninformative to sharply informative, miscalibrated,
anti-informative). Every method runs on the same tables and scores, seed by seed:

- mix, cascade, auto: `run_smart` with that method;
- oracle: the cheaper of the mix with every agreement rate known (the linear program on the true
  rates, no profiling) and the cascade with every score's agreement known (the cheapest ladder,
  budget split and thresholds that keep the disagreements within 1 - accuracy, no sampling);
- bargain, when the `bargain` package is installed: its accuracy-target algorithm (BARGAIN_A) with
  our cheapest model as its proxy and our reference as its oracle, at the same target and
  delta = 1 - confidence; its cost is the proxy on every row plus every oracle call, at our prices.

Printed per setting and method: mean cost (dollars and share of the reference-only cost), failure
rate (realized agreement under the accuracy) with its allowed limit, and the share of rows per
model. Everything here is simulated.

    python benchmarks/cascade.py [--trials 10] [--json] [--only informative] [--workers 2] [--largest 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from smart_sql.llm.base import ModelSpec
from smart_sql.smart.cascade_plan import BUDGET_SHARES
from smart_sql.smart.engine import run_smart
from smart_sql.smart.mix import solve_mix
from smart_sql.smart.simulate import REFERENCE_ANSWER, SimulatedAnswers, SimulatedModel

PRICES = {"reference": (30.0, 60.0), "cheap": (0.4, 0.8), "mid": (1.0, 2.0), "good": (3.0, 6.0)}
INPUT_TOKENS, OUTPUT_TOKENS = 100, 1
METHODS = ("mix", "cascade", "auto")


@dataclass(frozen=True)
class Setting:
    group: str
    rows: int
    models: tuple[tuple[str, float, str | None], ...]
    """Candidates: (name, agreement with the reference, score distribution)."""
    accuracy: float = 0.9
    confidence: float = 0.95

    @property
    def name(self) -> str:
        ladder = ", ".join(f"{name} {rate:g} {scores}" for name, rate, scores in self.models)
        return f"{self.group}: {self.rows} rows, acc {self.accuracy:g} conf {self.confidence:g}; {ladder}"

    def ladder(self) -> list[ModelSpec]:
        return [ModelSpec("reference", *PRICES["reference"], reference=True)] + [
            ModelSpec(name, *PRICES[name]) for name, _, _ in self.models]

    def simulated(self) -> list[SimulatedModel]:
        return [SimulatedModel("reference", 1.0, INPUT_TOKENS, OUTPUT_TOKENS)] + [
            SimulatedModel(name, rate, INPUT_TOKENS, OUTPUT_TOKENS, scores) for name, rate, scores in self.models]


def settings(largest: int) -> list[Setting]:
    found = []
    for rows in (1_000, 10_000, 100_000):
        found.append(Setting("informative", rows, (("cheap", 0.85, "informative"),)))
        found.append(Setting("uninformative", rows, (("cheap", 0.85, "uninformative"),)))
    found += [Setting("sharp", 10_000, (("cheap", 0.8, "sharp"), ("mid", 0.9, "informative"))),
              Setting("informative", 10_000, (("cheap", 0.8, "informative"), ("mid", 0.92, "informative"),
                                              ("good", 0.96, "informative"))),
              Setting("uninformative", 10_000, (("cheap", 0.8, "uninformative"), ("mid", 0.92, "uninformative"),
                                                ("good", 0.96, "uninformative"))),
              Setting("miscalibrated", 10_000, (("cheap", 0.85, "miscalibrated"), ("mid", 0.93, "miscalibrated"))),
              Setting("anti", 10_000, (("cheap", 0.85, "anti"), ("mid", 0.93, "anti"))),
              Setting("mixed", 10_000, (("cheap", 0.8, "sharp"), ("mid", 0.92, "uninformative"),
                                        ("good", 0.96, None))),
              Setting("informative", 3_000, (("cheap", 0.9, "informative"),), accuracy=0.8, confidence=0.9)]
    return [s for s in found if s.rows <= largest]


def per_item_costs(ladder: list[ModelSpec]) -> np.ndarray:
    return np.array([m.cost(INPUT_TOKENS, OUTPUT_TOKENS) for m in ladder])


def oracle_cost(setting: Setting, answers: SimulatedAnswers) -> float:
    """The cheaper of the mix on the true rates and the best cascade with the agreements known."""
    ladder, costs = setting.ladder(), per_item_costs(setting.ladder())
    rows = setting.rows
    rates = np.array([1.0] + [answers.agrees[name].mean() for name, _, _ in setting.models])
    mix = solve_mix(costs, rates, setting.accuracy, reference=0).cost_per_item * rows
    scored = [i for i, (name, _, scores) in enumerate(setting.models, start=1) if scores is not None]
    best = mix
    for size in range(1, len(scored) + 1):
        for chosen in itertools.combinations(scored, size):
            for spend in itertools.product(BUDGET_SHARES, repeat=size - 1):
                best = min(best, _known_cascade_cost(ladder, costs, chosen, (*spend, 1.0), answers, setting))
    return float(best)


def _known_cascade_cost(ladder, costs, chosen, spend, answers: SimulatedAnswers, setting: Setting) -> float:
    budget = np.floor((1 - setting.accuracy) * setting.rows)
    region = np.arange(setting.rows)
    cost = 0.0
    for model, share in zip(chosen, spend):
        name = ladder[model].name
        cost += costs[model] * len(region)
        order = region[np.argsort(-answers.scores[name][region], kind="stable")]
        wrong = np.cumsum(~answers.agrees[name][order])
        allowed = np.floor(budget * share)
        kept = int(np.searchsorted(wrong, allowed, side="right"))
        budget -= wrong[kept - 1] if kept else 0
        region = order[kept:]
    return cost + costs[0] * len(region)


def bargain_run(setting: Setting, answers: SimulatedAnswers, seed: int) -> dict:
    """BARGAIN_A with our cheapest scored model as its proxy and our reference as its oracle."""
    from BARGAIN import BARGAIN_A, Oracle, Proxy

    name = next(name for name, _, scores in setting.models if scores is not None)
    agrees, scores = answers.agrees[name], answers.scores[name]

    class SimulatedProxy(Proxy):
        def proxy_func(self, record):
            index = int(record)
            return ("yes" if agrees[index] else "no"), float(scores[index])

    class SimulatedOracle(Oracle):
        def oracle_func(self, record, proxy_output):
            return proxy_output == "yes", "yes"

    oracle = SimulatedOracle(verbose=False, max_workers=1)
    method = BARGAIN_A(SimulatedProxy(verbose=False, max_workers=1), oracle, target=setting.accuracy,
                       delta=1 - setting.confidence, seed=seed, verbose=False)
    output, used_oracle = method.process([str(i) for i in range(setting.rows)], return_oracle_usage=True)
    costs = per_item_costs(setting.ladder())
    proxy_cost = costs[[m.name for m in setting.ladder()].index(name)]
    oracle_calls = oracle.get_number_preds()
    realized = float(np.mean(np.asarray(output) == "yes"))
    shares = {"reference": float(np.mean(used_oracle)), name: 1 - float(np.mean(used_oracle))}
    return {"cost": proxy_cost * setting.rows + costs[0] * oracle_calls, "realized": realized, "shares": shares}


def run_trials(setting: Setting, seeds: range, with_bargain: bool) -> list[dict]:
    async def smart(answers: SimulatedAnswers, method: str, seed: int) -> dict:
        result = await run_smart(np.ones(setting.rows, dtype=np.int64), setting.ladder(), answers,
                                 accuracy=setting.accuracy, confidence=setting.confidence, seed=seed, method=method)
        account = result.account
        return {"cost": account.total_cost, "realized": answers.realized_agreement(result.answers),
                "shares": account.row_shares, "used": account.method_used}

    trials = []
    for seed in seeds:
        answers = SimulatedAnswers(setting.simulated(), setting.rows, seed=seed)
        trial = {method: asyncio.run(smart(answers, method, seed)) for method in METHODS}
        trial["oracle"] = {"cost": oracle_cost(setting, answers), "realized": None, "shares": {}}
        if with_bargain:
            trial["bargain"] = bargain_run(setting, answers, seed)
        trial["reference_only"] = per_item_costs(setting.ladder())[0] * setting.rows
        trials.append(trial)
    return trials


def summary(setting: Setting, trials: list[dict]) -> dict:
    from scipy.stats import binom

    allowed = round(1 - setting.confidence, 10)
    count = len(trials)
    reference = float(np.mean([t["reference_only"] for t in trials]))
    row = {"setting": setting.name, "group": setting.group, "rows": setting.rows, "trials": count,
           "allowed": allowed, "limit": float(binom.ppf(0.99, count, allowed) / count),
           "reference_only_cost": reference, "methods": {}}
    for method in [m for m in (*METHODS, "oracle", "bargain") if m in trials[0]]:
        costs = np.array([t[method]["cost"] for t in trials])
        entry = {"mean_cost": float(costs.mean()), "cost_vs_reference": float(costs.mean() / reference)}
        if method != "oracle":
            entry["failure_rate"] = float(np.mean([t[method]["realized"] < setting.accuracy for t in trials]))
            names = sorted({name for t in trials for name in t[method]["shares"]})
            entry["row_shares"] = {name: round(float(np.mean([t[method]["shares"].get(name, 0.0) for t in trials])), 4)
                                   for name in names}
        if method == "auto":
            entry["chose_cascade"] = float(np.mean([t[method]["used"] == "cascade" for t in trials]))
        row["methods"][method] = entry
    difference = np.array([t["auto"]["cost"] - t["mix"]["cost"] for t in trials]) / reference
    row["auto_minus_mix"] = {"mean": float(difference.mean()),
                             "standard_error": float(difference.std(ddof=1) / np.sqrt(count)) if count > 1 else None}
    row["failures_ok"] = all(m.get("failure_rate", 0.0) <= row["limit"] for m in row["methods"].values())
    return row


def print_row(row: dict) -> None:
    print(row["setting"])
    for method, entry in row["methods"].items():
        shares = ", ".join(f"{name} {share:.1%}" for name, share in entry.get("row_shares", {}).items())
        failure = f"fail {entry['failure_rate']:.3f}" if "failure_rate" in entry else " " * 10
        print(f"  {method:<8} ${entry['mean_cost']:>9.4f} ({entry['cost_vs_reference']:6.1%} of reference)  "
              f"{failure}  {shares}")
    difference = row["auto_minus_mix"]
    print(f"  limit {row['limit']:.3f}; auto - mix {difference['mean']:+.2%} of the reference cost "
          f"(standard error {difference['standard_error'] or 0:.2%})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--largest", type=int, default=100_000, help="leave out tables with more rows")
    parser.add_argument("--only", nargs="*", help="groups to run (informative, uninformative, sharp, "
                                                  "miscalibrated, anti, mixed)")
    parser.add_argument("--no-bargain", action="store_true", help="leave BARGAIN out even when installed")
    parser.add_argument("--json", action="store_true", help="one JSON object per setting")
    args = parser.parse_args()
    with_bargain = importlib.util.find_spec("BARGAIN") is not None and not args.no_bargain
    chosen = [s for s in settings(args.largest) if not args.only or s.group in args.only]
    seeds = [range(start, start + 1) for start in range(args.seed, args.seed + args.trials)]
    started = time.perf_counter()
    if not args.json:
        print("simulated; costs are means over the trials; bargain " +
              ("included" if with_bargain else "not installed (pip install bargain) or left out"))
    with ProcessPoolExecutor(args.workers) as pool:
        jobs = [[pool.submit(run_trials, setting, part, with_bargain) for part in seeds] for setting in chosen]
        for setting, parts in zip(chosen, jobs):
            row = summary(setting, [trial for part in parts for trial in part.result()])
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                print_row(row)
    if not args.json:
        print(f"{(time.perf_counter() - started) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
