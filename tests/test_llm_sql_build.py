"""SMART_LLM columns through the CLI: build, rebuild from the cache, incremental runs, compile --explain."""

import json

import pytest

from conftest import write

REVIEWS_CSV = "review_id,body\n1,Great kettle\n2,Great kettle\n3,Leaks water\n4,\n5,Stopped working\n"
MODEL = """\
    {{ config(materialized='%s') }}
    select review_id, body,
           SMART_LLM('Is the customer happy?', body, labels => ['yes', 'no']) as happy
    from {{ ref('reviews') }}
    %s
"""
INCREMENTAL_FILTER = "{% if is_incremental() %} where review_id > (select max(review_id) from {{ this }}) {% endif %}"


def project(make_project, materialized="table", where=""):
    return make_project({"seeds/reviews.csv": REVIEWS_CSV,
                         "models/review_moods.sql": MODEL % (materialized, where)})


def llm_extras(root):
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    (model,) = [r for r in results if r["name"] == "review_moods"]
    return model["extras"]["llm"]


def test_build_fills_the_column_and_reports_simulated_cost(make_project, cli, query):
    root = project(make_project)
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert "review_moods: SMART_LLM: 1 task, 4 rows, 3 distinct inputs" in result.output
    assert "[simulated provider: answers are not from a real model]" in result.output
    rows = query(root, "select review_id, happy from review_moods order by review_id")
    assert [happy for _, happy in rows if _ != 4] and all(h in ("yes", "no") for i, h in rows if i != 4)
    assert dict(rows)[4] is None, "a NULL text gives NULL and no call"
    assert query(root, "select count(distinct happy) from review_moods where body = 'Great kettle'") == [(1,)]
    extras = llm_extras(root)
    assert extras["simulated"] is True
    (task,) = extras["tasks"]
    assert (task["rows"], task["distinct_inputs"]) == (4, 3)
    assert sum(task["answers_by_model"].values()) == 3
    assert task["account"]["total_cost"] > 0


def test_rebuild_answers_from_the_cache_at_no_cost(make_project, cli):
    root = project(make_project)
    assert cli("build", "--project-dir", root).exit_code == 0
    first = llm_extras(root)["tasks"][0]["account"]
    assert cli("build", "--project-dir", root).exit_code == 0
    second = llm_extras(root)["tasks"][0]["account"]
    assert first["total_cost"] > 0 and second["total_cost"] == 0
    assert sum(u["cached_calls"] for u in second["usage"].values()) == sum(u["calls"] for u in second["usage"].values()) > 0


def test_no_cache_pays_again_and_leaves_the_cache_alone(make_project, cli):
    root = project(make_project)
    assert cli("build", "--project-dir", root, "--no-cache").exit_code == 0
    assert not (root / "target" / "llm_cache.sqlite").exists()
    assert cli("build", "--project-dir", root).exit_code == 0
    assert cli("build", "--project-dir", root, "--no-cache").exit_code == 0
    account = llm_extras(root)["tasks"][0]["account"]
    assert account["total_cost"] > 0
    assert sum(u["cached_calls"] for u in account["usage"].values()) == 0


def test_incremental_run_sends_only_the_new_rows(make_project, cli, query):
    root = project(make_project, "incremental", INCREMENTAL_FILTER)
    assert cli("build", "--project-dir", root).exit_code == 0
    write(root, "seeds/reviews.csv", REVIEWS_CSV + "6,Lid broke\n7,Great kettle\n")
    assert cli("build", "--project-dir", root).exit_code == 0
    (task,) = llm_extras(root)["tasks"]
    assert (task["rows"], task["distinct_inputs"]) == (2, 2)
    assert query(root, "select count(*), count(happy) from review_moods") == [(7, 6)]


def test_compile_explain_shows_tasks_and_counts_without_calling_a_model(make_project, cli):
    root = project(make_project)
    assert cli("seed", "--project-dir", root).exit_code == 0
    result = cli("compile", "--project-dir", root, "--select", "review_moods", "--explain")
    assert result.exit_code == 0, result.output
    assert "-- t1 -> __smart_llm_review_moods_t1: SMART_LLM call #1 (line 3, column 8)" in result.output
    assert "--   labels: yes, no" in result.output
    assert "--   3 distinct inputs from 4 rows" in result.output
    assert "--   reference model alone (sim-large), tokens estimated from text length: " in result.output
    assert "for output (a label each)" in result.output
    plan = root / "target" / "compiled" / "models" / "review_moods.llm_plan.sql"
    assert "rewritten SQL" in plan.read_text()
    assert not (root / "target" / "llm_cache.sqlite").exists(), "compile never opens the provider"


