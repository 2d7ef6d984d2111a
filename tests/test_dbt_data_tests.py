"""dbt's data tests in a dbt project written as dbt users write them: singular tests, generic tests
defined with {% test %} in macros/ and tests/generic/ (with arguments and their own config()), and the
configs where, severity, warn_if, error_if, limit, store_failures(_as) from YAML, a test's config(), a
properties file's `data_tests:` and the project's `data_tests:` block. The expected names, statuses,
failure counts and stored-failure relations are what dbt-core 1.11.16 with dbt-duckdb 1.11.1 gave for
the same files (run by hand once)."""

from __future__ import annotations

import json

from conftest import relations

SHOP = {
    "dbt_project.yml": """\
        name: shop
        config-version: 2
        profile: shop
        data_tests:
          shop:
            audit:
              +store_failures: true
              +severity: warn
    """,
    "seeds/orders.csv": "id,customer_id,status,amount\n1,1,placed,10\n2,1,shipped,-5\n3,2,returned,0\n"
                        "4,3,placed,2000\n5,9,placed,7\n",
    "seeds/customers.csv": "id,name\n1,ann\n2,bob\n3,cy\n",
    "models/stg_orders.sql": "select * from {{ ref('orders') }}\n",
    "models/order_names.sql": "select o.id, c.name from {{ ref('stg_orders') }} o "
                              "join {{ ref('customers') }} c on o.customer_id = c.id\n",
    "macros/test_is_positive.sql": """\
        {% test is_positive(model, column_name, allow_zero=false) %}
        select * from {{ model }}
        where {{ column_name }} < 0 {% if not allow_zero %}or {{ column_name }} = 0{% endif %}
        {% endtest %}
    """,
    "tests/generic/below.sql": """\
        {% test below(model, column_name, max) %}
        select {{ column_name }} as value from {{ model }} where {{ column_name }} >= {{ max }}
        {% endtest %}
    """,
    "tests/generic/has_rows.sql": """\
        {% test has_rows(model, at_least) %}
        {{ config(severity='warn') }}
        select count(*) as n from {{ model }} having count(*) < {{ at_least }}
        {% endtest %}
    """,
    "tests/assert_big_orders.sql": """\
        {{ config(severity='warn') }}
        select id, amount from {{ ref('stg_orders') }} where amount > 1000
    """,
    "tests/assert_known_customers.sql": """\
        select o.id, o.customer_id from {{ ref('stg_orders') }} o
        left join {{ ref('customers') }} c on o.customer_id = c.id where c.id is null
    """,
    "tests/audit/assert_no_negative.sql": "select id, amount from {{ ref('orders') }} where amount < 0\n",
    "tests/tests.yml": """\
        version: 2
        data_tests:
          - name: assert_known_customers
            description: every order has a known customer
            config:
              error_if: ">5"
    """,
    "models/schema.yml": """\
        version: 2
        models:
          - name: stg_orders
            data_tests:
              - has_rows:
                  arguments:
                    at_least: 10
            columns:
              - name: amount
                data_tests:
                  - is_positive
                  - is_positive:
                      arguments:
                        allow_zero: true
                      config:
                        where: "status != 'returned'"
                        store_failures: true
                  - below:
                      arguments:
                        max: 100
                      config:
                        warn_if: ">1"
                        error_if: ">5"
                  - below:
                      arguments:
                        max: 5
                      config:
                        severity: warn
                        limit: 2
              - name: status
                data_tests:
                  - accepted_values:
                      arguments:
                        values: ['placed', 'shipped']
                      config:
                        store_failures: true
                        store_failures_as: view
              - name: customer_id
                data_tests:
                  - relationships:
                      arguments:
                        to: ref('customers')
                        field: id
    """,
}

