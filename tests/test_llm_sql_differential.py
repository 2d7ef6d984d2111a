"""Differential tests: with accuracy => 1.0 the rewritten, batched plan returns exactly the table a
naive per-row evaluation with the reference model returns, for every place a call may stand; and
the provider is asked once per distinct input, never for NULLs or filtered-out rows."""

import asyncio
import json
from collections import Counter

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from smart_sql import api
from smart_sql.llm.base import LLMRequest, RequestOptions
from smart_sql.llm.config import parse_llm_config
from smart_sql.llm.simulated import SimulatedProvider
from smart_sql.smart.agreement import canonical

CONFIG = parse_llm_config({"provider": "simulated"})
REFERENCE = CONFIG.reference.name
EXACT = ", accuracy => 1.0"


class CountingProvider:
    """Wraps the simulated provider and records every request it is sent."""

    name = "simulated"
    simulated = True

    def __init__(self, config=CONFIG):
        self.inner = SimulatedProvider(config)
        self.endpoint = self.inner.endpoint
        self.requests: list[LLMRequest] = []

    async def complete(self, requests, on_response=None):
        self.requests.extend(requests)
        return await self.inner.complete(requests, on_response)

    async def aclose(self):
        return None


REVIEWS = [
    # id, product_id, review, stars, lang
    (1, 10, "Great book, loved it", 5, "en"),
    (2, 10, "Great book, loved it", 5, "en"),
    (3, 10, "Terrible binding", 1, "en"),
    (4, 20, None, 3, "en"),
    (5, 20, "Ça marche très bien ✓", 4, "fr"),
    (6, 20, 'He said "meh" and it\'s fine', 3, "en"),
    (7, 30, "空气净化器很好用", None, "zh"),
    (8, 30, "Terrible binding", 2, "en"),
    (9, 30, "", 3, "en"),
    (10, 40, "Arrived broken 🚀", 1, "en"),
    (11, 40, "Great book, loved it", 4, "en"),
    (12, 10, "ok", 3, None),
]
PRODUCTS = [(10, "The Pragmatic Programmer", "books"), (20, "Air purifier", "home"),
            (30, "Kettle 'Deluxe'", "home"), (40, "SQL Cookbook", "books")]


def with_tables(connection):
    """`connection` holding the corpus's reviews and products."""
    connection.execute("create table reviews (id int, product_id int, review varchar, stars int, lang varchar)")
    connection.executemany("insert into reviews values (?, ?, ?, ?, ?)", REVIEWS)
    connection.execute("create table products (product_id int, name varchar, category varchar)")
    connection.executemany("insert into products values (?, ?, ?)", PRODUCTS)
    return connection


@pytest.fixture
def conn():
    connection = with_tables(duckdb.connect())
    yield connection
    connection.close()


