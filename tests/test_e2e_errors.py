"""Each configuration or model error: one clear message naming the file, the right exit code, no traceback."""

from __future__ import annotations

import subprocess

import pytest

from conftest import SIM_LARGE, openai_profiles, smart_sql_command


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
           "target/compiled/demo/models/m.sql")


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


BASE = "select 1 as id, 'high' as priority, 'Printer is on fire' as body"


def test_sql_error_names_the_line_and_column_of_the_model_file_and_shows_it(make_project, cli):
    root = make_project({"models/base.sql": BASE, "models/m.sql": "select id,\n       foo\nfrom {{ ref('base') }}\n"})
    _fails(cli("build", "--project-dir", root), 1, "models/m.sql:2:8: model 'm' failed: Binder Error: "
           'Referenced column "foo" not found', "  2 |        foo\n", "    |        ^\n")
    assert "LINE 3" not in cli("build", "--project-dir", root).output, "DuckDB's line counts its wrapped statement"


def test_sql_error_after_a_jinja_header_and_an_ephemeral_model_keeps_the_file_line(make_project, cli):
    root = make_project({
        "models/base.sql": BASE,
        "models/eph.sql": "{{ config(materialized='ephemeral') }}\nselect *\nfrom {{ ref('base') }}",
        "models/m.sql": "{{ config(materialized='table') }}\n\nselect id,\n  {{ 'prio' ~ 'rity' }}, foo\n"
                        "from {{ ref('eph') }}\n",
    })
    _fails(cli("build", "--project-dir", root), 1, "models/m.sql:4:26: model 'm' failed", '"foo" not found',
           "  4 |   {{ 'prio' ~ 'rity' }}, foo\n")


@pytest.mark.parametrize("config, wrong_when", [("materialized='view'", "true"),
                                                ("materialized='incremental'", "is_incremental()"),
                                                ("materialized='incremental', unique_key='id'", "is_incremental()")])
def test_views_and_incremental_inserts_place_their_errors_too(make_project, cli, config, wrong_when):
    line = f"  {{% if {wrong_when} %}}nope{{% else %}}body{{% endif %}} as b"
    root = make_project({"models/base.sql": BASE, "models/m.sql": f"{{{{ config({config}) }}}}\nselect id,\n{line}\n"
                                                                  "from {{ ref('base') }}\n"})
    if wrong_when != "true":
        assert cli("build", "--project-dir", root).exit_code == 0
    _fails(cli("build", "--project-dir", root), 1, f"models/m.sql:3:{line.index('nope') + 1}: model 'm' failed",
           '"nope" not found', f"  3 | {line}\n")


def test_an_error_in_the_output_of_a_multi_line_macro_names_the_compiled_line(make_project, cli):
    root = make_project({
        "models/base.sql": BASE,
        "macros/columns.sql": "{% macro columns() %}\n  id,\n  nope\n{% endmacro %}",
        "models/m.sql": "select {{ columns() }}\nfrom {{ ref('base') }}\n",
    })
    _fails(cli("build", "--project-dir", root), 1, "models/m.sql: model 'm' failed", '"nope" not found',
           "at line 3, column 3 of the compiled SQL at ", "target/compiled/demo/models/m.sql (after Jinja",
           "  3 |   nope\n")


LLM_MODEL = """\
{{ config(materialized='table') }}

select t.id,
       %s
       SMART_LLM('Urgent?', t.body, labels => ['yes', 'no']) as urgent,
       SMART_LLM('Team?', t.body) as team
from {{ ref('base') }} as t
"""


def openai_project(make_project, server, model_sql):
    return make_project({"models/base.sql": BASE, "models/m.sql": model_sql, "profiles.yml": openai_profiles(server.base_url, "sk-local-test-key", models=(SIM_LARGE,))})


@pytest.fixture
def server():
    from smart_sql.llm.local_server import LocalLLMServer
    from smart_sql.llm.simulated import Simulator

    with LocalLLMServer(Simulator("sim-large", {})) as running:
        yield running


def test_a_binder_error_in_a_model_with_llm_columns_costs_no_call_and_names_the_users_line(make_project, cli,
                                                                                            server):
    root = openai_project(make_project, server, LLM_MODEL % "t.priorty,")
    _fails(cli("build", "--project-dir", root), 1, "models/m.sql:4:8: the SQL does not bind: Binder Error",
           'does not have a column named "priorty"', "  4 |        t.priorty,\n", "nothing was paid")
    assert server.log.requests == 0


def test_a_stray_comma_in_a_model_with_llm_columns_fails_as_in_a_plain_model(make_project, cli, server):
    root = openai_project(make_project, server, LLM_MODEL % "t.priority,,")
    _fails(cli("build", "--project-dir", root), 1, "models/m.sql:4:19: cannot parse the SQL: Parser Error",
           "  4 |        t.priority,,\n")
    assert server.log.requests == 0


def test_llm_columns_build_over_http_once_the_sql_is_right(make_project, cli, server, query):
    root = openai_project(make_project, server, LLM_MODEL % "t.priority,")
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert server.log.requests == 2
    assert query(root, "select priority, urgent in ('yes', 'no'), team is not null from m") == [("high", True, True)]


@pytest.mark.parametrize("command", ["compile", "ls"])
def test_a_closed_pipe_ends_the_output_quietly(make_project, command):
    root = make_project({f"models/m{i}.sql": "select 1 as x" for i in range(3)})
    process = subprocess.Popen([*smart_sql_command(), command, "--project-dir", str(root)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    errors = process.stderr.read()
    assert process.wait(timeout=60) in (0, 141)
    assert errors == ""
