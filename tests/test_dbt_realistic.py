"""Two dbt-duckdb projects written as dbt users write them (tests/fixtures/dbt_realistic_*), built by
`smart-sql` unchanged, relation by relation against what dbt-core 1.11.16 with dbt-duckdb 1.11.1 built
from the same files (run by hand once; the values below are dbt's). Then the gaps those projects found,
each on its own."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
from conftest import relations

FIXTURES = Path(__file__).parent / "fixtures"
SNAPSHOT_COLUMNS = {"dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to"}

# dbt's relations after `dbt seed`, `dbt build` and `dbt build --vars '{include_late_orders: true}'`;
# a snapshot's rows as (its columns..., current?): its timestamps and scd ids are the clock's.
SHOP = {
    'shop.audit.run_log': (
        'BASE TABLE',
        [('event', 'VARCHAR'), ('target_name', 'VARCHAR')],
        [('before orders', 'dev'),
         ('before orders', 'dev'),
         ('built customers', 'dev'),
         ('built customers', 'dev'),
         ('built fct_orders', 'dev'),
         ('built fct_orders', 'dev'),
         ('built orders', 'dev'),
         ('built orders', 'dev'),
         ('end 32', 'dev'),
         ('end 32', 'dev'),
         ('end 4', 'dev'),
         ('start', 'dev'),
         ('start', 'dev'),
         ('start', 'dev')]),
    'shop.dbt_test__audit.stg_customers_every_email_present': (
        'BASE TABLE',
        [('customer_id', 'INTEGER'),
         ('first_name', 'VARCHAR'),
         ('last_name', 'VARCHAR'),
         ('full_name', 'VARCHAR'),
         ('email', 'VARCHAR'),
         ('email_hash', 'VARCHAR'),
         ('signed_up_at', 'TIMESTAMP'),
         ('signup_month', 'DATE')],
        [(4,
          'Edsger',
          'Dijkstra',
          'Edsger Dijkstra',
          None,
          None,
          datetime(2024, 2, 20, 17, 45),
          date(2024, 2, 1))]),
    'shop.marts.customers': (
        'BASE TABLE',
        [('customer_id', 'INTEGER'),
         ('full_name', 'VARCHAR'),
         ('signup_month', 'DATE'),
         ('first_order', 'DATE'),
         ('most_recent_order', 'DATE'),
         ('lifetime_days', 'BIGINT'),
         ('number_of_orders', 'BIGINT'),
         ('lifetime_value', 'DECIMAL(38,2)'),
         ('customer_key', 'VARCHAR')],
        [(1,
          'Ada Lovelace',
          date(2024, 1, 1),
          date(2024, 3, 1),
          date(2024, 3, 5),
          4,
          2,
          Decimal('22.40'),
          '1'),
         (2,
          'Alan Turing',
          date(2024, 1, 1),
          date(2024, 3, 2),
          date(2024, 3, 9),
          7,
          2,
          Decimal('27.00'),
          '2'),
         (3,
          'Grace Hopper',
          date(2024, 2, 1),
          date(2024, 3, 7),
          date(2024, 3, 7),
          0,
          1,
          Decimal('30.00'),
          '3'),
         (4,
          'Edsger Dijkstra',
          date(2024, 2, 1),
          date(2024, 3, 10),
          date(2024, 3, 10),
          0,
          1,
          Decimal('25.75'),
          '4')]),
    'shop.marts.fct_orders': (
        'BASE TABLE',
        [('order_id', 'INTEGER'),
         ('customer_id', 'INTEGER'),
         ('order_date', 'DATE'),
         ('status', 'VARCHAR'),
         ('loaded_by', 'VARCHAR')],
        [(1, 1, date(2024, 3, 1), 'completed', 'full'),
         (2, 2, date(2024, 3, 2), 'completed', 'full'),
         (3, 1, date(2024, 3, 5), 'returned', 'incremental'),
         (4, 3, date(2024, 3, 7), 'shipped', 'incremental'),
         (5, 2, date(2024, 3, 9), 'completed', 'incremental'),
         (6, 4, date(2024, 3, 10), 'completed', 'incremental'),
         (7, 3, date(2024, 3, 12), 'placed', 'incremental')]),
    'shop.marts.orders': (
        'BASE TABLE',
        [('order_id', 'INTEGER'),
         ('customer_id', 'INTEGER'),
         ('order_date', 'DATE'),
         ('status', 'VARCHAR'),
         ('amount', 'DECIMAL(16,2)'),
         ('payment_count', 'BIGINT'),
         ('return_deadline', 'TIMESTAMP')],
        [(1, 1, date(2024, 3, 1), 'completed', Decimal('12.50'), 1, datetime(2024, 3, 15, 0, 0)),
         (2, 2, date(2024, 3, 2), 'completed', Decimal('20.00'), 2, datetime(2024, 3, 16, 0, 0)),
         (3, 1, date(2024, 3, 5), 'returned', Decimal('9.90'), 1, datetime(2024, 3, 19, 0, 0)),
         (4, 3, date(2024, 3, 7), 'shipped', Decimal('30.00'), 1, datetime(2024, 3, 21, 0, 0)),
         (5, 2, date(2024, 3, 9), 'placed', Decimal('7.00'), 1, datetime(2024, 3, 23, 0, 0)),
         (6, 4, date(2024, 3, 10), 'completed', Decimal('25.75'), 1, datetime(2024, 3, 24, 0, 0))]),
    'shop.raw.raw_customers': (
        'BASE TABLE',
        [('id', 'INTEGER'),
         ('first_name', 'VARCHAR'),
         ('last_name', 'VARCHAR'),
         ('email', 'VARCHAR'),
         ('signed_up_at', 'TIMESTAMP')],
        [(1, 'Ada', 'Lovelace', 'ada@example.com', datetime(2024, 1, 3, 9, 15)),
         (2, 'Alan', 'Turing', 'alan@example.com', datetime(2024, 1, 10, 14, 0)),
         (3, 'Grace', 'Hopper', 'grace@example.com', datetime(2024, 2, 1, 8, 30)),
         (4, 'Edsger', 'Dijkstra', None, datetime(2024, 2, 20, 17, 45))]),
    'shop.raw.raw_orders': (
        'BASE TABLE',
        [('id', 'INTEGER'), ('customer_id', 'INTEGER'), ('order_date', 'DATE'), ('status', 'VARCHAR')],
        [(1, 1, date(2024, 3, 1), 'completed'),
         (2, 2, date(2024, 3, 2), 'completed'),
         (3, 1, date(2024, 3, 5), 'returned'),
         (4, 3, date(2024, 3, 7), 'shipped'),
         (5, 2, date(2024, 3, 9), 'placed'),
         (6, 4, date(2024, 3, 10), 'completed')]),
    'shop.raw.raw_orders_late': (
        'BASE TABLE',
        [('id', 'INTEGER'), ('customer_id', 'INTEGER'), ('order_date', 'DATE'), ('status', 'VARCHAR')],
        [(5, 2, date(2024, 3, 9), 'completed'), (7, 3, date(2024, 3, 12), 'placed')]),
    'shop.raw.raw_payments': (
        'BASE TABLE',
        [('id', 'INTEGER'), ('order_id', 'INTEGER'), ('payment_method', 'VARCHAR'), ('amount_cents', 'INTEGER')],
        [(1, 1, 'credit_card', 1250),
         (2, 2, 'coupon', 500),
         (3, 2, 'credit_card', 1500),
         (4, 3, 'bank_transfer', 990),
         (5, 4, 'credit_card', 3000),
         (6, 5, 'gift_card', 700),
         (7, 6, 'credit_card', 2575),
         (8, 7, 'coupon', 1800)]),
    'shop.snapshots.orders_snapshot': (
        'BASE TABLE',
        [('order_id', 'INTEGER'),
         ('customer_id', 'INTEGER'),
         ('status', 'VARCHAR'),
         ('dbt_scd_id', 'VARCHAR'),
         ('dbt_updated_at', 'TIMESTAMP'),
         ('dbt_valid_from', 'TIMESTAMP'),
         ('dbt_valid_to', 'TIMESTAMP')],
        [(1, 1, 'completed', True),
         (2, 2, 'completed', True),
         (3, 1, 'returned', True),
         (4, 3, 'shipped', True),
         (5, 2, 'completed', True),
         (5, 2, 'placed', False),
         (6, 4, 'completed', True),
         (7, 3, 'placed', True)]),
    'shop.staging.stg_customers': (
        'VIEW',
        [('customer_id', 'INTEGER'),
         ('first_name', 'VARCHAR'),
         ('last_name', 'VARCHAR'),
         ('full_name', 'VARCHAR'),
         ('email', 'VARCHAR'),
         ('email_hash', 'VARCHAR'),
         ('signed_up_at', 'TIMESTAMP'),
         ('signup_month', 'DATE')],
        [(1,
          'Ada',
          'Lovelace',
          'Ada Lovelace',
          'ada@example.com',
          '3e3417d7ef77d5932a6734b916515ed5',
          datetime(2024, 1, 3, 9, 15),
          date(2024, 1, 1)),
         (2,
          'Alan',
          'Turing',
          'Alan Turing',
          'alan@example.com',
          'f8982b840983da7dc8a79668bceb02eb',
          datetime(2024, 1, 10, 14, 0),
          date(2024, 1, 1)),
         (3,
          'Grace',
          'Hopper',
          'Grace Hopper',
          'grace@example.com',
          '9f528ceb410182ebd9d490172948f11f',
          datetime(2024, 2, 1, 8, 30),
          date(2024, 2, 1)),
         (4,
          'Edsger',
          'Dijkstra',
          'Edsger Dijkstra',
          None,
          None,
          datetime(2024, 2, 20, 17, 45),
          date(2024, 2, 1))]),
    'shop.staging.stg_orders': (
        'VIEW',
        [('order_id', 'INTEGER'), ('customer_id', 'INTEGER'), ('order_date', 'DATE'), ('status', 'VARCHAR')],
        [(1, 1, date(2024, 3, 1), 'completed'),
         (2, 2, date(2024, 3, 2), 'completed'),
         (3, 1, date(2024, 3, 5), 'returned'),
         (4, 3, date(2024, 3, 7), 'shipped'),
         (5, 2, date(2024, 3, 9), 'placed'),
         (6, 4, date(2024, 3, 10), 'completed')]),
    'shop.staging.stg_payments': (
        'VIEW',
        [('payment_id', 'INTEGER'),
         ('order_id', 'INTEGER'),
         ('payment_method', 'VARCHAR'),
         ('amount', 'DECIMAL(16,2)')],
        [(1, 1, 'credit_card', Decimal('12.50')),
         (2, 2, 'coupon', Decimal('5.00')),
         (3, 2, 'credit_card', Decimal('15.00')),
         (4, 3, 'bank_transfer', Decimal('9.90')),
         (5, 4, 'credit_card', Decimal('30.00')),
         (6, 5, 'gift_card', Decimal('7.00')),
         (7, 6, 'credit_card', Decimal('25.75')),
         (8, 7, 'coupon', Decimal('18.00'))]),
}

# dbt's relations after `dbt seed`, `dbt build` and `dbt build --vars '{event_batch: 2}'`.
SAAS = {
    'warehouse.core.load_audit': (
        'BASE TABLE',
        [('step', 'VARCHAR'), ('batch', 'INTEGER')],
        [('accounts 3', 1),
         ('accounts 3', 2),
         ('done core,core_analytics,core_dbt_test__audit,core_landing,crm,history', 1),
         ('done core,core_analytics,core_dbt_test__audit,core_landing,crm,history', 2),
         ('done core_landing,crm', 1),
         ('start dim_accounts', 1),
         ('start dim_accounts', 2),
         ('start fct_events', 1),
         ('start fct_events', 2)]),
    'warehouse.core.stg_accounts': (
        'VIEW',
        [('account_id', 'INTEGER'),
         ('account_name', 'VARCHAR'),
         ('plan', 'VARCHAR'),
         ('seats', 'INTEGER'),
         ('created_on', 'DATE')],
        [(10, 'Acme', 'team', 12, date(2024, 3, 28)),
         (20, 'Globex', 'team', 3, date(2024, 4, 3)),
         (30, 'Initech', 'trial', 1, date(2024, 4, 16))]),
    'warehouse.core.stg_events': (
        'VIEW',
        [('event_id', 'BIGINT'),
         ('batch', 'INTEGER'),
         ('account_id', 'INTEGER'),
         ('user_email', 'VARCHAR'),
         ('email_domain', 'VARCHAR'),
         ('event_name', 'VARCHAR'),
         ('occurred_at', 'TIMESTAMP'),
         ('event_week', 'DATE'),
         ('plan', 'VARCHAR'),
         ('user_key', 'VARCHAR')],
        [(1,
          1,
          10,
          'mia@acme.io',
          'acme.io',
          'signup',
          datetime(2024, 4, 1, 9, 0),
          date(2024, 4, 1),
          'trial',
          '0ed6314ceaf3fae3e141254d5d710ca0'),
         (2,
          1,
          10,
          'mia@acme.io',
          'acme.io',
          'login',
          datetime(2024, 4, 2, 10, 30),
          date(2024, 4, 1),
          None,
          '0ed6314ceaf3fae3e141254d5d710ca0'),
         (3,
          1,
          20,
          'li@globex.com',
          'globex.com',
          'signup',
          datetime(2024, 4, 3, 11, 0),
          date(2024, 4, 1),
          'trial',
          'e71ac109a00c31613f7c17db3adc9668'),
         (4,
          1,
          10,
          'sam@acme.io',
          'acme.io',
          'feature_used',
          datetime(2024, 4, 8, 16, 45),
          date(2024, 4, 8),
          None,
          'dd6fceee8bc40133ebaad8d70f6e43f5'),
         (5,
          1,
          20,
          'li@globex.com',
          'globex.com',
          'login',
          datetime(2024, 4, 9, 8, 15),
          date(2024, 4, 8),
          None,
          'e71ac109a00c31613f7c17db3adc9668'),
         (6,
          2,
          20,
          'li@globex.com',
          'globex.com',
          'upgrade',
          datetime(2024, 4, 15, 12, 0),
          date(2024, 4, 15),
          'team',
          'e71ac109a00c31613f7c17db3adc9668'),
         (7,
          2,
          30,
          'ana@initech.com',
          'initech.com',
          'signup',
          datetime(2024, 4, 16, 9, 30),
          date(2024, 4, 15),
          'trial',
          '52eadd7abe158b69da30abf75892f751'),
         (8,
          2,
          10,
          'mia@acme.io',
          'acme.io',
          'feature_used',
          datetime(2024, 4, 16, 10, 0),
          date(2024, 4, 15),
          None,
          '0ed6314ceaf3fae3e141254d5d710ca0')]),
    'warehouse.core_analytics.dim_accounts': (
        'BASE TABLE',
        [('account_id', 'INTEGER'),
         ('account_name', 'VARCHAR'),
         ('plan', 'VARCHAR'),
         ('seats', 'INTEGER'),
         ('created_on', 'DATE'),
         ('first_seen_at', 'TIMESTAMP'),
         ('last_seen_at', 'TIMESTAMP'),
         ('logins', 'BIGINT'),
         ('features_used', 'BIGINT'),
         ('weeks_active', 'BIGINT'),
         ('is_active', 'BOOLEAN'),
         ('label', 'VARCHAR')],
        [(10,
          'Acme',
          'team',
          12,
          date(2024, 3, 28),
          datetime(2024, 4, 1, 9, 0),
          datetime(2024, 4, 16, 10, 0),
          1,
          2,
          3,
          True,
          'Acme (team)'),
         (20,
          'Globex',
          'team',
          3,
          date(2024, 4, 3),
          datetime(2024, 4, 3, 11, 0),
          datetime(2024, 4, 15, 12, 0),
          1,
          0,
          2,
          True,
          'Globex (team)'),
         (30,
          'Initech',
          'trial',
          1,
          date(2024, 4, 16),
          datetime(2024, 4, 16, 9, 30),
          datetime(2024, 4, 16, 9, 30),
          0,
          0,
          0,
          True,
          'Initech (trial)')]),
    'warehouse.core_analytics.fct_events': (
        'BASE TABLE',
        [('event_id', 'BIGINT'),
         ('account_id', 'INTEGER'),
         ('event_name', 'VARCHAR'),
         ('occurred_at', 'TIMESTAMP'),
         ('event_week', 'DATE'),
         ('retention_check_on', 'TIMESTAMP'),
         ('loaded_in_batch', 'INTEGER')],
        [(1,
          10,
          'signup',
          datetime(2024, 4, 1, 9, 0),
          date(2024, 4, 1),
          datetime(2024, 5, 1, 0, 0),
          1),
         (2,
          10,
          'login',
          datetime(2024, 4, 2, 10, 30),
          date(2024, 4, 1),
          datetime(2024, 5, 1, 0, 0),
          1),
         (3,
          20,
          'signup',
          datetime(2024, 4, 3, 11, 0),
          date(2024, 4, 1),
          datetime(2024, 5, 1, 0, 0),
          1),
         (4,
          10,
          'feature_used',
          datetime(2024, 4, 8, 16, 45),
          date(2024, 4, 8),
          datetime(2024, 5, 8, 0, 0),
          1),
         (5,
          20,
          'login',
          datetime(2024, 4, 9, 8, 15),
          date(2024, 4, 8),
          datetime(2024, 5, 8, 0, 0),
          1),
         (6,
          20,
          'upgrade',
          datetime(2024, 4, 15, 12, 0),
          date(2024, 4, 15),
          datetime(2024, 5, 15, 0, 0),
          2),
         (7,
          30,
          'signup',
          datetime(2024, 4, 16, 9, 30),
          date(2024, 4, 15),
          datetime(2024, 5, 15, 0, 0),
          2),
         (8,
          10,
          'feature_used',
          datetime(2024, 4, 16, 10, 0),
          date(2024, 4, 15),
          datetime(2024, 5, 15, 0, 0),
          2)]),
    'warehouse.core_dbt_test__audit.unique_fct_events_event_id': (
        'BASE TABLE',
        [('unique_field', 'BIGINT'), ('n_records', 'BIGINT')],
        []),
    'warehouse.core_landing.raw_events': (
        'BASE TABLE',
        [('event_id', 'BIGINT'),
         ('batch', 'INTEGER'),
         ('account_id', 'INTEGER'),
         ('user_email', 'VARCHAR'),
         ('event_name', 'VARCHAR'),
         ('occurred_at', 'TIMESTAMP'),
         ('properties', 'VARCHAR')],
        [(1, 1, 10, 'mia@acme.io', 'signup', datetime(2024, 4, 1, 9, 0), '{"plan": "trial"}'),
         (2, 1, 10, 'mia@acme.io', 'login', datetime(2024, 4, 2, 10, 30), '{}'),
         (3, 1, 20, 'li@globex.com', 'signup', datetime(2024, 4, 3, 11, 0), '{"plan": "trial"}'),
         (4, 1, 10, 'sam@acme.io', 'feature_used', datetime(2024, 4, 8, 16, 45), '{"feature": "export"}'),
         (5, 1, 20, 'li@globex.com', 'login', datetime(2024, 4, 9, 8, 15), '{}'),
         (6, 2, 20, 'li@globex.com', 'upgrade', datetime(2024, 4, 15, 12, 0), '{"plan": "team"}'),
         (7, 2, 30, 'ana@initech.com', 'signup', datetime(2024, 4, 16, 9, 30), '{"plan": "trial"}'),
         (8, 2, 10, 'mia@acme.io', 'feature_used', datetime(2024, 4, 16, 10, 0), '{"feature": "share"}')]),
    'warehouse.crm.plan_changes': (
        'BASE TABLE',
        [('account_id', 'INTEGER'), ('plan', 'VARCHAR'), ('from_batch', 'INTEGER')],
        [(20, 'team', 2)]),
    'warehouse.crm.raw_accounts': (
        'BASE TABLE',
        [('account_id', 'INTEGER'),
         ('account_name', 'VARCHAR'),
         ('plan', 'VARCHAR'),
         ('seats', 'SMALLINT'),
         ('created_on', 'DATE')],
        [(10, 'Acme', 'team', 12, date(2024, 3, 28)),
         (20, 'Globex', 'trial', 3, date(2024, 4, 3)),
         (30, 'Initech', 'trial', 1, date(2024, 4, 16))]),
    'warehouse.history.account_plans': (
        'BASE TABLE',
        [('account_id', 'INTEGER'),
         ('account_name', 'VARCHAR'),
         ('plan', 'VARCHAR'),
         ('seats', 'INTEGER'),
         ('created_on', 'DATE'),
         ('dbt_scd_id', 'VARCHAR'),
         ('dbt_updated_at', 'TIMESTAMP'),
         ('dbt_valid_from', 'TIMESTAMP'),
         ('dbt_valid_to', 'TIMESTAMP')],
        [(10, 'Acme', 'team', 12, date(2024, 3, 28), True),
         (20, 'Globex', 'team', 3, date(2024, 4, 3), True),
         (20, 'Globex', 'trial', 3, date(2024, 4, 3), False),
         (30, 'Initech', 'trial', 1, date(2024, 4, 16), True)]),
}


def _built(root: Path, database: str) -> dict:
    """The relations of a build, a snapshot's rows as (its columns..., current?), as SHOP and SAAS hold them."""
    found = relations(root / "target" / database)
    for name, (kind, columns, rows) in found.items():
        if any(column in SNAPSHOT_COLUMNS for column, _ in columns):
            width = sum(column not in SNAPSHOT_COLUMNS for column, _ in columns)
            found[name] = (kind, columns, sorted(row[:width] + (row[-1] is None,) for row in rows))
    return found


