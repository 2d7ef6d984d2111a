"""Two dbt projects, written as dbt users write them (tests/fixtures/dbt_*), built by `smart-sql build`
unchanged. Every relation is checked against what dbt-core 1.11.16 with dbt-duckdb 1.11.1 built from the
same files (run by hand once; the values below are dbt's): names, columns, types and rows."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from conftest import relations

FIXTURES = Path(__file__).parent / "fixtures"
VARCHAR2 = [("event", "VARCHAR"), ("at_target", "VARCHAR")]
STATIONS = [(1, "Riverside", 20, date(2021, 3, 1)), (2, "Market Square", 35, date(2021, 3, 1)),
            (3, "University Gate", 15, date(2022, 9, 15))]
STATION_COLUMNS = [("station_id", "INTEGER"), ("station_name", "VARCHAR"), ("docks", "INTEGER"), ("opened_on", "DATE")]
RIDES = [  # ride_id, start, end, started_at, ended_at, member_type
    (101, 1, 2, datetime(2024, 5, 1, 8, 0), datetime(2024, 5, 1, 8, 12), "member"),
    (102, 2, 1, datetime(2024, 5, 1, 8, 30), datetime(2024, 5, 1, 9, 15), "casual"),
    (103, 1, 3, datetime(2024, 5, 1, 17, 5), datetime(2024, 5, 1, 17, 41), "member"),
    (104, 3, 3, datetime(2024, 5, 2, 7, 55), datetime(2024, 5, 2, 8, 3), "casual"),
    (105, 2, 3, datetime(2024, 5, 2, 12, 0), datetime(2024, 5, 2, 12, 50), "member"),
]
MINUTES = {101: 12, 102: 45, 103: 36, 104: 8, 105: 50}

CYCLE_HIRE = {
    "cycle_hire.analytics.audit_events": ("VIEW", VARCHAR2, [("end", "dev"), ("start", "dev")]),
    "cycle_hire.analytics.ride_charges": (
        "BASE TABLE",
        [("ride_id", "INTEGER"), ("ride_date", "DATE"), ("duration_minutes", "BIGINT"), ("is_long_ride", "BOOLEAN"),
         ("charge", "DOUBLE"), ("currency", "VARCHAR")],
        [(101, date(2024, 5, 1), 12, False, 0.6, "GBP"), (102, date(2024, 5, 1), 45, True, 8.25, "GBP"),
         (103, date(2024, 5, 1), 36, True, 1.8, "GBP"), (104, date(2024, 5, 2), 8, False, 2.7, "GBP"),
         (105, date(2024, 5, 2), 50, True, 2.5, "GBP")]),
    "cycle_hire.analytics.ride_charges_rowcount": ("BASE TABLE", [("n", "BIGINT")], [(5,)]),
    "cycle_hire.analytics.run_audit": ("BASE TABLE", VARCHAR2, [("end", "dev"), ("start", "dev")]),
    "cycle_hire.analytics.station_daily_rowcount": ("BASE TABLE", [("n", "BIGINT")], [(4,)]),
    "cycle_hire.analytics_raw.raw_rides": (
        "BASE TABLE",
        [("ride_id", "INTEGER"), ("start_station_id", "INTEGER"), ("end_station_id", "INTEGER"),
         ("started_at", "TIMESTAMP"), ("ended_at", "TIMESTAMP"), ("member_type", "VARCHAR")],
        RIDES),
    "cycle_hire.analytics_raw.raw_stations": ("BASE TABLE", STATION_COLUMNS, STATIONS),
    "cycle_hire.analytics_raw.ride_prices": (
        "BASE TABLE", [("member_type", "VARCHAR"), ("price_per_minute", "DECIMAL(6,2)"), ("unlock_fee", "DOUBLE")],
        [("casual", Decimal("0.15"), 1.5), ("member", Decimal("0.05"), 0.0)]),
    "cycle_hire.analytics_reporting.station_daily": (
        "BASE TABLE",
        [("station_name", "VARCHAR"), ("ride_date", "DATE"), ("rides_started", "BIGINT"), ("minutes_ridden", "HUGEINT")],
        [("Market Square", date(2024, 5, 1), 1, 45), ("Market Square", date(2024, 5, 2), 1, 50),
         ("Riverside", date(2024, 5, 1), 2, 48), ("University Gate", date(2024, 5, 2), 1, 8)]),
    "cycle_hire.analytics_staging.stg_rides": (
        "VIEW",
        [("ride_id", "INTEGER"), ("start_station_id", "INTEGER"), ("end_station_id", "INTEGER"),
         ("started_at", "TIMESTAMP"), ("ride_date", "DATE"), ("duration_minutes", "BIGINT"), ("member_type", "VARCHAR")],
        [(ride, start, end, started, started.date(), MINUTES[ride], kind) for ride, start, end, started, _, kind in RIDES]),
    "cycle_hire.analytics_staging.stg_stations": ("VIEW", STATION_COLUMNS, STATIONS),
}

PARCEL_ROWS = [(1, 1, 2.5, date(2024, 6, 1), False), (2, 1, 25.0, date(2024, 6, 1), True),
               (3, 2, 12.75, date(2024, 6, 2), False), (4, 2, 31.0, date(2024, 6, 3), False)]
DEPOTS = ([("depot_id", "INTEGER"), ("depot_name", "VARCHAR")], [(1, "North"), (2, "South")])
PARCELS = {
    "parcels.dev.hook_log": (
        "BASE TABLE", [("seq", "INTEGER"), ("event", "VARCHAR")],
        [(1, "seed parcels"), (2, "project pre stg_depots"), (3, "project pre stg_parcels_clean"), (4, "yaml pre"),
         (5, "file pre 1"), (6, "file pre 2"), (7, "project pre load_by_depot"), (8, "outside post"),
         (9, "end: dev,marts,raw_landing,staging")]),
    "parcels.legacy.depots": ("BASE TABLE", *DEPOTS),
    "parcels.marts.load_by_depot": (
        "BASE TABLE", [("depot_name", "VARCHAR"), ("parcels", "BIGINT"), ("total_kg", "DOUBLE"),
                       ("heavy_parcels", "BIGINT")],
        [("North", 2, 27.5, 1), ("South", 2, 43.75, 1)]),
    "parcels.raw_landing.parcels": (
        "BASE TABLE", [("parcel_id", "INTEGER"), ("depot_id", "INTEGER"), ("weight_kg", "DOUBLE"), ("sent_on", "DATE"),
                       ("fragile", "BOOLEAN")],
        PARCEL_ROWS),
    "parcels.staging.stg_depots": ("VIEW", *DEPOTS),
    "parcels.staging.stg_parcels_clean": (
        "VIEW", [("parcel_id", "INTEGER"), ("depot_id", "INTEGER"), ("weight_kg", "DOUBLE"), ("is_heavy", "BOOLEAN"),
                 ("sent_on", "DATE"), ("fragile", "BOOLEAN")],
        [(parcel, depot, kg, kg >= 20, sent, fragile) for parcel, depot, kg, sent, fragile in PARCEL_ROWS]),
}
ARCHIVE = {
    "archive.dev.parcels_2024": ("BASE TABLE", [("parcel_id", "INTEGER"), ("sent_on", "DATE")],
                                 [(parcel, sent) for parcel, _, _, sent, _ in PARCEL_ROWS]),
}


def _copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def test_cycle_hire_builds_what_dbt_builds(tmp_path, cli, monkeypatch):
    """Default schema naming (target schema + `_` + custom), seeds typed as dbt types them (INTEGER,
    DATE, TIMESTAMP, column_types on a nested seed), view as dbt's default materialization, project and
    global vars, alias, a folder post-hook with {{ this }}, on-run-start/end, and every dbt_project.yml
    key a new dbt project has (test-paths, clean-targets, require-dbt-version, dispatch, flags, ...);
    the profile has threads, extensions and settings."""
    root = _copy("dbt_cycle_hire", tmp_path)
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert "Done. PASS=16 WARN=0 ERROR=0 SKIP=0 TOTAL=16" in result.output
    assert relations(root / "target/cycle_hire.duckdb") == CYCLE_HIRE


def test_naming_macros_hooks_and_attached_database_build_what_dbt_builds(tmp_path, cli, monkeypatch):
    """The project's generate_schema_name and generate_alias_name, hooks from the project file, YAML and
    config() in dbt's order (also transaction: false), seed post-hooks, on-run-end's `schemas`, a
    source without schema (read from the schema named like the source), a folder built into an attached
    database, and data_tests severity by folder."""
    root = _copy("dbt_naming_hooks", tmp_path)
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert "Done. PASS=10 WARN=1 ERROR=0 SKIP=0 TOTAL=11" in result.output
    assert "WARN accepted_values_depot_load_heavy_parcels" in result.output
    assert relations(root / "target/parcels.duckdb") == PARCELS
    assert relations(root / "target/archive.duckdb") == ARCHIVE
