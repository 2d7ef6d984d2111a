"""`method => 'cascade'` and `'auto'`: route rows down a ladder of models by their confidence scores.

After the pilot, `instead_of_mix` decides from the pilot alone whether the cascade replaces the
item-blind mix (always for 'cascade' when a candidate gives scores; for 'auto' when it is expected
to be cheaper). `run_cascade` then lets the cheapest model answer every row left; a sample of those
rows is answered by the reference, `thresholds.fixed_sequence_threshold` certifies the lowest score
above which the model's answers are kept, and the rows under it go to the next model, the
reference last. The argument is in docs/smart.md ("The cascade").
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import numpy as np

from smart_sql.smart.account import CascadeLevel
from smart_sql.smart.cascade_plan import CascadePlan, PilotEvidence, plan_cascade, sample_rows
from smart_sql.smart.thresholds import fixed_sequence_threshold

if TYPE_CHECKING:
    from smart_sql.smart.engine import _Run
    from smart_sql.smart.stopping import StopDecision

METHODS = ("cascade", "auto")
LARGEST_PILOT = 100
AUTO_MARGIN = 0.1
"""With 'auto', the cascade must be expected this much cheaper than the mix: its estimate rests on
the pilot's scores alone, and a wrong choice costs more than a missed one saves."""


def pilot_rows(rows: int, method: str, first: int) -> int:
    """The cascade's plan reads its thresholds off the pilot: a larger table pays for a larger one."""
    return int(np.clip(rows // 100, first, LARGEST_PILOT)) if method in METHODS else first


async def instead_of_mix(run: "_Run", pilot: np.ndarray, verdict: "StopDecision") -> bool:
    """After the pilot (the items of its rows, in the order drawn): answer the rest with a cascade
    (True) or leave it to the mix (False)."""
    scored = [i for i in run.candidates if np.isfinite(run.scores[i, pilot]).all()]
    if not scored:
        run.account.method_used = "mix"
        run.account.method_reason = "no candidate model gave confidence scores: item-blind mix"
        return False
    left = ~run.profiled
    evidence = PilotEvidence(run.scores[:, pilot], run.agrees[:, pilot])
    sizes = dict(items_left=int(left.sum()), rows_left=int(run.counts[left].sum()), total_rows=run.rows,
                 accuracy=run.accuracy, error=1 - run.confidence)
    costs = run._planning_costs()
    plan = plan_cascade(costs, run.reference, scored, evidence, **sizes, seed=int(run.plan_rng.integers(2**31)))
    if plan is None:
        run.account.method_used = "mix"
        run.account.method_reason = "no scored candidate is cheaper than the reference"
        return False
    if run.method == "auto":
        mix_estimate = min(verdict.cost_now, verdict.best_future_cost)
        cascade_estimate = plan.expected_cost
        compared = f"the cascade ${cascade_estimate:.4f} against the mix ${mix_estimate:.4f}"
        if cascade_estimate * (1 + AUTO_MARGIN) >= mix_estimate:
            run.account.method_used, run.account.method_reason = "mix", f"expected: {compared}"
            return False
        run.account.method_reason = f"expected: {compared}"
    else:
        run.account.method_reason = "requested"
    run.account.method_used = "cascade"
    run.account.profiling_cost = run.account.total_cost
    await run_cascade(run, run.order.take(run.rows - run.current_draws), plan)
    return True


async def run_cascade(run: "_Run", order: np.ndarray, plan: CascadePlan) -> None:
    """Answer every item not yet answered, down `plan.ladder` and then the reference.

    `order` holds the rows not yet drawn, in the run's random order (an item of c rows c times)."""
    counts, reference = run.counts, run.reference
    level = (1 - run.confidence) / len(plan.ladder)
    tie_breaks = run.tie_rng.random(len(plan.ladder))
    budget = float(np.floor((1 - run.accuracy) * run.rows + 1e-9))
    region = np.flatnonzero(~run.profiled)
    in_region = np.zeros(run.items, dtype=bool)
    certified_wrong = 0.0
    run._emit("answering", 0, len(region), "answering the remaining items by cascade: " +
              " -> ".join(run.models[i].name for i in (*plan.ladder, reference)))
    for step, model in enumerate(plan.ladder):
        if len(region) == 0:
            break
        in_region[:] = False
        in_region[region] = True
        order = order[in_region[order]]
        region_rows = int(counts[region].sum())
        take = int(sample_rows(plan.samples[step], region_rows))
        drawn = np.bincount(order[:take], minlength=run.items)
        order = order[take:]
        sampled = np.flatnonzero(drawn)
        asked = [run._ask(model, region)] + ([_answer_sample(run, sampled)] if len(sampled) else [])
        theirs, *_ = await asyncio.gather(*asked)
        answer_of = np.full(run.items, None, dtype=object)
        answer_of[region] = theirs
        agrees = (answer_of == run.answers) & np.not_equal(run.answers, None)
        run.profiled[sampled] = True
        allowed = float(np.floor(budget * plan.budget_shares[step]))
        test = fixed_sequence_threshold(run.scores[model, region], counts[region], drawn[region],
                                        drawn[region] * ~agrees[region], allowed, level, float(tie_breaks[step]))
        above = np.nan_to_num(run.scores[model, region], nan=-np.inf) >= test.threshold
        keep = region[above & (drawn[region] == 0)]
        await run._settle_answers(model, keep, answer_of[keep])
        corrected = int(counts[region[above & (drawn[region] > 0) & ~agrees[region]]].sum())
        used = float(test.allowed[test.chosen]) - corrected if test.chosen >= 0 else 0.0
        budget -= used
        certified_wrong += used
        run.account.cascade_levels.append(CascadeLevel(
            run.models[model].name, test.threshold if test.chosen >= 0 else None, int(take), region_rows,
            int(counts[keep].sum()), float(test.allowed[test.chosen]) if test.chosen >= 0 else 0.0, used,
            len(test.thresholds)))
        region = region[~above & (drawn[region] == 0)]
    if len(region):
        await run._answer_with(reference, region)
    run.account.lower_bound = float(1 - certified_wrong / run.rows)
    run.account.items_profiled = int(run.profiled.sum())
    run.account.rows_profiled = int(counts[run.profiled].sum())
    run.account.stopped_because = "cascade after the pilot"


async def _answer_sample(run, sampled: np.ndarray) -> None:
    """The reference's answers to a step's sample: final, and kept to compare (sent with the profiled items)."""
    values = await run._ask(run.reference, sampled)
    run.answers[sampled] = values
    run.answered_by[sampled] = run.reference
    run.invalid[sampled] = np.equal(values, None)
