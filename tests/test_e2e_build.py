"""Building whole projects through the CLI and checking the tables that result."""

from __future__ import annotations

import json

from conftest import write

SEED_ORDERS = """\
order_id,customer_id,amount_cents,status
1,10,1250,paid
2,11,830,paid
3,10,4200,refunded
"""


def test_ref_chain_macro_and_var_build_expected_tables(make_project, cli, query):
    root = make_project({
        "smart_sql_project.yml": """\
            name: demo
            profile: demo
            vars: {refund_status: refunded}
            models:
              demo:
                staging: {+materialized: view}
        """,
        "seeds/orders.csv": SEED_ORDERS,
        "macros/money.sql": "{% macro dollars(col) %}({{ col }} / 100.0){% endmacro %}",
        "models/staging/stg_orders.sql": """\
            select order_id, customer_id, {{ dollars('amount_cents') }} as amount, status
            from {{ ref('orders') }}
        """,
        "models/customer_revenue.sql": """\
            select customer_id, sum(amount) as revenue
            from {{ ref('stg_orders') }}
            where status != '{{ var("refund_status") }}'
            group by customer_id
        """,
    })
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert "OK created view main.stg_orders" in result.output
    assert "Done. PASS=3 WARN=0 ERROR=0 SKIP=0 TOTAL=3" in result.output
    assert query(root, "select table_type from information_schema.tables where table_name = 'stg_orders'") == [("VIEW",)]
    assert query(root, "select customer_id, revenue from customer_revenue order by 1") == [(10, 12.5), (11, 8.3)]


def test_vars_on_the_command_line_override_project_vars(make_project, cli, query):
    root = make_project({
        "smart_sql_project.yml": "name: demo\nprofile: demo\nvars: {limit_to: 1}\n",
        "models/numbers.sql": "select * from range(10) t(n) where n < {{ var('limit_to') }}",
    })
    assert cli("run", "--project-dir", root, "--vars", "{limit_to: 4}").exit_code == 0
    assert query(root, "select count(*) from numbers") == [(4,)]


