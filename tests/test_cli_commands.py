"""dbt's commands and flags: parse, show, retry, list, source freshness, docs generate, --fail-fast,
--empty, --warn-error, --target-path, --state; and the artifacts in dbt's shape."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

FILES = {
    "seeds/raw.csv": "id,amount\n1,10\n2,20\n",
    "models/staging/stg.sql": "select * from {{ ref('raw') }}",
    "models/marts/big.sql": "{{ config(materialized='table') }} select * from {{ ref('stg') }} where amount > 15",
    "models/marts/broken.sql": "select * from {{ ref('stg') }} where",
    "models/marts/after_broken.sql": "select * from {{ ref('broken') }}",
    "models/schema.yml": "models:\n  - name: stg\n    columns:\n      - name: id\n        tests: [unique]\n",
}


def _cli(cli, root: Path, *args: str):
    return cli(*args, "--project-dir", root, "--profiles-dir", root)


def _results(root: Path, folder: str = "target") -> dict[str, dict]:
    payload = json.loads((root / folder / "run_results.json").read_text())
    return {entry["unique_id"]: entry for entry in payload["results"]}


def test_parse_writes_the_manifest_and_touches_no_database(make_dbt_project, cli):
    root = make_dbt_project(FILES)
    result = _cli(cli, root, "parse")
    assert result.exit_code == 0, result.output
    assert "parsed 6 nodes and 0 sources; wrote target/manifest.json" in result.output.replace(str(root) + "/", "")
    assert not (root / "target" / "dev.duckdb").exists()
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    assert manifest["metadata"]["dbt_schema_version"] == "https://schemas.getdbt.com/dbt/manifest/v12.json"
    assert {"seed.shop.raw", "model.shop.stg", "model.shop.big"} <= set(manifest["nodes"])
    assert manifest["parent_map"]["model.shop.big"] == ["model.shop.stg"]
    assert "model.shop.big" in manifest["child_map"]["model.shop.stg"]


def test_the_manifest_has_dbts_keys_and_checksums(make_dbt_project, cli):
    root = make_dbt_project(FILES)
    _cli(cli, root, "parse")
    node = json.loads((root / "target" / "manifest.json").read_text())["nodes"]["model.shop.stg"]
    assert node["fqn"] == ["shop", "staging", "stg"] and node["path"] == "staging/stg.sql"
    assert node["original_file_path"] == "models/staging/stg.sql" and node["relation_name"] == "dev.main.stg"
    assert node["depends_on"] == {"macros": [], "nodes": ["seed.shop.raw"]}
    assert node["refs"] == [{"name": "raw", "package": None, "version": None}]
    # dbt's checksum: sha256 of the file without surrounding whitespace
    assert node["checksum"] == {"name": "sha256",
                                "checksum": hashlib.sha256(b"select * from {{ ref('raw') }}").hexdigest()}


def test_run_results_have_dbts_fields_and_keep_ours(make_dbt_project, cli):
    root = make_dbt_project(FILES)
    _cli(cli, root, "build")
    payload = json.loads((root / "target" / "run_results.json").read_text())
    assert payload["metadata"]["dbt_schema_version"] == "https://schemas.getdbt.com/dbt/run-results/v6.json"
    assert payload["args"]["which"] == "build"
    big = {entry["unique_id"]: entry for entry in payload["results"]}["model.shop.big"]
    assert big["status"] == "success" and big["relation_name"] == "dev.main.big" and big["failures"] is None
    assert big["compiled"] is True and "where amount > 15" in big["compiled_code"]
    assert big["timing"][0]["name"] == "execute" and big["thread_id"] and big["execution_time"] > 0
    assert big["adapter_response"]["rows_affected"] == 1
    assert big["rows_affected"] == 1 and big["extras"] == {} and big["description"] == "created table main.big"
    assert (root / "target" / "compiled" / "shop" / "models" / "marts" / "big.sql").is_file()


def test_list_is_ls_with_dbts_outputs(make_dbt_project, cli):
    root = make_dbt_project(FILES)
    selector = _cli(cli, root, "list", "-s", "stg", "--resource-type", "model")
    assert selector.output.split() == ["shop.staging.stg"]
    path = _cli(cli, root, "ls", "-s", "stg", "--resource-type", "model", "--output", "path")
    assert path.output.split() == ["models/staging/stg.sql"]
    line = _cli(cli, root, "ls", "-s", "stg", "--resource-type", "model", "--output", "json").output.strip()
    assert json.loads(line)["unique_id"] == "model.shop.stg" and json.loads(line)["config"]["materialized"] == "view"


def test_show_previews_a_model_and_inline_sql_with_refs(make_dbt_project, cli):
    root = make_dbt_project(FILES)
    _cli(cli, root, "build", "-s", "+big")
    shown = _cli(cli, root, "show", "-s", "stg", "--limit", "1")
    assert shown.exit_code == 0, shown.output
    assert "Previewing node 'stg':\n| id | amount |\n| --- | ------ |\n| 1 | 10 |\n" in shown.output
    inline = _cli(cli, root, "show", "--inline", "select sum(amount) as total from {{ ref('raw') }}")
    assert "Previewing inline node:\n| total |\n| ----- |\n| 30 |\n" in inline.output
    refused = _cli(cli, root, "show")
    assert refused.exit_code == 2 and "show needs --select NODE or --inline" in refused.output


def test_fail_fast_skips_everything_after_the_first_failure(make_dbt_project, cli):
    root = make_dbt_project({**FILES, "models/marts/report.sql": "select * from {{ ref('big') }}"})
    result = _cli(cli, root, "build", "-x")
    assert result.exit_code == 1
    statuses = {uid: entry["status"] for uid, entry in _results(root).items()}
    assert statuses["model.shop.broken"] == "error"
    assert statuses["model.shop.report"] == "skipped"  # it does not depend on broken, but came after it
    assert _results(root)["model.shop.report"]["message"] == "skipped because broken failed and --fail-fast stops the run"
    without = _cli(cli, root, "build")
    assert without.exit_code == 1 and _results(root)["model.shop.report"]["status"] == "success"


def test_retry_reruns_only_what_failed_or_was_skipped(make_dbt_project, cli):
    root = make_dbt_project(FILES)
    assert _cli(cli, root, "build").exit_code == 1
    (root / "models" / "marts" / "broken.sql").write_text("select * from {{ ref('stg') }}")
    result = _cli(cli, root, "retry")
    assert result.exit_code == 0, result.output
    assert set(_results(root)) == {"model.shop.broken", "model.shop.after_broken"}
    again = _cli(cli, root, "retry")
    assert "Nothing to retry: the last build had no errors" in again.output and again.exit_code == 0


def test_retry_without_a_previous_run_is_refused(make_dbt_project, cli):
    root = make_dbt_project(FILES)
    result = _cli(cli, root, "retry")
    assert result.exit_code == 2 and "retry: no previous run to retry" in result.output


def test_empty_builds_every_model_with_no_rows(make_dbt_project, cli, query):
    root = make_dbt_project({key: value for key, value in FILES.items() if "broken" not in key})
    result = _cli(cli, root, "build", "--empty")
    assert result.exit_code == 0, result.output
    assert query(root, "select count(*) from main.big") == [(0,)]
    assert query(root, "select count(*) from main.raw") == [(2,)]  # seeds are loaded, as in dbt
    compiled = (root / "target" / "compiled" / "shop" / "models" / "marts" / "big.sql").read_text()
    assert 'from (select * from "main"."stg" where false limit 0)' in compiled


def test_warn_error_turns_a_warning_test_into_a_failure(make_dbt_project, cli):
    files = {**{key: value for key, value in FILES.items() if "broken" not in key},
             "tests/warns.sql": "{{ config(severity='warn') }} select * from {{ ref('stg') }}"}
    root = make_dbt_project(files)
    assert _cli(cli, root, "build").exit_code == 0
    result = _cli(cli, root, "build", "--warn-error")
    assert result.exit_code == 1
    assert _results(root)["test.shop.warns"]["status"] == "fail"


def test_warn_error_stops_on_a_project_warning(make_dbt_project, cli):
    root = make_dbt_project({**FILES, "dbt_project.yml": "name: shop\nprofile: shop\nmodels:\n  shop:\n    nosuch:\n"
                                                         "      +materialized: table\n"})
    result = _cli(cli, root, "parse", "--warn-error")
    assert result.exit_code == 2 and "--warn-error:" in result.output and "matches no model" in result.output


def test_target_path_moves_every_artifact(make_dbt_project, cli):
    root = make_dbt_project({key: value for key, value in FILES.items() if "broken" not in key})
    assert _cli(cli, root, "build", "--target-path", "elsewhere").exit_code == 0
    assert (root / "elsewhere" / "manifest.json").is_file() and (root / "elsewhere" / "run_results.json").is_file()
    assert (root / "elsewhere" / "compiled" / "shop" / "models" / "staging" / "stg.sql").is_file()
    assert not (root / "target" / "run_results.json").exists()


def test_state_modified_and_new_compare_with_an_earlier_manifest(make_dbt_project, cli, tmp_path):
    root = make_dbt_project(FILES)
    _cli(cli, root, "parse")
    state = tmp_path / "prod"
    shutil.copytree(root / "target", state)
    (root / "models" / "staging" / "stg.sql").write_text("select id, amount from {{ ref('raw') }}")
    (root / "models" / "marts" / "big.sql").write_text(
        "{{ config(materialized='table', tags=['x']) }} select * from {{ ref('stg') }} where amount > 15")
    (root / "models" / "marts" / "fresh.sql").write_text("select 1 as x")

    def listed(*selection: str) -> list[str]:
        result = _cli(cli, root, "ls", "--state", str(state), "--resource-type", "model", "--output", "name",
                      *selection)
        assert result.exit_code == 0, result.output
        return result.output.split()

    assert listed("-s", "state:modified") == ["big", "fresh", "stg"]
    assert listed("-s", "state:new") == ["fresh"]
    assert listed("-s", "state:modified.body") == ["big", "stg"]  # big's config() is in its file
    assert listed("-s", "state:modified.configs") == ["big"]
    assert listed("-s", "state:modified+", "--exclude", "broken+") == ["big", "fresh", "stg"]


def test_state_from_a_dbt_manifest_is_refused(make_dbt_project, cli, tmp_path):
    root = make_dbt_project(FILES)
    (tmp_path / "dbt_state").mkdir()
    (tmp_path / "dbt_state" / "manifest.json").write_text(json.dumps(
        {"metadata": {"dbt_version": "1.11.16"}, "nodes": {}}))
    result = _cli(cli, root, "ls", "--state", str(tmp_path / "dbt_state"), "-s", "state:modified")
    assert result.exit_code == 2 and "was written by dbt, not by smart-sql" in result.output
    missing = _cli(cli, root, "ls", "--state", str(tmp_path / "none"), "-s", "state:new")
    assert missing.exit_code == 2 and "there is no manifest.json in it" in missing.output


FRESHNESS_YML = """\
sources:
  - name: ops
    schema: main
    loaded_at_field: loaded_at
    freshness:
      warn_after: {count: 1, period: hour}
      error_after: {count: 1, period: day}
    tables:
      - name: recent
      - name: stale
      - name: old
        freshness:
          warn_after: {count: 1, period: day}
      - name: unchecked
        freshness: null
