"""dbt unit tests (`unit_tests:`), run by `build` before their model and by `test`. The fixture
tests/fixtures/dbt_unit_tests passes all four under dbt-core 1.11.16 / dbt-duckdb 1.11.1 (dict, csv and
sql rows, vars and is_incremental overrides, `this`), and the tables built are dbt's."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

from conftest import relations

FIXTURE = Path(__file__).parent / "fixtures" / "dbt_unit_tests"
UNIT_TESTS = ["unit_test.bakery.customer_spend.customers_without_orders_spend_nothing",
              "unit_test.bakery.daily_sales.incremental_run_adds_new_days_only",
              "unit_test.bakery.order_lines.gross_adds_vat", "unit_test.bakery.order_lines.gross_with_another_rate"]
MODELS = {
    "bakery.main.customer_spend": (
        "BASE TABLE", [("customer_id", "INTEGER"), ("name", "VARCHAR"), ("tier", "VARCHAR"), ("orders", "BIGINT"),
                       ("gross_spend", "DOUBLE")],
        [(1, "Mara", "gold", 2, 19.44), (2, "Theo", "silver", 1, 2.52), (3, "Ines", "gold", 1, 5.4)]),
    "bakery.main.daily_sales": ("BASE TABLE", [("sales_day", "DATE"), ("gross", "DOUBLE")],
                                [(date(2024, 3, 1), 10.8), (date(2024, 3, 2), 11.16), (date(2024, 3, 5), 5.4)]),
    "bakery.main.order_lines": (
        "BASE TABLE", [("order_id", "INTEGER"), ("customer_id", "INTEGER"), ("item", "VARCHAR"), ("net", "DOUBLE"),
                       ("gross", "DOUBLE"), ("ordered_at", "DATE")],
        [(1, 1, "sourdough", 9.0, 10.8, date(2024, 3, 1)), (2, 1, "croissant", 7.199999999999999, 8.64, date(2024, 3, 2)),
         (3, 2, "baguette", 2.1, 2.52, date(2024, 3, 2)), (4, 3, "sourdough", 4.5, 5.4, date(2024, 3, 5))]),
}


def _copy(tmp_path: Path, monkeypatch) -> Path:
    root = Path(shutil.copytree(FIXTURE, tmp_path / FIXTURE.name))
    monkeypatch.chdir(root)
    return root


def _edit(root: Path, old: str, new: str, file: str = "models/_unit_tests.yml") -> None:
    path = root / file
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))


def test_unit_tests_pass_before_their_models_and_the_models_are_dbts(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path, monkeypatch)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert "Done. PASS=9 WARN=0 ERROR=0 SKIP=0 TOTAL=9" in result.output
    output = result.output
    assert output.index("PASS unit_test order_lines::gross_adds_vat") < output.index("created table main.order_lines")
    assert output.index("created table main.order_lines") < output.index("unit_test customer_spend::")
    assert {name: value for name, value in relations(root / "target/bakery.duckdb").items()
            if name in MODELS} == MODELS
    results = json.loads((root / "target/run_results.json").read_text())["results"]
    assert sorted(r["unique_id"] for r in results if r["resource_type"] == "unit_test") == UNIT_TESTS
    assert {r["status"] for r in results if r["resource_type"] == "unit_test"} == {"pass"}
    manifest = json.loads((root / "target/manifest.json").read_text())
    assert sorted(manifest["unit_tests"]) == UNIT_TESTS
    assert list(manifest["exposures"]) == ["exposure.bakery.weekly_sales_dashboard"]
    assert manifest["exposures"]["exposure.bakery.weekly_sales_dashboard"]["owner"]["name"] == "Shop analytics"


def test_a_failing_unit_test_shows_the_differing_rows_and_skips_its_model(tmp_path, cli, monkeypatch):
    """dbt's own failure on these rows (a DOUBLE seed column: 3 * 1.15 is 3.4499999999999997)."""
    root = _copy(tmp_path, monkeypatch)
    _edit(root, "{order_id: 1, quantity: 3, unit_price: 1.25}", "{order_id: 1, quantity: 3, unit_price: 1.15}")
    _edit(root, "{order_id: 1, net: 3.75, gross: 4.5}", "{order_id: 1, net: 3.45, gross: 4.14}")
    result = cli("build")
    assert result.exit_code == 1
    assert "FAIL unit_test order_lines::gross_adds_vat" in result.output
    assert "SKIP model order_lines (upstream gross_adds_vat failed)" in result.output
    assert "SKIP unit_test gross_with_another_rate (upstream gross_adds_vat failed)" in result.output
    assert "Done. PASS=2 WARN=0 ERROR=1 SKIP=6 TOTAL=9" in result.output  # dbt's count for this failure
    lines = [line.rstrip() for line in result.output.splitlines()]
    assert "    | order_id | net                | gross" in lines
    assert "  + | 1        | 3.4499999999999997 | 4.14" in lines
    assert "  - | 1        | 3.45               | 4.14" in lines
    assert "query: target/compiled/bakery/unit_tests/order_lines/gross_adds_vat.sql" in result.output


