"""Where one LLM task stands while it runs: the numbers every progress display shows.

Updated from the provider's response callbacks (on the event-loop thread) and the SMART engine's
phase events; read by the displays from any thread, so every change holds the lock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class TaskProgress:
    task: str
    total: int
    """Distinct inputs: each gets one final answer."""
    rows: int
    reference: str
    budget: float | None = None
    """Dollars the task may spend, when a budget is set."""
    phase: str = "profiling"
    answered: int = 0
    """Items with their final answer: the reference's answers while profiling, every answer after."""
    cost: float = 0.0
    requests: int = 0
    """Answers paid for (sent to the provider), cached ones not counted."""
    cached: int = 0
    retries: int = 0
    candidates: dict[str, dict] = field(default_factory=dict)
    """Per candidate: its decision ('open', 'accepted', 'rejected') and certified [lower, upper] agreement."""
    items_profiled: int = 0
    mix: str = ""
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_response(self, model: str, cost: float, cached: bool) -> None:
        with self.lock:
            final = self.phase != "profiling" or model == self.reference
            self.answered += final
            self.cached += cached
            self.requests += not cached
            self.cost += 0.0 if cached else cost

    def checkpoint(self, items_profiled: int, candidates: dict[str, dict]) -> None:
        with self.lock:
            self.items_profiled = items_profiled
            for name, state in candidates.items():
                self.candidates[name] = dict(state)

    def enter(self, phase: str, mix: str = "") -> None:
        with self.lock:
            self.phase = phase
            self.mix = mix or self.mix

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.elapsed

    def snapshot(self) -> dict:
        """The numbers as plain data (one JSON log record, or what a display draws)."""
        with self.lock:
            return {"task": self.task, "phase": self.phase, "answered": self.answered, "total": self.total,
                    "rows": self.rows, "items_profiled": self.items_profiled, "cost": round(self.cost, 6),
                    "budget": self.budget, "requests": self.requests, "cached": self.cached,
                    "requests_per_second": round(self.requests_per_second, 2), "retries": self.retries,
                    "candidates": {name: dict(state) for name, state in self.candidates.items()},
                    "elapsed_seconds": round(self.elapsed, 3)}


def spent_text(snapshot: dict) -> str:
    text = f"${snapshot['cost']:.4f}"
    if snapshot.get("budget") is not None:
        text += f" of ${snapshot['budget']:.2f} budget"
    return text


def candidates_text(snapshot: dict) -> str:
    return ", ".join(f"{name} {state['decision']} (certified >= {state['lower']:.3f})"
                     for name, state in snapshot["candidates"].items())
