"""Positions in DuckDB's errors are read back from its excerpt and carets, and positions in the
compiled SQL map back to the model file where Jinja leaves that certain, and only there."""

import duckdb
import jinja2
import pytest

from smart_sql.positions import CompiledSQL, Place
from smart_sql.sql_errors import error_place, error_text

LONG = "select " + ", ".join(f"id as c{i}" for i in range(40))


@pytest.fixture(scope="module")
def conn():
    with duckdb.connect() as connection:
        connection.execute("create table t as select 1 as id")
        yield connection


@pytest.mark.parametrize("sql", [
    "select id,\n  foo\nfrom t",
    "select\tid,\tfoo from t",
    "select '日本語', 'é', foo from t",
    "select foo, " + LONG[7:] + " from t",
    LONG + ", foo from t",
    LONG.replace("c20,", "c20, foo,") + " from t",
])
def test_the_position_is_read_back_from_the_excerpt_and_carets(conn, sql):
    with pytest.raises(duckdb.Error) as caught:
        conn.execute(f"create table x as\n{sql}\n")
    place = error_place(caught.value, sql, first_line=2)
    lines = sql.split("\n")
    assert lines[place.line - 1][place.column - 1:].startswith("foo")
    assert "LINE" not in error_text(caught.value) and "foo" in error_text(caught.value)


def test_an_error_outside_the_models_sql_has_no_place(conn):
    with pytest.raises(duckdb.Error) as caught:
        conn.execute("create table nope.x as\nselect 1")
    assert error_place(caught.value, "select 1", first_line=2) is None


def compiled(source: str, **context) -> CompiledSQL:
    rendered = jinja2.Environment(keep_trailing_newline=True).from_string(source).render(context)
    body = rendered.strip()
    return CompiledSQL(body, source=source, rendered=rendered,
                       start=len(rendered) - len(rendered.lstrip()), compiled_path="target/compiled/models/m.sql")


def place_of(sql: CompiledSQL, word: str, occurrence: int = 0) -> Place:
    offset = -1
    for _ in range(occurrence + 1):
        offset = sql.index(word, offset + 1)
    return sql.place(offset)


def test_a_header_that_renders_to_nothing_keeps_the_files_lines():
    sql = compiled("{{ config(materialized='table') }}\n\n\nselect id,\n  foo\nfrom t\n", config=lambda **_: "")
    assert sql.startswith("select") and place_of(sql, "foo") == Place(5, 3, "  foo")


def test_a_column_after_jinja_output_on_the_same_line_is_exact():
    sql = compiled("select {{ cols }}, foo from {{ table }}\n", cols="a, b, c", table='"main"."t"')
    assert place_of(sql, "foo") == Place(1, 20, "select {{ cols }}, foo from {{ table }}")
    assert place_of(sql, '"main"') == Place(1, 29, "select {{ cols }}, foo from {{ table }}")


def test_lines_dropped_by_a_false_block_and_whitespace_control():
    source = "select id\n{% if false %}\n, a\n, b\n{% endif %}\n{%- if true %}\n, foo\n{%- endif %}\nfrom t"
    sql = compiled(source)
    assert place_of(sql, "foo") == Place(7, 3, ", foo")
    assert place_of(sql, "from") == Place(9, 1, "from t")


def test_the_branch_an_if_takes_on_the_line_is_found_in_it():
    sql = compiled("select id,\n  {% if flag %}a{% else %}foo{% endif %} as b\nfrom t", flag=False)
    assert place_of(sql, "foo") == Place(2, 27, "  {% if flag %}a{% else %}foo{% endif %} as b")


def test_a_line_repeated_by_a_loop_maps_back_to_the_loop_body_when_unique():
    source = "select\n{% for c in ['id', 'foo'] %}\n  {{ c }} as col_{{ loop.index }},\n{% endfor %}\n  1 as x\nfrom t"
    sql = compiled(source)
    assert place_of(sql, "foo") == Place(3, 3, "  {{ c }} as col_{{ loop.index }},")


def test_a_line_a_macro_produced_is_a_line_of_the_compiled_sql():
    sql = compiled("select {{ cols }}\nfrom t", cols="\n  id,\n  foo\n")
    place = place_of(sql, "foo")
    assert (place.line, place.column, place.text) == (3, 3, "  foo")
    assert place.within.startswith("the compiled SQL at target/compiled/models/m.sql")


def test_the_same_text_on_two_lines_is_told_apart_only_while_the_lines_line_up():
    same_lines = compiled("{% if true %}\nselect a from t\n{% endif %}\nunion all\nselect a from t\n")
    assert place_of(same_lines, "select", 1) == Place(5, 1, "select a from t")
    dropped = compiled("{% if false %}\nselect b from u\n{% endif %}\nselect a from t\nunion all\nselect a from t\n")
    assert place_of(dropped, "select", 0).within is not None
    assert place_of(dropped, "select", 1).within is not None
    assert place_of(dropped, "union") == Place(5, 1, "union all")


def test_a_position_in_the_inserted_ctes_is_a_line_of_the_compiled_sql():
    body = "select foo\nfrom x"
    inserted = "with x as (\nselect 1 as foo\n)\n"
    sql = CompiledSQL(inserted + body, source=body, rendered=body, inserted=(0, len(inserted)),
                      compiled_path="target/compiled/models/m.sql")
    assert place_of(sql, "foo").within is not None
    assert place_of(sql, "foo", 1) == Place(1, 8, "select foo")


def test_the_excerpt_lines_up_the_caret_under_tabs_and_cuts_long_lines():
    assert Place(3, 5, "\tab foo").excerpt() == "  3 | \tab foo\n    | \t   ^"
    long = Place(1, 300, "x" * 299 + "foo" + "y" * 300).excerpt()
    shown, caret = long.split("\n")
    assert len(shown) < 120 and shown[caret.index("^"):].startswith("foo")
