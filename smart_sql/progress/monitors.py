"""Displays of LLM task progress: nothing (quiet), plain lines, JSON lines, or a live terminal display."""

from __future__ import annotations

import json
import threading
import time
from typing import Callable

from .state import TaskProgress, candidates_text, spent_text

Write = Callable[[str], None]


class Monitor:
    """Receives a task's progress as it changes; this base shows nothing (`--quiet`)."""

    shows = False

    def task_started(self, progress: TaskProgress) -> None:
        pass

    def responded(self, progress: TaskProgress) -> None:
        pass

    def checkpoint(self, progress: TaskProgress) -> None:
        pass

    def answering(self, progress: TaskProgress) -> None:
        pass

    def note(self, progress: TaskProgress, message: str) -> None:
        pass

    def task_finished(self, progress: TaskProgress, account: dict | None) -> None:
        pass


class _Throttle:
    """True at most once every `every` seconds (per task)."""

    def __init__(self, every: float):
        self.every = every
        self.last: dict[str, float] = {}

    def due(self, task: str) -> bool:
        now = time.monotonic()
        if now - self.last.setdefault(task, now) >= self.every:
            self.last[task] = now
            return True
        return False


class PlainMonitor(Monitor):
    """One line per event, and a line on how far a task has come at most every `every` seconds:
    for logs and CI, where a redrawn display would only leave control codes."""

    shows = True

    def __init__(self, write: Write, every: float = 10.0):
        self.write = write
        self.throttle = _Throttle(every)

    def _say(self, progress: TaskProgress, message: str) -> None:
        self.write(f"  {progress.task}: {message}")

    def task_started(self, progress: TaskProgress) -> None:
        self._say(progress, f"{progress.total} distinct inputs from {progress.rows} rows")

    def responded(self, progress: TaskProgress) -> None:
        if self.throttle.due(progress.task):
            state = progress.snapshot()
            if state["answered"] < state["total"]:
                self._say(progress, f"{state['phase']}: {state['answered']:,} of {state['total']:,} answers, "
                                    f"{spent_text(state)} spent, {state['requests_per_second']:.1f} requests/s, "
                                    f"{state['retries']} retries")

    def checkpoint(self, progress: TaskProgress) -> None:
        state = progress.snapshot()
        self._say(progress, f"profiled {state['items_profiled']} items, {spent_text(state)} spent; "
                            f"{candidates_text(state) or 'no candidate left'}")

    def answering(self, progress: TaskProgress) -> None:
        self._say(progress, f"answering the remaining items: {progress.mix}")

    def note(self, progress: TaskProgress, message: str) -> None:
        self._say(progress, message)

    def task_finished(self, progress: TaskProgress, account: dict | None) -> None:
        self._say(progress, finished_text(progress, account))


def finished_text(progress: TaskProgress, account: dict | None) -> str:
    """The task's last line, from its account (the numbers run_results.json holds); without one the
    task failed or was interrupted."""
    state = progress.snapshot()
    counts = (f"{state['requests']:,} requests, {state['cached']:,} from the cache, {state['retries']} retries")
    if account is None:
        return (f"stopped: {state['answered']:,} of {state['total']:,} answers, {spent_text(state)} spent, "
                f"{counts}; the answers received are in the response cache")
    return (f"done: {state['answered']:,} of {state['total']:,} answers, profiled {account['items_profiled']} items, "
            f"cost ${account['total_cost']:.4f}, {counts}")


class JsonMonitor(Monitor):
    """One JSON object per line and event (`--log-format json`)."""

    shows = True

    def __init__(self, write: Write, every: float = 10.0):
        self.write = write
        self.throttle = _Throttle(every)

    def _emit(self, event: str, progress: TaskProgress, **extra) -> None:
        self.write(json.dumps({"event": event, **progress.snapshot(), **extra}, default=str))

    def task_started(self, progress: TaskProgress) -> None:
        self._emit("llm_task_started", progress)

    def responded(self, progress: TaskProgress) -> None:
        if self.throttle.due(progress.task):
            self._emit("llm_task_progress", progress)

    def checkpoint(self, progress: TaskProgress) -> None:
        self._emit("llm_task_checkpoint", progress)

    def answering(self, progress: TaskProgress) -> None:
        self._emit("llm_task_answering", progress, mix=progress.mix)

    def note(self, progress: TaskProgress, message: str) -> None:
        self._emit("llm_task_note", progress, message=message)

    def task_finished(self, progress: TaskProgress, account: dict | None) -> None:
        if account is None:
            self._emit("llm_task_stopped", progress)
        else:
            self._emit("llm_task_finished", progress, items_profiled_total=account["items_profiled"],
                       total_cost=account["total_cost"])


class RichMonitor(Monitor):
    """A live display on a terminal, redrawn a few times a second while tasks run (one row group each)."""

    shows = True

    def __init__(self, console=None):
        from rich.console import Console

        self.console = console or Console()
        self.live = None
        self.running: dict[str, TaskProgress] = {}
        self.lock = threading.Lock()

    def task_started(self, progress: TaskProgress) -> None:
        from rich.live import Live

        with self.lock:
            self.console.print(f"  {progress.task}: {progress.total} distinct inputs from {progress.rows} rows",
                               highlight=False)
            self.running[progress.task] = progress
            if self.live is None:
                self.live = Live(_Display(self.running), console=self.console, refresh_per_second=4, transient=True)
                self.live.start()

    def note(self, progress: TaskProgress, message: str) -> None:
        self.console.print(f"  {progress.task}: {message}", highlight=False)

    def task_finished(self, progress: TaskProgress, account: dict | None) -> None:
        with self.lock:
            self.running.pop(progress.task, None)
            if not self.running and self.live is not None:
                self.live.stop()
                self.live = None
            self.console.print(f"  {progress.task}: {finished_text(progress, account)}", highlight=False)


class _Display:
    """What the live display draws: each running task's numbers and each of its candidates' state."""

    def __init__(self, running: dict[str, TaskProgress]):
        self.running = running

    def __rich__(self):
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        for progress in list(self.running.values()):
            _add_rows(table, progress.snapshot())
        return table


def _add_rows(table, state: dict) -> None:
    from rich.progress_bar import ProgressBar

    table.add_row(f"  {state['task']}", f"[bold]{state['phase']}[/]",
                  ProgressBar(total=max(state["total"], 1), completed=state["answered"], width=30),
                  f"{state['answered']:,}/{state['total']:,}", f"{spent_text(state)} spent",
                  f"{state['requests_per_second']:.1f} req/s", f"{state['retries']} retries")
    for name, candidate in state["candidates"].items():
        colour = {"accepted": "green", "rejected": "red"}.get(candidate["decision"], "yellow")
        table.add_row("", f"  {name}", f"[{colour}]{candidate['decision']}[/]",
                      f"certified {candidate['lower']:.3f}..{candidate['upper']:.3f}", "", "", "")
