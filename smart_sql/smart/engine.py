"""Run the SMART method over a set of distinct items: profile, stop, mix, answer, account.

The caller supplies `answer(model_name, item_indices)`, which answers a batch (concurrently,
possibly from a cache). Everything else here is numbers: see docs/smart.md for the argument.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, Mapping, Sequence

import numpy as np

from smart_sql.llm.base import LLMResponse, ModelSpec
from smart_sql.smart import cascade
from smart_sql.smart.account import CandidateDecision, Checkpoint, ModelUsage, SmartAccount
from smart_sql.smart.agreement import COMPARISONS, canonical
from smart_sql.smart.bounds import (FIRST_CHECKPOINT, STAGE_TWO_SHARE, ErrorAllocation, approximate_upper_rate,
                                    assigned_disagreement_bound, checkpoint_schedule, disagreement_upper_bound,
                                    weighted_assigned_disagreement_bound)
from smart_sql.smart.mix import mix_cost, solve_mix
from smart_sql.smart.randomness import MIX_STREAM, RowOrder, position_keys, uniforms
from smart_sql.smart.stopping import (NOMINAL_BOUNDS, ProfileState, Remaining, Setting, decide, owed_rate,
                                      plan_allocation, remaining_agreement)

METHODS = ("mix", "single", "reference", *cascade.METHODS)
ASSUMED_INPUT_TOKENS = 500
"""Tokens per item assumed for every model until profiling has measured real usage."""
ASSUMED_OUTPUT_TOKENS = 5
HEAVY_ITEM_FACTOR = 10
"""Unprofiled items holding more than this many times the average rows go to the reference."""
MAX_INVALID_SHARE = 0.05
"""Default share of the reference's answers that may be invalid before the run fails."""
INVALID_EVIDENCE = 1e-3
"""Before every answer is in, the run fails only when a share this far above the limit is this unlikely."""
INVALID_EXAMPLES = 3
ASK_CHUNK = 4096
"""Items per call of the answer callback: its inputs and answers are held a chunk at a time."""
CHUNKS_IN_FLIGHT = 4
"""Calls of the answer callback per model at once: enough to keep a provider's requests in flight
while a chunk's slowest answers arrive."""


class InvalidAnswers(Exception):
    """The reference model's answers were invalid (empty, or naming no label) too often to go on."""


@dataclass(frozen=True)
class ResponseBatch:
    """Answers for a batch in columns: a faster alternative to a list of LLMResponse."""

    answers: Sequence[str | None]
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    cached: np.ndarray
    invalid: Sequence[str | None] | None = None
    """What the server sent where the provider found an answer invalid (answer None), if it says."""
    scores: np.ndarray | None = None
    """Each answer's confidence in [0, 1], NaN where the provider gave none; None when it gave none at all."""
    served_models: Sequence[str | None] | None = None
    """The model version that served each answer, where the provider says."""

    @classmethod
    def from_responses(cls, responses: Sequence[LLMResponse]) -> "ResponseBatch":
        return cls([r.answer for r in responses],
                   np.array([r.input_tokens for r in responses], dtype=np.int64),
                   np.array([r.output_tokens for r in responses], dtype=np.int64),
                   np.array([r.cached for r in responses], dtype=bool),
                   [r.invalid for r in responses],
                   _scores([r.score for r in responses]),
                   [r.served_model for r in responses])

    def sent(self, index: int) -> str | None:
        """What the model sent for item `index`: its answer, or the provider's excerpt of an invalid one."""
        if self.answers[index] is None and self.invalid is not None:
            return self.invalid[index]
        return self.answers[index]

    def __len__(self) -> int:
        return len(self.answers)


def _scores(scores: Sequence[float | None]) -> np.ndarray | None:
    if all(score is None for score in scores):
        return None
    return np.array([np.nan if score is None else score for score in scores], dtype=float)


AnswerBatch = Callable[[str, Sequence[int]], Awaitable[Sequence[LLMResponse] | ResponseBatch]]
AnswerSink = Callable[[np.ndarray, np.ndarray, str], Awaitable[None]]
"""Takes final answers as they arrive: (item indices, their values, the model that gave them)."""


@dataclass(frozen=True)
class SmartProgress:
    phase: str
    """'profiling', 'answering' or 'done'."""
    done: int
    total: int
    message: str
    checkpoint: Checkpoint | None = None
    """At a profiling checkpoint: where profiling stands, each candidate's decision and interval."""


