"""The SQL differential corpus (tests/test_llm_sql_differential.py) on Spark: every shape a SMART_LLM call
may stand in gives, on a local Spark session, the rows DuckDB gives, and asks the provider the same
questions. The shapes Spark cannot run are listed in SPARK_EXCEPTIONS with the reason."""

from __future__ import annotations

import itertools
from collections import Counter
from decimal import Decimal

import duckdb
import pytest

from smart_sql import api
from smart_sql.errors import ModelError
from test_llm_sql_differential import CONFIG, EXACT, PRODUCTS, REVIEWS, SHAPES, CountingProvider, with_tables

SCHEMA = "differential"
SPARK_EXCEPTIONS = {
    "where on a select alias": "DuckDB lets WHERE name a SELECT alias (`where ul = 'EN'`); Spark SQL does not, "
                               "and sqlglot leaves the alias in place",
}
_prefixes = itertools.count(1)


@pytest.fixture(scope="module")
def spark_adapter(spark):
    from smart_sql.adapters.spark import SparkAdapter

    spark.createDataFrame(REVIEWS, "id int, product_id int, review string, stars int, lang string") \
        .createOrReplaceTempView("reviews")
    spark.createDataFrame(PRODUCTS, "product_id int, name string, category string").createOrReplaceTempView("products")
    yield SparkAdapter(spark, SCHEMA)
    spark.catalog.setCurrentDatabase("default")


@pytest.fixture(scope="module")
def duck():
    connection = with_tables(duckdb.connect())
    yield connection
    connection.close()


def normalized(rows) -> list[tuple]:
    def value(item):
        if isinstance(item, Decimal):
            return float(item)
        if isinstance(item, float):
            return round(item, 9)
        return item
    return sorted((tuple(value(item) for item in row) for row in rows), key=repr)


def on_spark(adapter, sql: str, provider) -> tuple[list[tuple], list]:
    from smart_sql.adapters.llm import run_query

    spark_sql, reports = run_query(adapter, sql, CONFIG, provider=provider,
                                   table_prefix=f"__smart_llm_d{next(_prefixes)}")
    try:
        return adapter.fetch(spark_sql)[1], reports
    finally:
        for report in reports:
            adapter.drop_temporary(report.task.table)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_shape_gives_on_spark_the_rows_and_the_requests_it_gives_on_duckdb(spark_adapter, duck, shape):
    sql = SHAPES[shape].format(o=EXACT)
    if shape in SPARK_EXCEPTIONS:
        refused = CountingProvider()
        with pytest.raises(ModelError, match="does not bind on spark"):
            on_spark(spark_adapter, sql, refused)
        assert refused.requests == [], "refused before any request"
        return
    duck_provider, spark_provider = CountingProvider(), CountingProvider()
    expected = api.run(duck, sql, CONFIG, provider=duck_provider)
    rows, reports = on_spark(spark_adapter, sql, spark_provider)
    assert normalized(rows) == normalized(expected.relation.fetchall())
    asked = Counter((r.model, r.prompt, r.text) for r in spark_provider.requests)
    assert asked == Counter((r.model, r.prompt, r.text) for r in duck_provider.requests)
    assert [r.distinct_inputs for r in reports] == [r.distinct_inputs for r in expected.reports]


def test_lower_accuracy_spends_on_spark_what_it_spends_on_duckdb(spark, spark_adapter):
    """Below 1.0 the SMART engine samples and mixes models: the same inputs in the same order give the same
    answers, models and cost on both engines."""
    from smart_sql.llm.config import parse_llm_config

    config = parse_llm_config({"provider": "simulated",
                               "simulated": {"agreement": {"sim-medium": 0.97, "sim-small": 0.9}}})
    docs = [(i, f"document {i % 700}") for i in range(1400)]
    spark.createDataFrame(docs, "id int, body string").createOrReplaceTempView("docs")
    duck = duckdb.connect()
    duck.execute("create table docs (id int, body varchar)")
    duck.executemany("insert into docs values (?, ?)", docs)
    sql = "select id, SMART_LLM('Topic?', body, accuracy => 0.85, confidence => 0.9) as topic from docs"
    expected = api.run(duck, sql, config, provider=CountingProvider(config))
    from smart_sql.adapters.llm import run_query

    spark_sql, reports = run_query(spark_adapter, sql, config, provider=CountingProvider(config),
                                   table_prefix="__smart_llm_mix")
    assert normalized(spark_adapter.fetch(spark_sql)[1]) == normalized(expected.relation.fetchall())
    (report,), (duck_report,) = reports, expected.reports
    assert report.answers_by_model == duck_report.answers_by_model and len(report.answers_by_model) > 1
    assert report.account["total_cost"] == duck_report.account["total_cost"] > 0
