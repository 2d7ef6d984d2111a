"""dbt's snapshots in a dbt project written as dbt users write them, built twice by `smart-sql build` with
a changed, a deleted and a new source row in between. Each snapshot table is checked against what
dbt-core 1.11.16 with dbt-duckdb 1.11.1 built from the same files across the same two runs (run by
hand once): columns, types and rows. Times that are the run's own (the check strategy's
dbt_updated_at, a hard delete's dbt_valid_to) are compared as "first run" / "second run"; ids made
from them are checked against dbt's formula, md5(unique_key || '|' || dbt_updated_at)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest

from conftest import relations

FIRST_ORDERS = "id,status,updated_at\n1,placed,2024-01-01 10:00:00\n2,placed,2024-01-01 11:00:00\n" \
               "3,placed,2024-01-01 12:00:00\n"
SECOND_ORDERS = "id,status,updated_at\n1,placed,2024-01-01 10:00:00\n2,shipped,2024-01-02 09:00:00\n" \
                "4,placed,2024-01-03 08:00:00\n"
SHOP = {
    "seeds/raw_orders.csv": FIRST_ORDERS,
    "models/orders.sql": "select * from {{ ref('raw_orders') }}\n",
    "models/current_orders.sql": "select id, status from {{ ref('orders_ts') }} where dbt_valid_to is null\n",
    "snapshots/orders_ts.sql": """\
        {% snapshot orders_ts %}
        {{ config(target_schema='snapshots', unique_key='id', strategy='timestamp', updated_at='updated_at',
                  invalidate_hard_deletes=True) }}
        select * from {{ ref('orders') }}
        {% endsnapshot %}
    """,
    "snapshots/orders_check.sql": """\
        {% snapshot orders_check %}
        {{ config(unique_key='id', strategy='check', check_cols=['status']) }}
        select * from {{ ref('orders') }}
        {% endsnapshot %}
    """,
    "snapshots/snaps.yml": """\
        snapshots:
          - name: orders_yaml
            relation: ref('orders')
            config:
              unique_key: id
              strategy: check
              check_cols: all
              hard_deletes: new_record
    """,
}
COLUMNS = [("id", "INTEGER"), ("status", "VARCHAR"), ("updated_at", "TIMESTAMP"), ("dbt_scd_id", "VARCHAR"),
           ("dbt_updated_at", "TIMESTAMP"), ("dbt_valid_from", "TIMESTAMP"), ("dbt_valid_to", "TIMESTAMP")]
D = datetime
DBT_SNAPSHOTS = {  # dbt's tables after the two runs; "run 1"/"run 2": that run's time; "scd": checked apart
    "snapshots.orders_ts": ("BASE TABLE", COLUMNS, [
        (1, "placed", D(2024, 1, 1, 10), "4f5746d2de2c81b300d78040e8c6008e", D(2024, 1, 1, 10), D(2024, 1, 1, 10), None),
        (2, "placed", D(2024, 1, 1, 11), "f40e623df2e2951384620635597952b7", D(2024, 1, 1, 11), D(2024, 1, 1, 11),
         D(2024, 1, 2, 9)),
        (2, "shipped", D(2024, 1, 2, 9), "bb7d71118a7f3fe6f1b2487d1801ed5b", D(2024, 1, 2, 9), D(2024, 1, 2, 9), None),
        (3, "placed", D(2024, 1, 1, 12), "ba6cb675ccea4e278751208157835bd4", D(2024, 1, 1, 12), D(2024, 1, 1, 12),
         "run 2"),
        (4, "placed", D(2024, 1, 3, 8), "7e54da121719ea33ee59bf5e1a4db05d", D(2024, 1, 3, 8), D(2024, 1, 3, 8), None),
    ]),
    "main.orders_check": ("BASE TABLE", COLUMNS, [
        (1, "placed", D(2024, 1, 1, 10), "scd", "run 1", "run 1", None),
        (2, "placed", D(2024, 1, 1, 11), "scd", "run 1", "run 1", "run 2"),
        (2, "shipped", D(2024, 1, 2, 9), "scd", "run 2", "run 2", None),
        (3, "placed", D(2024, 1, 1, 12), "scd", "run 1", "run 1", None),
        (4, "placed", D(2024, 1, 3, 8), "scd", "run 2", "run 2", None),
    ]),
    "main.orders_yaml": ("BASE TABLE", [*COLUMNS, ("dbt_is_deleted", "VARCHAR")], [
        (1, "placed", D(2024, 1, 1, 10), "scd", "run 1", "run 1", None, "False"),
        (2, "placed", D(2024, 1, 1, 11), "scd", "run 1", "run 1", "run 2", "False"),
        (2, "shipped", D(2024, 1, 2, 9), "scd", "run 2", "run 2", None, "False"),
        (3, "placed", D(2024, 1, 1, 12), "scd", "run 1", "run 1", "run 2", "False"),
        (3, "placed", D(2024, 1, 1, 12), "deleted scd", "run 2", "run 2", None, "True"),
        (4, "placed", D(2024, 1, 3, 8), "scd", "run 2", "run 2", None, "False"),
    ]),
}


def _build(cli, root, command="build"):
    return cli(command, "--project-dir", root, "--profiles-dir", root)


@pytest.fixture
def built_twice(make_dbt_project, cli):
    """The project after two builds, and the time between them."""
    root = make_dbt_project(SHOP)
    assert _build(cli, root).exit_code == 0
    between = datetime.now()
    (root / "seeds" / "raw_orders.csv").write_text(SECOND_ORDERS)
    second = _build(cli, root)
    assert second.exit_code == 0, second.output
    return root, between, second


def _md5(*parts) -> str:
    """dbt's snapshot_hash_arguments, with values cast to text as DuckDB casts them."""
    return hashlib.md5("|".join(_as_text(part) for part in parts).encode()).hexdigest()


