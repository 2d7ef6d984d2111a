"""The lines a run prints and the summary."""

from __future__ import annotations

import io

from smart_sql.report import Reporter, RunResult, RunResults, progress_line, summary_line


def _result(status: str, **fields) -> RunResult:
    return RunResult(unique_id="model.m", name="m", resource_type="model", status=status,
                     description="created table main.fct_orders", **fields)


def test_progress_line_is_padded_with_dots_and_shows_rows_and_seconds():
    line = progress_line(3, 7, _result("success", rows_affected=1234, execution_time=0.123))
    assert line.startswith("  3 of 7 OK created table main.fct_orders ...")
    assert line.endswith("[1,234 rows in 0.12s]")
    assert len(line) == len("[1,234 rows in 0.12s]") + 80


def test_progress_line_for_failing_tests_and_skips():
    assert progress_line(1, 1, _result("fail", failures=1)).endswith("[1 failing row in 0.00s]")
    assert progress_line(1, 1, _result("skipped")).endswith("[SKIP]")
    assert " ERROR " in progress_line(1, 1, _result("error"))


def test_summary_counts_and_exit_code():
    results = RunResults("build", [_result("success"), _result("pass"), _result("warn", failures=2),
                                   _result("fail", failures=1), _result("error"), _result("skipped")])
    assert summary_line(results) == "Done. PASS=2 WARN=1 ERROR=2 SKIP=1 TOTAL=6"
    assert results.exit_code == 1
    assert RunResults("build", [_result("success"), _result("warn", failures=1)]).exit_code == 0


def test_summary_prints_error_messages_and_extras_summaries():
    out = io.StringIO()
    results = RunResults("build", [_result("error", message="models/m.sql: it broke", path="models/m.sql"),
                                   _result("success", extras={"summary": "LLM cost $0.01 (simulated)"})])
    Reporter(out).summary(results)
    text = out.getvalue()
    assert "Error in model m (models/m.sql)\n  models/m.sql: it broke" in text
    assert "m: LLM cost $0.01 (simulated)" in text
    assert text.rstrip().endswith("Done. PASS=1 WARN=0 ERROR=1 SKIP=0 TOTAL=2")
