"""Loading projects: config, folder defaults, YAML properties, sources, dependencies."""

from __future__ import annotations

import pytest

from smart_sql.errors import ConfigError
from smart_sql.project import Relation, folder_config, load_project, merge_config


def test_folder_config_walks_down_the_folders_and_accumulates_tags():
    block = {"demo": {"+tags": ["all"], "staging": {"+materialized": "view", "+tags": "stg",
                                                   "legacy": {"materialized": "table"}}}}
    assert folder_config(block, [], "demo") == {"tags": ["all"]}
    assert folder_config(block, ["staging"], "demo") == {"tags": ["all", "stg"], "materialized": "view"}
    assert folder_config(block, ["staging", "legacy"], "demo")["materialized"] == "table"
    assert folder_config(block, ["marts"], "demo") == {"tags": ["all"]}


def test_folder_config_without_the_project_name_level():
    assert folder_config({"staging": {"+materialized": "view"}}, ["staging"], "demo") == {"materialized": "view"}


def test_merge_config_overrides_values_and_unions_tags():
    config = merge_config({"materialized": "view", "tags": ["a"]}, {"materialized": "table", "tags": ["b", "a"]})
    assert config == {"materialized": "table", "tags": ["a", "b"]}


def test_config_precedence_folder_then_yaml_then_file(make_project):
    root = make_project({
        "smart_sql_project.yml": """\
            name: demo
            profile: demo
            models:
              demo:
                staging: {+materialized: view, +tags: [staging], +unique_key: id}
        """,
        "models/staging/by_folder.sql": "select 1 as id",
        "models/staging/by_yaml.sql": "select 1 as id",
        "models/staging/by_file.sql": "{{ config(materialized='incremental', tags=['file']) }} select 1 as id",
        "models/staging/props.yml": """\
            models:
              - name: by_yaml
                config: {materialized: table}
              - name: by_file
                config: {materialized: table, tags: [yaml]}
        """,
    })
    models = load_project(root).models
    assert models["by_folder"].materialized == "view"
    assert models["by_yaml"].materialized == "table"
    assert models["by_file"].materialized == "incremental"
    assert models["by_file"].tags == ["staging", "yaml", "file"]
    assert models["by_file"].config["unique_key"] == "id"


def test_dependencies_come_from_ref_and_source(make_project):
    root = make_project({
        "seeds/raw.csv": "id\n1\n",
        "models/a.sql": "select * from {{ ref('raw') }}",
        "models/b.sql": "select * from {{ ref('a') }} join {{ source('ext', 'seeded') }} using (id) "
                        "join {{ source('ext', 'elsewhere') }} using (id)",
        "models/sources.yml": """\
            sources:
              - name: ext
                tables:
                  - {name: seeded, identifier: raw}
                  - {name: elsewhere, schema: other}
        """,
    })
    project = load_project(root)
    assert project.models["a"].depends_on == ["seed.demo.raw"]
    assert project.models["b"].depends_on == ["model.demo.a", "seed.demo.raw"]
    assert project.sources[("ext", "elsewhere")].relation == Relation("other", "elsewhere")
    assert project.sources[("ext", "elsewhere")].node_id is None


def test_properties_carry_descriptions_columns_and_tests(make_project):
    root = make_project({
        "models/m.sql": "select 1 as id",
        "models/m.yml": """\
            models:
              - name: m
                description: One row.
                columns:
                  - name: id
                    description: The key.
                    tests: [not_null]
                    data_tests: [unique]
        """,
    })
    project = load_project(root)
    assert project.models["m"].description == "One row."
    assert project.models["m"].columns == {"id": "The key."}
    assert sorted(project.tests) == ["not_null_m_id", "unique_m_id"]


def test_disabled_models_are_left_out(make_project):
    root = make_project({"models/off.sql": "{{ config(enabled=false) }} select 1", "models/on.sql": "select 1"})
    assert list(load_project(root).models) == ["on"]


def test_ref_to_a_disabled_model_is_an_error(make_project):
    root = make_project({"models/off.sql": "{{ config(enabled=false) }} select 1",
                         "models/on.sql": "select * from {{ ref('off') }}"})
    with pytest.raises(ConfigError, match="disabled"):
        load_project(root)


def test_two_models_with_one_name_is_an_error(make_project):
    root = make_project({"models/a/m.sql": "select 1", "models/b/m.sql": "select 2"})
    with pytest.raises(ConfigError, match="two files define 'm'"):
        load_project(root)


def test_properties_for_a_missing_model_is_an_error(make_project):
    root = make_project({"models/orders.sql": "select 1", "models/p.yml": "models:\n  - name: order\n"})
    with pytest.raises(ConfigError, match="no such model") as error:
        load_project(root)
    assert "orders" in error.value.hint


def test_unknown_key_in_project_file(make_project):
    root = make_project({"smart_sql_project.yml": "name: demo\nprofile: demo\nmodel_paths: [m]\n"})
    with pytest.raises(ConfigError, match="unknown key"):
        load_project(root)


def test_custom_paths_and_cli_vars(make_project):
    root = make_project({
        "smart_sql_project.yml": "name: demo\nprofile: demo\nmodel-paths: [sql]\ntarget-path: out\nvars: {a: 1, b: 2}\n",
        "sql/m.sql": "select {{ var('a') }} + {{ var('b') }}",
    })
    project = load_project(root, vars={"b": 5})
    assert list(project.models) == ["m"]
    assert project.target_path == root / "out"
    assert project.vars == {"a": 1, "b": 5}
    assert project.llm_cache_path == root / "out" / "llm_cache.sqlite"


def test_model_level_tests_name_their_column(make_project):
    root = make_project({
        "models/m.sql": "select 1 as id",
        "models/m.yml": "models:\n  - name: m\n    tests:\n      - unique: {column_name: id}\n",
    })
    test = load_project(root).tests["unique_m_id"]
    assert (test.kind, test.column, test.arguments) == ("unique", "id", {})


def test_model_level_test_without_a_column_is_an_error(make_project):
    root = make_project({"models/m.sql": "select 1 as id", "models/m.yml": "models:\n  - name: m\n    tests: [unique]\n"})
    with pytest.raises(ConfigError, match="names no column"):
        load_project(root)


def test_misspelt_key_in_properties_is_an_error(make_project):
    root = make_project({
        "models/m.sql": "select 1 as id",
        "models/m.yml": "models:\n  - name: m\n    columns:\n      - name: id\n        test: [unique]\n",
    })
    with pytest.raises(ConfigError, match=r"column m.id: unknown key\(s\) test"):
        load_project(root)


def test_data_tests_on_an_ephemeral_model_are_an_error(make_project):
    root = make_project({
        "models/e.sql": "{{ config(materialized='ephemeral') }} select 1 as id",
        "models/e.yml": "models:\n  - name: e\n    columns:\n      - name: id\n        tests: [unique]\n",
    })
    with pytest.raises(ConfigError, match="ephemeral"):
        load_project(root)