def _as_text(value) -> str:
    text = str(value)
    return text.rstrip("0").rstrip(".") if isinstance(value, datetime) and value.microsecond else text


def _as_dbts(rows, between, scd_ids):
    """Run times as 'run 1'/'run 2'; run-time-based scd ids as 'scd' once they follow dbt's formula."""
    def label(value):
        if isinstance(value, datetime) and value.year >= 2025:
            return "run 1" if value < between else "run 2"
        return value
    normalized = []
    for row in rows:
        row = list(row)
        if scd_ids:
            if row[-1] == "True":  # a deletion record: md5(the deleted version's scd id | the run's time)
                assert any(row[3] == _md5(old[3], row[4]) for old in rows if old[0] == row[0] and old[-1] == "False")
                row[3] = "deleted scd"
            else:
                assert row[3] == _md5(row[0], row[4])
                row[3] = "scd"
        normalized.append(tuple(label(value) for value in row))
    return normalized


@pytest.mark.parametrize("name", list(DBT_SNAPSHOTS))
def test_a_snapshot_table_is_dbts_after_two_runs(built_twice, name):
    root, between, _ = built_twice
    kind, columns, rows = relations(root / "target" / "dev.duckdb")[f"dev.{name}"]
    assert (kind, columns) == DBT_SNAPSHOTS[name][:2]
    normalized = _as_dbts(rows, between, scd_ids=name != "snapshots.orders_ts")
    assert sorted(normalized, key=str) == sorted(DBT_SNAPSHOTS[name][2], key=str)  # scd ids order rows at random


def test_a_model_refs_a_snapshot_and_is_built_after_it(built_twice, query):
    root, _, second = built_twice
    assert query(root, "select * from main.current_orders order by id") == [(1, "placed"), (2, "shipped"),
                                                                              (4, "placed")]
    order = [entry["unique_id"] for entry in json.loads((root / "target" / "run_results.json").read_text())["results"]]
    assert order.index("model.shop.orders") < order.index("snapshot.shop.orders_ts") < order.index("model.shop.current_orders")
    assert "OK snapshotted snapshots.orders_ts (new versions inserted)" in second.output


def test_the_snapshot_command_runs_only_the_snapshots(make_dbt_project, cli, query):
    root = make_dbt_project(SHOP)
    assert _build(cli, root).exit_code == 0
    (root / "seeds" / "raw_orders.csv").write_text(SECOND_ORDERS)
    result = _build(cli, root, "snapshot")
    assert result.exit_code == 0, result.output
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    assert sorted(entry["unique_id"] for entry in results) == ["snapshot.shop.orders_check", "snapshot.shop.orders_ts",
                                                                "snapshot.shop.orders_yaml"]
    assert query(root, "select count(*) from snapshots.orders_ts") == [(3,)]  # the seed was not reloaded


def test_a_failed_snapshot_run_leaves_the_previous_table(make_dbt_project, cli, query):
    root = make_dbt_project(SHOP)
    assert _build(cli, root).exit_code == 0
    before = query(root, "select * from snapshots.orders_ts order by all")
    (root / "seeds" / "raw_orders.csv").write_text(SECOND_ORDERS)
    snapshot = root / "snapshots" / "orders_ts.sql"
    snapshot.write_text(snapshot.read_text().replace("invalidate_hard_deletes=True",
                                                     "invalidate_hard_deletes=True, post_hook=\"select error('late')\""))
    result = _build(cli, root)
    assert result.exit_code == 1
    assert "late" in result.output and "SKIP model current_orders" in result.output
    assert query(root, "select * from snapshots.orders_ts order by all") == before
    assert query(root, "select count(*) from information_schema.tables where table_name like '%tmp%'") == [(0,)]