@dataclass
class SmartResult:
    answers: list[str | None] | None
    """The value of each item's answer (see `agreement.canonical`): what was compared with the
    reference's, and what the column stores; None where the answer was invalid. The whole list is
    None when the answers went to `on_answers`."""
    models: list[str] | None
    """Which model gave each answer (None when the answers went to `on_answers`)."""
    account: SmartAccount


async def run_smart(counts, models: Sequence[ModelSpec], answer: AnswerBatch, *, accuracy: float,
                    confidence: float = 0.95, seed: int = 0, method: str = "mix",
                    labels: Sequence[str] | None = None, compare: str = "normalized",
                    max_invalid_share: float = MAX_INVALID_SHARE,
                    progress: Callable[[SmartProgress], Any] | None = None,
                    on_answers: AnswerSink | None = None, keys=None,
                    known: Mapping[str, Any] | None = None) -> SmartResult:
    """Answer every item so that, with probability >= confidence, the rows (items weighted by
    `counts`) whose value equals the reference model's are at least `accuracy` of all rows, less
    the rows the reference itself answered invalidly (counted exactly in the account). Raises
    InvalidAnswers when more than `max_invalid_share` of the reference's answers are invalid.

    `answer` is called with at most ASK_CHUNK items at a time. With `on_answers`, each final answer
    goes there as its chunk arrives (the profiled items' at the end) instead of into the result, so
    the run holds no more answers than the profiled ones and the chunks in flight.

    keys: a uint64 per item (a hash of its input) from which, with the seed, the item's randomness is
    drawn, so that an input is treated alike in every run whatever else the table holds; without
    them, the items' positions. known: per model name, which items it already has a free (cached)
    answer for; those answers are used where the guarantee permits (docs/smart.md)."""
    run = _Run(np.asarray(counts, dtype=np.int64), list(models), answer, accuracy=accuracy,
               confidence=confidence, seed=seed, method=method, labels=labels, compare=compare,
               max_invalid_share=max_invalid_share, progress=progress, keys=keys, known=known)
    run.sink = on_answers
    return await run.execute()


