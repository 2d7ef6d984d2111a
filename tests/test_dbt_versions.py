"""Versioned models. tests/fixtures/dbt_versions has v1 in dim_staff_v1.sql and v2 `defined_in`
dim_staff_next.sql with an alias and include/exclude columns; staff_report refs v=1, version=2 and the
latest (latest_version: 1); unit tests run on the versions. The relations, data test and unit test
names are dbt-core 1.11.16's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import relations

FIXTURE = Path(__file__).parent / "fixtures" / "dbt_versions"
STAFF = [("staff_id", "INTEGER"), ("first_name", "VARCHAR"), ("last_name", "VARCHAR"), ("country", "VARCHAR")]
BUILT = {
    "people.main.dim_staff_preview": (
        "BASE TABLE", [*STAFF, ("is_domestic", "BOOLEAN")],
        [(1, "Ana", "Silva", "PT", True), (2, "Ben", "Okafor", "NG", False), (3, "Chen", "Wei", "CN", False)]),
    "people.main.dim_staff_v1": ("BASE TABLE", [("staff_id", "INTEGER"), ("full_name", "VARCHAR"), ("country", "VARCHAR")],
                                 [(1, "Ana Silva", "PT"), (2, "Ben Okafor", "NG"), (3, "Chen Wei", "CN")]),
    "people.main.staff": ("BASE TABLE", STAFF, [(1, "Ana", "Silva", "PT"), (2, "Ben", "Okafor", "NG"),
                                                (3, "Chen", "Wei", "CN")]),
    "people.main.staff_report": (
        "BASE TABLE", [("staff_id", "INTEGER"), ("full_name", "VARCHAR"), ("is_domestic", "BOOLEAN"), ("country", "VARCHAR")],
        [(1, "Ana Silva", True, "PT"), (2, "Ben Okafor", False, "NG"), (3, "Chen Wei", False, "CN")]),
}
UNIT_TESTS = ["unit_test.people.dim_staff.names_are_kept_v1", "unit_test.people.dim_staff.names_are_kept_v2",
              "unit_test.people.dim_staff.only_v2_v2"]
"""A unit test runs on every version, or on those its `versions:` includes (dbt's names)."""
TESTS = ["not_null_dim_staff_v1_staff_id", "unique_dim_staff_v1_staff_id", "not_null_dim_staff_v2_is_domestic",
         "not_null_dim_staff_v2_staff_id", "unique_dim_staff_v2_staff_id",
         "relationships_staff_report_staff_id__staff_id__ref_dim_staff_"]  # its ref() reads the latest version


def _copy(tmp_path: Path, monkeypatch) -> Path:
    root = Path(shutil.copytree(FIXTURE, tmp_path / FIXTURE.name))
    monkeypatch.chdir(root)
    return root


def test_versions_build_as_dbt_builds_them(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path, monkeypatch)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert "Done. PASS=13 WARN=0 ERROR=0 SKIP=0 TOTAL=13" in result.output
    assert all(f"PASS {name} " in result.output for name in TESTS)
    assert relations(root / "target/people.duckdb") == BUILT
    results = json.loads((root / "target/run_results.json").read_text())["results"]
    assert sorted(r["unique_id"] for r in results if r["resource_type"] == "unit_test") == UNIT_TESTS
    assert "PASS unit_test dim_staff::names_are_kept_v1" in result.output


def test_selecting_a_versioned_model_selects_its_versions(tmp_path, cli, monkeypatch):
    _copy(tmp_path, monkeypatch)
    result = cli("build", "-s", "+dim_staff")
    assert result.exit_code == 0, result.output
    assert "created table main.dim_staff_v1" in result.output and "created table main.dim_staff_preview" in result.output
    assert "staff_report" not in result.output


def _failure(root: Path, cli, file: str, old: str, new: str) -> str:
    path = root / file
    path.write_text(path.read_text().replace(old, new, 1))
    result = cli("build")
    assert result.exit_code == 2
    return result.output


def test_a_latest_version_that_is_not_listed_is_refused(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path, monkeypatch)
    output = _failure(root, cli, "models/_dim_staff.yml", "latest_version: 1", "latest_version: 3")
    assert "models/_dim_staff.yml: model 'dim_staff': latest_version: 3 is not one of its versions: 1, 2" in output


def test_a_ref_to_a_missing_version_is_refused(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path, monkeypatch)
    output = _failure(root, cli, "models/staff_report.sql", "v=1", "v=4")
    assert "models/staff_report.sql:2: model 'staff_report': ref('dim_staff', v=4): model 'dim_staff' has versions 1, 2" \
        in output


def test_a_version_of_an_unversioned_model_is_refused(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path, monkeypatch)
    output = _failure(root, cli, "models/staff_report.sql", "ref('dim_staff', v=1)", "ref('staff', v=1)")
    assert "ref('staff', v=1) names a version, but 'staff' is not a versioned model" in output