def naive_sql(sql: str, conn) -> str:
    """The same query with each SMART_LLM call replaced by a per-row Python UDF on the reference model."""
    provider = SimulatedProvider(CONFIG)

    def naive_llm(prompt, text, labels_json, empty_text):
        if prompt is None or text is None or (not text.strip() and empty_text != "send"):
            return None
        labels = tuple(json.loads(labels_json)) or None
        request = LLMRequest(REFERENCE, prompt, text, RequestOptions(labels=labels))
        (response,) = asyncio.run(provider.complete([request]))
        return canonical(response.answer, labels) if labels else response.answer

    conn.create_function("naive_llm", naive_llm, ["VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR",
                         null_handling="special", side_effects=False)

    def replace(node):
        if isinstance(node, exp.Anonymous) and node.name.upper() == "SMART_LLM":
            prompt, text, *named = node.expressions
            options = {arg.this.name.lower(): arg.expression for arg in named}
            labels = [item.this for item in options["labels"].expressions] if "labels" in options else []
            empty_text = options["empty_text"].this if "empty_text" in options else "null"
            return exp.func("naive_llm", exp.cast(prompt.transform(replace), "VARCHAR"),
                            exp.cast(text.transform(replace), "VARCHAR"),
                            exp.Literal.string(json.dumps(labels)), exp.Literal.string(empty_text))
        return node

    return sqlglot.parse_one(sql, read="duckdb").transform(replace).sql(dialect="duckdb")


YES_NO = ", labels => ['yes', 'no']"
SHAPES = {
    "select list": "select id, SMART_LLM('Sentiment of:', review{o}) as s from reviews",
    "labels": "select id, SMART_LLM('Classify', review, labels => ['positive', 'negative', 'neutral']{o}) from reviews",
    "where with cheap filters": f"select id from reviews where stars >= 3 and SMART_LLM('Urgent?', review{YES_NO}{{o}}) = 'yes' and lang = 'en'",
    "two llm filters and an or": f"select id from reviews where SMART_LLM('A?', review{YES_NO}{{o}}) = 'yes' "
                                 f"and (stars > 3 or SMART_LLM('B?', review{YES_NO}{{o}}) = 'no')",
    "join": "select r.id, p.name, SMART_LLM('Fits the product? ' || p.name, r.review{o}) as fit "
            "from reviews r join products p using (product_id) where p.category = 'books'",
    "group by ordinal": f"select SMART_LLM('Topic', review{YES_NO}{{o}}) as topic, count(*) from reviews group by 1",
    "group by all": f"select lang, SMART_LLM('Topic', review{YES_NO}{{o}}) as topic, count(*) as n from reviews group by all",
    "aggregate level": "select product_id, SMART_LLM('Summarize', string_agg(review, ' | ' order by id){o}) as s "
                       "from reviews group by product_id",
    "group level under rollup": "select lang, SMART_LLM('Themes', string_agg(review, '|' order by id){o}) as s "
                                "from reviews group by rollup (lang)",
    "having": f"select product_id, count(*) from reviews group by product_id "
              f"having SMART_LLM('Good product?', string_agg(review, '|' order by id){YES_NO}{{o}}) = 'yes'",
    "inside an aggregate": f"select product_id, count_if(SMART_LLM('Positive?', review{YES_NO}{{o}}) = 'yes') as n "
                           f"from reviews group by product_id",
    "order by with limit": "select id from reviews order by SMART_LLM('Rank', review{o}) nulls last, id limit 4",
    "cte": "with en as (select * from reviews where lang = 'en') select id, SMART_LLM('Translate', review{o}) as t from en",
    "call over a subquery's call": "select id, SMART_LLM('Shorten', s{o}) as short "
                                   "from (select id, SMART_LLM('Summarize', review{o}) as s from reviews where stars > 1) x",
    "nested": "select id, SMART_LLM('To French', SMART_LLM('Summarize', review{o}){o}) as f from reviews",
    "union": "select id, SMART_LLM('A', review{o}) as x from reviews where stars > 3 "
             "union all select id, SMART_LLM('B', review{o}) from reviews where stars <= 3",
    "case branches": "select id, case when stars >= 4 then SMART_LLM('Why good?', review{o}) when stars is null then 'none' "
                     "else SMART_LLM('Why bad?', review{o}) end as why from reviews",
    "the same call in two scopes": "select id, SMART_LLM('Same', review{o}) as s from reviews where stars > 3 "
                                   "union all select id, SMART_LLM('Same', review{o}) from reviews where lang = 'en'",
    "if branches": "select id, if(stars > 2, SMART_LLM('Why?', review{o}), null) as why from reviews",
    "identical calls": "select SMART_LLM('p', review{o}) as a, SMART_LLM('p', review{o}) as b from reviews "
                       "where SMART_LLM('p', review{o}) is not null",
    "prompt from a column": "select r.id, SMART_LLM(p.name || ': describe', r.review{o}) as d "
                            "from reviews r left join products p on p.product_id = r.product_id",
    "empty input": "select id, SMART_LLM('p', review{o}) as s from reviews where 1 = 0",
    "quotes and unicode in the prompt": "select id, SMART_LLM('It''s \"quoted\" — ünïcode 🚀', review{o}) as s from reviews",
    "order by and limit in the select": "select id, SMART_LLM('p', review{o}) as s from reviews order by id desc limit 3",
    "order by all with limit": "select id, SMART_LLM('p', review{o}) as s from reviews order by all limit 3",
    "where on a select alias": "select id, upper(lang) as ul, SMART_LLM('p', review{o}) as s from reviews where ul = 'EN'",
    "alias shadowing a column": "select id, trim(review) || '!' as review, SMART_LLM('p', review{o}) as s "
                                "from reviews where review <> 'ok'",
    "lateral alias in the text": "select id, coalesce(review, lang) as t, SMART_LLM('p', t{o}) as s from reviews",
    "call over an earlier call's alias": "select id, SMART_LLM('a', review{o}) as x, SMART_LLM('b', x{o}) as y from reviews",
    "having on an aggregate alias": "select product_id, count(*) as c, SMART_LLM('p', string_agg(review, '|' order by id){o}) as s "
                                    "from reviews group by product_id having c > 2",
    "where on a call's alias": f"select id, SMART_LLM('Urgent?', review{YES_NO}{{o}}) as urgent from reviews "
                               f"where urgent = 'yes' and stars < 5",
    "having on a call's alias": f"select product_id, SMART_LLM('Good?', string_agg(review, '|' order by id){YES_NO}{{o}}) as good "
                                f"from reviews group by product_id having good = 'yes'",
    "in subquery": f"select id from reviews where product_id in (select product_id from products "
                   f"where SMART_LLM('Is this a book?', name{YES_NO}{{o}}) = 'yes')",
    "scalar subquery": "select id, (select SMART_LLM('Name?', max(name){o}) from products) as n from reviews",
    "number as text": "select id, SMART_LLM('Describe the rating', stars{o}) as s from reviews",
    "window alongside": "select id, SMART_LLM('p', review{o}) as s, row_number() over (partition by lang order by id) as r "
                        "from reviews",
    "call inside a window": "select id, count(*) over (partition by SMART_LLM('Group', review{o})) as c from reviews",
    "qualify in the scope": "select id, SMART_LLM('p', review{o}) as s from reviews "
                            "qualify row_number() over (partition by lang order by id) = 1",
    "star and a call over values": "select *, SMART_LLM('p', v{o}) as s from (values ('a'), ('b'), (null), ('a')) t(v)",
    "distinct": "select distinct SMART_LLM('Lang?', lang{o}) as l from reviews",
    "empty texts sent": "select id, SMART_LLM('Sentiment of:', review, empty_text => 'send'{o}) as s from reviews",
}


def rows(relation_or_result):
    return sorted(relation_or_result, key=repr)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_exact_plan_matches_naive_per_row_evaluation(conn, shape):
    sql = SHAPES[shape].format(o=EXACT)
    provider = CountingProvider()
    result = api.run(conn, sql, CONFIG, provider=provider)
    assert rows(result.relation.fetchall()) == rows(conn.execute(naive_sql(sql, conn)).fetchall())

    assert all(r.model == REFERENCE for r in provider.requests), "accuracy 1.0 asks the reference only"
    assert len(provider.requests) == sum(report.distinct_inputs for report in result.reports)
    for report in result.reports:
        assert report.answers_by_model in ({}, {REFERENCE: report.distinct_inputs})
    assert all(r.text is not None and r.prompt is not None for r in provider.requests)


@pytest.mark.parametrize("shape, distinct_sql", [
    ("where with cheap filters",
     "select count(distinct review) from reviews where stars >= 3 and lang = 'en' and review <> ''"),
    ("case branches",
     "select count(distinct review) filter (where stars >= 4) + count(distinct review) filter (where stars < 4) "
     "from reviews where review <> ''"),
    ("order by and limit in the select",
     "select count(distinct review) from (select review from reviews order by id desc limit 3) where review <> ''"),
    ("empty input", "select 0"),
    ("identical calls", "select count(distinct review) from reviews where review <> ''"),
    ("empty texts sent", "select count(distinct review) from reviews"),
])
def test_provider_is_asked_once_per_distinct_input_that_reaches_the_call(conn, shape, distinct_sql):
    provider = CountingProvider()
    api.run(conn, SHAPES[shape].format(o=EXACT), CONFIG, provider=provider)
    (expected,), = conn.execute(distinct_sql).fetchall()
    asked = Counter((r.prompt, r.text) for r in provider.requests)
    assert len(provider.requests) == expected
    assert all(times == 1 for times in asked.values())


def test_llm_filters_run_in_order_each_on_the_rows_the_earlier_ones_kept(conn):
    provider = CountingProvider()
    sql = SHAPES["two llm filters and an or"].format(o=EXACT)
    result = api.run(conn, sql, CONFIG, provider=provider)
    first, second = result.reports
    assert first.task.depends_on == () and second.task.depends_on == (first.task.id,)
    passed_first = conn.execute(f"select count(distinct __smart_text) from {first.task.table} "
                                f"where __smart_answer = 'yes'").fetchone()[0]
    assert second.distinct_inputs == passed_first < first.distinct_inputs


def test_lower_accuracy_answers_come_from_configured_models_and_meet_the_target():
    conn = duckdb.connect()
    conn.execute("create table docs as select i as id, 'document ' || (i % 1500) as body from range(3000) r(i)")
    config = parse_llm_config({"provider": "simulated", "simulated": {"agreement": {"sim-medium": 0.97, "sim-small": 0.9}}})
    provider = CountingProvider(config)
    result = api.run(conn, "select id, SMART_LLM('Topic?', body, accuracy => 0.85, confidence => 0.9) as topic "
                           "from docs", config, provider=provider)
    (report,) = result.reports
    answers = conn.execute(f"select __smart_prompt, __smart_text, __smart_answer, __smart_model from {report.task.table}").fetchall()
    assert {model for *_, model in answers} <= {m.name for m in config.models}
    assert len({model for *_, model in answers}) > 1, "a table this size is worth a cheaper model"
    counts = dict(conn.execute("select body, count(*) from docs group by body").fetchall())
    reference = provider.inner.simulator
    agreeing = sum(counts[text] for prompt, text, answer, _ in answers
                   if canonical(answer) == canonical(reference.reference_answer(prompt, text)))
    assert agreeing / 3000 >= 0.85
    by_model = Counter((r.model, r.prompt, r.text) for r in provider.requests)
    assert max(by_model.values()) == 1, "no input is sent twice to the same model"
    assert sum(1 for model, *_ in by_model if model == REFERENCE) < 1500, "the reference did not answer everything"
