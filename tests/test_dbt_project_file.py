"""dbt_project.yml: which project file wins, every key honoured, accepted or refused, rendering,
vars, clean-targets, on-run hooks; config keys refused with the file and the key."""

from __future__ import annotations

import pytest

from smart_sql.errors import ConfigError
from smart_sql.project import load_project

EVERY_ACCEPTED_KEY = """\
name: shop
version: "2.1.0"
config-version: 2
profile: shop
require-dbt-version: ">=1.7.0"
model-paths: [models]
seed-paths: [seeds]
macro-paths: [macros]
test-paths: [tests]
snapshot-paths: [snapshots]
analysis-paths: [analyses]
function-paths: [functions]
docs-paths: [docs]
asset-paths: [assets]
packages-install-path: dbt_packages
target-path: target
log-path: logs
clean-targets: [target, dbt_packages]
dispatch:
  - {macro_namespace: dbt_utils, search_order: [shop, dbt_utils]}
flags: {send_anonymous_usage_stats: false, use_colors: false}
quoting: {database: true, schema: true, identifier: true}
query-comment: "run by {{ target.name }}"
restrict-access: false
dbt-cloud: {project-id: 1234}
vars: {start: 1}
models: {shop: {+materialized: view}}
seeds: {shop: {+tags: [raw]}}
snapshots: {shop: {+target_schema: snapshots}}
data_tests: {shop: {+severity: error}}
analyses: {shop: {+enabled: true}}
unit_tests: {shop: {+enabled: true}}
sources: {shop: {+freshness: {warn_after: {count: 1, period: day}}}}
exposures: {shop: {+enabled: true}}
metrics: {}
semantic-models: {}
saved-queries: {}
functions: {}
on-run-start: []
on-run-end: []
"""


def test_dbt_project_file_is_read_when_there_is_no_smart_sql_project_file(make_dbt_project):
    root = make_dbt_project({"models/orders.sql": "select 1 as order_id"})
    project = load_project(root)
    assert project.name == "shop" and list(project.models) == ["orders"]
    assert project.models["orders"].materialized == "view"


def test_smart_sql_project_file_wins_when_both_exist(make_dbt_project):
    root = make_dbt_project({
        "smart_sql_project.yml": "name: ours\nprofile: shop\nmodel-paths: [ours]\n",
        "ours/a.sql": "select 1 as x",
        "models/b.sql": "select 2 as x",
    })
    project = load_project(root)
    assert project.name == "ours" and list(project.models) == ["a"]
    assert project.models["a"].materialized == "table"


def test_every_key_of_a_dbt_project_file_is_accepted(make_dbt_project, cli):
    root = make_dbt_project({"dbt_project.yml": EVERY_ACCEPTED_KEY, "models/orders.sql": "select {{ var('start') }} as x",
                             "tests/.gitkeep": "", "snapshots/.gitkeep": "", "analyses/.gitkeep": ""})
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert "OK created view main.orders" in result.output


def test_an_unknown_project_key_is_refused_with_the_keys_we_read(make_dbt_project):
    root = make_dbt_project({"dbt_project.yml": "name: shop\nprofile: shop\nmodel_paths: [models]\n"})
    with pytest.raises(ConfigError, match="unknown key.*model_paths") as error:
        load_project(root)
    assert error.value.path.endswith("dbt_project.yml") and "model-paths" in error.value.hint


def test_inline_packages_are_refused(make_dbt_project):
    root = make_dbt_project({"dbt_project.yml": "name: shop\nprofile: shop\npackages:\n  - {package: dbt-labs/dbt_utils}\n"})
    with pytest.raises(ConfigError, match="`packages:` in the project file is not read, as dbt does not read it"):
        load_project(root)


def test_config_version_1_is_refused_as_dbt_refuses_it(make_dbt_project):
    root = make_dbt_project({"dbt_project.yml": "name: shop\nprofile: shop\nconfig-version: 1\n"})
    with pytest.raises(ConfigError, match="config-version 1 is not supported"):
        load_project(root)


def test_deprecated_source_paths_and_data_paths_still_name_the_folders(make_dbt_project):
    root = make_dbt_project({
        "dbt_project.yml": "name: shop\nprofile: shop\nsource-paths: [sql]\ndata-paths: [csv]\n",
        "sql/m.sql": "select 1 as x", "csv/s.csv": "id\n1\n",
    })
    project = load_project(root)
    assert list(project.models) == ["m"] and list(project.seeds) == ["s"]


def test_project_file_strings_are_rendered_with_target_env_var_and_cli_vars(make_dbt_project, monkeypatch):
    monkeypatch.setenv("SHOP_MARTS_SCHEMA", "reporting")
    root = make_dbt_project({
        "dbt_project.yml": """\
            name: shop
            profile: shop
            models:
              shop:
                +materialized: "{{ 'table' if target.name == 'dev' else 'view' }}"
                +schema: "{{ env_var('SHOP_MARTS_SCHEMA') }}"
                +enabled: "{{ var('build_all', true) }}"
                +post-hook: "select '{{ this }}'"
        """,
        "models/m.sql": "select 1 as x",
    })
    model = load_project(root).models["m"]
    assert model.materialized == "table" and model.relation.schema == "main_reporting"
    assert model.config["post_hook"] == ["select '{{ this }}'"], "hooks are rendered when they run"
    assert list(load_project(root, vars={"build_all": False}).models) == []