"""


def test_source_freshness_warns_and_errors_by_age_and_writes_sources_json(make_dbt_project, cli):
    root = make_dbt_project({"models/sources.yml": FRESHNESS_YML})
    (root / "target").mkdir()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with duckdb.connect(str(root / "target" / "dev.duckdb")) as conn:
        for table, age in (("recent", timedelta(minutes=5)), ("stale", timedelta(hours=3)),
                           ("old", timedelta(days=2)), ("unchecked", timedelta(days=9))):
            conn.execute(f"create table main.{table} as select ?::timestamp as loaded_at", [now - age])
    result = _cli(cli, root, "source", "freshness")
    assert result.exit_code == 1, result.output
    sources = json.loads((root / "target" / "sources.json").read_text())
    assert sources["metadata"]["dbt_schema_version"] == "https://schemas.getdbt.com/dbt/sources/v3.json"
    statuses = {entry["unique_id"]: entry["status"] for entry in sources["results"]}
    assert statuses == {"source.shop.ops.recent": "pass", "source.shop.ops.stale": "warn",
                        "source.shop.ops.old": "error"}  # its warn_after over the source's error_after, as dbt merges
    stale = next(entry for entry in sources["results"] if entry["unique_id"] == "source.shop.ops.stale")
    assert 3 * 3600 - 60 < stale["max_loaded_at_time_ago_in_s"] < 3 * 3600 + 60
    assert stale["criteria"]["warn_after"] == {"count": 1, "period": "hour"}
    only = _cli(cli, root, "source", "freshness", "-s", "source:ops.recent")
    assert only.exit_code == 0 and "PASS freshness of ops.recent" in only.output


def test_freshness_runs_the_project_hooks_unless_the_flag_says_not(make_dbt_project, cli, query):
    yml = ("sources:\n  - name: ops\n    schema: main\n    loaded_at_field: loaded\n"
           "    freshness: {warn_after: {count: 1, period: hour}}\n    tables:\n      - name: empty\n")
    hooks = ("name: shop\nprofile: shop\non-run-start: \"create table if not exists main.audit (event varchar)\"\n"
             "on-run-end: \"insert into main.audit values ('end')\"\n")
    root = make_dbt_project({"models/sources.yml": yml, "dbt_project.yml": hooks})
    (root / "target").mkdir()
    with duckdb.connect(str(root / "target" / "dev.duckdb")) as conn:
        conn.execute("create table main.empty (loaded timestamp)")
    result = _cli(cli, root, "source", "freshness")
    assert result.exit_code == 0 and "WARN freshness of ops.empty [no rows]" in result.output, result.output
    entry = json.loads((root / "target" / "sources.json").read_text())["results"][0]
    assert entry["max_loaded_at"] == "0001-01-01T00:00:00+00:00" and entry["status"] == "warn"
    assert query(root, "select * from main.audit") == [("end",)]
    (root / "dbt_project.yml").write_text(hooks + "flags:\n  source_freshness_run_project_hooks: false\n")
    assert _cli(cli, root, "source", "freshness").exit_code == 0
    assert query(root, "select count(*) from main.audit") == [(1,)]


def test_freshness_without_loaded_at_field_is_refused(make_dbt_project, cli):
    yml = "sources:\n  - name: ops\n    freshness: {warn_after: {count: 1, period: hour}}\n    tables:\n      - name: t\n"
    root = make_dbt_project({"models/sources.yml": yml})
    result = _cli(cli, root, "source", "freshness")
    assert result.exit_code == 2 and "has `freshness:` but no `loaded_at_field:`" in result.output


def test_docs_generate_writes_a_catalog_with_columns_types_and_stats(make_dbt_project, cli):
    root = make_dbt_project({key: value for key, value in FILES.items() if "broken" not in key})
    _cli(cli, root, "build")
    result = _cli(cli, root, "docs", "generate")
    assert result.exit_code == 0, result.output
    catalog = json.loads((root / "target" / "catalog.json").read_text())
    assert catalog["metadata"]["dbt_schema_version"] == "https://schemas.getdbt.com/dbt/catalog/v1.json"
    big = catalog["nodes"]["model.shop.big"]
    assert big["metadata"]["type"] == "BASE TABLE" and big["metadata"]["schema"] == "main"
    assert big["columns"]["amount"] == {"type": "INTEGER", "index": 2, "name": "amount", "comment": None}
    assert big["stats"]["row_count"]["value"] == 1
    assert catalog["nodes"]["model.shop.stg"]["metadata"]["type"] == "VIEW"
    assert (root / "target" / "manifest.json").is_file()


def test_show_refuses_both_a_node_and_inline_sql(make_dbt_project, cli):
    root = make_dbt_project(FILES)
    result = _cli(cli, root, "show", "-s", "stg", "--inline", "select 1")
    assert result.exit_code == 2 and "show takes --select or --inline, not both" in result.output


def test_retry_refuses_a_command_it_cannot_rerun(make_dbt_project, cli):
    root = make_dbt_project(FILES)
    (root / "target").mkdir()
    (root / "target" / "run_results.json").write_text(json.dumps({"args": {"which": "run-operation"},
                                                                  "results": []}))
    result = _cli(cli, root, "retry")
    assert result.exit_code == 2 and "the last run was 'run-operation'" in result.output


def test_retry_keeps_the_options_of_the_run_it_retries(make_dbt_project, cli, query):
    root = make_dbt_project(FILES)
    assert _cli(cli, root, "build", "--empty", "--target-path", "t2").exit_code == 1
    (root / "models" / "marts" / "broken.sql").write_text("select * from {{ ref('stg') }}")
    assert _cli(cli, root, "retry", "--target-path", "t2").exit_code == 0
    assert set(_results(root, "t2")) == {"model.shop.broken", "model.shop.after_broken"}
    assert query(root, "select count(*) from main.after_broken") == [(0,)]  # still --empty


@pytest.mark.parametrize("yml, message", [
    ("sources:\n  - name: ops\n    config: {loaded_at_query: select 1}\n"
     "    freshness: {warn_after: {count: 1, period: hour}}\n"
     "    tables:\n      - name: t\n", "`loaded_at_query` is not supported yet"),
    ("sources:\n  - name: ops\n    loaded_at_field: at\n    freshness: {warn_after: {count: 1, period: week}}\n"
     "    tables:\n      - name: t\n", "freshness.warn_after must be {count: <whole number>, period: minute|hour|day}"),
])
def test_freshness_refusals(make_dbt_project, cli, yml, message):
    root = make_dbt_project({"models/sources.yml": yml})
    result = _cli(cli, root, "source", "freshness")
    assert result.exit_code == 2 and message in result.output, result.output


def test_freshness_in_the_project_file_is_refused(make_dbt_project, cli):
    root = make_dbt_project({"dbt_project.yml": "name: shop\nprofile: shop\nsources:\n  shop:\n"
                                                "    +freshness: {warn_after: {count: 1, period: hour}}\n"})
    result = _cli(cli, root, "source", "freshness")
    assert result.exit_code == 2 and "sets freshness or loaded_at_field" in result.output, result.output


def test_retry_uses_the_vars_of_the_run_it_retries(make_dbt_project, cli, query):
    model = "select * from {{ ref('stg') }} where amount > {{ var('floor') }}"
    files = {**{key: value for key, value in FILES.items() if "broken" not in key},
             "models/marts/limited.sql": model + " and nosuch > 0"}
    root = make_dbt_project(files)
    assert _cli(cli, root, "build", "--vars", "{floor: 15}").exit_code == 1
    (root / "models" / "marts" / "limited.sql").write_text(model)
    retried = _cli(cli, root, "retry")  # without --vars, var('floor') would not render
    assert retried.exit_code == 0, retried.output
    assert set(_results(root)) == {"model.shop.limited"}
    assert query(root, "select id from main.limited") == [(2,)]


def test_target_path_leaves_the_llm_response_cache_where_it_was(make_project):
    from smart_sql.flags import RunFlags
    from smart_sql.project import load_project

    project = load_project(make_project({"models/m.sql": "select 1 as x"}))
    before = project.llm_cache_path
    project.flags = RunFlags(target_path="elsewhere")
    assert project.llm_cache_path == before == project.root / "target" / "llm_cache.sqlite"
    assert project.target_path == project.root / "elsewhere"