DBT_RESULTS = {  # unique_id (as dbt's run_results.json): (status, failures)
    "seed.shop.customers": ("success", None),
    "seed.shop.orders": ("success", None),
    "test.shop.assert_no_negative": ("warn", 1),
    "model.shop.stg_orders": ("success", None),
    "test.shop.accepted_values_stg_orders_status__placed__shipped.0b09736f95": ("fail", 1),
    "test.shop.assert_big_orders": ("warn", 1),
    "test.shop.assert_known_customers": ("warn", 1),
    "test.shop.below_stg_orders_amount__100.aab8759b15": ("pass", 0),
    "test.shop.below_stg_orders_amount__5.fdb16761ef": ("warn", 2),
    "test.shop.has_rows_stg_orders_10.5dea43d6b6": ("warn", 1),
    "test.shop.is_positive_stg_orders_True__amount.dfc285dde8": ("fail", 1),
    "test.shop.is_positive_stg_orders_amount.033194cf5f": ("fail", 2),
    "test.shop.relationships_stg_orders_customer_id__id__ref_customers_.2fd8975943": ("fail", 1),
    "model.shop.order_names": ("skipped", None),
}
DBT_AUDIT = {  # the relations dbt stored failing rows in
    "main_dbt_test__audit.accepted_values_stg_orders_status__placed__shipped": (
        "VIEW", [("value_field", "VARCHAR"), ("n_records", "BIGINT")], [("returned", 1)]),
    "main_dbt_test__audit.assert_no_negative": ("BASE TABLE", [("id", "INTEGER"), ("amount", "INTEGER")], [(2, -5)]),
    "main_dbt_test__audit.is_positive_stg_orders_True__amount": (
        "BASE TABLE", [("id", "INTEGER"), ("customer_id", "INTEGER"), ("status", "VARCHAR"), ("amount", "INTEGER")],
        [(2, 1, "shipped", -5)]),
}


def _build(make_dbt_project, cli, command="build", files=None):
    root = make_dbt_project({**SHOP, **(files or {})})
    result = cli(command, "--project-dir", root, "--profiles-dir", root)
    run_results = json.loads((root / "target" / "run_results.json").read_text())
    return root, result, {entry["name"]: entry for entry in run_results["results"]}


def _dbt_name(unique_id: str) -> str:
    return unique_id.split(".")[2]


def test_every_node_gets_dbts_name_status_and_failure_count(make_dbt_project, cli):
    _, result, by_name = _build(make_dbt_project, cli)
    assert result.exit_code == 1
    assert {name: (entry["status"], entry["failures"]) for name, entry in by_name.items()} == {
        _dbt_name(uid): outcome for uid, outcome in DBT_RESULTS.items()}
    assert "Done. PASS=4 WARN=5 ERROR=4 SKIP=1 TOTAL=14" in result.output


def test_generic_tests_carry_dbts_unique_id_in_the_manifest(make_dbt_project, cli):
    root, _, _ = _build(make_dbt_project, cli)
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    ids = {entry["dbt_unique_id"] for entry in manifest["nodes"].values() if entry["resource_type"] == "test"}
    assert ids == {uid for uid in DBT_RESULTS if uid.startswith("test.")}


def test_a_singular_test_fails_on_its_rows_and_shows_them(make_dbt_project, cli):
    _, result, by_name = _build(make_dbt_project, cli)
    assert by_name["assert_big_orders"]["status"] == "warn"  # its config(severity='warn')
    assert ("Warning in test assert_big_orders (tests/assert_big_orders.sql)\n"
            "  Got 1 result, configured to warn if != 0; first failing rows:\n"
            "  id | amount\n  ---+-------\n  4  | 2000\n") in result.output


def test_a_generic_test_from_macros_takes_its_arguments(make_dbt_project, cli):
    _, result, by_name = _build(make_dbt_project, cli)
    assert by_name["is_positive_stg_orders_amount"]["failures"] == 2  # -5 and 0
    assert "  2  | 1           | shipped  | -5\n  3  | 2           | returned | 0" in result.output


def test_a_generic_test_from_tests_generic_has_its_own_config_under_the_yamls(make_dbt_project, cli):
    _, _, by_name = _build(make_dbt_project, cli)
    assert by_name["has_rows_stg_orders_10"]["status"] == "warn"  # config(severity='warn') in the definition
    assert by_name["below_stg_orders_amount__5"]["status"] == "warn"  # YAML severity


