"""The shape of the plan: which rows each task reads, how tasks are shared and ordered."""

import duckdb
import pytest

from smart_sql.llm.config import parse_llm_config
from smart_sql.rewrite.plan import rewrite_sql

CONFIG = parse_llm_config({"provider": "simulated"})


def plan(sql):
    return rewrite_sql(sql, CONFIG, path="models/m.sql")


@pytest.fixture(scope="module")
def conn():
    connection = duckdb.connect()
    connection.execute("create table t as select i as id, i % 4 as g, 'text ' || (i % 5) as body, "
                       "case when i % 7 = 0 then null else i end as score from range(40) r(i)")
    yield connection
    connection.close()


def inputs(conn, task):
    """(distinct inputs, rows) the task would send."""
    return conn.execute(f"select count(*), sum(n) from ({task.input_sql})").fetchone()


def test_identical_calls_in_one_select_share_a_task():
    result = plan("select SMART_LLM('p', body) a, smart_llm('p', body) b from t order by SMART_LLM('p', body)")
    (task,) = result.tasks
    assert len(task.calls) == 3
    assert result.sql.count("FROM __smart_llm_t1") == 3


def test_calls_differing_in_options_get_their_own_task():
    result = plan("select SMART_LLM('p', body) a, SMART_LLM('p', body, accuracy => 0.99) b from t")
    assert len(result.tasks) == 2


def test_the_same_call_in_another_scope_reads_its_rows_into_the_same_task(conn):
    (task,) = plan("select SMART_LLM('p', body) from t where g = 0 union all "
                   "select (select max(SMART_LLM('p', body)) from t where g = 1)").tasks
    assert len(task.calls) == 2
    assert inputs(conn, task) == conn.execute("select count(distinct body), count(*) from t where g < 2").fetchone()


def test_the_same_call_gets_its_own_task_when_its_input_needs_a_later_task():
    first, second, third = plan("select SMART_LLM('p', body) from t union all "
                                "select SMART_LLM('p', body) from t where SMART_LLM('q', body) = 'y'").tasks
    assert "'p'" in first.input_sql and "'q'" in second.input_sql
    assert third.depends_on == (second.id,) and "'p'" in third.input_sql


def test_nested_call_runs_first_and_the_outer_reads_its_answers():
    inner, outer = plan("select SMART_LLM('outer', SMART_LLM('inner', body)) from t").tasks
    assert "'inner'" in inner.input_sql and inner.depends_on == ()
    assert outer.depends_on == (inner.id,) and inner.table in outer.input_sql


def test_cheap_filters_apply_before_the_llm_filter(conn):
    (task,) = plan("select id from t where g = 1 and SMART_LLM('keep?', body) = 'yes' and score > 10").tasks
    expected = conn.execute("select count(distinct body), count(*) from t "
                            "where g = 1 and score > 10 and body is not null").fetchone()
    assert inputs(conn, task) == expected


def test_case_branch_condition_filters_the_input(conn):
    (task,) = plan("select case when score is null then 'none' when g = 0 then SMART_LLM('p', body) end from t").tasks
    expected = conn.execute("select count(distinct body), count(*) from t where score is not null and g = 0").fetchone()
    assert inputs(conn, task) == expected


def test_row_level_call_in_an_aggregating_select_reads_rows(conn):
    (task,) = plan("select g, count_if(SMART_LLM('p', body) = 'y') from t where id < 30 group by g").tasks
    assert inputs(conn, task) == (5, 30)


def test_group_level_call_reads_one_input_per_group(conn):
    (task,) = plan("select g, SMART_LLM('p', string_agg(body, ',' order by id)) from t group by all "
                   "having count(*) > 9").tasks
    assert inputs(conn, task) == (4, 4)


def test_limit_of_the_select_bounds_the_input(conn):
    (task,) = plan("select id, SMART_LLM('p', body) from t order by id desc limit 3").tasks
    assert inputs(conn, task) == (3, 3)


def test_limit_without_order_is_carried_only_over_one_table(conn):
    (task,) = plan("select id, SMART_LLM('p', body) from t limit 4").tasks
    assert inputs(conn, task) == (4, 4)
    (task,) = plan("select a.id, SMART_LLM('p', a.body) from t a join t b using (id) limit 4").tasks
    assert inputs(conn, task) == (5, 40), "a join's row order may change between runs"


def test_limit_is_not_carried_when_the_order_needs_the_answers(conn):
    (task,) = plan("select id, SMART_LLM('p', body) as s from t order by s limit 3").tasks
    assert inputs(conn, task) == (5, 40)


def test_only_the_ctes_the_scope_reads_are_carried():
    (task,) = plan("with a as (select * from t), b as (select * from a where g = 1), c as (select 1) "
                   "select SMART_LLM('p', body) from b").tasks
    assert "a AS (" in task.input_sql and "b AS (" in task.input_sql and "c AS (" not in task.input_sql


def test_union_branches_get_a_task_each(conn):
    first, second = plan("select SMART_LLM('a', body) from t where g = 0 union all "
                         "select SMART_LLM('b', body) from t where g = 1").tasks
    assert inputs(conn, first) == (conn.execute("select count(distinct body), count(*) from t where g = 0").fetchone())
    assert inputs(conn, second) == (conn.execute("select count(distinct body), count(*) from t where g = 1").fetchone())


def test_result_columns_cannot_capture_the_models_columns():
    result = plan("select SMART_LLM(prompt, text) from (select 'p' as prompt, 'x' as text)")
    assert "__smart_r.__smart_text = CAST(text AS TEXT)" in result.sql


def test_a_filter_on_a_calls_alias_is_that_call_evaluated_in_the_filter(conn):
    result = plan("select id, SMART_LLM('p', body) as s, upper(s) as loud from t where s = 'yes' and g = 2")
    (task,) = result.tasks
    assert task.calls == ("SMART_LLM call #1 (line 1, column 12)",)
    assert inputs(conn, task) == conn.execute("select count(distinct body), count(*) from t where g = 2").fetchone()


def test_qualified_names_are_not_read_as_a_calls_alias():
    result = plan("select SMART_LLM('p', t.body) as body from t where t.body <> 'x'")
    (task,) = result.tasks
    assert "body <> 'x'" in task.input_sql.replace("t.body", "body")
