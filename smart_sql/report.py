"""What the user sees while and after a command runs, and the artifacts written to target/."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .project import Project

LINE_WIDTH = 80
FAILED = ("error", "fail")
PASSED = ("success", "pass")


@dataclass
class RunResult:
    unique_id: str
    name: str
    resource_type: str
    status: str
    """success | error | skipped for seeds and models; pass | fail | warn | error | skipped for tests."""
    description: str
    """What was done, e.g. 'created table main.fct_orders'."""
    execution_time: float = 0.0
    rows_affected: int | None = None
    failures: int | None = None
    message: str | None = None
    relation: str | None = None
    path: str | None = None
    thread_id: str | None = None
    """The worker that ran the node, as dbt names it: 'Thread-1 (worker)'."""
    timing: list[dict[str, str]] = field(default_factory=list)
    """dbt's timing: [{"name": "execute", "started_at": ..., "completed_at": ...}], UTC ISO times."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Per-node facts from other layers (LLM cost, calls) written as-is into run_results.json;
    a string under "summary" is also printed after the run."""
    timing: list[dict[str, str]] = field(default_factory=list)
    """dbt's: [{"name": "execute", "started_at": ..., "completed_at": ...}] (UTC, ISO 8601)."""
    thread_id: str | None = None
    compiled_code: str | None = None
    """The SQL that ran (models, snapshots, tests)."""
    relation_name: str | None = None
    """database.schema.identifier, as dbt names the relation."""


@dataclass
class RunResults:
    command: str
    results: list[RunResult] = field(default_factory=list)
    elapsed_time: float = 0.0

    def count(self, *statuses: str) -> int:
        return sum(result.status in statuses for result in self.results)

    @property
    def success(self) -> bool:
        return self.count(*FAILED) == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.success else 1


class Reporter:
    """Every line a run prints goes through here (other layers add lines with `info`)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    def info(self, message: str) -> None:
        print(message, file=self.stream or sys.stdout, flush=True)

    def node_finished(self, index: int, total: int, result: RunResult) -> None:
        self.info(progress_line(index, total, result))

    def summary(self, results: RunResults) -> None:
        for result in results.results:
            if (result.status in FAILED or result.status == "warn") and result.message:
                label = {"fail": "Failure in", "warn": "Warning in"}.get(result.status, "Error in")
                self.info(f"\n{label} {result.resource_type} {result.name} ({result.path})\n  {_indent(result.message)}")
            if isinstance(result.extras.get("summary"), str):
                self.info(f"\n{result.name}: {result.extras['summary']}")
        self.info(f"\nFinished in {results.elapsed_time:.2f}s.")
        self.info(summary_line(results))


def progress_line(index: int, total: int, result: RunResult) -> str:
    width = len(str(total))
    status = _STATUS_WORDS.get(result.status, result.status.upper())
    head = f"{index:>{width + 2}} of {total} {status} {result.description} "
    return f"{head.ljust(LINE_WIDTH - 1, '.')} [{_detail(result)}]"


def summary_line(results: RunResults) -> str:
    return (f"Done. PASS={results.count(*PASSED)} WARN={results.count('warn')} ERROR={results.count(*FAILED)} "
            f"SKIP={results.count('skipped')} TOTAL={len(results.results)}")


_STATUS_WORDS = {"success": "OK", "pass": "PASS", "fail": "FAIL", "warn": "WARN", "error": "ERROR", "skipped": "SKIP"}


def _detail(result: RunResult) -> str:
    seconds = f"in {result.execution_time:.2f}s"
    if result.status == "skipped":
        return "SKIP"
    if result.status in ("fail", "warn"):
        return f"{result.failures:,} failing row{'s' * (result.failures != 1)} {seconds}"
    if result.status == "error":
        return f"ERROR {seconds}"
    if result.rows_affected is not None:
        return f"{result.rows_affected:,} row{'s' * (result.rows_affected != 1)} {seconds}"
    return f"{_STATUS_WORDS[result.status]} {seconds}"


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def write_run_results(project: Project, results: RunResults) -> Path:
    from .artifacts import run_results, write_json

    return write_json(project.target_path / "run_results.json", run_results(project, results))


def write_manifest(project: Project) -> Path:
    from .artifacts import manifest, write_json

    return write_json(project.target_path / "manifest.json", manifest(project))