def test_project_scoped_vars_override_global_ones_and_cli_vars_override_both(make_dbt_project):
    root = make_dbt_project({
        "dbt_project.yml": "name: shop\nprofile: shop\nvars:\n  region: eu\n  days: 7\n  shop: {days: 30}\n",
        "models/m.sql": "select '{{ var(\"region\") }}' as region, {{ var('days') }} as days",
    })
    project = load_project(root)
    assert (project.vars["region"], project.vars["days"]) == ("eu", 30)
    assert load_project(root, vars={"days": 1}).vars["days"] == 1


def test_clean_removes_the_clean_targets_and_keeps_the_llm_cache(make_dbt_project, cli):
    root = make_dbt_project({
        "dbt_project.yml": "name: shop\nprofile: shop\nclean-targets: [target, dbt_packages, logs]\n",
        "target/llm_cache.duckdb": "answers", "target/compiled/m.sql": "select 1",
        "dbt_packages/old/x.sql": "", "logs/dbt.log": "", "models/m.sql": "select 1",
    })
    result = cli("clean", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in root.iterdir()) == ["dbt_project.yml", "models", "profiles.yml", "target"]
    assert [p.name for p in (root / "target").iterdir()] == ["llm_cache.duckdb"]


def test_clean_refuses_a_clean_target_outside_the_project(make_dbt_project, cli):
    root = make_dbt_project({"dbt_project.yml": "name: shop\nprofile: shop\nclean-targets: [../elsewhere]\n"})
    (root.parent / "elsewhere").mkdir()
    result = cli("clean", "--project-dir", root)
    assert result.exit_code == 2 and "a clean target must be a folder inside the project" in result.output
    assert (root.parent / "elsewhere").is_dir()


RUN_START_FAILS = """\
name: shop
profile: shop
on-run-start:
  - "select * from no_such_table"
  - "create table never_created as select 1 as x"
on-run-end: "create table finished as select 1 as x"
"""


def test_a_failing_on_run_start_hook_skips_the_later_hooks_and_nodes_still_run_as_in_dbt(make_dbt_project, cli, query):
    root = make_dbt_project({"dbt_project.yml": RUN_START_FAILS, "models/m.sql": "select 1 as x"})
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 1
    assert "ERROR hook shop.on-run-start.0" in result.output and "SKIP hook shop.on-run-start.1" in result.output
    assert "on-run-start hook #1 failed" in result.output and "no_such_table" in result.output
    assert "OK created view main.m" in result.output
    assert query(root, "select table_name from information_schema.tables order by 1") == [("finished",), ("m",)]


def test_flag_skip_nodes_if_on_run_start_fails_skips_every_node(make_dbt_project, cli, query):
    root = make_dbt_project({"dbt_project.yml": RUN_START_FAILS + "flags: {skip_nodes_if_on_run_start_fails: true}\n",
                             "models/m.sql": "select 1 as x"})
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 1
    assert "SKIP model m (upstream on-run-start failed)" in result.output
    assert query(root, "select table_name from information_schema.tables") == [("finished",)]


@pytest.mark.parametrize("block, key", [
    ("models:\n  shop:\n    marts:\n      +sql_header: set x = 1\n", "models.shop.marts.+sql_header"),
    ("models:\n  +grants: {select: [reporter]}\n", "models.+grants"),
    ("seeds:\n  shop:\n    +quote_column: true\n", "seeds.shop.+quote_column"),
    ("data_tests:\n  +sql_header: select 1\n", "data_tests.+sql_header"),
    ("sources:\n  shop:\n    +enabled: false\n", "sources.shop.+enabled"),
])
def test_an_unsupported_config_in_the_project_file_is_refused_naming_the_file_and_key(make_dbt_project, block, key):
    root = make_dbt_project({"dbt_project.yml": "name: shop\nprofile: shop\n" + block})
    with pytest.raises(ConfigError) as error:
        load_project(root)
    assert error.value.path.endswith("dbt_project.yml") and key in error.value.message
    assert "not supported" in error.value.message and error.value.hint.startswith("remove it")


@pytest.mark.parametrize("files, where, message", [
    ({"models/m.sql": "select 1 as x", "models/m.yml": "models:\n  - name: m\n    config: {grants: {select: [a]}}\n"},
     "models/m.yml", "config `grants` is not supported"),
    ({"models/m.sql": "{{ config(materialized='materialized_view') }} select 1 as x"}, "models/m.sql",
     "unknown materialization 'materialized_view'"),
    ({"seeds/s.csv": "id\n1\n", "seeds/s.yml": "seeds:\n  - name: s\n    config: {materialized: table}\n"},
     "seeds/s.yml", "seed config `materialized` is not supported"),
])
def test_an_unsupported_node_config_is_refused_naming_its_file(make_dbt_project, files, where, message):
    root = make_dbt_project(files)
    with pytest.raises(ConfigError) as error:
        load_project(root)
    assert message in error.value.message and error.value.path.endswith(where)


