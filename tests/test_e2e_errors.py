"""Each configuration or model error: one clear message naming the file, the right exit code, no traceback."""

from __future__ import annotations

import subprocess

import pytest

from conftest import smart_sql_command


def _fails(result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def test_bad_yaml_in_a_properties_file_names_file_and_line(make_project, cli):
    root = make_project({"models/m.sql": "select 1 as x", "models/schema.yml": "models:\n  - name: m\n   bad: [\n"})
    _fails(cli("build", "--project-dir", root), 2, "models/schema.yml:", "invalid YAML")


def test_bad_yaml_in_the_project_file(make_project, cli):
    root = make_project({"smart_sql_project.yml": "name: demo\nprofile: [demo\n"})
    _fails(cli("run", "--project-dir", root), 2, "smart_sql_project.yml", "invalid YAML")


def test_missing_project_file(tmp_path, cli):
    _fails(cli("build", "--project-dir", tmp_path), 2, "no smart_sql_project.yml", "smart-sql init")


def test_unknown_profile(make_project, cli):
    root = make_project({"smart_sql_project.yml": "name: demo\nprofile: elsewhere\n"})
    _fails(cli("build", "--project-dir", root), 2, "profile 'elsewhere' not found", "profiles.yml")


def test_unknown_target(make_project, cli):
    root = make_project()
    _fails(cli("build", "--project-dir", root, "--target", "prod"), 2, "target 'prod' not found", "targets: dev")


def test_missing_env_var_in_profiles(make_project, cli, monkeypatch):
    monkeypatch.delenv("SMART_SQL_TEST_MISSING", raising=False)
    root = make_project({"profiles.yml": """\
        demo:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: "{{ env_var('SMART_SQL_TEST_MISSING') }}"
    """})
    _fails(cli("build", "--project-dir", root), 2, "profiles.yml", "'SMART_SQL_TEST_MISSING' is not set")


def test_env_var_default_and_value_in_profiles(make_project, cli, monkeypatch, tmp_path):
    root = make_project({"profiles.yml": """\
        demo:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: "{{ env_var('SMART_SQL_TEST_DB', 'target/default.duckdb') }}"
    """, "models/m.sql": "select 1 as x"})
    assert cli("run", "--project-dir", root).exit_code == 0
    assert (root / "target/default.duckdb").is_file()
    monkeypatch.setenv("SMART_SQL_TEST_DB", "target/from_env.duckdb")
    assert cli("run", "--project-dir", root).exit_code == 0
    assert (root / "target/from_env.duckdb").is_file()


def test_invalid_llm_block_names_profiles_file(make_project, cli):
    root = make_project({"profiles.yml": """\
        demo:
          target: dev
          outputs:
            dev: {type: duckdb, path: ":memory:", llm: {provider: telepathy}}
    """})
    _fails(cli("debug", "--project-dir", root), 2, "profiles.yml", "unknown provider 'telepathy'")


def test_jinja_syntax_error_names_file_and_line(make_project, cli):
    root = make_project({"models/m.sql": "select 1 as x\nfrom {{ ref('a' }}\n"})
    _fails(cli("build", "--project-dir", root), 1, "models/m.sql:2:", "Jinja syntax error")


def test_jinja_undefined_name_names_file_and_line(make_project, cli):
    root = make_project({"models/m.sql": "select 1 as x\n\n-- {{ no_such_macro() }}\n"})
    _fails(cli("build", "--project-dir", root), 1, "models/m.sql:3:", "no_such_macro")


def test_error_inside_a_macro_names_the_macro_file(make_project, cli):
    root = make_project({
        "macros/helpers.sql": "{% macro broken() %}\n{{ var('not_defined') }}\n{% endmacro %}",
        "models/m.sql": "select {{ broken() }} as x",
    })
    _fails(cli("build", "--project-dir", root), 1, "macros/helpers.sql:2:", "var('not_defined') is not defined")


def test_missing_env_var_in_a_model(make_project, cli, monkeypatch):
    monkeypatch.delenv("SMART_SQL_TEST_MISSING", raising=False)
    root = make_project({"models/m.sql": "select '{{ env_var(\"SMART_SQL_TEST_MISSING\") }}' as x"})
    _fails(cli("run", "--project-dir", root), 1, "models/m.sql:1:", "'SMART_SQL_TEST_MISSING' is not set")


def test_sql_error_fails_the_model_with_exit_1(make_project, cli):
    root = make_project({"models/m.sql": "selec 1"})
    _fails(cli("run", "--project-dir", root), 1, "ERROR creating table main.m", "models/m.sql", "syntax error",
           "target/compiled/models/m.sql")


def test_cycle_names_models_and_files(make_project, cli):
    root = make_project({
        "models/a.sql": "select * from {{ ref('c') }}",
        "models/b.sql": "select * from {{ ref('a') }}",
        "models/c.sql": "select * from {{ ref('b') }}",
    })
    _fails(cli("build", "--project-dir", root), 2, "cycle", "models/a.sql", "models/b.sql", "models/c.sql")


def test_unknown_ref_suggests_the_close_name(make_project, cli):
    root = make_project({"models/orders.sql": "select 1 as x", "models/m.sql": "select * from {{ ref('order') }}"})
    _fails(cli("build", "--project-dir", root), 2, "models/m.sql:1:", "'order'", "did you mean: orders")


def test_undeclared_source(make_project, cli):
    root = make_project({"models/m.sql": "select * from {{ source('shop', 'orders') }}"})
    _fails(cli("build", "--project-dir", root), 2, "models/m.sql", "source('shop', 'orders')", "not declared")


def test_unknown_materialization(make_project, cli):
    root = make_project({"models/m.sql": "{{ config(materialized='snapshot') }} select 1 as x"})
    _fails(cli("build", "--project-dir", root), 2, "models/m.sql", "unknown materialization 'snapshot'")


def test_unknown_data_test(make_project, cli):
    root = make_project({"models/m.sql": "select 1 as x",
                         "models/schema.yml": "models:\n  - name: m\n    columns:\n      - name: x\n        tests: [positive]\n"})
    _fails(cli("build", "--project-dir", root), 2, "models/schema.yml", "unknown test 'positive'")


def test_selector_that_matches_nothing(make_project, cli):
    root = make_project({"models/m.sql": "select 1 as x"})
    _fails(cli("build", "--project-dir", root, "--select", "nope"), 2, "selector 'nope' matches nothing")


def test_debug_flag_shows_the_traceback(make_project, cli):
    root = make_project({"models/m.sql": "select * from {{ ref('missing') }}"})
    result = cli("--debug", "build", "--project-dir", root)
    assert result.exit_code == 2
    assert "Traceback" in result.output


@pytest.mark.parametrize("command", ["compile", "ls"])
def test_a_closed_pipe_ends_the_output_quietly(make_project, command):
    root = make_project({f"models/m{i}.sql": "select 1 as x" for i in range(3)})
    process = subprocess.Popen([*smart_sql_command(), command, "--project-dir", str(root)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    errors = process.stderr.read()
    assert process.wait(timeout=60) in (0, 141)
    assert errors == ""
