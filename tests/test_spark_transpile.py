"""Models in DuckDB's dialect turned into Spark SQL: what cannot be is an error naming the file, the
line and the construct; what Spark names otherwise is rewritten (no Spark session needed)."""

from __future__ import annotations

import pytest

from smart_sql.adapters.transpile import lookups_as_maps, to_spark
from smart_sql.errors import ModelError
from smart_sql.positions import CompiledSQL


def test_a_construct_sqlglot_cannot_write_for_spark_names_the_file_line_and_construct():
    sql = CompiledSQL("select\n    id,\n    arg_max(a, b, 2) as top\nfrom t\ngroup by id")
    with pytest.raises(ModelError) as error:
        to_spark(sql, path="models/top.sql", model="top")
    text = str(error.value)
    assert text.startswith("models/top.sql:3:") and "model 'top'" in text
    assert "ARG_MAX(a, b, 2)" in text and "arg_max(a, b, 2) as top" in text


def test_an_ordered_array_agg_is_refused_rather_than_losing_its_order():
    with pytest.raises(ModelError, match="collect_list keeps no order") as error:
        to_spark(CompiledSQL("select\n  array_agg(x order by y) as xs\nfrom t"), path="models/xs.sql", model="xs")
    assert str(error.value).startswith("models/xs.sql:2:")


def test_duckdb_functions_spark_names_otherwise_are_rewritten():
    spark_sql = to_spark(r"select regexp_full_match(t, '\s*') as blank, md5_number_lower(t) as k from x")
    assert r"t RLIKE '^(?:\\s*)$'" in spark_sql
    assert "MD5_NUMBER_LOWER" not in spark_sql.upper() and "CONV(" in spark_sql


def test_an_answer_lookup_becomes_a_map_lookup_only_where_it_is_one():
    lookup = ("SELECT id, (SELECT __smart_r.__smart_answer FROM t1 AS __smart_r WHERE __smart_r.__smart_prompt = 'p' "
              "AND __smart_r.__smart_text = CAST(max(review) AS STRING)) AS s, (SELECT max(x) FROM y) AS other "
              "FROM reviews GROUP BY id")
    rewritten = lookups_as_maps(lookup)
    assert "TRY_ELEMENT_AT((SELECT MAP_FROM_ARRAYS(" in rewritten and "FROM t1 WHERE NOT __smart_answer IS NULL" in rewritten
    assert "(SELECT MAX(x) FROM y) AS other" in rewritten
