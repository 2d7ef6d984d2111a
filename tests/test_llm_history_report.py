"""The spend report's numbers: equal to the calls the server answered, kept per run in the history
table, and shown as they are in run_results.json by `smart-sql report` in a real browser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from smart_sql.llm.local_server import Faults, LocalLLMServer
from smart_sql.llm.simulated import Simulator

from conftest import openai_profiles

API_KEY = "sk-local-0123456789abcdefSECRET"
SIMULATOR = Simulator("sim-large", {"sim-small": 0.93})
TICKETS = "id,body\n" + "".join(f"{i},ticket {i % 400} about order {i % 7}\n" for i in range(600))
MODEL = """\
select id, SMART_LLM('Is this ticket urgent?', body, labels => ['urgent', 'normal'], accuracy => 0.85) as kind
from {{ ref('tickets') }}
"""


def profiles(base_url: str) -> str:
    return openai_profiles(base_url, API_KEY, max_concurrency=16)


def spends(root: Path) -> list[dict]:
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    return [t["spend"] for r in results for t in r["extras"].get("llm", {}).get("tasks", [])]


@pytest.fixture
def built(make_project, cli):
    """A project built twice against the local server (the second time 40 new tickets), and the server."""
    faults = Faults(rate_limit=0.05, server_error=0.03)
    with LocalLLMServer(SIMULATOR, api_key=API_KEY, faults=faults) as server:
        root = make_project({"profiles.yml": profiles(server.base_url), "seeds/tickets.csv": TICKETS,
                             "models/kinds.sql": MODEL})
        first = cli("build", "--project-dir", root)
        assert first.exit_code == 0, first.output
        first_calls = dict(server.log.by_model)
        server.reset_log()
        more = "".join(f"{i},new ticket {i}\n" for i in range(600, 640))
        (root / "seeds" / "tickets.csv").write_text(TICKETS + more, encoding="utf-8")
        second = cli("build", "--project-dir", root)
        assert second.exit_code == 0, second.output
        yield root, server, first_calls, second


def test_the_report_counts_exactly_the_completions_the_server_answered(built):
    root, server, first_calls, second = built
    [spend] = spends(root)
    assert {name: model["requests"] for name, model in spend["models"].items() if model["requests"]} == \
        dict(server.log.by_model)
    assert spend["requests"] == sum(server.log.by_model.values()) > 0
    assert spend["answers_from_cache"] == spend["calls"] - spend["requests"] > 0
    refused = sum(count for status, count in server.log.by_status.items() if status != 200)
    done = next(line for line in second.output.splitlines() if line.startswith("  kinds_t1: done: "))
    assert done.endswith(f"{spend['requests']:,} requests, {spend['answers_from_cache']:,} from the cache, "
                         f"{refused} retries") and refused > 0


def test_the_history_table_holds_one_row_per_task_per_run_with_the_artifact_numbers(built, query):
    root, _, first_calls, _ = built
    rows = query(root, "select run_id, run_started_at, node, task, requests, cost, saved_by_cache, "
                       "models->'sim-large'->>'requests' from smart_sql_meta.llm_task_runs order by run_started_at")
    assert len(rows) == 2 and rows[0][0] != rows[1][0] and rows[0][1] < rows[1][1]
    assert rows[0][4] == sum(first_calls.values())
    [spend] = spends(root)
    assert rows[1][2:7] == ("model.demo.kinds", spend["task"], spend["requests"], spend["cost"], spend["saved_by_cache"])
    assert int(rows[1][7]) == spend["models"]["sim-large"]["requests"]


def test_no_key_reaches_the_artifacts_or_the_report(built, cli):
    root, *_ = built
    assert cli("report", "--project-dir", root).exit_code == 0
    for path in (root / "target" / "run_results.json", root / "target" / "llm_report.html"):
        assert "SECRET" not in path.read_text() and "sk-local" not in path.read_text()


def browser():
    binary, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not (binary and driver):
        pytest.skip("chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def test_the_html_report_renders_without_errors_and_shows_run_results_numbers(built, cli):
    root, *_ = built
    result = cli("report", "--project-dir", root)
    assert result.exit_code == 0, result.output
    page = root / "target" / "llm_report.html"
    text = page.read_text()
    assert "http://" not in text and "https://" not in text, "the page needs no network"
    driver = browser()
    try:
        from selenium.webdriver.common.by import By

        driver.get(page.as_uri())
        assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "yes"
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
        shown = {cell.get_attribute("data-field"): (json.loads(cell.get_attribute("data-value")), cell.text)
                 for cell in driver.find_elements(By.CSS_SELECTOR, "[data-value]")}
        charts = driver.find_elements(By.CSS_SELECTOR, "svg.chart")
        intervals = driver.find_elements(By.CSS_SELECTOR, "svg[aria-label='certified agreement'] polygon")
    finally:
        driver.quit()
    [spend] = spends(root)
    task = spend["task"]
    for key in ("cost", "reference_only_cost", "saved_by_cache", "saved_by_smart"):
        assert shown[f"total.{key}"] == (spend[key], f"${spend[key]:.4f}")
    for key in ("rows", "distinct_inputs", "answers_from_cache", "requests", "invalid_answers"):
        assert shown[f"{task}.{key}"] == (spend[key], f"{spend[key]:,}")
    assert shown[f"{task}.lower_bound"][0] == spend["lower_bound"]
    for name, model in spend["models"].items():
        assert shown[f"{task}.{name}.requests"][0] == model["requests"]
        assert shown[f"{task}.{name}.cost"] == (model["cost"], f"${model['cost']:.4f}")
    assert len(charts) >= 4 and len(intervals) == 1


def test_answers_empty_or_off_label_are_counted_and_shown(make_project, cli):
    faults = Faults(off_label=0.02, empty=0.01, fault_attempts=5)
    with LocalLLMServer(SIMULATOR, api_key=API_KEY, faults=faults) as server:
        root = make_project({"profiles.yml": profiles(server.base_url), "seeds/tickets.csv": TICKETS,
                             "models/kinds.sql": MODEL})
        result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    [spend] = spends(root)
    assert spend["invalid_answers"] == sum(m["invalid_answers"] for m in spend["models"].values()) > 0
    assert spend["null_rows"] > 0
    assert (f"{spend['invalid_answers']} answers were empty or named no label; {spend['null_rows']} rows are NULL"
            in result.output)


def test_report_before_any_build_says_what_to_run_and_after_one_without_llm_says_so(make_project, cli):
    root = make_project({"models/a.sql": "select 1 as x"})
    before = cli("report", "--project-dir", root)
    assert before.exit_code == 2 and "no run to report on" in before.output and "smart-sql build" in before.output
    assert cli("build", "--project-dir", root).exit_code == 0
    after = cli("report", "--project-dir", root)
    assert after.exit_code == 0, after.output
    page = (root / "target" / "llm_report.html").read_text()
    assert "The last run had no LLM task." in page and "No run recorded yet." in page