def _run(cli, *args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_shop_builds_what_dbt_builds(tmp_path, cli, monkeypatch):
    """Staging views over sources, an ephemeral model pivoting on run_query's answer, tables with a
    contract, a merge incremental run twice (late rows through a var), a check snapshot over it, the
    project's generate_schema_name, hooks (config, folder, on-run-start/end with `results`), generic
    tests with severity, where and store_failures, a custom generic test, a singular test, a unit
    test, docs blocks, an exposure and dbt's cross-database macros."""
    root = Path(shutil.copytree(FIXTURES / "dbt_realistic_shop", tmp_path / "shop"))
    monkeypatch.chdir(root)
    assert "Done. PASS=8 WARN=0 ERROR=0 SKIP=0 TOTAL=8" in _run(cli, "seed")
    for args in ([], ["--vars", "{include_late_orders: true}"]):
        output = _run(cli, "build", *args)
        # dbt: PASS=32 WARN=3 NO-OP=1 TOTAL=36; the no-op is the exposure, which is not a node here
        assert "Done. PASS=32 WARN=3 ERROR=0 SKIP=0 TOTAL=35" in output
        assert "WARN stg_orders_status_without_returns" in output
    expected = dict(SHOP)
    kind, columns, rows = expected["shop.audit.run_log"]
    # on-run-end's `results | length`: dbt's 32 counts the exposure's no-op result
    expected["shop.audit.run_log"] = (kind, columns, sorted(("end 31", "dev") if row == ("end 32", "dev") else row
                                                            for row in rows))
    assert _built(root, "shop.duckdb") == expected


def test_the_saas_warehouse_builds_what_dbt_builds(tmp_path, cli, monkeypatch):
    """Seeds in a nested folder with their own schema, typed by column_types, sources with freshness,
    a var-driven batch load into a merge incremental, a YAML snapshot (check), dispatch to the
    project's own duckdb__ macro and to its replacement of dbt.hash, a contract, a csv unit test with
    overrides, store_failures on a passing test and on-run-end's `schemas`."""
    root = Path(shutil.copytree(FIXTURES / "dbt_realistic_saas", tmp_path / "saas"))
    monkeypatch.chdir(root)
    assert "Done. PASS=6 WARN=0 ERROR=0 SKIP=0 TOTAL=6" in _run(cli, "seed")
    for args in ([], ["--vars", "{event_batch: 2}"]):
        # dbt: PASS=25 NO-OP=1 TOTAL=26, the no-op being the exposure; account_health (SMART_LLM) is
        # the one model dbt cannot build
        assert "Done. PASS=25 WARN=0 ERROR=0 SKIP=0 TOTAL=25" in _run(cli, "build", "--exclude", "tag:llm", *args)
    assert _built(root, "warehouse.duckdb") == SAAS


def test_the_saas_warehouse_builds_its_smart_llm_model_from_the_dbt_profiles_llm_block(tmp_path, cli, monkeypatch):
    """The profile's `llm:` block (which dbt parse and dbt debug accept unchanged) drives the one model
    with a SMART_LLM column; everything else is as dbt builds it."""
    root = Path(shutil.copytree(FIXTURES / "dbt_realistic_saas", tmp_path / "saas"))
    monkeypatch.chdir(root)
    _run(cli, "seed")
    output = _run(cli, "build")
    assert "Done. PASS=26 WARN=0 ERROR=0 SKIP=0 TOTAL=26" in output
    assert "account_health: SMART_LLM: 1 task, 3 rows" in output
    built = _built(root, "warehouse.duckdb")
    kind, columns, rows = built.pop("warehouse.core_analytics.account_health")
    assert (kind, columns) == ("BASE TABLE", [("account_id", "INTEGER"), ("label", "VARCHAR"), ("is_paid", "VARCHAR")])
    assert [row[:2] for row in rows] == [(10, "Acme (team)"), (20, "Globex (trial)"), (30, "Initech (trial)")]
    assert {row[2] for row in rows} <= {"yes", "no"}
    assert built["warehouse.core_analytics.dim_accounts"][2][1][:3] == (20, "Globex", "trial")  # batch 1

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
