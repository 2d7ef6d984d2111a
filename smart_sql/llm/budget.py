"""A spending limit that holds: no request is sent that could take spending past it.

Every request is admitted against the budget before it is sent, at its worst-case cost: its input
tokens bounded by the bytes of what is sent (`tokens.most_tokens`) and its output at `max_tokens`
(or RESERVED_OUTPUT_TOKENS when the call sets none). Until its answer comes, that worst case counts
as spent; the answer's reported usage then replaces it. A request refused by the budget is not
sent, and from then on none is: the batch ends with BudgetReached once the requests in flight are
back (their answers reach the response cache, so a rerun pays nothing twice).

Providers ask `admit(request)` before sending and `settle`/`release` after; the budget a run spends
within is set for its tasks with `spend_within` (a context variable, as `stopping.py` does).
"""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass
from typing import Mapping

from ..errors import LLMError
from .base import LLMRequest, ModelSpec
from .tokens import MESSAGE_OVERHEAD_TOKENS, most_tokens

RESERVED_OUTPUT_TOKENS = 256
"""Output tokens a request is reserved at when its call sets no `max_tokens`: the only part of the
worst case the budget cannot know; set max_tokens for a strict limit."""

_lock = threading.Lock()


class BudgetReached(LLMError):
    """A task stopped, or did not start, because its spending limit would be passed."""


class SpendingRefused(BaseException):
    """Raised by `admit` for a request the budget refuses: not an Exception, so nothing retries it."""


@dataclass(frozen=True)
class Ticket:
    """An admitted request: the worst case it holds on each budget of the chain."""

    model: ModelSpec
    cost: float
    chain: tuple["Budget", ...]


class Budget:
    """A limit in dollars on what requests sent (not cached answers) may cost. `parent` is a wider
    budget the same requests also count against (a call's `max_cost` inside the build's)."""

    def __init__(self, limit: float, prices: Mapping[str, ModelSpec], *, source: str,
                 parent: "Budget | None" = None):
        self.limit = float(limit)
        self.prices = dict(prices)
        self.source = source
        """Where the limit was set, for messages: '--max-cost', 'llm.max_cost', 'max_cost => on ...'."""
        self.parent = parent
        self.spent = 0.0
        self.reserved = 0.0
        self.refused = False
        self.refused_because: str | None = None
        """Why the budget refuses everything now, once a task did not start (which task, how much)."""

    @property
    def chain(self) -> tuple["Budget", ...]:
        return (self,) + (self.parent.chain if self.parent else ())

    @property
    def left(self) -> float:
        """What may still be committed: the limit less what was spent and what is in flight."""
        return min(b.limit - b.spent - b.reserved for b in self.chain)

    def reserve(self, request: LLMRequest) -> Ticket | None:
        """Hold the request's worst case on every budget of the chain, or None (and the budget is
        refused from then on) when that would take one of them past its limit."""
        model = self.prices[request.model]
        cost = model.cost(*request_worst_tokens(request))
        with _lock:
            if any(b.refused or b.spent + b.reserved + cost > b.limit + 1e-12 for b in self.chain):
                for budget in self.chain:
                    budget.refused = budget.refused or budget.spent + budget.reserved + cost > budget.limit + 1e-12
                self.refused = True
                return None
            for budget in self.chain:
                budget.reserved += cost
        return Ticket(model, cost, self.chain)

    def refuse_beyond(self, cost: float, task: str) -> None:
        """Refuse from now on every budget of the chain that `cost` would take past its limit: a task
        that does not start stops the spending of the build (or of its call) there."""
        with _lock:
            for budget in self.chain:
                if budget.spent + budget.reserved + cost > budget.limit + 1e-12:
                    budget.refused = True
                    budget.refused_because = f"{task} did not start (it may cost up to ${cost:.4f})"

    def message(self, needed: float | None = None) -> str:
        """What was spent and what is left; with `needed`, why a task does not start."""
        budget = next((b for b in self.chain if b.refused), self)
        left = max(budget.limit - budget.spent - budget.reserved, 0.0)
        if needed is None or budget.refused:
            stopped = f"; the build stopped spending when {budget.refused_because}" if budget.refused_because else ""
            return (f"spending limit ${budget.limit:.4f} ({budget.source}) reached: ${budget.spent:.4f} spent, "
                    f"${left:.4f} left; no request was sent that could pass it{stopped}")
        return (f"not started: this task may cost up to ${needed:.4f} (its worst case: requests not in the "
                f"cache, tokens counted, answers at their bound), more than the ${left:.4f} left of the "
                f"spending limit ${budget.limit:.4f} ({budget.source}; ${budget.spent:.4f} spent so far)")

    def hint(self) -> str:
        return ("answers received are in the response cache: raise the limit (--max-cost, llm.max_cost in "
                "profiles.yml, or max_cost => on the call) or select fewer models (--select), and run again; "
                "what was paid is not paid again (`smart-sql plan` shows what each task may cost)")

    def reached(self, needed: float | None = None) -> BudgetReached:
        return BudgetReached(self.message(needed), hint=self.hint())


def request_worst_tokens(request: LLMRequest) -> tuple[int, int]:
    """(input, output) tokens a request cannot exceed: the bytes of its messages plus the chat
    overhead, and `max_tokens` (or RESERVED_OUTPUT_TOKENS)."""
    from .openai_provider import build_messages

    messages = build_messages(request.prompt, request.text, request.options.labels)
    input_tokens = MESSAGE_OVERHEAD_TOKENS + sum(most_tokens(m["content"]) for m in messages)
    return input_tokens, request.options.max_tokens or RESERVED_OUTPUT_TOKENS


def settle(ticket: Ticket | None, input_tokens: float, output_tokens: float) -> None:
    """Replace a request's worst case by what its answer cost."""
    if ticket is not None:
        settle_cost(ticket, ticket.model.cost(input_tokens, output_tokens))


def release(ticket: Ticket | None) -> None:
    """A request the server refused without answering (an HTTP error status) costs nothing."""
    if ticket is None:
        return
    with _lock:
        for budget in ticket.chain:
            budget.reserved -= ticket.cost


def charge_worst_case(ticket: Ticket | None) -> None:
    """A request whose fate is unknown (timed out, connection lost) may have been billed: count it at
    its worst case."""
    if ticket is not None:
        settle_cost(ticket, ticket.cost)


def settle_cost(ticket: Ticket, cost: float) -> None:
    with _lock:
        for budget in ticket.chain:
            budget.reserved -= ticket.cost
            budget.spent += cost


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("smart_sql_budget", default=None)


def spend_within(budget: Budget | None) -> None:
    """From here on in the current task, and in the tasks it starts, requests count against `budget`."""
    _budget.set(budget)


def current_budget() -> Budget | None:
    return _budget.get()


def admit(request: LLMRequest) -> Ticket | None:
    """Before sending `request`: its ticket (None without a budget); raises SpendingRefused when the
    budget refuses it."""
    budget = _budget.get()
    if budget is None:
        return None
    ticket = budget.reserve(request)
    if ticket is None:
        raise SpendingRefused
    return ticket


def raise_if_refused() -> None:
    """End a batch that stopped because the budget refused a request."""
    budget = _budget.get()
    if budget is not None and budget.refused:
        raise budget.reached()
