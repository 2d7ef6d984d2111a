"""What `smart-sql report` does, apart from argument handling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..project import Project

REPORT_FILE = "llm_report.html"


def write_html_report(project: Project, output: str | Path | None = None) -> Path:
    from .history import read_history
    from .html import write_report

    results_path = project.target_path / "run_results.json"
    if not results_path.exists():
        raise ConfigError(f"no run to report on: {project.display(results_path)} does not exist",
                          hint="run `smart-sql build` first")
    run_results = json.loads(results_path.read_text(encoding="utf-8"))
    path = Path(output) if output else project.target_path / REPORT_FILE
    return write_report(run_results, read_history(project), path)
