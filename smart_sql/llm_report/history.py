"""The history of LLM spend: one row per task per run in the target's database, from run_results.json.

The rows are built from the artifact the build has just written, so the table and the file hold the
same numbers; a run already recorded (same run id) is replaced, never doubled.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..project import Project

log = logging.getLogger(__name__)

SCHEMA = "smart_sql_meta"
TABLE = "llm_task_runs"
COLUMNS = {
    "run_id": "VARCHAR", "run_started_at": "TIMESTAMPTZ", "command": "VARCHAR", "project": "VARCHAR",
    "target": "VARCHAR", "node": "VARCHAR", "node_status": "VARCHAR", "task": "VARCHAR", "provider": "VARCHAR",
    "simulated": "BOOLEAN", "rows": "BIGINT", "distinct_inputs": "BIGINT", "answers_from_cache": "BIGINT",
    "calls": "BIGINT", "requests": "BIGINT", "input_tokens": "BIGINT", "output_tokens": "BIGINT",
    "cost": "DOUBLE", "reference_only_cost": "DOUBLE", "cost_without_cache": "DOUBLE", "saved_by_cache": "DOUBLE",
    "saved_by_smart": "DOUBLE", "smart_factor": "DOUBLE", "accuracy": "DOUBLE", "confidence": "DOUBLE",
    "lower_bound": "DOUBLE", "items_profiled": "BIGINT", "null_rows": "BIGINT", "invalid_answers": "BIGINT",
    "reference_model": "VARCHAR", "mix": "JSON", "models": "JSON",
}


def history_rows(run_results: dict) -> list[dict]:
    """The rows of one run: every task of every node that ran LLM tasks."""
    metadata = run_results.get("metadata", {})
    rows = []
    for result in run_results.get("results", []):
        llm = (result.get("extras") or {}).get("llm")
        if not llm:
            continue
        for task in llm.get("tasks", []):
            spend = dict(task["spend"])
            rows.append({**spend, "run_id": llm["run_id"], "run_started_at": llm["run_started_at"],
                         "command": metadata.get("command"), "project": metadata.get("project_name"),
                         "target": metadata.get("target"), "node": result.get("unique_id"),
                         "node_status": result.get("status"), "provider": llm.get("provider"),
                         "simulated": llm.get("simulated"), "mix": json.dumps(spend["mix"]),
                         "models": json.dumps(spend["models"])})
    return rows


def record_run(project: Project) -> int:
    """Append the last run's tasks (target/run_results.json) to the history table; returns how many."""
    path = project.target_path / "run_results.json"
    if not path.exists():
        return 0
    rows = history_rows(json.loads(path.read_text(encoding="utf-8")))
    if not rows:
        return 0
    import duckdb

    from ..errors import SmartSqlError

    try:
        _insert(project, rows)
    except (duckdb.Error, SmartSqlError) as error:
        log.warning("the run's LLM spend was not added to %s.%s: %s (it is in %s)", SCHEMA, TABLE, error,
                    project.display(path))
        return 0
    return len(rows)


def _insert(project: Project, rows: list[dict]) -> None:
    from ..execute import connect

    with connect(project) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        columns = ", ".join(f'"{name}" {kind}' for name, kind in COLUMNS.items())
        conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{TABLE} ({columns})")
        conn.execute(f"DELETE FROM {SCHEMA}.{TABLE} WHERE run_id IN (SELECT unnest(?))",
                     [sorted({row["run_id"] for row in rows})])
        names = ", ".join(f'"{name}"' for name in COLUMNS)
        conn.executemany(f"INSERT INTO {SCHEMA}.{TABLE} ({names}) VALUES ({', '.join('?' * len(COLUMNS))})",
                         [[row.get(name) for name in COLUMNS] for row in rows])


def read_history(project: Project) -> list[dict]:
    """Every recorded row, oldest run first (empty when nothing was recorded)."""
    database = Path(project.database)
    if not database.exists():
        return []
    import duckdb

    with duckdb.connect(str(database), read_only=True) as conn:
        found = conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                             [SCHEMA, TABLE]).fetchall()
        if not found:
            return []
        cursor = conn.execute(f"SELECT * FROM {SCHEMA}.{TABLE} ORDER BY run_started_at, node, task")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
