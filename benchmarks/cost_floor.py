"""The least any method with a real guarantee can spend on the published settings, in expectation.

    python benchmarks/cost_floor.py --dataset imdb --accuracy 0.9 0.94 [--json]

The oracle knows every model's agreement rate. A method with a guarantee has to learn the rate of
each candidate it relies on, and only an item answered by the reference *and* that candidate tells
it anything (the model of the published simulation: each item agrees or not, independently). The
change-of-measure inequality for sequential experiments (Kaufmann, Cappe and Garivier 2016,
Lemma 1) bounds how cheaply that can be done, one candidate j at a time:

- M(l) is the cheapest mix reaching the target minus a Hoeffding margin when j agrees at rate l
  and every other model at its *true* rate, given for free. A run whose spending on its mix is
  below M(l) would, if j's rate were l, produce an expected agreement that far under the target
  and miss it with probability >= 0.99.
- A valid method misses with probability <= 1 - confidence = e whatever the rates, so under rate
  l such a run happens with probability <= e / 0.99 =: a. If it happens with probability Q under
  the true rate p, the expected number n of items compared is at least kl(Q, a) / KL(p, l)
  (Bernoulli relative entropies). Where l >= p, Q <= a outright.
- Each compared item costs the reference's and j's price, less the most it can save the mix.

So with n compared items on average, P(mix spending <= c) <= qmax(n KL(p, l(c))), with l(c) the
highest rate at which M exceeds c, and the expected cost is at least c_item n + the integral over
c of 1 - that probability. The floor is the minimum over n, and the largest over the candidates.
It is a lower bound, not a method: it gives every other model's rate away and spends the whole
error probability on one bound. Computed from the published figures; no model is run.

`route_floor_cost` is a second lower bound, for the methods that answer every row they do not
give the reference with one candidate j (at 0.94 on imdb and ag_news the only way to rely on a
cheaper model: every other one disagrees more). Let T be the rows the reference answers; every
compared row is among them. A run with T <= t leaves at least N - t rows to j, so on a table where
j disagrees at l(t), the least rate at which Binomial(N - t, l) exceeds (1 - accuracy) N with
probability >= 0.99, it misses the target with probability >= 0.99: there P(T <= t) <= e / 0.99.
Whether T <= t is decided by the first t compared rows, so under the true rate p,
kl(P(T <= t), e / 0.99) <= min(E[n], t) KL(p, l(t)), with E[n] <= E[T]. Then E[T], the integral of
P(T > t), is at least F(E[T]), F(x) = the integral of 1 - qmax(min(x, t) KL(p, l(t))), which falls
as x grows: E[T] is at least the fixed point x* of F, and the expected cost at least
c_reference x* + c_j (N - x*). The route floor is the least of these over the candidates whose
agreement reaches the target (no other can carry a run alone).
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
from cost_paper import DATASETS, PUBLISHED, item_costs, load_setting, oracle_cost

from smart_sql.smart.mix import mix_cost

LEVELS = np.linspace(0.0, 1.0, 4001)
MISS = 0.01
"""A run whose expected agreement sits sqrt(ln(1/MISS) / (2 items)) under the target misses it with
probability at least 1 - MISS (Hoeffding)."""
COST_STEPS = 4000
SAMPLE_SIZES = np.unique(np.concatenate([[0], np.geomspace(1, 200_000, 600).astype(int)]))


def bernoulli_kl(p, q) -> np.ndarray:
    """KL(Bernoulli(p) || Bernoulli(q)), with 0 log 0 = 0."""
    p, q = np.asarray(p, dtype=float), np.clip(np.asarray(q, dtype=float), 1e-300, 1 - 1e-16)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where(p > 0, p * np.log(p / q), 0.0)
        second = np.where(p < 1, (1 - p) * np.log((1 - p) / (1 - q)), 0.0)
    return first + second


def largest_tail(budget: np.ndarray, error: float) -> np.ndarray:
    """The largest q in [error, 1] with kl(q, error) <= budget (kl grows with q above error)."""
    q = error + (1 - error) * (1 - np.geomspace(1, 1e-12, 20_000))
    return np.interp(budget, bernoulli_kl(q, error), q, right=1.0)


def at_every_level(rates: np.ndarray, key: int) -> np.ndarray:
    """One row of agreement rates per level in LEVELS, with `key` at that level."""
    scenario = np.tile(rates, (len(LEVELS), 1))
    scenario[:, key] = LEVELS
    return scenario


def candidate_floor(items: int, costs: np.ndarray, rates: np.ndarray, reference: int, key: int,
                    accuracy: float, error: float) -> tuple[float, int]:
    """Least expected cost of a valid method that must learn the rate of candidate `key`, every
    other rate given; and the expected number of compared items at that least cost."""
    short_target = accuracy - math.sqrt(math.log(1 / MISS) / (2 * items))
    scenario = at_every_level(rates, key)
    short = items * mix_cost(costs, scenario, short_target, reference=reference)
    cost_levels = np.linspace(0.0, short[0], COST_STEPS + 1)[1:]
    dearer = np.searchsorted(-short, -cost_levels, side="left") - 1
    alternative = LEVELS[np.maximum(dearer, 0)]
    allowed = error / (1 - MISS)
    truth = rates[key]
    divergence = bernoulli_kl(truth, alternative)
    per_compared_item = max(costs[reference] + costs[key]
                            - mix_saving(costs, rates, reference, key, short_target), 0.0)
    step = short[0] / COST_STEPS

    def expected_cost(n: int) -> float:
        below = np.where(alternative < truth, largest_tail(n * divergence, allowed), allowed)
        tail = np.where(dearer >= 0, below, 1.0)
        return per_compared_item * n + step * float(np.sum(1 - tail))

    coarse = SAMPLE_SIZES[SAMPLE_SIZES <= items]
    best = int(coarse[np.argmin([expected_cost(int(n)) for n in coarse])])
    fine = np.arange(max(0, int(best / 1.05) - 2), min(items, int(best * 1.05) + 2) + 1)
    costs_fine = [expected_cost(int(n)) for n in fine]
    return float(min(costs_fine)), int(fine[int(np.argmin(costs_fine))])


def mix_saving(costs: np.ndarray, rates: np.ndarray, reference: int, key: int, target: float) -> float:
    """The most one compared item can save the rest of a run: with n of the N items answered by
    the reference, the cheapest mix of the others costs (N - n) m((target N - n) / (N - n)), convex
    in n, so it falls by at most m + (1 - target) m' per item (m' = the price of agreement), at
    whatever rate `key` has."""
    scenario = at_every_level(rates, key)
    step = 1e-4
    per_item = mix_cost(costs, scenario, target, reference=reference)
    cheaper = mix_cost(costs, scenario, target - step, reference=reference)
    return float(np.max(per_item + (1 - target) * (per_item - cheaper) / step))


def route_floor(items: int, costs: np.ndarray, rates: np.ndarray, reference: int, key: int, accuracy: float,
                error: float) -> tuple[float, int]:
    """Least expected cost, and reference rows, of a valid method whose rows not answered by the
    reference all go to candidate `key` (the argument is in the module docstring)."""
    from scipy.stats import binom

    truth = 1 - rates[key]
    allowed = (1 - accuracy) * items
    reference_rows = np.unique(np.linspace(0, items, 2001).astype(int))
    left = np.maximum(items - reference_rows, 1)
    below, breaking = np.zeros(len(left)), np.ones(len(left))
    for _ in range(40):
        middle = (below + breaking) / 2
        breaks = binom.sf(allowed, left, middle) >= 1 - MISS
        breaking, below = np.where(breaks, middle, breaking), np.where(breaks, below, middle)
    divergence = np.where(breaking > truth, bernoulli_kl(truth, breaking), 0.0)

    def at_least(expected: float) -> float:
        """A lower (Riemann) sum of the bound on P(T > t) over t: at most E[T] when E[T] = expected."""
        reach = largest_tail(np.minimum(expected, reference_rows) * divergence, error / (1 - MISS))
        above = 1 - np.where(divergence > 0, reach, 1.0)
        return float(np.sum(np.diff(reference_rows) * above[1:]))

    low, high = 0.0, float(items)
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if at_least(middle) > middle else (low, middle)
    return float(costs[reference] * low + costs[key] * (items - low)), int(low)


def floor(dataset: str, accuracy: float, confidence: float) -> dict:
    items, specs, simulated = load_setting(dataset)
    costs = item_costs(specs, simulated)
    reference = next(i for i, s in enumerate(specs) if s.reference)
    rates = np.array([1.0 if s.reference else m.agreement for s, m in zip(specs, simulated)])
    per_candidate = {specs[j].name: candidate_floor(items, costs, rates, reference, j, accuracy, 1 - confidence)
                     for j in range(len(specs)) if j != reference and rates[j] > 0}
    binding = max(per_candidate, key=lambda name: per_candidate[name][0])
    lowest, compared = per_candidate[binding]
    oracle = oracle_cost(items, specs, simulated, accuracy)
    routes = {specs[j].name: route_floor(items, costs, rates, reference, j, accuracy, 1 - confidence)
              for j in range(len(specs)) if j != reference and rates[j] >= accuracy}
    route = min(routes, key=lambda name: routes[name][0]) if routes else None
    return {"dataset": dataset, "accuracy": accuracy, "confidence": confidence,
            "oracle_cost": round(oracle, 4), "floor_cost": round(lowest, 4),
            "floor_over_oracle": round(lowest / oracle, 3), "binding_candidate": binding,
            "compared_items": compared, "published_cost": PUBLISHED[dataset].get(round(accuracy, 2)),
            "route_floor_cost": round(routes[route][0], 4) if route else None, "route_candidate": route,
            "route_reference_rows": routes[route][1] if route else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--accuracy", nargs="+", type=float, default=[0.80, 0.90, 0.94, 0.98])
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args()
    if not args.json:
        print("least expected cost of any method with a real guarantee (a lower bound; dollars)")
        print(f"{'dataset':<9} {'acc':>5} {'oracle':>9} {'floor':>9} {'x oracle':>8} {'published':>9} "
              f"{'compared':>8} {'route':>9} {'ref rows':>8}  binding candidate / route candidate")
    for dataset in args.dataset:
        for accuracy in args.accuracy:
            row = floor(dataset, accuracy, args.confidence)
            if args.json:
                print(json.dumps(row), flush=True)
                continue
            published = row["published_cost"]
            route = row["route_floor_cost"]
            print(f"{dataset:<9} {accuracy:>5.2f} {row['oracle_cost']:>9.3f} {row['floor_cost']:>9.3f} "
                  f"{row['floor_over_oracle']:>8.3f} {published if published is not None else '-':>9} "
                  f"{row['compared_items']:>8} {route if route is not None else '-':>9} "
                  f"{row['route_reference_rows'] if route is not None else '-':>8}  {row['binding_candidate']} / "
                  f"{row['route_candidate'] or '-'}", flush=True)


if __name__ == "__main__":
    main()