def test_a_view_cannot_hold_llm_columns(make_project, cli):
    root = project(make_project, "view")
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 1
    assert "models/review_moods.sql" in result.output and "materialized='table'" in result.output


def test_a_bad_option_fails_the_model_naming_file_line_and_rule(make_project, cli):
    root = make_project({"seeds/reviews.csv": REVIEWS_CSV, "models/review_moods.sql": """\
        select review_id,
               SMART_LLM('Mood?', body, accuracy => 1.2) as mood
        from {{ ref('reviews') }}
    """})
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 1
    assert "review_moods.sql:2: SMART_LLM call #1 (line 2, column 8): `accuracy` must be in (0, 1]" in result.output


def test_a_model_failing_in_a_later_task_still_accounts_for_the_answers_it_paid(make_project, cli):
    root = make_project({"seeds/reviews.csv": REVIEWS_CSV, "models/review_moods.sql": """\
        select review_id,
               SMART_LLM('Is the customer happy?', body) as happy,
               SMART_LLM('Topic?', error('no topic column yet')) as topic
        from {{ ref('reviews') }}
    """})
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 1 and "no topic column yet" in result.output
    (task,) = llm_extras(root)["tasks"]
    assert task["id"] == "t1" and task["account"]["total_cost"] > 0


def test_clean_keeps_the_response_cache_so_a_rebuild_pays_nothing(make_project, cli):
    root = project(make_project)
    assert cli("build", "--project-dir", root).exit_code == 0
    result = cli("clean", "--project-dir", root)
    assert result.exit_code == 0 and "keeping the LLM response cache" in result.output
    assert [p.name for p in (root / "target").iterdir() if not p.name.endswith(("-wal", "-shm"))] == ["llm_cache.sqlite"]
    assert cli("build", "--project-dir", root).exit_code == 0
    assert llm_extras(root)["tasks"][0]["account"]["total_cost"] == 0


@pytest.mark.parametrize("failing_sql, cause", [
    ("select no_such_column, SMART_LLM('Topic?', body) as topic from {{ ref('reviews') }}", "no_such_column"),
    ("select SMART_LLM('Topic?', error('no text yet')) as topic from {{ ref('reviews') }}", "no text yet"),
], ids=["column typo", "failing input query"])
def test_a_failed_llm_model_leaves_nothing_behind_for_the_next_ones(make_project, cli, query, failing_sql, cause):
    root = make_project({"seeds/reviews.csv": REVIEWS_CSV,
                         "models/a_llm.sql": failing_sql,
                         "models/b_llm.sql": "select review_id, SMART_LLM('Mood?', body) as mood from {{ ref('reviews') }}",
                         "models/c_after.sql": "select count(*) as temp_tables from duckdb_tables() where temporary"})
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 1
    assert "ERROR creating table main.a_llm" in result.output and cause in result.output
    assert "OK created table main.b_llm" in result.output, result.output
    assert "already created" not in result.output
    assert query(root, "select count(mood) from b_llm") == [(4,)]
    assert query(root, "select temp_tables from c_after") == [(0,)]


@pytest.mark.parametrize("method", ["cascade", "auto"])
def test_a_cascade_or_auto_column_builds_and_its_account_names_the_method_used(make_project, cli, query, method):
    root = make_project({"seeds/reviews.csv": "review_id,body\n" + "".join(f"{i},review {i % 150}\n" for i in range(600)),
                         "models/review_moods.sql": (MODEL % ("table", "")).replace(
                             "labels => ['yes', 'no'])", f"labels => ['yes', 'no'], method => '{method}')")})
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert query(root, "select count(*) from review_moods where happy in ('yes', 'no')") == [(600,)]
    (task,) = llm_extras(root)["tasks"]
    account = task["account"]
    assert account["method"] == method and account["method_used"] in ("mix", "cascade")
    assert sum(account["row_shares"].values()) == pytest.approx(1.0)
    assert account["lower_bound"] >= task["options"]["accuracy"]