SALES = {
    "dbt_project.yml": """\
        name: shop
        config-version: 2
        profile: shop
        vars:
          min_amount: 5
        snapshots:
          shop:
            +target_schema: history
    """,
    "seeds/sales.csv": "id,region,amount,updated_at\n1,eu,10,2024-01-01\n1,us,20,2024-01-01\n2,eu,3,2024-01-01\n",
    "snapshots/sales_history.sql": """\
        {% snapshot sales_history %}
        {{ config(unique_key=['id', 'region'], strategy='timestamp', updated_at='updated_at',
                  dbt_valid_to_current="'9999-12-31'::date") }}
        select * from {{ ref('sales') }}
        {% endsnapshot %}
    """,
    "snapshots/props.yml": """\
        snapshots:
          - name: sales_history
            columns:
              - name: dbt_scd_id
                data_tests: [unique]
              - name: amount
                data_tests:
                  - not_null:
                      config:
                        where: "amount > {{ var('min_amount') }}"
                        fail_calc: "sum(amount)"
    """,
    "models/props.yml": """\
        seeds:
          - name: sales
            columns:
              - name: amount
                data_tests:
                  - accepted_values:
                      arguments:
                        values: [10, 20]
                        quote: false
                      config:
                        fail_calc: "sum(n_records) * 10"
                        warn_if: ">20"
                        error_if: ">100"
    """,
}
SALES_COLUMNS = [("id", "INTEGER"), ("region", "VARCHAR"), ("amount", "INTEGER"), ("updated_at", "DATE"),
                 ("dbt_scd_id", "VARCHAR"), ("dbt_updated_at", "DATE"), ("dbt_valid_from", "DATE"),
                 ("dbt_valid_to", "DATE")]
DBT_SALES_HISTORY = [  # dbt's history.sales_history after the second run
    (1, "eu", 10, D(2024, 1, 1).date(), "1b9f1abf679804ef0ad7969c4fe3ea9f", D(2024, 1, 1).date(), D(2024, 1, 1).date(),
     D(2024, 2, 1).date()),
    (1, "eu", 15, D(2024, 2, 1).date(), "38be86f1caa21789d6c741a46499d215", D(2024, 2, 1).date(), D(2024, 2, 1).date(),
     D(9999, 12, 31).date()),
    (1, "us", 20, D(2024, 1, 1).date(), "0605a4dffb4656c5a474ec0177f0c3a7", D(2024, 1, 1).date(), D(2024, 1, 1).date(),
     D(9999, 12, 31).date()),
    (2, "eu", 3, D(2024, 1, 1).date(), "1db3f58bcd5ef2f8eb5530296938386a", D(2024, 1, 1).date(), D(2024, 1, 1).date(),
     D(9999, 12, 31).date()),
]
DBT_SALES_RESULTS = {  # name: (status, failures) in dbt's run_results.json, on both runs
    "sales": ("success", None),
    "accepted_values_sales_amount__False__10__20": ("pass", 0),  # sum(n_records) * 10 = 10, warn_if >20
    "sales_history": ("success", None),
    "not_null_sales_history_amount": ("error", None),  # sum(amount) over no failing row is NULL: dbt errors
    "unique_sales_history_dbt_scd_id": ("pass", 0),
}


def test_a_composite_key_snapshot_with_dbt_valid_to_current_is_dbts(make_dbt_project, cli):
    root = make_dbt_project(SALES)
    assert _build(cli, root).exit_code == 1
    (root / "seeds" / "sales.csv").write_text("id,region,amount,updated_at\n1,eu,15,2024-02-01\n1,us,20,2024-01-01\n"
                                              "2,eu,3,2024-01-01\n")
    assert _build(cli, root).exit_code == 1
    assert relations(root / "target" / "dev.duckdb")["dev.history.sales_history"] == (
        "BASE TABLE", SALES_COLUMNS, DBT_SALES_HISTORY)


def test_data_tests_on_a_snapshot_and_fail_calc_are_dbts(make_dbt_project, cli):
    root = make_dbt_project(SALES)
    result = _build(cli, root)
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    assert {entry["name"]: (entry["status"], entry["failures"]) for entry in results} == DBT_SALES_RESULTS
    assert "fail_calc 'sum(amount)' gave NULL" in result.output


def test_an_error_in_a_snapshot_block_names_the_file_and_line(make_dbt_project, cli):
    files = {"snapshots/orders_ts.sql": SHOP["snapshots/orders_ts.sql"].replace("ref('orders')", "ref('ordres')")}
    root = make_dbt_project({**SHOP, **files})
    result = _build(cli, root)
    assert result.exit_code != 0
    assert ("snapshots/orders_ts.sql:4: snapshot 'orders_ts' refers to 'ordres', which is neither a model, a seed "
            "nor a snapshot") in result.output
    assert "did you mean: orders" in result.output


def test_a_table_without_the_snapshot_columns_is_not_snapshotted_into(make_dbt_project, cli, query):
    import duckdb

    root = make_dbt_project(SHOP)
    (root / "target").mkdir()
    with duckdb.connect(str(root / "target" / "dev.duckdb")) as conn:
        conn.execute("create schema snapshots; create table snapshots.orders_ts as select 1 as id")
    result = _build(cli, root)
    assert result.exit_code == 1
    assert ("snapshot 'orders_ts': snapshots.orders_ts is missing the snapshot columns dbt_scd_id, dbt_valid_from, "
            "dbt_valid_to") in result.output
    assert query(root, "select * from snapshots.orders_ts") == [(1,)]
