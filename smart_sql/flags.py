"""Options of one invocation that change how every command behaves (dbt's global flags)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class RunFlags:
    fail_fast: bool = False
    """Stop at the first failing node; what has not run is skipped (dbt's --fail-fast / -x)."""
    empty: bool = False
    """Build models with zero rows: every ref() and source() reads `limit 0` (dbt's --empty)."""
    warn_error: bool = False
    """Warnings are errors: a project warning stops the command, a warning test fails (dbt's --warn-error)."""
    target_path: str | None = None
    """Where artifacts and compiled SQL go, instead of the project's target-path."""
    state: Any = None
    """The manifest of an earlier run (smart_sql.state.State), for `state:` selectors; None without --state."""
    state_path: Path | None = None
    args: dict[str, Any] | None = None
    """The command and its options as run, written to run_results.json as dbt's `args` (`retry` reads them)."""
    only: set[str] | None = None
    """unique_ids to run and nothing else (`retry`)."""
    selector: str | None = None
    """The YAML selector of --selector (selectors.yml)."""
