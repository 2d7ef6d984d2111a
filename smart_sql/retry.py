"""`smart-sql retry`: the last run's command again, on what errored, failed or was skipped (dbt retry)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .errors import ConfigError, display_path

if TYPE_CHECKING:
    from .project import Project
    from .report import RunResults

RETRYABLE = ("error", "fail", "skipped")
RESOURCE_TYPES = {"build": ("seed", "model", "snapshot", "test", "unit_test"), "run": ("model",), "seed": ("seed",),
                  "test": ("test", "unit_test"), "snapshot": ("snapshot",)}
"""What each command runs, as its own command does (cli.py), so that retry reruns all it skipped."""


def previous_run(project_dir: str | Path, target_path: str | None) -> dict[str, Any]:
    """The last run's run_results.json (read before the project is loaded: its --vars and --target are
    needed to load it)."""
    from .project import read_project_config

    root = Path(project_dir).resolve()
    path = root / (target_path or read_project_config(root).target_path) / "run_results.json"
    if not path.is_file():
        raise ConfigError(f"retry: no previous run to retry ({display_path(path)} does not exist)",
                          hint="run a command first (build, run, seed, snapshot, test); --target-path must "
                               "name the same folder")
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ConfigError(f"retry: run_results.json is not valid JSON: {error}", path=display_path(path)) from None
    command = (previous.get("args") or {}).get("which")
    if command not in RESOURCE_TYPES:
        raise ConfigError(f"retry reruns build, run, seed, snapshot and test; the last run was {command!r}",
                          path=display_path(path))
    return previous


def retry(project: Project, previous: dict[str, Any], transform_for: Callable, *, debug: bool) -> RunResults | None:
    """Runs the previous command, with its flags, on the nodes it did not finish; None when there is
    nothing to retry."""
    from .execute import build
    from .interrupts import stop_on_signals
    from .report import Reporter

    args: dict[str, Any] = previous["args"]
    command = args["which"]
    for key in ("fail_fast", "empty", "warn_error"):
        setattr(project.flags, key, bool(args.get(key)))
    project.flags.only = {entry["unique_id"] for entry in previous.get("results", [])
                          if entry.get("status") in RETRYABLE and not entry["unique_id"].startswith("operation.")}
    project.flags.args = dict(args)
    reporter = Reporter()
    if not project.flags.only:
        reporter.info(f"Nothing to retry: the last {command} had no errors, failures or skipped nodes.")
        return None
    with stop_on_signals() as stop:
        return build(project, full_refresh=bool(args.get("full_refresh")),
                     sql_transform=transform_for(project, reporter, use_cache=not args.get("no_cache")),
                     reporter=reporter, resource_types=RESOURCE_TYPES[command], command=command, debug=debug,
                     stop=stop)