class _Run:
    def __init__(self, counts: np.ndarray, models: list[ModelSpec], answer: AnswerBatch, *, accuracy: float,
                 confidence: float, seed: int, method: str, labels, compare: str, max_invalid_share: float,
                 progress, keys=None, known: Mapping[str, Any] | None = None):
        _validate(counts, models, accuracy, confidence, method, compare, max_invalid_share)
        self.counts = counts
        self.models = models
        self.callback = answer
        self.accuracy = accuracy
        self.confidence = confidence
        self.method = method
        self.labels = tuple(labels) if labels else None
        self.compare = compare
        self.max_invalid_share = max_invalid_share
        self.invalid_examples: dict[str, list[str | None]] = {m.name: [] for m in models}
        self.progress = progress
        self.reference = next(i for i, m in enumerate(models) if m.reference)
        self.candidates = [i for i in range(len(models)) if i != self.reference]
        _, self.plan_rng, _, self.tie_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
        self.items = len(counts)
        keys = position_keys(self.items) if keys is None else np.asarray(keys, dtype=np.uint64)
        if keys.shape != counts.shape:
            raise ValueError(f"keys must hold one key per item: {len(keys)} keys for {self.items} items")
        self.order = RowOrder(seed, keys, counts)
        self.mix_uniforms = uniforms(seed, keys, MIX_STREAM)
        """Where each item falls in the mix's fixed-order intervals: independent of the order."""
        self.known = _known_matrix(known, models, self.items)
        """known[model, item]: the model's answer to the item is free (cached)."""
        self.stop_points = 1
        """Over how many places where profiling may stop the stage-2 error is split: all of them
        when stopping looks at free answers (docs/smart.md, "Free answers")."""
        self.rows = int(counts.sum())
        self.answers = np.full(self.items, None, dtype=object)
        self.answered_by = np.full(self.items, -1, dtype=np.int64)
        self.invalid = np.zeros(self.items, dtype=bool)
        """Whether each item's final answer is invalid (None)."""
        self.sink: AnswerSink | None = None
        self.profiled = np.zeros(self.items, dtype=bool)
        self.agrees = np.zeros((len(models), self.items), dtype=bool)
        self.scores = np.full((len(models), self.items), np.nan)
        self.usage = {m.name: ModelUsage() for m in models}
        self.token_cost = np.zeros(len(models))
        self.token_calls = np.zeros(len(models))
        self.current_draws = 0
        self.unit_counts = bool(np.all(counts == 1))
        self.expected_remaining: dict[int, Remaining] = {}
        self.account = SmartAccount(items=self.items, rows=self.rows, reference_model=models[self.reference].name,
                                    accuracy=accuracy, confidence=confidence, method=method,
                                    usage=self.usage)

    async def execute(self) -> SmartResult:
        if self.items:
            if self.method == "reference" or self.accuracy >= 1.0 or not self.candidates:
                self.account.stopped_because = "reference on every item requested"
                self._emit("answering", 0, self.items, f"answering every item: {self.models[self.reference].name} 100%")
                await self._answer_with(self.reference, np.arange(self.items))
                self.account.mix_shares = {self.models[self.reference].name: 1.0}
                self.account.lower_bound = 1.0
            else:
                await self._profile_and_mix()
            self._settle_invalid()
            self._record_row_shares()
            await self._send_profiled()
        per_item = self._per_item_cost(self.reference)
        self.account.reference_only_cost = per_item * int((~self.known[self.reference]).sum())
        self.account.reference_only_cost_without_cache = per_item * self.items
        self._emit("done", self.items, self.items, f"total cost ${self.account.total_cost:.4f}")
        if self.sink is not None:
            return SmartResult(answers=None, models=None, account=self.account)
        names = np.array([m.name for m in self.models] + [""], dtype=object)
        return SmartResult(answers=self.answers.tolist(), models=names[self.answered_by].tolist(),
                           account=self.account)

    async def _send_profiled(self) -> None:
        """Hand the profiled items' answers (the reference's, kept to compare) to the sink."""
        if self.sink is None:
            return
        profiled = np.flatnonzero(self.profiled)
        for start in range(0, len(profiled), ASK_CHUNK):
            chunk = profiled[start:start + ASK_CHUNK]
            await self.sink(chunk, self.answers[chunk], self.models[self.reference].name)

    async def _profile_and_mix(self) -> None:
        schedule = checkpoint_schedule(self.rows, first=cascade.pilot_rows(self.rows, self.method, FIRST_CHECKPOINT))
        size = len(self.models)
        candidates = np.zeros(size, dtype=bool)
        candidates[self.candidates] = True
        pilot = int(schedule[0]) if len(schedule) else 0
        population = self.rows - pilot
        error = 1 - self.confidence
        nominal = error * (1 - STAGE_TWO_SHARE) / NOMINAL_BOUNDS
        allocation = ErrorAllocation.uniform(error, candidates, len(schedule) - 1)
        errors = np.full((len(schedule), size), nominal)
        self.stop_points = len(schedule) + 1 if self.known.any() else 1
        setting = Setting(self._planning_costs(), self.reference, self.accuracy, self.rows, pilot,
                          self._remaining, single=self.method == "single")
        tie_breaks = self.tie_rng.random((len(schedule), size))
        """One uniform per (checkpoint, model) bound, drawn apart from the sample: exact-level bounds."""
        agreeing, disagreeing, certified = (np.zeros(size, dtype=np.int64) for _ in range(3))
        upper = np.full(size, self.rows, dtype=np.int64)
        """Certified bound on each candidate's disagreeing rows among the rows the bounds are about:
        every row before the pilot is drawn, the rows outside the pilot after it."""
        highest_rate = np.ones(size)
        is_open = candidates.copy()
        decision = {i: "open" for i in self.candidates}
        last_draws = np.zeros(size, dtype=np.int64)
        draws = 0
        pilot_draws = np.zeros(0, dtype=np.int64)
        self.account.stopped_because = "table too small to profile"
        for position in range(len(schedule) + 1 if len(schedule) else 0):
            setting = replace(setting, costs=self._planning_costs())
            state = ProfileState(draws, agreeing, disagreeing, is_open, certified, upper)
            finish_now = self._finish_cost(upper - certified, allocation) if draws > 0 else None
            verdict = decide(state, replace(setting, costs=self._free_priced_costs()), schedule[position:],
                             errors[position:], self.plan_rng, finish_now=finish_now)
            if position == 0 and self.method == "cascade":
                verdict = replace(verdict, keep_profiling=True)
            if position == 1 and self.method in cascade.METHODS and await cascade.instead_of_mix(
                    self, pilot_draws, verdict):
                return
            if not verdict.keep_profiling:
                self.account.stopped_because = (
                    "no candidate left to profile" if not is_open.any() else
                    "table too small to repay profiling" if draws == 0 else
                    "last checkpoint reached" if position == len(schedule) else
                    f"profiling more would cost more than it saves (finish now ${verdict.cost_now:.4f}, "
                    f"best continuation ${verdict.best_future_cost:.4f})")
                break
            target = int(schedule[position])
            opened = np.flatnonzero(is_open)
            drawn = self.order.take(target - draws)
            if position == 0:
                pilot_draws = drawn
            await self._profile(drawn, opened)
            for i in opened:
                bits = self.agrees[i, drawn]
                agreeing[i] += int(bits.sum())
                disagreeing[i] += len(bits) - int(bits.sum())
                if position > 0:
                    certified[i] += len(bits) - int(bits.sum())
                last_draws[i] = target
            draws = self.current_draws = target
            setting = replace(setting, costs=self._planning_costs())
            if position == 0:
                upper[:] = population
                weights = plan_allocation(setting, agreeing, disagreeing, candidates, schedule[1:],
                                          error * (1 - STAGE_TWO_SHARE), self.plan_rng)
                allocation = ErrorAllocation.planned(error, weights)
                errors[1:] = allocation.stage_one.T
                highest_rate[opened] = approximate_upper_rate(draws, agreeing[opened], nominal)
            else:
                level = allocation.stage_one[opened, position - 1]
                upper[opened] = disagreement_upper_bound(population, draws - pilot, certified[opened], level,
                                                         tie_breaks[position, opened])
                agreeing_after_pilot = draws - pilot - certified[opened]
                highest_rate[opened] = approximate_upper_rate(draws - pilot, agreeing_after_pilot, level)
            self._update_decisions(opened, highest_rate, upper - certified, decision, is_open)
            checkpoint = self._checkpoint(draws, opened, decision, upper, highest_rate, population)
            self._emit("profiling", draws, self.rows,
                       f"profiled {checkpoint.items_profiled} items; still profiling: "
                       f"{', '.join(self.models[i].name for i in np.flatnonzero(is_open)) or 'none'}",
                       checkpoint)
        self.account.items_profiled = int(self.profiled.sum())
        self.account.rows_profiled = int(self.counts[self.profiled].sum())
        self.account.profiling_cost = self.account.total_cost
        self.account.candidates = [
            CandidateDecision(self.models[i].name, decision[i], int(last_draws[i]), int(agreeing[i]),
                              float(1 - upper[i] / max(population, 1)), float(highest_rate[i]))
            for i in self.candidates]
        await self._mix_rest(upper - certified, allocation)

    def _checkpoint(self, draws, opened, decision, upper, highest_rate, population) -> Checkpoint:
        """Record where profiling stands (for the report); decisions never read it."""
        candidates = {self.models[i].name: {"decision": decision[i], "lower": float(1 - upper[i] / max(population, 1)),
                                            "upper": float(highest_rate[i])} for i in opened}
        checkpoint = Checkpoint(draws, int(self.profiled.sum()), self.account.total_cost, candidates)
        self.account.checkpoints.append(checkpoint)
        return checkpoint

    def _finish_cost(self, remaining_disagreements: np.ndarray, allocation: ErrorAllocation) -> float:
        """What the items not profiled would cost if profiling stopped now: the mix as `_mix_rest`
        would assign it, stage-2 bounds, the heavy-item rule and free answers included."""
        rest = np.flatnonzero(~self.profiled)
        if len(rest) == 0:
            return 0.0
        items, assigned, wrong = self._assignment(rest, remaining_disagreements, allocation)
        final, _ = self._resolve(items, assigned, wrong, remaining_disagreements)
        paid = ~self.known[final, items]
        return float(self._planning_costs()[final[paid]].sum())

    def _update_decisions(self, opened, highest_rate, remaining_disagreements, decision, is_open) -> None:
        """Accept a candidate whose certified rate reaches the target; reject one that could not
        lower the cost of the mix even at its optimistic rate; stop profiling candidates dearer
        than the cheapest accepted one."""
        costs = self._planning_costs()
        left = self._remaining(self.current_draws)
        certified = remaining_agreement(remaining_disagreements, 0, left.rows, self.reference)
        owed = owed_rate(self.accuracy, self.rows, left)
        hopeful = np.tile(certified, (2, len(opened), 1))
        hopeful[0, np.arange(len(opened)), opened] = highest_rate[opened]
        hopeful[1, np.arange(len(opened)), opened] = 0.0
        with_it, without_it = mix_cost(costs, hopeful, owed, reference=self.reference,
                                       single=self.method == "single")
        for i, helps in zip(opened, with_it < without_it):
            if certified[i] >= self.accuracy:
                decision[i] = "accepted"
            elif not helps:
                decision[i], is_open[i] = "rejected", False
        accepted = [i for i in self.candidates if decision[i] == "accepted"]
        if accepted:
            cheapest = min(costs[i] for i in accepted)
            for i in self.candidates:
                if costs[i] > cheapest:
                    is_open[i] = False

    async def _profile(self, draws: np.ndarray, open_models: np.ndarray) -> None:
        unique, first = np.unique(draws, return_index=True)
        new = unique[np.argsort(first)]
        new = new[~self.profiled[new]]
        if len(new) == 0:
            return
        values = await asyncio.gather(*(self._ask(i, new) for i in [self.reference, *open_models]))
        ours = values[0]
        self.answers[new] = ours
        self.invalid[new] = np.equal(ours, None)
        self.answered_by[new] = self.reference
        for i, theirs in zip(open_models, values[1:]):
            self.agrees[i, new] = (theirs == ours) & np.not_equal(ours, None)
        self.profiled[new] = True

    async def _mix_rest(self, remaining_disagreements: np.ndarray, allocation: ErrorAllocation) -> None:
        rest = np.flatnonzero(~self.profiled)
        if len(rest) == 0:
            self.account.lower_bound = 1.0
            return
        items, assigned, wrong = self._assignment(rest, remaining_disagreements, allocation)
        final, at_risk = self._resolve(items, assigned, wrong, remaining_disagreements)
        groups = [items[final == i] for i in range(len(self.models))]
        self.account.mix_shares = {self.models[i].name: float(np.mean(assigned == i))
                                   for i in range(len(self.models)) if np.any(assigned == i)}
        self.account.free_answers_used = int(self.known[final, items].sum())
        self.account.lower_bound = float((self.rows - at_risk.sum()) / self.rows)
        self._emit("answering", 0, len(items), "answering the remaining items: " + ", ".join(
            f"{name} {share:.1%}" for name, share in self.account.mix_shares.items()))
        await asyncio.gather(*(self._answer_with(i, g) for i, g in enumerate(groups) if len(g)))

    def _assignment(self, rest: np.ndarray, remaining_disagreements: np.ndarray, allocation: ErrorAllocation):
        """The items left, the model each is assigned (heavy items to the reference, the others by
        their uniform in the mix's intervals) and each candidate group's certified disagreeing rows.
        Nothing here looks at which answers are free: see docs/smart.md."""
        heavy = self.counts[rest] > HEAVY_ITEM_FACTOR * self.counts[rest].mean()
        to_reference, light = rest[heavy], rest[~heavy]
        rows_left = int(self.counts[light].sum())
        bounds = np.clip(remaining_disagreements, 0, rows_left).astype(np.int64)
        bounds[self.reference] = 0
        assigned, wrong = self._plan_assignment(light, bounds, allocation, certain_rows=self.rows - rows_left)
        items = np.concatenate([light, to_reference])
        return items, np.concatenate([assigned, np.full(len(to_reference), self.reference)]), wrong

    def _resolve(self, items: np.ndarray, assigned: np.ndarray, wrong: np.ndarray,
                 remaining_disagreements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which model answers each item, using free answers where the guarantee permits, and the
        certified disagreeing rows per model (at risk).

        A free reference answer is taken (it agrees). An item keeps its assigned model's answer,
        which its group's bound covers. An item whose only free answers are other candidates' keeps
        one of them counted at its worst (all its rows disagree, but a candidate never disagrees on
        more rows than its stage-1 bound), and only while the certificate stays at the target."""
        final = assigned.copy()
        final[self.known[self.reference, items]] = self.reference
        rows = self.counts[items]
        at_risk = np.zeros(len(self.models))
        for i in self.candidates:
            mine = final == i
            at_risk[i] = min(float(wrong[i]), float(rows[mine].sum())) if mine.any() else 0.0
        slack = self.rows - at_risk.sum() - self.accuracy * self.rows
        for i in sorted(self.candidates, key=self._per_item_cost):
            movable = (final != self.reference) & (final != i) & ~self.known[final, items] & self.known[i, items]
            chosen = np.flatnonzero(movable)
            if len(chosen) == 0 or slack <= 0:
                continue
            chosen = chosen[np.argsort(rows[chosen], kind="stable")]
            limit = max(float(remaining_disagreements[i]), at_risk[i])
            risk = np.minimum(limit, at_risk[i] + np.cumsum(rows[chosen]))
            keep = int(np.searchsorted(risk - at_risk[i], slack, side="right"))
            if keep:
                final[chosen[:keep]] = i
                slack -= risk[keep - 1] - at_risk[i]
                at_risk[i] = risk[keep - 1]
        return final, at_risk

    def _plan_assignment(self, rest: np.ndarray, bounds: np.ndarray, allocation: ErrorAllocation, certain_rows: int):
        """The model assigned to each item of `rest` and the certified disagreeing rows of each group (stage 2).

        The LP works with rates; its shares become fixed-order intervals of [0, 1) in which each
        item's uniform falls, and the realized groups are checked with the stage-2 bounds at their
        sizes; the owed rate is raised until the certified agreement reaches the target."""
        items, rows = len(rest), int(self.counts[rest].sum())
        if items == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(len(self.models))
        largest = int(self.counts[rest].max())
        costs = self._planning_costs()
        agreement = 1 - bounds / rows
        left = Remaining(items=items, rows=rows, profiled_rows=certain_rows)
        owed = owed_rate(self.accuracy, self.rows, left)
        for _ in range(50):
            mix = solve_mix(costs, agreement, min(owed, 1.0), reference=self.reference,
                            single=self.method == "single")
            assigned = self._intervals(rest, mix.shares)
            sizes = np.bincount(assigned, minlength=len(self.models))
            wrong = np.zeros(len(self.models))
            needs_bound = (sizes > 0) & (bounds > 0) & (bounds < rows)
            needs_bound[self.reference] = False
            levels = allocation.stage_two_levels(needs_bound) / self.stop_points
            for i in np.flatnonzero(sizes):
                if i == self.reference:
                    continue
                if largest == 1:
                    wrong[i] = assigned_disagreement_bound(items, int(bounds[i]), int(sizes[i]), levels[i])
                else:
                    wrong[i] = weighted_assigned_disagreement_bound(items, float(bounds[i]), int(sizes[i]),
                                                                    largest, levels[i])
            shortfall = self.accuracy * self.rows - (self.rows - float(np.sum(wrong)))
            if shortfall <= 0:
                return assigned, wrong
            if owed >= 1.0:
                break
            owed += (shortfall + 1) / rows
        return np.full(items, self.reference, dtype=np.int64), np.zeros(len(self.models))

    def _intervals(self, rest: np.ndarray, shares: np.ndarray) -> np.ndarray:
        """The model whose interval holds each item's uniform: [0, 1) cut in the candidates' order,
        the reference last, each model's width its share."""
        order = np.array([*self.candidates, self.reference])
        edges = np.cumsum(np.asarray(shares, dtype=float)[order])[:-1]
        return order[np.searchsorted(edges, self.mix_uniforms[rest], side="right")]

    async def _answer_with(self, model: int, items: np.ndarray) -> None:
        """Final answers of `model` to `items`, asked in item order (so that a caller reading its
        inputs from a table reads neighbouring rows), kept or handed to the sink chunk by chunk."""
        items = np.sort(items)

        async def take(start: int, chunk: np.ndarray, values: np.ndarray) -> None:
            await self._settle_answers(model, chunk, values)

        await self._ask_in_chunks(model, items, take)

    async def _settle_answers(self, model: int, items: np.ndarray, values: np.ndarray) -> None:
        """Make `values` the final answers of `items`, given by `model`: kept, or handed to the sink."""
        self.answered_by[items] = model
        self.invalid[items] = np.equal(values, None)
        if self.sink is None:
            self.answers[items] = values
            return
        for start in range(0, len(items), ASK_CHUNK):
            await self.sink(items[start:start + ASK_CHUNK], values[start:start + ASK_CHUNK], self.models[model].name)

    async def _ask(self, model: int, items: np.ndarray) -> np.ndarray:
        """The values of one model's answers to `items`, with their usage and invalid answers counted."""
        values = np.full(len(items), None, dtype=object)

        async def take(start: int, chunk: np.ndarray, chunk_values: np.ndarray) -> None:
            values[start:start + len(chunk)] = chunk_values

        await self._ask_in_chunks(model, items, take)
        return values

    async def _ask_in_chunks(self, model: int, items: np.ndarray,
                             take: Callable[[int, np.ndarray, np.ndarray], Awaitable[None]]) -> None:
        """Ask the callback for `items` a chunk at a time, CHUNKS_IN_FLIGHT chunks at once, and hand
        each chunk's values to `take`. After a failure no chunk is started; those in flight finish
        (their answers are paid for) before it is raised. Costs are added once for all the chunks,
        from their token totals, so the account is the same however the items were split."""
        chunks = ((start, items[start:start + ASK_CHUNK]) for start in range(0, len(items), ASK_CHUNK))
        tokens = _Tokens()
        failures: list[BaseException] = []

        async def worker() -> None:
            for start, chunk in chunks:
                if failures:
                    return
                try:
                    await take(start, chunk, await self._ask_chunk(model, chunk, tokens))
                except BaseException as error:
                    failures.append(error)
                    return

        await asyncio.gather(*(worker() for _ in range(min(CHUNKS_IN_FLIGHT, -(-len(items) // ASK_CHUNK)))))
        self._add_cost(model, tokens, len(items))
        if failures:
            raise failures[0]

    async def _ask_chunk(self, model: int, items: np.ndarray, tokens: "_Tokens") -> np.ndarray:
        """The values of one call's answers, with its calls, tokens and invalid answers counted."""
        spec = self.models[model]
        result = await self.callback(spec.name, items.tolist())
        batch = result if isinstance(result, ResponseBatch) else ResponseBatch.from_responses(result)
        if len(batch) != len(items):
            raise ValueError(f"the answer callback returned {len(batch)} answers for {len(items)} items "
                             f"of model {spec.name}")
        if batch.scores is not None:
            self.scores[model, items] = batch.scores
        usage = self.usage[spec.name]
        fresh = ~np.asarray(batch.cached, dtype=bool)
        usage.calls += len(items)
        usage.cached_calls += int((~fresh).sum())
        fresh_input, fresh_output = int(batch.input_tokens[fresh].sum()), int(batch.output_tokens[fresh].sum())
        usage.input_tokens += fresh_input
        usage.output_tokens += fresh_output
        tokens.add(fresh_input, fresh_output, int(batch.input_tokens.sum()), int(batch.output_tokens.sum()))
        values = self._values(batch.answers)
        invalid = np.flatnonzero(np.equal(values, None))
        usage.invalid_answers += len(invalid)
        examples = self.invalid_examples[spec.name]
        examples.extend(batch.sent(k) for k in invalid[:INVALID_EXAMPLES - len(examples)])
        if model == self.reference:
            self._check_invalid(final=False)
        return values

    def _record_row_shares(self) -> None:
        rows = np.bincount(self.answered_by, weights=self.counts, minlength=len(self.models))
        self.account.row_shares = {m.name: float(rows[i] / self.rows) for i, m in enumerate(self.models) if rows[i]}
        self.account.method_used = self.account.method_used or self.method

    def _add_cost(self, model: int, tokens: "_Tokens", calls: int) -> None:
        spec = self.models[model]
        usage = self.usage[spec.name]
        fresh_cost = spec.cost(float(tokens.fresh_input), float(tokens.fresh_output))
        full_cost = spec.cost(float(tokens.all_input), float(tokens.all_output))
        usage.cost += fresh_cost
        usage.cached_cost += full_cost - fresh_cost
        self.token_cost[model] += full_cost
        self.token_calls[model] += calls

    def _check_invalid(self, final: bool) -> None:
        """Fail when more than `max_invalid_share` of the reference's answers are invalid: at the end
        on the realized share, before that only when the answers so far make it clear."""
        usage = self.usage[self.models[self.reference].name]
        invalid, answered = usage.invalid_answers, usage.calls
        if invalid <= max(1, self.max_invalid_share * answered):
            return
        from scipy.stats import binom

        if not final and binom.sf(invalid - 1, answered, self.max_invalid_share) > INVALID_EVIDENCE:
            return
        examples = ", ".join(_excerpt(a) for a in self.invalid_examples[self.models[self.reference].name])
        what = "named none of the labels" if self.labels else "were empty"
        raise InvalidAnswers(
            f"{invalid} of {answered} answers of the reference model {self.models[self.reference].name} "
            f"{what} (more than max_invalid_share = {self.max_invalid_share:g}); for instance: {examples}")

    def _settle_invalid(self) -> None:
        """Check the reference's invalid answers once all are in, and take the rows it answered
        invalidly out of the certified agreement: nothing is certified on answers that are not there."""
        self._check_invalid(final=True)
        missing = (self.answered_by == self.reference) & self.invalid
        rows = int(self.counts[missing].sum())
        self.account.reference_invalid_rows = rows
        self.account.null_rows = int(self.counts[self.invalid].sum())
        self.account.lower_bound = max(0.0, self.account.lower_bound - rows / max(self.rows, 1))

    def _per_item_cost(self, model: int) -> float:
        """Measured cost of one call (cached calls counted at the price their tokens would cost),
        or an assumed equal token count for every model before any call was made."""
        if self.token_calls[model]:
            return self.token_cost[model] / self.token_calls[model]
        return self.models[model].cost(ASSUMED_INPUT_TOKENS, ASSUMED_OUTPUT_TOKENS)

    def _planning_costs(self) -> np.ndarray:
        return np.array([self._per_item_cost(i) for i in range(len(self.models))])

    def _free_priced_costs(self) -> np.ndarray:
        """Expected cost per item not profiled yet, free answers at 0: what stopping decisions use
        (never the bounds' error levels nor the mix's shares)."""
        left = ~self.profiled
        if not left.any():
            return self._planning_costs()
        return self._planning_costs() * (1 - self.known[:, left].mean(axis=1))

    def _remaining(self, draws: int) -> Remaining:
        """Items and rows not yet profiled after `draws` sampled rows: exact for the draws made,
        expected (each row sampled with probability draws/rows) for future ones."""
        if draws == self.current_draws:
            left = ~self.profiled
            rows = float(self.counts[left].sum())
            return Remaining(float(left.sum()), rows, self.rows - rows)
        if self.unit_counts:
            return Remaining(float(self.rows - draws), float(self.rows - draws), float(draws))
        if draws not in self.expected_remaining:
            untouched = (1 - draws / self.rows) ** self.counts
            rows = float(np.dot(untouched, self.counts))
            self.expected_remaining[draws] = Remaining(float(untouched.sum()), rows, self.rows - rows)
        return self.expected_remaining[draws]

    def _values(self, answers: Sequence[str | None]) -> np.ndarray:
        distinct = {answer: canonical(answer, self.labels, self.compare) for answer in set(answers)}
        return _object_array([distinct[answer] for answer in answers])

    def _emit(self, phase: str, done: int, total: int, message: str, checkpoint: Checkpoint | None = None) -> None:
        if self.progress is not None:
            self.progress(SmartProgress(phase, done, total, message, checkpoint))


@dataclass
class _Tokens:
    """Token totals of one model's chunks: those of fresh answers, and of all."""

    fresh_input: int = 0
    fresh_output: int = 0
    all_input: int = 0
    all_output: int = 0

    def add(self, fresh_input: int, fresh_output: int, all_input: int, all_output: int) -> None:
        self.fresh_input += fresh_input
        self.fresh_output += fresh_output
        self.all_input += all_input
        self.all_output += all_output


def _known_matrix(known: Mapping[str, Any] | None, models: list[ModelSpec], items: int) -> np.ndarray:
    matrix = np.zeros((len(models), items), dtype=bool)
    for row, model in enumerate(models):
        if known is not None and model.name in known:
            free = np.asarray(known[model.name], dtype=bool)
            if free.shape != (items,):
                raise ValueError(f"known[{model.name!r}] must hold one flag per item: {free.shape} for {items} items")
            matrix[row] = free
    return matrix


def _excerpt(answer: str | None, width: int = 60) -> str:
    if answer is None:
        return "no content"
    return repr(answer if len(answer) <= width else answer[:width] + "...")


def _object_array(values: Sequence[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def _validate(counts: np.ndarray, models: list[ModelSpec], accuracy: float, confidence: float, method: str,
              compare: str, max_invalid_share: float) -> None:
    if counts.ndim != 1 or (len(counts) and counts.min() < 1):
        raise ValueError("counts must be a flat sequence of row counts, each at least 1")
    if sum(m.reference for m in models) != 1:
        raise ValueError(f"exactly one model must be the reference; got "
                         f"{[m.name for m in models if m.reference] or 'none'} among {[m.name for m in models]}")
    if not 0 < accuracy <= 1:
        raise ValueError(f"accuracy must be in (0, 1], got {accuracy}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if compare not in COMPARISONS:
        raise ValueError(f"compare must be one of {', '.join(COMPARISONS)}, got {compare!r}")
    if not 0 <= max_invalid_share <= 1:
        raise ValueError(f"max_invalid_share must be in [0, 1], got {max_invalid_share}")