def test_smart_sql_test_runs_unit_tests_of_the_selection(tmp_path, cli, monkeypatch):
    _copy(tmp_path, monkeypatch)
    assert cli("build").exit_code == 0
    result = cli("test", "-s", "order_lines")
    assert result.exit_code == 0, result.output
    assert "Done. PASS=2 WARN=0 ERROR=0 SKIP=0 TOTAL=2" in result.output


def test_an_input_that_is_not_built_yet_is_named(tmp_path, cli, monkeypatch):
    _copy(tmp_path, monkeypatch)
    result = cli("test", "-s", "order_lines")
    assert result.exit_code == 1
    assert "unit test 'gross_adds_vat': the columns of input ref('raw_orders') are read from main.raw_orders, " \
           "which does not exist yet" in result.output


def test_a_column_the_input_does_not_have_is_refused(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path, monkeypatch)
    _edit(root, "{order_id: 2, quantity: 1, unit_price: 10}", "{order_id: 2, quantity: 1, unit_price: 10, bogus: 1}")
    result = cli("build")
    assert result.exit_code == 1
    assert "unit test 'gross_adds_vat': input ref('raw_orders') has column(s) bogus, which are not among order_id, " \
           "customer_id, item, quantity, unit_price, ordered_at" in result.output


def _only_unit_test(root: Path, given: str) -> None:
    (root / "models/_unit_tests.yml").write_text(
        "unit_tests:\n  - name: spend\n    model: customer_spend\n    given:\n" + given +
        "    expect:\n      rows: []\n")


def test_a_model_input_missing_from_given_or_one_it_does_not_read_is_refused_at_load(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path, monkeypatch)
    _only_unit_test(root, "      - {input: ref('customers'), rows: []}\n")
    result = cli("build")
    assert result.exit_code == 2
    assert "models/_unit_tests.yml: unit test 'spend': model 'customer_spend' reads order_lines, which `given:` " \
           "does not provide" in result.output
    _only_unit_test(root, "      - {input: ref('customers'), rows: []}\n      - {input: ref('order_lines'), rows: []}\n"
                          "      - {input: ref('raw_orders'), rows: []}\n")
    result = cli("build")
    assert result.exit_code == 2
    assert "unit test 'spend': `given:` provides raw_orders, which model 'customer_spend' does not read" in result.output


def test_empty_inputs_and_expected_rows_pass(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path, monkeypatch)
    _only_unit_test(root, "      - {input: ref('customers'), rows: []}\n      - {input: ref('order_lines'), rows: []}\n")
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert "PASS unit_test customer_spend::spend" in result.output


def test_unit_test_of_an_unknown_model_and_unknown_keys_are_refused(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path, monkeypatch)
    _edit(root, "    model: daily_sales\n", "    model: daily_sale\n")
    result = cli("build")
    assert result.exit_code == 2
    assert "unit test 'incremental_run_adds_new_days_only': `model: daily_sale` is not a SQL model of the project" \
           in result.output and "did you mean: daily_sales" in result.output
    _edit(root, "    model: daily_sale\n", "    model: daily_sales\n    expected: {}\n")
    result = cli("build")
    assert "unit test 'incremental_run_adds_new_days_only': unknown key(s) expected" in result.output


def test_a_unit_test_of_a_model_with_smart_llm_columns_is_refused_before_any_call(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path, monkeypatch)
    (root / "models/order_lines.sql").write_text(
        "select order_id, customer_id, SMART_LLM('Is this bread?', item, labels => ['yes', 'no']) as item,\n"
        "       quantity * unit_price as net, quantity * unit_price as gross, ordered_at\n"
        "from {{ ref('raw_orders') }}\n")
    result = cli("build", "-s", "+order_lines", "--exclude", "order_lines")
    assert result.exit_code == 0, result.output
    result = cli("test", "-s", "order_lines")
    assert result.exit_code == 1
    assert "unit test 'gross_adds_vat': model 'order_lines' has SMART_LLM columns, which unit tests do not answer" \
        in result.output


def test_the_project_files_unit_tests_block_configures_them_as_dbt_does(tmp_path, cli, monkeypatch):
    """dbt applies `unit_tests:` by the test's fqn (the model's folders and name, then the test's): with
    this block dbt ls lists two unit tests, tagged from_project (then their own tags)."""
    root = _copy(tmp_path, monkeypatch)
    with (root / "dbt_project.yml").open("a") as file:
        file.write("\nunit_tests:\n  bakery:\n    +tags: ['from_project']\n    order_lines:\n"
                   "      +enabled: \"{{ target.name != 'dev' }}\"\n")
    listed = cli("ls", "--resource-type", "unit_test", "--output", "json")
    assert listed.exit_code == 0, listed.output
    tests = {entry["name"]: entry["config"]["tags"] for entry in map(json.loads, listed.output.splitlines())
             if entry.get("resource_type") == "unit_test"}
    assert tests == {"customers_without_orders_spend_nothing": ["from_project", "spend"],
                     "incremental_run_adds_new_days_only": ["from_project"]}
    built = cli("build")
    assert built.exit_code == 0, built.output
    assert "gross_adds_vat" not in built.output and "PASS unit_test customer_spend::" in built.output
