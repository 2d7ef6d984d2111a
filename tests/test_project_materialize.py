"""Materializations in DuckDB: atomic swaps, incremental inserts and upserts, seeds, data test SQL."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from smart_sql import materialize
from smart_sql.datatests import BUILTIN_TESTS_FILE, DataTest
from smart_sql.project import ModelNode, Relation
from smart_sql.render import ModelFunctions, Renderer, TargetInfo
from smart_sql.singular_tests import failing_rows_sql

T = Relation("main", "t")


@pytest.fixture
def conn():
    with duckdb.connect(":memory:") as connection:
        yield connection


def test_create_table_swaps_atomically_and_counts_rows(conn):
    with materialize.atomic(conn):
        assert materialize.create_table(conn, T, "select * from range(3) r(x)") == 3
    with pytest.raises(duckdb.Error):
        with materialize.atomic(conn):
            materialize.create_table(conn, T, "select x from missing_table")
    assert conn.execute("select count(*) from t").fetchone() == (3,)
    assert materialize.relation_type(conn, T.temporary()) is None


def test_exception_after_the_swap_rolls_it_back(conn):
    with materialize.atomic(conn):
        materialize.create_table(conn, T, "select 1 as x")
    with pytest.raises(RuntimeError):
        with materialize.atomic(conn):
            materialize.create_table(conn, T, "select 2 as x")
            raise RuntimeError("the step after materializing failed")
    assert conn.execute("select x from t").fetchall() == [(1,)]


def test_view_replaces_table_and_relation_type_tells_them_apart(conn):
    with materialize.atomic(conn):
        materialize.create_table(conn, T, "select 1 as x")
    assert materialize.relation_type(conn, T) == "table"
    with materialize.atomic(conn):
        materialize.create_view(conn, T, "select 5 as x")
    assert materialize.relation_type(conn, T) == "view"
    assert conn.execute("select x from t").fetchall() == [(5,)]


def test_leftover_tmp_from_a_crashed_run_is_replaced(conn):
    conn.execute("create view t__smart_tmp as select 'stale' as x")
    with materialize.atomic(conn):
        materialize.create_table(conn, T, "select 'fresh' as x")
    assert conn.execute("select x from t").fetchall() == [("fresh",)]


def _model(**config) -> ModelNode:
    return ModelNode("t", Path("models/t.sql"), "models/t.sql", "", T, config={"materialized": "incremental", **config})


def test_incremental_append_matches_columns_by_name(conn):
    conn.execute("create table t as select 1 as id, 'a' as v")
    assert materialize.insert_incremental(conn, _model(), "select 'b' as v, 2 as id") == 1
    assert conn.execute("select id, v from t order by id").fetchall() == [(1, "a"), (2, "b")]


def test_incremental_upsert_on_composite_key(conn):
    conn.execute("create table t as select * from (values (1, 'x', 'old'), (1, 'y', 'keep')) v(a, b, val)")
    rows = materialize.insert_incremental(conn, _model(unique_key=["a", "b"]),
                                          "select 1 as a, 'x' as b, 'new' as val union all select 2, 'x', 'added'")
    assert rows == 2
    assert conn.execute("select a, b, val from t order by a, b").fetchall() == [
        (1, "x", "new"), (1, "y", "keep"), (2, "x", "added")]


def test_seed_with_column_types(conn, tmp_path):
    from smart_sql.project import SeedNode

    path = tmp_path / "codes.csv"
    path.write_text("code,label\n007,bond\n042,answer\n")
    seed = SeedNode("codes", path, "seeds/codes.csv", Relation("main", "codes"), config={"column_types": {"code": "varchar"}})
    with materialize.atomic(conn):
        assert materialize.load_seed(conn, seed) == 2
    assert conn.execute("select code from codes order by 1").fetchall() == [("007",), ("042",)]


@pytest.mark.parametrize("kind, arguments, expected", [
    ("not_null", {}, 1),
    ("unique", {}, 1),
    ("accepted_values", {"values": ["a", "b"]}, 1),
    ("relationships", {"to": "ref('p')", "field": "id"}, 2),
])
def test_failing_rows_sql_counts_the_rows_that_break_each_test(conn, tmp_path, kind, arguments, expected):
    conn.execute("create table c as select * from (values ('a'), ('a'), ('b'), ('z'), (null)) v(k)")
    conn.execute("create table p as select 'a' as id")
    test = DataTest(name="t", kind=kind, attached_to="model.c", attached_name="c", relation=str(Relation("main", "c")),
                    column="k", arguments=arguments, config={}, path=tmp_path / "schema.yml",
                    relations={"to": str(Relation("main", "p"))} if "to" in arguments else {})
    project = SimpleNamespace(renderer=Renderer([BUILTIN_TESTS_FILE], vars={}, target=TargetInfo("dev", "p", "main")))
    functions = ModelFunctions(ref=None, source=None, config=lambda **_: "", this=None)
    failing = conn.execute(f"select count(*) from ({failing_rows_sql(project, test, functions)})").fetchone()[0]
    assert failing == expected


def test_our_projects_stop_when_an_incremental_models_columns_change(conn):
    """dbt's default (ignore) would drop the new column without a word; our projects' default is fail."""
    from smart_sql.errors import ConfigError

    conn.execute("create table t as select 1 as id, 'a' as v")
    with pytest.raises(ConfigError) as error:
        with materialize.atomic(conn):
            materialize.insert_incremental(conn, _model(), "select 2 as id, 'b' as v, 3 as added", "fail")
    assert ("(on_schema_change: fail, the default of smart-sql projects). Query columns not in the table: added; "
            "table columns not in the query: none") in error.value.message
    assert conn.execute("select * from t").fetchall() == [(1, "a")]
    assert materialize.insert_incremental(conn, _model(), "select 2 as id, 'b' as v, 3 as added") == 1
    assert conn.execute("select * from t order by id").fetchall() == [(1, "a"), (2, "b")]
