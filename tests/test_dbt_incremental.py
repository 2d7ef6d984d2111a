"""Incremental strategies and on_schema_change, as dbt-duckdb runs them. tests/fixtures/dbt_incremental
is built twice (`--vars '{batch: 2}'` the second time changes every model's rows, and some models'
columns); the tables are what dbt-core 1.11.16 with dbt-duckdb 1.11.1 left after the same two runs."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

from conftest import relations

FIXTURE = Path(__file__).parent / "fixtures" / "dbt_incremental"
D1, D2 = date(2024, 1, 1), date(2024, 1, 2)
ORDERS = [("order_id", "INTEGER"), ("status", "VARCHAR"), ("amount", "DECIMAL(3,1)")]
DAYS = ([("order_id", "INTEGER"), ("order_day", "DATE"), ("note", "VARCHAR")],
        [(1, D1, "a"), (1, D1, "a2"), (2, D2, "b2")])
AFTER_TWO_RUNS = {
    "shop.main.events_append": ("BASE TABLE", [("batch", "INTEGER"), ("event", "VARCHAR")], [(1, "tick"), (2, "tick")]),
    "shop.main.events_append_new_columns": (
        "BASE TABLE", [("id", "INTEGER"), ("label", "VARCHAR"), ("dropped", "VARCHAR"), ("added", "INTEGER")],
        [(1, "a", "gone", None), (2, "b", None, 7)]),
    "shop.main.events_ignore": ("BASE TABLE", [("id", "INTEGER"), ("label", "VARCHAR")], [(1, "a"), (2, "b")]),
    "shop.main.events_refreshed": ("BASE TABLE", [("id", "INTEGER"), ("added", "VARCHAR")], [(2, "x")]),
    "shop.main.events_sync_all_columns": (
        "BASE TABLE", [("id", "INTEGER"), ("label", "VARCHAR"), ("added", "INTEGER"), ("score", "VARCHAR")],
        [(1, "a", None, "5"), (2, "b", 7, "high")]),
    "shop.main.orders_delete_insert": ("BASE TABLE", *DAYS),
    "shop.main.orders_merge": ("BASE TABLE", ORDERS, [(1, "new", Decimal("10.0")), (2, "shipped", Decimal("21.0")),
                                                      (3, "new", Decimal("30.0"))]),
    "shop.main.orders_merge_exclude_columns": (
        "BASE TABLE", [("order_id", "INTEGER"), ("line", "INTEGER"), ("status", "VARCHAR"), ("first_seen", "DATE")],
        [(1, 1, "new", D1), (1, 2, "shipped", D1), (2, 1, "new", D2)]),
    "shop.main.orders_merge_predicates": ("BASE TABLE", *DAYS),
    "shop.main.orders_merge_update_columns": (
        "BASE TABLE", ORDERS, [(1, "new", Decimal("10.0")), (2, "shipped", Decimal("20.0")), (3, "new", Decimal("30.0"))]),
}


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / FIXTURE.name))


def test_two_incremental_runs_leave_what_dbt_leaves(tmp_path, cli, monkeypatch):
    """merge (by name, merge_update_columns, merge_exclude_columns, a composite key, incremental_predicates
    on DBT_INTERNAL_DEST), delete+insert with incremental_predicates (rows outside them stay), append,
    on_schema_change ignore / append_new_columns / sync_all_columns (a retyped column moves last, as
    dbt's alter does), and a model with `full_refresh: true` rebuilt on every run."""
    root = _copy(tmp_path)
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    result = cli("build", "--vars", "{batch: 2}")
    assert result.exit_code == 0, result.output
    assert "Done. PASS=10 WARN=0 ERROR=0 SKIP=0 TOTAL=10" in result.output
    assert relations(root / "target/shop.duckdb") == AFTER_TWO_RUNS


def test_on_schema_change_fail_names_the_columns_and_leaves_the_table(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path)
    monkeypatch.chdir(root)
    (root / "models/events_refreshed.sql").write_text(
        "{{ config(unique_key='id', on_schema_change='fail') }}\n"
        "select {{ var('batch', 1) }} as id{% if var('batch', 1) == 2 %}, 'x' as added{% endif %}\n")
    assert cli("build", "-s", "events_refreshed").exit_code == 0
    result = cli("build", "-s", "events_refreshed", "--vars", "{batch: 2}")
    assert result.exit_code == 1
    assert "model 'events_refreshed': the query's columns no longer match incremental table main.events_refreshed " \
           "(on_schema_change: fail). Query columns not in the table: added; table columns not in the query: none" \
           in result.output
    assert "models/events_refreshed.sql" in result.output and "--full-refresh" in result.output
    assert relations(root / "target/shop.duckdb")["shop.main.events_refreshed"][1:] == ([("id", "INTEGER")], [(1,)])


def _refusal(tmp_path, cli, monkeypatch, config: str) -> str:
    root = _copy(tmp_path)
    monkeypatch.chdir(root)
    (root / "models/events_append.sql").write_text(f"{{{{ config({config}) }}}}\nselect 1 as id\n")
    result = cli("build")
    assert result.exit_code != 0
    return result.output


def test_microbatch_is_refused_naming_the_model_and_file(tmp_path, cli, monkeypatch):
    output = _refusal(tmp_path, cli, monkeypatch, "incremental_strategy='microbatch'")
    assert "model 'events_append': incremental_strategy 'microbatch' is not supported" in output
    assert "models/events_append.sql" in output and "event_time" in output


def test_an_unknown_on_schema_change_is_refused(tmp_path, cli, monkeypatch):
    output = _refusal(tmp_path, cli, monkeypatch, "on_schema_change='add_columns'")
    assert "on_schema_change 'add_columns' is not one of ignore, fail, append_new_columns, sync_all_columns" in output


def test_merge_columns_without_merge_are_refused(tmp_path, cli, monkeypatch):
    output = _refusal(tmp_path, cli, monkeypatch, "unique_key='id', merge_update_columns=['id']")
    assert "`merge_update_columns` applies only to incremental_strategy 'merge'" in output