def test_where_filters_the_tested_model(make_dbt_project, cli):
    _, _, by_name = _build(make_dbt_project, cli)
    assert by_name["is_positive_stg_orders_True__amount"]["failures"] == 1  # the returned order's 0 is left out


def test_warn_if_and_error_if_set_the_thresholds(make_dbt_project, cli):
    _, result, by_name = _build(make_dbt_project, cli)
    assert by_name["below_stg_orders_amount__100"]["status"] == "pass"  # 1 row, warn_if >1
    assert by_name["assert_known_customers"]["status"] == "warn"  # error_if >5 from the properties file
    assert "Got 1 result, configured to warn if != 0" in result.output


def test_limit_caps_the_failures_counted(make_dbt_project, cli):
    _, result, by_name = _build(make_dbt_project, cli)
    assert by_name["below_stg_orders_amount__5"]["failures"] == 2  # of 3 rows at 5 or more
    assert "  value\n  -----\n  10\n  2000\n  (declared in" in result.output


def test_store_failures_keeps_the_failing_rows_where_dbt_does(make_dbt_project, cli):
    root, _, by_name = _build(make_dbt_project, cli)
    built = relations(root / "target" / "dev.duckdb")
    audit = {name.split(".", 1)[1]: value for name, value in built.items() if "_dbt_test__audit." in name}
    assert audit == DBT_AUDIT
    assert by_name["assert_no_negative"]["relation"] == "main_dbt_test__audit.assert_no_negative"


def test_a_failing_test_skips_the_models_that_read_what_it_tests(make_dbt_project, cli):
    _, result, by_name = _build(make_dbt_project, cli)
    assert by_name["order_names"]["status"] == "skipped"
    assert "SKIP model order_names (upstream accepted_values_stg_orders_status__placed__shipped failed)" \
        in result.output


def test_the_test_command_runs_the_tests_only(make_dbt_project, cli):
    root = make_dbt_project(SHOP)
    assert cli("build", "--project-dir", root, "--profiles-dir", root).exit_code == 1
    result = cli("test", "--project-dir", root, "--profiles-dir", root)
    run_results = json.loads((root / "target" / "run_results.json").read_text())
    assert {entry["resource_type"] for entry in run_results["results"]} == {"test"}
    assert len(run_results["results"]) == 10
    assert result.exit_code == 1


def test_an_unknown_generic_test_is_refused_naming_the_file(make_dbt_project, cli):
    files = {"models/more.yml": "version: 2\nmodels:\n  - name: order_names\n    data_tests: [is_even]\n"}
    root = make_dbt_project({**SHOP, **files})
    result = cli("build", "--project-dir", root, "--profiles-dir", root)
    assert result.exit_code != 0
    assert "models/more.yml" in result.output and "unknown test 'is_even' on order_names" in result.output
    assert "{% test is_even(model, column_name) %}" in result.output


def test_store_failures_as_decides_over_store_failures(make_dbt_project, cli):
    """dbt 1.11: store_failures_as table or view stores the failures even with store_failures false;
    ephemeral stores nothing even with store_failures true."""
    root = make_dbt_project({
        "seeds/s.csv": "id\n1\n1\n",
        "models/p.yml": """\
            seeds:
              - name: s
                columns:
                  - name: id
                    data_tests:
                      - unique:
                          config: {store_failures: false, store_failures_as: view}
                      - not_null:
                          config: {store_failures: true, store_failures_as: ephemeral}
        """,
    })
    assert cli("build", "--project-dir", root, "--profiles-dir", root).exit_code == 1
    built = relations(root / "target" / "dev.duckdb")
    assert {name: kind for name, (kind, _, _) in built.items()} == {  # as dbt built them
        "dev.main.s": "BASE TABLE", "dev.main_dbt_test__audit.unique_s_id": "VIEW"}
