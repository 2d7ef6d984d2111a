"""Where nodes are built (schema, alias, database via generate_*_name), hooks inside a node's atomic
unit, and incremental strategies, for both kinds of project file."""

from __future__ import annotations

import pytest

from conftest import write
from smart_sql.errors import ConfigError
from smart_sql.execute import build
from smart_sql.project import load_project


def test_custom_schema_and_alias_follow_dbts_default_naming(make_project, cli, query):
    root = make_project({
        "smart_sql_project.yml": "name: demo\nprofile: demo\nmodels:\n  demo:\n    marts: {+schema: marts}\n",
        "models/marts/revenue.sql": "{{ config(alias='revenue_daily') }} select 1 as x",
        "models/plain.sql": "select 2 as x",
    })
    result = cli("run", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert query(root, "select table_schema, table_name from information_schema.tables order by 1, 2") == [
        ("main", "plain"), ("main_marts", "revenue_daily")]


def test_project_macros_override_schema_alias_and_database_naming(make_dbt_project):
    root = make_dbt_project({
        "macros/naming.sql": """\
            {% macro generate_schema_name(custom_schema_name, node) -%}
                {{ node.config.materialized }}_{{ node.fqn[1] if node.fqn | length > 2 else 'root' }}
            {%- endmacro %}
            {% macro generate_alias_name(custom_alias_name, node) -%}
                {{ node.resource_type }}__{{ node.name }}
            {%- endmacro %}
            {% macro generate_database_name(custom_database_name, node) -%}
                {{ custom_database_name or target.database }}
            {%- endmacro %}
        """,
        "models/finance/a.sql": "{{ config(materialized='table') }} select 1 as x",
        "models/b.sql": "select 1 as x",
        "seeds/s.csv": "id\n1\n",
    })
    project = load_project(root)
    assert str(project.models["a"].relation) == '"table_finance"."model__a"'
    assert str(project.models["b"].relation) == '"view_root"."model__b"'
    assert str(project.seeds["s"].relation) == '"seed_root"."seed__s"'


def test_overrides_may_call_dbts_default_naming_macros(make_dbt_project):
    """dbt 1.11 puts these models in main_marts.m and main.top (dev), marts.m and analytics.top (prod)."""
    root = make_dbt_project({
        "dbt_project.yml": "name: shop\nprofile: shop\nmodels:\n  shop:\n    marts: {+schema: marts}\n",
        "profiles.yml": "shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: target/dev.duckdb}\n"
                        "    prod: {type: duckdb, path: target/dev.duckdb, schema: analytics}\n",
        "macros/schemas.sql": """\
            {% macro generate_schema_name(custom_schema_name, node) -%}
                {%- if target.name == 'prod' -%}
                    {{ generate_schema_name_for_env(custom_schema_name, node) }}
                {%- else -%}
                    {{ default__generate_schema_name(custom_schema_name, node) }}
                {%- endif -%}
            {%- endmacro %}
        """,
        "models/marts/m.sql": "select 1 as x", "models/top.sql": "select 1 as x",
    })
    for target, expected in (("dev", ["main_marts.m", "main.top"]), ("prod", ["marts.m", "analytics.top"])):
        models = load_project(root, target=target).models
        assert [models[name].relation.display for name in ("m", "top")] == expected


def test_two_nodes_built_as_one_relation_is_an_error(make_project):
    root = make_project({"models/a.sql": "{{ config(alias='same') }} select 1",
                         "models/b.sql": "{{ config(alias='same') }} select 2"})
    with pytest.raises(ConfigError, match="model 'a' .* and model 'b' are both built as main.same"):
        load_project(root)


def test_a_failing_post_hook_rolls_the_model_back(make_project, cli, query):
    root = make_project({"models/m.sql": "select 1 as x"})
    assert cli("run", "--project-dir", root).exit_code == 0
    write(root, "models/m.sql", "{{ config(post_hook='insert into {{ this }} values (\\'not a number\\')') }} "
                                "select 2 as x")
    result = cli("run", "--project-dir", root)
    assert result.exit_code == 1
    assert "post-hook of model 'm' #1 failed" in result.output and "models/m.sql" in result.output
    assert query(root, "select x from m") == [(1,)]


def test_a_failing_pre_hook_stops_the_model_before_its_sql_is_transformed(make_project):
    root = make_project({"models/m.sql": "{{ config(pre_hook='select * from missing_table') }} select 1 as x"})
    transformed = []

    def transform(node, sql, conn):
        transformed.append(node.name)
        return sql

    results = build(load_project(root), sql_transform=transform)
    (result,) = results.results
    assert result.status == "error" and "pre-hook of model 'm' #1 failed" in result.message
    assert transformed == [], "a SMART_LLM column is never paid for when a pre-hook fails"


def test_hooks_outside_the_transaction_stay_when_the_model_fails(make_project, cli, query):
    root = make_project({"models/m.sql": """\
        {{ config(pre_hook={'sql': 'create table outside as select 1 as x', 'transaction': false},
                  post_hook='create table inside as select 1 as x') }}
        select no_such_column
    """})
    assert cli("run", "--project-dir", root).exit_code == 1
    assert query(root, "select table_name from information_schema.tables") == [("outside",)]


def test_a_malformed_hook_is_refused(make_project):
    root = make_project({"models/m.sql": "{{ config(post_hook=[{'sqll': 'select 1'}]) }} select 1"})
    with pytest.raises(ConfigError, match="a hook is SQL text or"):
        load_project(root)


def _events(root, rows):
    write(root, "seeds/events.csv", "id,status\n" + "".join(f"{i},{s}\n" for i, s in rows))


INCREMENTAL = {
    "models/append_log.sql": """\
        {{ config(materialized='incremental', unique_key='id', incremental_strategy='append') }}
        select id, status from {{ ref('events') }}
        {% if is_incremental() %} where status != 'new' or id > (select max(id) from {{ this }}) {% endif %}
    """,
    "models/upsert_log.sql": """\
        {{ config(materialized='incremental', unique_key='id') }}
        select id, status from {{ ref('events') }}
        {% if is_incremental() %} where status != 'new' or id > (select max(id) from {{ this }}) {% endif %}
    """,
    "models/frozen.sql": "{{ config(materialized='incremental', full_refresh=false) }} select id, status from {{ ref('events') }}",
}


def test_incremental_strategies_and_full_refresh_config_as_dbt_runs_them(make_dbt_project, cli, query):
    """The same files and runs with dbt-core 1.11 / dbt-duckdb 1.11 gave these rows."""
    root = make_dbt_project(INCREMENTAL)
    _events(root, [(1, "new"), (2, "new")])
    assert cli("build", "--project-dir", root).exit_code == 0
    _events(root, [(1, "shipped"), (2, "new"), (3, "new")])
    assert cli("build", "--project-dir", root).exit_code == 0
    assert query(root, "select * from append_log order by all") == [(1, "new"), (1, "shipped"), (2, "new"), (3, "new")]
    assert query(root, "select * from upsert_log order by all") == [(1, "shipped"), (2, "new"), (3, "new")]
    assert query(root, "select * from frozen order by all") == [(1, "new"), (1, "shipped"), (2, "new"), (2, "new"),
                                                              (3, "new")]
    assert cli("build", "--project-dir", root, "--full-refresh", "--exclude", "events").exit_code == 0
    assert query(root, "select * from append_log order by all") == [(1, "shipped"), (2, "new"), (3, "new")]
    assert query(root, "select count(*) from frozen") == [(8,)]
