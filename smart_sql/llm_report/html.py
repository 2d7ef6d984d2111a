"""`smart-sql report`: one self-contained HTML page (inline CSS, JS and SVG; no network) on the last
run's LLM spend and the history table. It shows numbers from run_results.json and the history only;
no setting of the profile (so no key or URL) reaches it."""

from __future__ import annotations

import json
from collections import defaultdict
from html import escape
from pathlib import Path

from . import charts
from .spend import totals

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#111;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:.9rem}.simulated{color:#b45309;font-weight:600}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:150px}
.card b{display:block;font-size:1.3rem}.chart .label{font-size:11px;fill:#333}
"""
SCRIPT = """
document.querySelectorAll('[data-value]').forEach(function (cell) {
  cell.title = cell.dataset.field + ' = ' + cell.dataset.value;
});
document.body.dataset.ready = 'yes';
"""
MONEY = ("cost", "reference_only_cost", "cost_without_cache", "saved_by_cache", "saved_by_smart")
TASK_COLUMNS = (("rows", "rows"), ("distinct_inputs", "distinct inputs"), ("answers_from_cache", "from the cache"),
                ("requests", "requests"), ("cost", "cost"), ("reference_only_cost", "reference alone"),
                ("saved_by_cache", "saved by the cache"), ("saved_by_smart", "saved by SMART"),
                ("lower_bound", "certified agreement"), ("invalid_answers", "invalid answers"))


def write_report(run_results: dict, history: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(run_results, history), encoding="utf-8")
    return path


def render(run_results: dict, history: list[dict]) -> str:
    metadata = run_results.get("metadata", {})
    tasks = [(result.get("name") or result.get("unique_id"), task)
             for result in run_results.get("results", [])
             for task in (result.get("extras") or {}).get("llm", {}).get("tasks", [])]
    spends = [task["spend"] for _, task in tasks]
    body = [f"<h1>LLM spend: {escape(str(metadata.get('project_name', '')))}</h1>",
            f'<p class="note">Last run: {escape(str(metadata.get("command", "")))} at '
            f'{escape(str(metadata.get("generated_at", "")))}, target {escape(str(metadata.get("target", "")))}, '
            f'provider {escape(str(metadata.get("llm_provider", "")))}.</p>']
    if metadata.get("llm_simulated"):
        body.append('<p class="simulated">Simulated provider: these answers and costs are not from a real model.</p>')
    body += _last_run(tasks, spends) + _history(history)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>smart-sql LLM spend</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}<script>{SCRIPT}</script></body></html>\n")


def _last_run(tasks: list[tuple[str, dict]], spends: list[dict]) -> list[str]:
    if not spends:
        return ["<h2>Last run</h2><p>The last run had no LLM task.</p>"]
    total = totals(spends)
    cards = "".join(f'<div class="card">{label}<b data-field="total.{key}" data-value="{total[key]!r}">'
                    f'${total[key]:.4f}</b></div>'
                    for key, label in (("cost", "cost"), ("reference_only_cost", "reference model alone"),
                                       ("saved_by_cache", "saved by the cache"), ("saved_by_smart", "saved by SMART")))
    per_model: dict[str, float] = defaultdict(float)
    for spend in spends:
        for name, model in spend["models"].items():
            per_model[name] += model["cost"]
    parts = ["<h2>Last run</h2>", f'<div class="cards">{cards}</div>',
             "<h3>Cost per model</h3>", charts.bars(dict(per_model), "cost per model"),
             "<h3>Cost per task</h3>", charts.bars({f"{node}/{t['spend']['task']}": t["spend"]["cost"]
                                                    for node, t in tasks}, "cost per task"),
             "<h3>Tasks</h3>", _task_table(tasks)]
    for node, task in tasks:
        parts += _task_section(node, task)
    return parts


def _task_table(tasks: list[tuple[str, dict]]) -> str:
    head = "".join(f"<th>{escape(label)}</th>" for _, label in TASK_COLUMNS)
    rows = []
    for node, task in tasks:
        spend = task["spend"]
        cells = "".join(_cell(f"{spend['task']}.{key}", spend[key], key) for key, _ in TASK_COLUMNS)
        rows.append(f"<tr><td>{escape(node)}/{escape(spend['task'])}</td>{cells}</tr>")
    return f"<table><tr><th>task</th>{head}</tr>{''.join(rows)}</table>"


def _cell(field: str, value, key: str) -> str:
    if value is None:
        shown = "-"
    elif key in MONEY:
        shown = f"${value:.4f}"
    elif key == "lower_bound":
        shown = f"{value:.3f}"
    else:
        shown = f"{value:,}"
    return f'<td data-field="{escape(field)}" data-value="{escape(json.dumps(value))}">{shown}</td>'


def _task_section(node: str, task: dict) -> list[str]:
    spend, account = task["spend"], task.get("account") or {}
    rows = "".join(f"<tr><td>{escape(name)}</td>" + "".join(
        _cell(f"{spend['task']}.{name}.{key}", model[key], key)
        for key in ("answers", "calls", "cached_calls", "requests", "input_tokens", "output_tokens", "cost",
                    "invalid_answers")) + "</tr>" for name, model in spend["models"].items())
    final = {c["model"]: c for c in account.get("candidates", [])}
    mix = ", ".join(f"{escape(name)} {share:.1%}" for name, share in spend["mix"].items()) or "none"
    bound = spend.get("lower_bound")
    return [f"<h3>{escape(node)} / {escape(spend['task'])}</h3>",
            "<table><tr><th>model</th><th>answers</th><th>calls</th><th>cached</th><th>requests</th>"
            "<th>input tokens</th><th>output tokens</th><th>cost</th><th>invalid</th></tr>" + rows + "</table>",
            f"<p>Mix of the rest: {mix}. Agreement with the reference certified at least "
            f"{bound if bound is None else format(bound, '.3f')} at confidence {spend.get('confidence')} "
            f"(target {spend.get('accuracy')}); {spend['items_profiled']} items profiled; "
            f"{spend['null_rows']} rows NULL (empty or off-label answers).</p>",
            "<p class=\"note\">Certified agreement interval of each candidate as profiling went on "
            "(the dashed line is the target):</p>",
            charts.agreement_intervals(account.get("checkpoints", []), spend.get("accuracy") or 0.0, final)]


def _history(history: list[dict]) -> list[str]:
    runs: dict[str, list] = {}
    for row in history:
        entry = runs.setdefault(row["run_id"], [str(row["run_started_at"])[:19], 0.0, 0.0, 0.0, 0])
        entry[1] += row["cost"]
        entry[2] += row["reference_only_cost"]
        entry[3] += row["saved_by_cache"]
        entry[4] += row["requests"]
    rows = "".join(f"<tr><td>{escape(started)}</td><td>${cost:.4f}</td><td>${reference:.4f}</td>"
                   f"<td>${cached:.4f}</td><td>{requests:,}</td></tr>"
                   for started, cost, reference, cached, requests in reversed(list(runs.values())))
    return ["<h2>History</h2>",
            f'<p class="note">{len(runs)} runs in smart_sql_meta.llm_task_runs.</p>',
            charts.spend_over_time([(started, cost, reference) for started, cost, reference, _, _ in runs.values()]),
            "<table><tr><th>run started</th><th>cost</th><th>reference alone</th><th>saved by the cache</th>"
            f"<th>requests</th></tr>{rows}</table>"]
