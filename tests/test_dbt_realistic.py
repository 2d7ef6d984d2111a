"""Two dbt-duckdb projects written as dbt users write them (tests/fixtures/dbt_realistic_*), built by
`smart-sql` unchanged, relation by relation against what dbt-core 1.11.16 with dbt-duckdb 1.11.1 built
from the same files (run by hand once; the values below are dbt's). Then the gaps those projects found,
each on its own."""

from __future__ import annotations

import duckdb


def _rows(root, sql):
    with duckdb.connect(str(root / "target/dev.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_api_column_translates_dbts_type_labels(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({"models/m.sql": (
        "select cast(1 as {{ api.Column.translate_type('integer') }}) as n, "
        "'{{ api.Column.translate_type('string') }}' as label, "
        "'{{ api.Column.create('x', 'decimal(6,2)').data_type }}' as created")})
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert _rows(root, "select * from main.m") == [(1, "TEXT", "decimal(6,2)")]


def test_accepted_values_given_by_a_var_are_rendered_as_dbt_renders_them(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({
        "dbt_project.yml": "name: shop\nconfig-version: 2\nprofile: shop\nvars:\n  statuses: [placed, shipped]\n",
        "models/orders.sql": "select 'placed' as status union all select 'lost'",
        "models/orders.yml": (
            "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: status\n        data_tests:\n"
            "          - accepted_values:\n              arguments:\n                values: \"{{ var('statuses') }}\"\n")})
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 1, result.output
    assert "FAIL accepted_values_orders_status___var_statuses_" in result.output
    assert "lost        | 1" in result.output


def test_on_run_end_sees_the_results_of_the_nodes(make_dbt_project, cli, monkeypatch):
    end = ("create table main.run_end as select '{{ results | length }}' as n, "
           "'{% for r in results %}{{ r.node.name }}:{{ r.status }} {% endfor %}' as statuses")
    root = make_dbt_project({
        "dbt_project.yml": f"name: shop\nconfig-version: 2\nprofile: shop\non-run-start: select 1\non-run-end: \"{end}\"\n",
        "models/m.sql": "select 1 as x",
        "models/m.yml": "version: 2\nmodels:\n  - name: m\n    columns:\n      - name: x\n        data_tests: [not_null]\n"})
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert _rows(root, "select * from main.run_end") == [("2", "m:success not_null_m_x:pass ")]


def test_a_unit_test_gives_a_source_that_a_seed_loads(make_dbt_project, cli, monkeypatch):
    """The model waits for the seed behind its source; the unit test gives the source, not the seed."""
    root = make_dbt_project({
        "seeds/raw_plans.csv": "plan\ntrial\n",
        "models/sources.yml": "version: 2\nsources:\n  - name: crm\n    schema: main\n    tables: [{name: raw_plans}]\n",
        "models/plans.sql": "select upper(plan) as plan from {{ source('crm', 'raw_plans') }}",
        "models/plans.yml": (
            "unit_tests:\n  - name: plans_are_upper\n    model: plans\n"
            "    given:\n      - input: source('crm', 'raw_plans')\n        rows: [{plan: team}]\n"
            "    expect:\n      rows: [{plan: TEAM}]\n")})
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert "PASS unit_test plans::plans_are_upper" in result.output


def test_on_run_end_schemas_include_where_passing_tests_stored_failures(make_dbt_project, cli, monkeypatch):
    end = "create table main.run_end as select '{{ schemas | sort | join(\"+\") }}' as schemas"
    root = make_dbt_project({
        "dbt_project.yml": f"name: shop\nconfig-version: 2\nprofile: shop\non-run-end:\n  - |\n    {end}\n",
        "models/m.sql": "select 1 as x",
        "models/m.yml": ("version: 2\nmodels:\n  - name: m\n    columns:\n      - name: x\n        data_tests:\n"
                         "          - unique: {config: {store_failures: true}}\n")})
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert _rows(root, "select * from main.run_end") == [("main+main_dbt_test__audit",)]


def test_a_snapshot_block_is_listed_under_its_file_as_dbt_lists_it(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({
        "models/orders.sql": "select 1 as order_id, 'placed' as status",
        "snapshots/history/orders.sql": (
            "{% snapshot orders_status %}{{ config(unique_key='order_id', strategy='check', check_cols='all', "
            "target_schema='snapshots') }}select * from {{ ref('orders') }}{% endsnapshot %}")})
    monkeypatch.chdir(root)
    result = cli("ls", "--resource-type", "snapshot")
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["shop.history.orders.orders_status"]


def test_ls_lists_unit_tests_and_exposures_as_dbt_does(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({
        "models/orders.sql": "select 1 as order_id",
        "models/orders.yml": (
            "unit_tests:\n  - name: one_order\n    model: orders\n    given: []\n"
            "    expect:\n      rows: [{order_id: 1}]\n"
            "exposures:\n  - name: revenue\n    type: dashboard\n    owner: {name: Finance}\n"
            "    depends_on: [ref('orders')]\n")})
    monkeypatch.chdir(root)
    result = cli("ls")
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["exposure:shop.revenue", "shop.orders", "unit_test:shop.one_order"]
    assert cli("ls", "--resource-type", "unit_test", "-o", "name").output.split() == ["one_order"]


def test_source_freshness_gives_on_run_end_its_results(make_dbt_project, cli, monkeypatch):
    end = "create or replace table main.run_end as select '{% for r in results %}{{ r.status }} {% endfor %}' as statuses"
    root = make_dbt_project({
        "dbt_project.yml": f"name: shop\nconfig-version: 2\nprofile: shop\non-run-end:\n  - |\n    {end}\n",
        "seeds/raw_orders.csv": "id,loaded_at\n1,2020-01-01 00:00:00\n",
        "models/sources.yml": (
            "version: 2\nsources:\n  - name: shop\n    schema: main\n    loaded_at_field: loaded_at\n"
            "    freshness: {warn_after: {count: 1, period: day}}\n    tables: [{name: raw_orders}]\n")})
    monkeypatch.chdir(root)
    assert cli("seed").exit_code == 0
    result = cli("source", "freshness")
    assert result.exit_code == 0, result.output
    assert _rows(root, "select * from main.run_end") == [("warn ",)]


def test_docs_generate_catalogs_a_project_with_unit_tests(make_dbt_project, cli, monkeypatch):
    import json

    root = make_dbt_project({
        "models/orders.sql": "select 1 as order_id",
        "models/orders.yml": ("unit_tests:\n  - name: one_order\n    model: orders\n    given: []\n"
                              "    expect:\n      rows: [{order_id: 1}]\n")})
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    result = cli("docs", "generate")
    assert result.exit_code == 0, result.output
    catalog = json.loads((root / "target/catalog.json").read_text())
    assert sorted(catalog["nodes"]) == ["model.shop.orders"]


def test_the_manifest_lists_doc_blocks(make_dbt_project, cli, monkeypatch):
    import json

    root = make_dbt_project({
        "models/orders.md": "{% docs order_status %}\nWhere the order is.\n{% enddocs %}\n",
        "models/orders.sql": "select 'placed' as status",
        "models/orders.yml": ("version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: status\n"
                              "        description: \"{{ doc('order_status') }}\"\n")})
    monkeypatch.chdir(root)
    assert cli("parse").exit_code == 0
    docs = json.loads((root / "target/manifest.json").read_text())["docs"]
    assert docs["doc.shop.order_status"] == {
        "name": "order_status", "resource_type": "doc", "package_name": "shop", "path": "orders.md",
        "original_file_path": "models/orders.md", "unique_id": "doc.shop.order_status",
        "block_contents": "Where the order is."}


def test_retry_runs_the_unit_tests_the_build_skipped(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({
        "models/a.sql": "select * from main.landed",
        "models/b.sql": "select x + 1 as y from {{ ref('a') }}",
        "models/b.yml": ("unit_tests:\n  - name: b_adds_one\n    model: b\n"
                         "    given: [{input: ref('a'), rows: [{x: 1}]}]\n    expect:\n      rows: [{y: 2}]\n")})
    monkeypatch.chdir(root)
    assert "SKIP unit_test b_adds_one" in cli("build").output
    with duckdb.connect(str(root / "target/dev.duckdb")) as conn:
        conn.execute("create table main.landed as select 1 as x")
    result = cli("retry")
    assert result.exit_code == 0, result.output
    assert "PASS unit_test b::b_adds_one" in result.output
    assert "Done. PASS=3 WARN=0 ERROR=0 SKIP=0 TOTAL=3" in result.output
