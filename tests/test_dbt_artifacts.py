"""The artifacts of `smart-sql build`, `ls` and `docs generate` on tests/fixtures/dbt_cycle_hire against
what dbt-core 1.11.16 with dbt-duckdb 1.11.1 wrote for the same files (run by hand once on a copy; the
values below are dbt's): node ids, parent_map, checksums, run results' statuses and messages, ls lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "dbt_cycle_hire"
P = "cycle_hire"
DBT_PARENT_MAP = {
    f"model.{P}.audit_events": [f"source.{P}.ops.run_audit"],
    f"model.{P}.station_daily": [f"model.{P}.stg_rides", f"model.{P}.stg_stations"],
    f"model.{P}.ride_costs": [f"model.{P}.stg_rides", f"seed.{P}.ride_prices"],
    f"model.{P}.stg_stations": [f"seed.{P}.raw_stations"], f"model.{P}.stg_rides": [f"seed.{P}.raw_rides"],
    f"seed.{P}.raw_stations": [], f"seed.{P}.raw_rides": [], f"seed.{P}.ride_prices": [],
    f"test.{P}.not_null_ride_costs_ride_id.b984a9bac7": [f"model.{P}.ride_costs"],
    f"test.{P}.unique_stg_rides_ride_id.ad00947fa4": [f"model.{P}.stg_rides"],
    f"test.{P}.not_null_stg_rides_ride_id.17434acf04": [f"model.{P}.stg_rides"],
    f"test.{P}.accepted_values_stg_rides_member_type__member__casual.b2608fea2e": [f"model.{P}.stg_rides"],
    f"test.{P}.unique_stg_stations_station_id.cc6df0deeb": [f"model.{P}.stg_stations"],
    f"source.{P}.ops.run_audit": [],
}
DBT_CHECKSUMS = {
    f"model.{P}.audit_events": "365f79a30e7b4af4ae13935b235259c75b13203fc859dcee2317b33409f2706b",
    f"model.{P}.station_daily": "422ff8a60d0e5ac62a56b9a8bbdbc57a1fcc776028f9d1fea9447718d3b8143d",
    f"model.{P}.ride_costs": "f04ded813e5dcff0f448229557628dcc0650d669b612dcfd1f73d239a20ba32b",
    f"model.{P}.stg_stations": "50d09165c7db7017b78de8896361f5bf01339d85c77c5bb54c41fbc19cc4974e",
    f"model.{P}.stg_rides": "4089e0d53dad25403285544feadf3054b4e5200d49c80d9a2bbd761d11c01bdb",
    f"seed.{P}.raw_stations": "41ea397d4e60920d745f4f85ed7302dfba1d0153ba6aeb0e601dd601ee0124d0",
    f"seed.{P}.raw_rides": "ec67016e2f09b881db87259b4870ce8a9951d7d2110f2602e2d69aef64794dfa",
    f"seed.{P}.ride_prices": "e128a72e3206c543370799c67dfa439ac9627dc1ba43e8a2b60851130126eece",
}
DBT_RESULTS = {
    f"operation.{P}.{P}-on-run-start-0": ("success", f"{P}.on-run-start.0 passed"),
    f"operation.{P}.{P}-on-run-start-1": ("success", f"{P}.on-run-start.1 passed"),
    f"seed.{P}.raw_rides": ("success", "INSERT 5"), f"seed.{P}.raw_stations": ("success", "INSERT 3"),
    f"seed.{P}.ride_prices": ("success", "INSERT 2"), f"model.{P}.audit_events": ("success", "OK"),
    f"model.{P}.stg_rides": ("success", "OK"), f"model.{P}.stg_stations": ("success", "OK"),
    f"test.{P}.unique_stg_rides_ride_id.ad00947fa4": ("pass", None),
    f"test.{P}.accepted_values_stg_rides_member_type__member__casual.b2608fea2e": ("pass", None),
    f"test.{P}.unique_stg_stations_station_id.cc6df0deeb": ("pass", None),
    f"test.{P}.not_null_stg_rides_ride_id.17434acf04": ("pass", None),
    f"model.{P}.ride_costs": ("success", "OK"), f"model.{P}.station_daily": ("success", "OK"),
    f"test.{P}.not_null_ride_costs_ride_id.b984a9bac7": ("pass", None),
    f"operation.{P}.{P}-on-run-end-0": ("success", f"{P}.on-run-end.0 passed"),
}
DBT_LS = """\
cycle_hire.audit_events
cycle_hire.marts.ride_costs
cycle_hire.marts.station_daily
cycle_hire.staging.stg_rides
cycle_hire.staging.stg_stations
cycle_hire.raw_rides
cycle_hire.raw_stations
cycle_hire.reference.ride_prices
source:cycle_hire.ops.run_audit
cycle_hire.staging.accepted_values_stg_rides_member_type__member__casual
cycle_hire.marts.not_null_ride_costs_ride_id
cycle_hire.staging.not_null_stg_rides_ride_id
cycle_hire.staging.unique_stg_rides_ride_id
cycle_hire.staging.unique_stg_stations_station_id
"""

DBT_LS_SELECTIONS = {  # dbt ls --output name -s <selector>, on the fixture
    '@stg_rides': ['ride_costs', 'station_daily', 'stg_rides', 'stg_stations', 'raw_rides', 'raw_stations', 'ride_prices', 'accepted_values_stg_rides_member_type__member__casual', 'not_null_ride_costs_ride_id', 'not_null_stg_rides_ride_id', 'unique_stg_rides_ride_id', 'unique_stg_stations_station_id'],
    '1+ride_costs': ['ride_costs', 'stg_rides', 'ride_prices', 'accepted_values_stg_rides_member_type__member__casual', 'not_null_ride_costs_ride_id', 'not_null_stg_rides_ride_id', 'unique_stg_rides_ride_id'],
    'stg_rides+1': ['ride_costs', 'station_daily', 'stg_rides', 'accepted_values_stg_rides_member_type__member__casual', 'not_null_ride_costs_ride_id', 'not_null_stg_rides_ride_id', 'unique_stg_rides_ride_id'],
    'config.materialized:table': ['ride_costs', 'station_daily', 'not_null_ride_costs_ride_id'],
    'tag:staging,resource_type:model': ['stg_rides', 'stg_stations', 'accepted_values_stg_rides_member_type__member__casual', 'not_null_stg_rides_ride_id', 'unique_stg_rides_ride_id', 'unique_stg_stations_station_id'],
    '+station_daily,path:models/staging': ['stg_rides', 'stg_stations', 'accepted_values_stg_rides_member_type__member__casual', 'not_null_stg_rides_ride_id', 'unique_stg_rides_ride_id', 'unique_stg_stations_station_id'],
    'test_type:generic,stg_stations': ['unique_stg_stations_station_id'],
    'source:ops+': ['audit_events', 'ops.run_audit'],
    'resource_type:seed': ['raw_rides', 'raw_stations', 'ride_prices'],
    'test_name:unique': ['unique_stg_rides_ride_id', 'unique_stg_stations_station_id'],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from click.testing import CliRunner

    from smart_sql.cli import main

    root = Path(shutil.copytree(FIXTURE, tmp_path_factory.mktemp("artifacts") / "dbt_cycle_hire"))
    runner = CliRunner()
    args = ["--project-dir", str(root), "--profiles-dir", str(root)]
    build = runner.invoke(main, ["build", *args], catch_exceptions=False)
    assert build.exit_code == 0, build.output
    listed = runner.invoke(main, ["ls", *args], catch_exceptions=False)
    docs = runner.invoke(main, ["docs", "generate", *args], catch_exceptions=False)
    assert docs.exit_code == 0, docs.output
    return root, listed.output


def _read(root: Path, name: str) -> dict:
    return json.loads((root / "target" / name).read_text())


def test_manifest_ids_parent_map_and_checksums_are_dbts(built):
    manifest = _read(built[0], "manifest.json")
    assert manifest["parent_map"] == DBT_PARENT_MAP
    assert {uid: node["checksum"]["checksum"] for uid, node in manifest["nodes"].items()
            if uid.startswith(("model.", "seed."))} == DBT_CHECKSUMS
    assert set(manifest) >= {"metadata", "nodes", "sources", "macros", "parent_map", "child_map", "selectors",
                             "disabled", "exposures", "metrics", "groups", "semantic_models", "unit_tests"}
    assert manifest["child_map"][f"model.{P}.stg_rides"] == [
        f"model.{P}.ride_costs", f"model.{P}.station_daily",
        f"test.{P}.accepted_values_stg_rides_member_type__member__casual.b2608fea2e",
        f"test.{P}.not_null_stg_rides_ride_id.17434acf04", f"test.{P}.unique_stg_rides_ride_id.ad00947fa4"]


def test_run_results_statuses_and_messages_are_dbts(built):
    results = {entry["unique_id"]: (entry["status"], entry["message"])
               for entry in _read(built[0], "run_results.json")["results"]}
    assert results == DBT_RESULTS


def test_ls_prints_what_dbt_ls_prints(built):
    assert built[1] == DBT_LS


def test_catalog_has_every_relation_dbt_catalogs(built):
    catalog = _read(built[0], "catalog.json")
    assert set(catalog["nodes"]) == {uid for uid in DBT_CHECKSUMS}
    assert set(catalog["sources"]) == {f"source.{P}.ops.run_audit"}
    stg = catalog["nodes"][f"model.{P}.stg_rides"]
    assert stg["metadata"] == {"type": "VIEW", "schema": "analytics_staging", "name": "stg_rides",
                               "database": "cycle_hire", "comment": None, "owner": None}
    assert [(c["name"], c["type"], c["index"]) for c in stg["columns"].values()] == [
        ("ride_id", "INTEGER", 1), ("start_station_id", "INTEGER", 2), ("end_station_id", "INTEGER", 3),
        ("started_at", "TIMESTAMP", 4), ("ride_date", "DATE", 5), ("duration_minutes", "BIGINT", 6),
        ("member_type", "VARCHAR", 7)]


@pytest.mark.parametrize("selector", DBT_LS_SELECTIONS)
def test_selectors_pick_what_dbt_picks(built, selector):
    from click.testing import CliRunner

    from smart_sql.cli import main

    root = built[0]
    result = CliRunner().invoke(main, ["ls", "--project-dir", str(root), "--profiles-dir", str(root),
                                       "--output", "name", "-s", selector], catch_exceptions=False)
    assert result.output.split() == DBT_LS_SELECTIONS[selector]


SELECTORS_YML = """\
selectors:
  - name: staging_no_rides
    definition:
      union:
        - method: path
          value: models/staging
        - exclude:
            - stg_rides
  - name: by_default
    default: true
    definition: {method: tag, value: staging}
  - name: marts_parents
    definition:
      intersection:
        - {method: fqn, value: ride_costs, parents: true, parents_depth: 1}
        - {method: resource_type, value: model}
