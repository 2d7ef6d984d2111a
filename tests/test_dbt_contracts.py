"""Enforced model contracts as dbt-duckdb enforces them. tests/fixtures/dbt_contracts is built twice
(the second build replaces a table that another's foreign key references); the tables, their columns,
rows and DuckDB constraints are what dbt-core 1.11.16 with dbt-duckdb 1.11.1 left after the same two
builds. A mismatch, a missing data_type and a violated constraint fail before anything is replaced."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from conftest import relations

FIXTURE = Path(__file__).parent / "fixtures" / "dbt_contracts"
MEMBERS = [(1, "Ada Lovelace", "ada@example.com", 120, date(2023, 1, 5)),
           (2, "Alan Turing", "alan@example.com", 80, date(2023, 2, 11)),
           (3, "Grace Hopper", "grace@example.com", 0, date(2023, 3, 20))]
VISITS = [(10, 1, datetime(2024, 4, 1, 9, 0), Decimal("12.50")), (11, 1, datetime(2024, 4, 3, 18, 30), Decimal("7.25")),
          (12, 3, datetime(2024, 4, 4, 12, 15), Decimal("30.00"))]
BUILT = {
    "loyalty.main.member_names": ("VIEW", [("member_id", "INTEGER"), ("name_upper", "VARCHAR")],
                                  [(1, "ADA LOVELACE"), (2, "ALAN TURING"), (3, "GRACE HOPPER")]),
    "loyalty.main.members": ("BASE TABLE", [("member_id", "INTEGER"), ("full_name", "VARCHAR"), ("email", "VARCHAR"),
                                            ("points", "INTEGER"), ("joined_on", "DATE")], MEMBERS),
    "loyalty.main.visit_log": ("BASE TABLE", [("visit_id", "INTEGER"), ("spend_pence", "DECIMAL(18,2)")],
                               [(10, Decimal("1250.00")), (11, Decimal("725.00")), (12, Decimal("3000.00"))]),
    "loyalty.main.visits": ("BASE TABLE", [("visit_id", "INTEGER"), ("member_id", "INTEGER"),
                                           ("visited_at", "TIMESTAMP"), ("spend", "DECIMAL(10,2)")], VISITS),
}
CONSTRAINTS = [
    ("members", "CHECK", ["points"], "(points >= 0)", None), ("members", "NOT NULL", ["full_name"], None, None),
    ("members", "NOT NULL", ["member_id"], None, None), ("members", "PRIMARY KEY", ["member_id"], None, None),
    ("members", "UNIQUE", ["email"], None, None), ("visit_log", "NOT NULL", ["visit_id"], None, None),
    ("visit_log", "UNIQUE", ["visit_id"], None, None), ("visits", "CHECK", ["spend"], "(spend > 0)", None),
    ("visits", "FOREIGN KEY", ["member_id"], None, "members"), ("visits", "NOT NULL", ["visit_id"], None, None),
    ("visits", "PRIMARY KEY", ["visit_id"], None, None)]


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / FIXTURE.name))


def _constraints(root: Path) -> list[tuple]:
    with duckdb.connect(str(root / "target/loyalty.duckdb"), read_only=True) as conn:
        return conn.execute("select table_name, constraint_type, constraint_column_names, expression, referenced_table "
                            "from duckdb_constraints() order by all").fetchall()


def _models(root: Path) -> dict:
    return {name: value for name, value in relations(root / "target/loyalty.duckdb").items() if ".raw_" not in name}


def test_contracted_models_build_what_dbt_builds_twice(tmp_path, cli, monkeypatch):
    """Column order and types from the YAML (text -> VARCHAR, int -> INTEGER), column and model
    constraints (named check, foreign key to ref() with to_columns), a view checked but unconstrained,
    an incremental model; the second build replaces `members` although `visits` references it."""
    root = _copy(tmp_path)
    monkeypatch.chdir(root)
    for _ in range(2):
        result = cli("build")
        assert result.exit_code == 0, result.output
        assert "Done. PASS=6 WARN=0 ERROR=0 SKIP=0 TOTAL=6" in result.output
        assert _models(root) == BUILT
        assert _constraints(root) == CONSTRAINTS


def test_a_type_mismatch_fails_with_dbts_table_and_leaves_the_table(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path)
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    (root / "models/marts/members.sql").write_text(
        "select member_id, full_name, email, joined_on, points::bigint as points, 1 as extra\n"
        "from {{ ref('raw_members') }}\n")
    result = cli("build", "-s", "members")
    assert result.exit_code == 1
    assert ("model 'members' has an enforced contract that failed: the name, data_type and number of columns in "
            "models/marts/_marts.yml must match the columns of models/marts/members.sql.") in result.output
    assert "| points      | BIGINT          | INTEGER       | data type mismatch  |" in result.output
    assert "| extra       | INTEGER         |               | missing in contract |" in result.output
    assert _models(root)["loyalty.main.members"] == BUILT["loyalty.main.members"]


def test_a_violated_constraint_fails_the_model_and_keeps_the_old_table(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path)
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    (root / "models/marts/members.sql").write_text(
        "select member_id, case when member_id = 2 then null else full_name end as full_name, email, joined_on, points\n"
        "from {{ ref('raw_members') }}\n")
    result = cli("build", "-s", "members+")
    assert result.exit_code == 1
    assert "model 'members' failed" in result.output and "NOT NULL constraint failed" in result.output
    assert _models(root) == BUILT and _constraints(root) == CONSTRAINTS


def test_replacing_a_referenced_table_without_its_dependents_is_refused(tmp_path, cli, monkeypatch):
    root = _copy(tmp_path)
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    result = cli("build", "-s", "members")
    assert result.exit_code == 1
    assert "cannot replace main.members: DuckDB does not allow replacing a table that a foreign key references, " \
           "and visits (which reference it) would not be rebuilt in this run" in result.output
    assert _constraints(root) == CONSTRAINTS


def _load_error(tmp_path, cli, monkeypatch, old: str, new: str, file: str = "models/marts/_marts.yml") -> str:
    root = _copy(tmp_path)
    monkeypatch.chdir(root)
    path = root / file
    path.write_text(path.read_text().replace(old, new, 1))
    result = cli("build")
    assert result.exit_code == 2
    return result.output


def test_a_contracted_column_without_data_type_is_refused(tmp_path, cli, monkeypatch):
    output = _load_error(tmp_path, cli, monkeypatch, "        data_type: int\n", "")
    assert "models/marts/_marts.yml: model 'members' has an enforced contract: column(s) points have no `data_type`" \
           in output


def test_a_contracted_incremental_model_needs_on_schema_change(tmp_path, cli, monkeypatch):
    output = _load_error(tmp_path, cli, monkeypatch, ", on_schema_change='append_new_columns'", "",
                         "models/marts/visit_log.sql")
    assert "model 'visit_log' has an enforced contract: an incremental model with a contract must set " \
           "on_schema_change to 'append_new_columns' or 'fail'" in output


def test_an_unknown_constraint_type_is_refused(tmp_path, cli, monkeypatch):
    output = _load_error(tmp_path, cli, monkeypatch, "type: unique", "type: uniq")
    assert "constraint {'type': 'uniq'} of column email is not understood" in output
