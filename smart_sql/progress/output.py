"""Choosing how a build talks: a live display on a terminal, plain lines elsewhere, JSON lines, or quiet."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import TextIO

from ..report import FAILED, Reporter, RunResult, RunResults, summary_line
from .monitors import JsonMonitor, Monitor, PlainMonitor, RichMonitor


def make_output(*, quiet: bool = False, log_format: str = "text", stream: TextIO | None = None,
                every: float = 10.0) -> tuple[Reporter, Monitor]:
    """The reporter for the build's lines and the monitor for its LLM tasks."""
    stream = stream or sys.stdout
    if log_format == "json":
        reporter = JsonReporter(stream)
        return reporter, JsonMonitor(reporter.write, every)
    if quiet:
        return QuietReporter(stream), Monitor()
    reporter = Reporter(stream)
    if _is_terminal(stream):
        from rich.console import Console

        return reporter, RichMonitor(Console(file=stream))
    return reporter, PlainMonitor(reporter.info, every)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class QuietReporter(Reporter):
    """Only what went wrong and the closing count (`--quiet`)."""

    def info(self, message: str) -> None:
        pass

    def node_finished(self, index: int, total: int, result: RunResult) -> None:
        pass

    def summary(self, results: RunResults) -> None:
        loud = Reporter(self.stream)
        for result in results.results:
            if result.status in FAILED and result.message:
                loud.info(f"Error in {result.resource_type} {result.name} ({result.path}): {result.message}")
        loud.info(summary_line(results))


class JsonReporter(Reporter):
    """Every line as a JSON object (`--log-format json`)."""

    def write(self, line: str) -> None:
        print(line, file=self.stream or sys.stdout, flush=True)

    def _emit(self, event: str, **fields) -> None:
        self.write(json.dumps({"event": event, **fields}, default=str))

    def info(self, message: str) -> None:
        self._emit("info", message=message.strip("\n"))

    def node_finished(self, index: int, total: int, result: RunResult) -> None:
        fields = {k: v for k, v in asdict(result).items() if k != "extras"}
        self._emit("node_finished", index=index, total=total, **fields)

    def summary(self, results: RunResults) -> None:
        for result in results.results:
            if isinstance(result.extras.get("summary"), str):
                self._emit("llm_summary", node=result.name, message=result.extras["summary"])
        self._emit("run_finished", command=results.command, success=results.success,
                   elapsed_time=round(results.elapsed_time, 4),
                   counts={status: results.count(status) for status in ("success", "pass", "warn", "fail", "error",
                                                                          "skipped")})