def test_config_blocks_for_snapshots_tests_and_data_tests_are_accepted(make_dbt_project):
    for block in ("snapshots:\n  shop:\n    +target_schema: snaps\n    +strategy: timestamp\n",
                  "tests:\n  shop:\n    +severity: warn\n", "data_tests:\n  +enabled: true\n"):
        root = make_dbt_project({"dbt_project.yml": "name: shop\nprofile: shop\n" + block, "models/m.sql": "select 1"})
        assert list(load_project(root).models) == ["m"]


def test_tests_and_data_tests_blocks_together_are_refused_as_in_dbt(make_dbt_project):
    root = make_dbt_project({"dbt_project.yml": "name: shop\nprofile: shop\ntests: {+severity: warn}\n"
                                                "data_tests: {+severity: error}\n"})
    with pytest.raises(ConfigError, match="both `data_tests:` and `tests:`"):
        load_project(root)


def test_data_tests_block_sets_severity_and_enabled_by_folder(make_dbt_project):
    root = make_dbt_project({
        "dbt_project.yml": """\
            name: shop
            profile: shop
            data_tests:
              shop:
                staging: {+severity: warn}
                legacy: {+enabled: false}
        """,
        "models/staging/a.sql": "select 1 as id", "models/legacy/b.sql": "select 1 as id", "models/c.sql": "select 1 as id",
        "models/staging/a.yml": "models:\n  - name: a\n    columns: [{name: id, data_tests: [unique]}]\n",
        "models/legacy/b.yml": "models:\n  - name: b\n    columns: [{name: id, data_tests: [unique]}]\n",
        "models/c.yml": "models:\n  - name: c\n    columns: [{name: id, data_tests: [unique, {not_null: {config: {severity: warn}}}]}]\n",
    })
    tests = load_project(root).tests
    assert {name: test.severity for name, test in tests.items()} == {
        "unique_a_id": "warn", "unique_c_id": "error", "not_null_c_id": "warn"}


def test_our_project_file_takes_on_run_hooks_and_clean_targets_too(make_project, cli, query):
    root = make_project({
        "smart_sql_project.yml": "name: demo\nprofile: demo\nclean-targets: [target, scratch]\n"
                                 "on-run-start: create table started as select 1 as x\n",
        "models/m.sql": "select 1 as x", "scratch/tmp.txt": "",
    })
    assert cli("build", "--project-dir", root).exit_code == 0
    assert query(root, "select count(*) from started") == [(1,)]
    assert cli("clean", "--project-dir", root).exit_code == 0
    assert not (root / "scratch").exists() and not (root / "target").exists()


def test_profile_is_required(make_dbt_project):
    root = make_dbt_project({"dbt_project.yml": "name: shop\n"})
    with pytest.raises(ConfigError, match="`profile:` is required"):
        load_project(root)


def test_yaml_strings_of_sources_and_configs_are_rendered(make_dbt_project, monkeypatch):
    monkeypatch.setenv("SHOP_RAW_SCHEMA", "landing")
    root = make_dbt_project({
        "models/m.sql": "select * from {{ source('erp', 'orders') }}",
        "models/m.yml": """\
            sources:
              - name: erp
                schema: "{{ env_var('SHOP_RAW_SCHEMA') }}"
                tables: [{name: orders, identifier: "orders_{{ target.name }}"}]
            models:
              - name: m
                config:
                  alias: "m_{{ var('suffix', 'x') }}"
                  post_hook: "select count(*) from {{ this }}"
        """,
    })
    project = load_project(root)
    assert str(project.sources[("erp", "orders")].relation) == '"landing"."orders_dev"'
    assert project.models["m"].relation.identifier == "m_x"
    assert project.models["m"].config["post_hook"] == ["select count(*) from {{ this }}"], "rendered when it runs"


def test_config_paths_that_apply_to_nothing_are_warned_about_as_dbt_does(make_dbt_project, cli):
    """dbt 1.11 builds stg_a as a table and stg_b as a view here, and warns about the same two paths."""
    root = make_dbt_project({
        "dbt_project.yml": """\
            name: shop
            profile: shop
            models:
              staging: {+materialized: table}
              shop:
                stagign: {+materialized: table}
                staging:
                  stg_a: {+materialized: table}
        """,
        "models/staging/stg_a.sql": "select 1 as x", "models/staging/stg_b.sql": "select 1 as x",
    })
    result = cli("run", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert "OK created table main.stg_a" in result.output and "OK created view main.stg_b" in result.output
    assert "Warning: " in result.output
    assert "models.staging configures the package 'staging', which is not this project ('shop')" in result.output
    assert "models.shop.stagign matches no model; its configs apply to nothing" in result.output