"""
DBT_YAML_SELECTIONS = {  # dbt ls --output name <args>, on the fixture with SELECTORS_YML
    '': ['stg_rides', 'stg_stations', 'accepted_values_stg_rides_member_type__member__casual', 'not_null_stg_rides_ride_id', 'unique_stg_rides_ride_id', 'unique_stg_stations_station_id'],
    '--selector staging_no_rides': ['stg_stations', 'ops.run_audit', 'unique_stg_stations_station_id'],
    '-s ride_costs': ['ride_costs', 'not_null_ride_costs_ride_id'],
    '--selector marts_parents': ['ride_costs', 'stg_rides', 'accepted_values_stg_rides_member_type__member__casual', 'not_null_ride_costs_ride_id', 'not_null_stg_rides_ride_id', 'unique_stg_rides_ride_id'],
    '--exclude stg_rides': ['audit_events', 'ride_costs', 'station_daily', 'stg_stations', 'raw_rides', 'raw_stations', 'ride_prices', 'ops.run_audit', 'not_null_ride_costs_ride_id', 'unique_stg_stations_station_id'],
}


@pytest.mark.parametrize("args", DBT_YAML_SELECTIONS)
def test_yaml_selectors_and_the_default_pick_what_dbt_picks(tmp_path, args):
    from click.testing import CliRunner

    from smart_sql.cli import main

    root = Path(shutil.copytree(FIXTURE, tmp_path / "dbt_cycle_hire"))
    (root / "selectors.yml").write_text(SELECTORS_YML)
    result = CliRunner().invoke(main, ["ls", "--project-dir", str(root), "--profiles-dir", str(root),
                                       "--output", "name", *args.split()], catch_exceptions=False)
    assert result.output.split() == DBT_YAML_SELECTIONS[args]
