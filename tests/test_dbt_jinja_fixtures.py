"""Two dbt projects using dbt's Jinja context and an installed package (tests/fixtures/dbt_jinja_context,
tests/fixtures/dbt_packages_project), built by `smart-sql build` unchanged. Every relation is checked
against what dbt-core 1.11.16 with dbt-duckdb 1.11.1 built from the same files (run by hand once,
followed by `dbt run-operation record_audit --args '{label: nightly}'`; the values below are dbt's)."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from conftest import relations

FIXTURES = Path(__file__).parent / "fixtures"
D = date
REPORT_ROW = ("table", "report", True)
REPORT_TAIL = (2, "bakery", 2, 2, '{"n": 1}', 36, True)
ORDER_DATES = [  # order_id, month, month end, quarter end, due, next quarter, days, weeks, months
    (1, D(2024, 1, 1), D(2024, 1, 31), D(2024, 3, 31), D(2024, 1, 25), D(2024, 4, 15), 14, 2, 0),
    (2, D(2024, 2, 1), D(2024, 2, 29), D(2024, 3, 31), D(2024, 2, 13), D(2024, 5, 3), 33, 4, 1),
    (3, D(2024, 2, 1), D(2024, 2, 29), D(2024, 3, 31), D(2024, 3, 1), D(2024, 5, 20), 50, 7, 1),
    (4, D(2024, 3, 1), D(2024, 3, 31), D(2024, 3, 31), D(2024, 4, 10), D(2024, 6, 30), 90, 13, 2),
    (5, D(2024, 3, 1), D(2024, 3, 31), D(2024, 3, 31), D(2024, 3, 11), D(2024, 6, 1), 60, 8, 2),
]
HASH = {"ana": "276b6c4692e78d4799c12ada515bc3e4", "ben": "7fe4771c008a22eb763df47d19e2c6aa",
        "cleo": "fce75110d95bedd51264ce2a99cfc908"}
ORDERS = [(1, "ana", D(2024, 1, 15), 1250, "delivered", True, "it's fine"),
          (2, "ben", D(2024, 2, 3), 800, "delivered", False, "call first"),
          (3, "ana", D(2024, 2, 20), 2300, "returned", False, None),
          (4, "cleo", D(2024, 3, 31), 450, "pending", True, "leave at door"),
          (5, "ben", D(2024, 3, 1), 1100, "delivered", False, None)]
STG_TAIL = {1: ("na", 2, "AnA", "it's", "fine"), 2: ("en", 3, "ben", "call", "first"),
            3: ("na", 2, "AnA", "none", "here"), 4: ("eo", 0, "cleo", "leave", "door"),
            5: ("en", 3, "ben", "none", "here")}

BAKERY = {
    "bakery.audit.operations": ("BASE TABLE", [("label", "VARCHAR"), ("models", "INTEGER")], [("nightly", 6)]),
    "bakery.main.calendar": (
        "BASE TABLE", [("grain", "VARCHAR"), ("period", "TIMESTAMP")],
        [*(("day", datetime(2024, 2, day)) for day in (26, 27, 28, 29)), ("day", datetime(2024, 3, 1)),
         *(("month", datetime(2024, month, 1)) for month in (1, 2, 3)),
         *(("number", datetime(2024, 1, day)) for day in range(2, 7))]),
    "bakery.main.calendar_types": ("BASE TABLE", [("generated_number", "BIGINT")], [(1,), (2,), (3,)]),
    "bakery.main.column_report": (
        "BASE TABLE",
        [("position", "INTEGER"), ("column_name", "VARCHAR"), ("data_type", "VARCHAR"), ("materialized", "VARCHAR"),
         ("tags", "VARCHAR"), ("found", "BOOLEAN"), ("quoted", "VARCHAR"), ("threads", "INTEGER"),
         ("database_name", "VARCHAR"), ("pairs", "INTEGER"), ("statuses", "INTEGER"), ("json_text", "VARCHAR"),
         ("id_length", "INTEGER"), ("started", "BOOLEAN")],
        [(1, "order_id", "INTEGER", *REPORT_ROW, '"order_id"', *REPORT_TAIL),
         (2, "customer", "character varying(256)", *REPORT_ROW, '"customer"', *REPORT_TAIL),
         (3, "ordered_at", "TIMESTAMP", *REPORT_ROW, '"ordered_at"', *REPORT_TAIL)]),
    "bakery.main.order_dates": (
        "BASE TABLE",
        [("order_id", "INTEGER"), ("order_month", "DATE"), ("month_end", "DATE"), ("quarter_end", "DATE"),
         ("due_at", "DATE"), ("next_quarter", "DATE"), ("days_in", "BIGINT"), ("weeks_in", "BIGINT"),
         ("months_in", "BIGINT"), ("label", "VARCHAR"), ("nothing_int", "INTEGER"), ("one_and_half", "DECIMAL(28,6)"),
         ("as_float", "FLOAT"), ("as_bool", "BOOLEAN"), ("as_bigint", "BIGINT"), ("as_text", "VARCHAR")],
        [(*row, "Q2-2024", None, Decimal("1.500000"), 2.25, True, 7, str(row[0])) for row in ORDER_DATES]),
    "bakery.main.orders": (
        "BASE TABLE",
        [("order_id", "INTEGER"), ("customer", "VARCHAR"), ("ordered_at", "DATE"), ("amount_cents", "INTEGER"),
         ("status", "VARCHAR"), ("is_gift", "BOOLEAN"), ("note", "VARCHAR")],
        ORDERS),
    "bakery.main.status_pivot": (
        "BASE TABLE",
        [("customer", "VARCHAR"), ("delivered_amount", "DOUBLE"), ("pending_amount", "DOUBLE"),
         ("returned_amount", "DOUBLE"), ("order_ids", "VARCHAR"), ("last_order", "VARCHAR"),
         ("any_customer", "VARCHAR"), ("all_orders", "INTEGER")],
        [("ana", 12.5, 0.0, 23.0, "1,3", "3", "ana", 5), ("ben", 19.0, 0.0, 0.0, "2,5", "5", "ben", 5),
         ("cleo", 0.0, 4.5, 0.0, "4", "4", "cleo", 5)]),
    "bakery.main.stg_orders": (
        "VIEW",
        [("order_id", "INTEGER"), ("customer", "VARCHAR"), ("ordered_at", "TIMESTAMP"), ("amount", "DOUBLE"),
         ("status", "VARCHAR"), ("gift_text", "VARCHAR"), ("escaped", "VARCHAR"), ("model_name", "VARCHAR"),
         ("customer_hash", "VARCHAR"), ("order_key", "VARCHAR"), ("name_length", "BIGINT"), ("name_tail", "VARCHAR"),
         ("n_position", "BIGINT"), ("shouted", "VARCHAR"), ("first_word", "VARCHAR"), ("last_word", "VARCHAR")],
        [(order, who, datetime(day.year, day.month, day.day), cents / 100, status, str(gift).lower(), "it's",
          "stg_orders", HASH[who], f"{who}-{order}", len(who), *STG_TAIL[order])
         for order, who, day, cents, status, gift, _ in ORDERS]),
}

PAYMENTS = [(1, "card", 12.5, 2), (2, "cash", 8.0, 0), (3, "card", 30.0, 3), (4, "voucher", 5.0, 1)]
PAYMENT_COLUMNS = [("payment_id", "INTEGER"), ("method", "VARCHAR"), ("amount", "DOUBLE"), ("quantity", "INTEGER")]
TILL = {
    "till.main.payment_methods": (
        "BASE TABLE", [("payment_key", "VARCHAR"), ("n_card", "HUGEINT"), ("n_cash", "HUGEINT"), ("n_voucher", "HUGEINT")],
        [("1ba7d4698fc2482e374b35775110d873", 0, 0, 1), ("4398a4a9d728aed1620df5c0b43b3870", 1, 0, 0),
         ("c780d43e5f6af6e28c147c94e1416276", 0, 1, 0), ("d4d806aada4fce8baf29b6b5e03eac27", 1, 0, 0)]),
    "till.main.payments": (
        "BASE TABLE",
        [*PAYMENT_COLUMNS, ("unit_price", "DOUBLE"), ("method_label", "VARCHAR"), ("utils_version", "VARCHAR")],
        [(*row, price, f"PAY:{row[1].upper()}", "1.0.0") for row, price in zip(PAYMENTS, [6.3, None, 10.0, 5.0])]),
    "till.main.raw_payments": (
        "BASE TABLE", [*PAYMENT_COLUMNS, ("note", "VARCHAR")],
        [(*row, note) for row, note in zip(PAYMENTS, ["first", "free sample", None, "promo"])]),
}


def _copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def test_jinja_context_builds_what_dbt_builds(tmp_path, cli, monkeypatch):
    """dbt.* cross-database macros (dates, types, strings, hash, listagg, any_value, date_spine and
    generate_series), adapter.dispatch to
    the project's duckdb__ macro, run_query and statement/load_result over a built upstream table, return,
    modules.datetime, model, config({...}) and config.get, adapter.get_relation/get_columns_in_relation/quote,
    fromjson/tojson/zip/set, target, invocation_id, run_started_at; then run-operation with graph and log."""
    root = _copy("dbt_jinja_context", tmp_path)
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert "Done. PASS=7 WARN=0 ERROR=0 SKIP=0 TOTAL=7" in result.output
    operation = cli("run-operation", "record_audit", "--args", "{label: nightly}")
    assert operation.exit_code == 0, operation.output
    assert "recorded nightly" in operation.output
    assert relations(root / "target/bakery.duckdb") == BAKERY


def test_doc_blocks_fill_descriptions_as_dbt_does(tmp_path, cli, monkeypatch):
    root = _copy("dbt_jinja_context", tmp_path)
    monkeypatch.chdir(root)
    assert cli("compile", "--select", "stg_orders").exit_code == 0
    manifest = json.loads((root / "target/manifest.json").read_text())
    node = next(node for uid, node in manifest["nodes"].items() if uid.endswith("stg_orders"))
    assert node["description"] == "One row per **order**, amounts in dollars."  # dbt's manifest.json has these
    assert node["columns"]["amount"]["description"] == "The order's amount in dollars (from cents)."


def test_installed_package_builds_what_dbt_builds(tmp_path, cli, monkeypatch):
    """A package in dbt_packages/ (listed in packages.yml): its macros by namespace, dispatching with the
    project's `dispatch:` search order to the project's own override, calling each other, reading
    columns and distinct values (a surrogate key and a pivot over them); its generic tests by namespace, named as dbt names them."""
    root = _copy("dbt_packages_project", tmp_path)
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert "Done. PASS=5 WARN=1 ERROR=0 SKIP=0 TOTAL=6" in result.output
    for name in ("mini_utils_accepted_range_payments_amount__0", "mini_utils_expression_is_true_payments_amount_0"):
        assert f"PASS {name}" in result.output
    assert "WARN mini_utils_accepted_range_payments_quantity__2__0" in result.output
    assert relations(root / "target/till.duckdb") == TILL