def test_ephemeral_models_are_inlined_as_ctes_and_not_created(make_project, cli, query):
    root = make_project({
        "models/base.sql": "{{ config(materialized='ephemeral') }} select 1 as x union all select 2",
        "models/doubled.sql": "{{ config(materialized='ephemeral') }} select x * 2 as y from {{ ref('base') }}",
        "models/final.sql": "with extra as (select 100 as y) select y from {{ ref('doubled') }} union all select y from extra",
    })
    result = cli("run", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert sorted(query(root, "select y from final")) == [(2,), (4,), (100,)]
    assert query(root, "select count(*) from information_schema.tables where table_name in ('base', 'doubled')") == [(0,)]
    compiled = (root / "target/compiled/demo/models/final.sql").read_text()
    assert "__smart_cte__base as (" in compiled and compiled.index("__smart_cte__base as") < compiled.index("__smart_cte__doubled as")


def test_incremental_append_across_two_runs_with_new_seed_rows(make_project, cli, query):
    root = make_project({
        "seeds/events.csv": "event_id,n\n1,10\n2,20\n",
        "models/events_log.sql": """\
            {{ config(materialized='incremental') }}
            select event_id, n from {{ ref('events') }}
            {% if is_incremental() %} where event_id > (select max(event_id) from {{ this }}) {% endif %}
        """,
    })
    assert cli("build", "--project-dir", root).exit_code == 0
    write(root, "seeds/events.csv", "event_id,n\n1,10\n2,20\n3,30\n4,40\n")
    result = cli("build", "--project-dir", root)
    assert "OK inserted into incremental main.events_log" in result.output
    assert "[2 rows in" in result.output
    assert query(root, "select event_id, n from events_log order by 1") == [(1, 10), (2, 20), (3, 30), (4, 40)]
    assert cli("build", "--project-dir", root, "--full-refresh").exit_code == 0
    assert query(root, "select count(*) from events_log") == [(4,)]


def test_incremental_unique_key_upserts_changed_rows(make_project, cli, query):
    root = make_project({
        "seeds/tickets.csv": "ticket_id,status\n1,open\n2,open\n",
        "models/ticket_status.sql": """\
            {{ config(materialized='incremental', unique_key='ticket_id') }}
            select ticket_id, status from {{ ref('tickets') }}
        """,
    })
    assert cli("build", "--project-dir", root).exit_code == 0
    write(root, "seeds/tickets.csv", "ticket_id,status\n1,open\n2,solved\n3,open\n")
    assert cli("build", "--project-dir", root).exit_code == 0
    assert query(root, "select ticket_id, status from ticket_status order by 1") == [(1, "open"), (2, "solved"), (3, "open")]


def test_selectors_choose_parents_children_tags_paths_and_exclusions(make_project, cli):
    root = make_project({
        "seeds/raw.csv": "id\n1\n",
        "models/staging/a.sql": "{{ config(tags=['nightly']) }} select * from {{ ref('raw') }}",
        "models/staging/b.sql": "select * from {{ ref('a') }}",
        "models/marts/c.sql": "select * from {{ ref('b') }}",
        "models/marts/d.sql": "select 1 as x",
    })

    def listed(*selection: str) -> set[str]:
        result = cli("ls", "--project-dir", root, "--resource-type", "model", "--resource-type", "seed",
                     "--output", "name", *selection)
        assert result.exit_code == 0, result.output
        return set(result.output.split())

    assert listed("--select", "b") == {"b"}
    assert listed("--select", "+b") == {"raw", "a", "b"}
    assert listed("--select", "b+") == {"b", "c"}
    assert listed("--select", "tag:nightly") == {"a"}
    assert listed("--select", "path:models/marts") == {"c", "d"}
    assert listed("--select", "a d") == {"a", "d"}
    assert listed("--select", "a", "--select", "d") == {"a", "d"}
    assert listed("--select", "+c", "--exclude", "raw a") == {"b", "c"}
    assert listed("--exclude", "path:models/staging") == {"raw", "c", "d"}


def test_run_builds_only_the_selection(make_project, cli, query):
    root = make_project({"models/a.sql": "select 1 as x", "models/b.sql": "select 2 as x"})
    result = cli("run", "--project-dir", root, "--select", "b")
    assert result.exit_code == 0
    assert query(root, "select table_name from information_schema.tables order by 1") == [("b",)]


def test_failing_data_tests_exit_1_and_skip_downstream_models(make_project, cli, query):
    root = make_project({
        "seeds/people.csv": "id,kind\n1,a\n1,b\n,c\n",
        "models/people_clean.sql": "select * from {{ ref('people') }}",
        "models/people_count.sql": "select count(*) as n from {{ ref('people_clean') }}",
        "models/schema.yml": """\
            seeds:
              - name: people
                columns:
                  - name: kind
                    tests:
                      - accepted_values: {values: [a, b, c, d]}
            models:
              - name: people_clean
                columns:
                  - name: id
                    tests: [not_null, unique]
                  - name: kind
                    tests:
                      - accepted_values:
                          values: [a, b]
                          config: {severity: warn}
        """,
    })
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 1
    assert "FAIL not_null_people_clean_id" in result.output
    assert "FAIL unique_people_clean_id" in result.output
    assert "WARN accepted_values_people_clean_kind" in result.output
    assert "SKIP model people_count" in result.output
    assert "Done. PASS=3 WARN=1 ERROR=2 SKIP=1 TOTAL=7" in result.output
    assert query(root, "select count(*) from information_schema.tables where table_name = 'people_count'") == [(0,)]
    results = json.loads((root / "target/run_results.json").read_text())["results"]
    status = {r["name"]: (r["status"], r["failures"]) for r in results}
    assert status["not_null_people_clean_id"] == ("fail", 1)
    assert status["unique_people_clean_id"] == ("fail", 1)
    assert status["people_count"] == ("skipped", None)
    assert cli("test", "--project-dir", root, "--select", "people").exit_code == 0


def test_relationships_test_finds_orphans(make_project, cli):
    root = make_project({
        "seeds/customers.csv": "customer_id\n1\n2\n",
        "seeds/orders.csv": "order_id,customer_id\n10,1\n11,3\n12,\n",
        "models/schema.yml": """\
            seeds:
              - name: orders
                columns:
                  - name: customer_id
                    data_tests:
                      - relationships: {to: ref('customers'), field: customer_id}
        """,
    })
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 1
    assert "FAIL relationships_orders_customer_id__customer_id__ref_customers_" in result.output
    assert "[1 failing row in" in result.output


def test_a_failing_model_keeps_its_previous_table_and_skips_children(make_project, cli, query):
    root = make_project({
        "models/totals.sql": "select 42 as total",
        "models/report.sql": "select total * 2 as doubled from {{ ref('totals') }}",
    })
    assert cli("run", "--project-dir", root).exit_code == 0
    write(root, "models/totals.sql", "select 1 as total union all select no_such_column")
    result = cli("run", "--project-dir", root)
    assert result.exit_code == 1
    assert "ERROR creating table main.totals" in result.output
    assert "models/totals.sql" in result.output and "no_such_column" in result.output
    assert "SKIP model report" in result.output
    assert "Traceback" not in result.output
    assert query(root, "select total from totals") == [(42,)]
    assert query(root, "select doubled from report") == [(84,)]
    assert query(root, "select count(*) from information_schema.tables where table_name like '%smart_tmp%'") == [(0,)]


def test_a_failing_view_keeps_its_previous_view(make_project, cli, query):
    root = make_project({"models/v.sql": "{{ config(materialized='view') }} select 1 as x"})
    assert cli("run", "--project-dir", root).exit_code == 0
    write(root, "models/v.sql", "{{ config(materialized='view') }} select x from nowhere")
    assert cli("run", "--project-dir", root).exit_code == 1
    assert query(root, "select x from v") == [(1,)]


def test_switching_materialization_replaces_a_table_by_a_view(make_project, cli, query):
    root = make_project({"models/m.sql": "select 1 as x"})
    assert cli("run", "--project-dir", root).exit_code == 0
    write(root, "models/m.sql", "{{ config(materialized='view') }} select 2 as x")
    assert cli("run", "--project-dir", root).exit_code == 0
    assert query(root, "select table_type from information_schema.tables where table_name = 'm'") == [("VIEW",)]
    assert query(root, "select x from m") == [(2,)]


def test_sources_point_at_seeds_and_existing_tables(make_project, cli, query):
    root = make_project({
        "seeds/raw_orders.csv": "id\n1\n2\n",
        "models/sources.yml": """\
            sources:
              - name: shop
                schema: main
                tables:
                  - name: orders
                    identifier: raw_orders
        """,
        "models/order_ids.sql": "select id from {{ source('shop', 'orders') }}",
    })
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert result.output.index("raw_orders") < result.output.index("order_ids")
    assert query(root, "select count(*) from order_ids") == [(2,)]


def test_artifacts_describe_models_and_results(make_project, cli):
    root = make_project({
        "seeds/s.csv": "id\n1\n",
        "models/m.sql": "{{ config(tags=['daily']) }} select * from {{ ref('s') }}",
        "models/schema.yml": "models:\n  - name: m\n    description: The m model.\n    columns:\n      - name: id\n        tests: [unique]\n",
    })
    assert cli("build", "--project-dir", root).exit_code == 0
    manifest = json.loads((root / "target/manifest.json").read_text())
    model = manifest["nodes"]["model.demo.m"]
    assert model["depends_on"] == {"macros": [], "nodes": ["seed.demo.s"]}
    assert model["config"]["tags"] == ["daily"] and model["description"] == "The m model."
    test = next(entry for entry in manifest["nodes"].values() if entry["name"] == "unique_m_id")
    assert test["attached_node"] == test["attached_to"] == "model.demo.m"
    run_results = json.loads((root / "target/run_results.json").read_text())
    by_id = {r["unique_id"]: r for r in run_results["results"]}
    assert by_id["model.demo.m"]["status"] == "success" and by_id["model.demo.m"]["rows_affected"] == 1
    assert by_id["model.demo.m"]["extras"] == {}
    assert run_results["metadata"]["llm_simulated"] is True


def test_compile_writes_rendered_sql_without_building(make_project, cli, query):
    root = make_project({
        "seeds/s.csv": "id\n1\n",
        "models/m.sql": "select * from {{ ref('s') }} where id > {{ var('floor', 0) }}",
    })
    result = cli("compile", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert (root / "target/compiled/demo/models/m.sql").read_text().strip() == 'select * from "main"."s" where id > 0'
    assert query(root, "select count(*) from information_schema.tables") == [(0,)]


def test_clean_removes_only_the_target_folder(make_project, cli):
    root = make_project({"models/m.sql": "select 1 as x"})
    assert cli("run", "--project-dir", root).exit_code == 0
    assert (root / "target").is_dir()
    assert cli("clean", "--project-dir", root).exit_code == 0
    assert not (root / "target").exists()
    assert (root / "models/m.sql").is_file()


def test_init_creates_a_project_that_builds(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("init", "shop").exit_code == 0
    result = cli("build", "--project-dir", "shop")
    assert result.exit_code == 0, result.output
    assert "ERROR=0" in result.output and "PASS=7" in result.output
    assert cli("init", "shop").exit_code == 2


def test_debug_reports_target_and_llm_without_the_key(make_project, cli, monkeypatch):
    from smart_sql.llm.local_server import LocalLLMServer
    from smart_sql.llm.simulated import Simulator

    monkeypatch.setenv("DEMO_KEY", "sk-very-secret-value")
    with LocalLLMServer(Simulator("big", {}), api_key="sk-very-secret-value") as server:
        root = make_project({"profiles.yml": f"""\
            demo:
              target: prod
              outputs:
                prod:
                  type: duckdb
                  path: target/dev.duckdb
                  llm:
                    provider: openai
                    base_url: {server.base_url}
                    api_key: "{{{{ env_var('DEMO_KEY') }}}}"
                    models:
                      - {{name: big, input_price_per_1m: 5, output_price_per_1m: 15, reference: true}}
        """})
        result = cli("debug", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert "target: prod" in result.output and "llm provider: openai" in result.output
    assert "llm api_key: set" in result.output and "connection: OK" in result.output
    assert "sk-very-secret-value" not in result.output


def test_a_target_schema_holds_seeds_and_models(make_project, cli, query):
    root = make_project({
        "profiles.yml": "demo:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: target/dev.duckdb, schema: analytics}\n",
        "seeds/s.csv": "id\n1\n",
        "models/m.sql": "select * from {{ ref('s') }}",
    })
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert "OK created table analytics.m" in result.output
    assert query(root, "select table_schema, table_name from information_schema.tables order by 2") == [
        ("analytics", "m"), ("analytics", "s")]


def test_an_in_memory_target_builds_and_leaves_no_database_file(make_project, cli):
    root = make_project({
        "profiles.yml": "demo:\n  target: mem\n  outputs:\n    mem: {type: duckdb, path: ':memory:'}\n",
        "seeds/s.csv": "id\n1\n2\n",
        "models/m.sql": "select * from {{ ref('s') }}",
    })
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert "[2 rows in" in result.output
    assert not list(root.rglob("*.duckdb"))


def test_tests_on_sources_and_the_source_selector(make_project, cli, query):
    root = make_project({
        "seeds/raw_orders.csv": "id,status\n1,paid\n2,lost\n",
        "models/sources.yml": """\
            sources:
              - name: shop
                tables:
                  - name: orders
                    identifier: raw_orders
                    columns:
                      - name: status
                        tests:
                          - accepted_values: {values: [paid, refunded]}
        """,
        "models/paid.sql": "select id from {{ source('shop', 'orders') }} where status = 'paid'",
        "models/other.sql": "select 1 as x",
    })
    listed = cli("ls", "--project-dir", root, "--select", "source:shop+", "--output", "name")
    assert listed.output.split() == ["paid", "shop.orders", "source_accepted_values_shop_orders_status__paid__refunded"]
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 1
    assert "FAIL source_accepted_values_shop_orders_status__paid__refunded" in result.output
    assert "Got 1 result, configured to fail if != 0; first failing rows:\n  value_field | n_records" in result.output
    assert "  lost        | 1" in result.output
    assert "SKIP" in result.output and query(root, "select count(*) from information_schema.tables "
                                                   "where table_name = 'paid'") == [(0,)]
    assert query(root, "select x from other") == [(1,)]


def test_an_interrupted_build_records_what_finished_and_exits_130(make_project, monkeypatch):
    import json

    from click.testing import CliRunner

    from smart_sql import cli as cli_module
    from smart_sql.execute import identity_transform

    root = make_project({"models/first.sql": "select 1 as x",
                         "models/second.sql": "select x from {{ ref('first') }}"})

    def interrupt_at_second(node, sql, conn):
        if node.name == "second":
            raise KeyboardInterrupt
        return identity_transform(node, sql, conn)

    monkeypatch.setattr(cli_module, "sql_transform_for", lambda *args, **kwargs: interrupt_at_second)
    result = CliRunner().invoke(cli_module.main, ["build", "--project-dir", str(root)])
    assert result.exit_code == 130
    assert "Interrupted after 1 of 2 nodes" in result.output
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    assert [(r["name"], r["status"]) for r in results] == [("first", "success")]
