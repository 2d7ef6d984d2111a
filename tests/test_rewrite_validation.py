"""SMART_LLM calls are found in any letter case and every bad argument is an error that names
the model file, the call's position and what is allowed."""

import pytest

from smart_sql.errors import ModelError
from smart_sql.llm.config import parse_llm_config
from smart_sql.rewrite.plan import rewrite_sql

CONFIG = parse_llm_config({
    "provider": "simulated", "accuracy": 0.8, "confidence": 0.9, "seed": 7, "max_tokens": 20,
    "models": [{"name": "big", "input_price_per_1m": 10, "output_price_per_1m": 30, "reference": True},
               {"name": "mid", "input_price_per_1m": 1, "output_price_per_1m": 3},
               {"name": "small", "input_price_per_1m": 0.1, "output_price_per_1m": 0.3}],
})
PATH = "models/marts/review_insights.sql"


def options_of(sql):
    (task,) = rewrite_sql(sql, CONFIG, path=PATH).tasks
    return task.options


def test_sql_without_calls_comes_back_unchanged():
    sql = "select  a,\n  b -- smart_llm is only a word here\nfrom t"
    assert rewrite_sql(sql, CONFIG, path=PATH).sql == sql
    assert rewrite_sql(sql, CONFIG, path=PATH).tasks == ()


@pytest.mark.parametrize("name", ["SMART_LLM", "smart_llm", "Smart_Llm"])
def test_call_found_in_any_letter_case(name):
    result = rewrite_sql(f"select {name}('p', text) as s from t", CONFIG, path=PATH)
    assert len(result.tasks) == 1
    assert "smart_llm" not in result.sql.lower().replace("__smart_llm", "")


def test_defaults_come_from_the_llm_block():
    options = options_of("select SMART_LLM('p', text) from t")
    assert (options.accuracy, options.confidence, options.seed, options.max_tokens) == (0.8, 0.9, 7, 20)
    assert options.models == ("big", "mid", "small") and options.reference == "big"
    assert options.labels is None and options.method == "mix" and options.temperature == 0.0


def test_named_arguments_with_both_arrows():
    options = options_of("select SMART_LLM('p', text, accuracy => 0.95, confidence := 0.99, "
                         "labels => ['yes', 'no'], models => ['small'], method := 'single', seed => 3, "
                         "temperature => 0.5, max_tokens => 5) from t")
    assert options.accuracy == 0.95 and options.confidence == 0.99
    assert options.labels == ("yes", "no")
    assert options.models == ("big", "small"), "the reference always joins the ladder"
    assert (options.method, options.seed, options.temperature, options.max_tokens) == ("single", 3, 0.5, 5)


def test_reference_override_joins_the_ladder():
    options = options_of("select SMART_LLM('p', text, reference => 'mid', models => ['small']) from t")
    assert options.reference == "mid" and options.models == ("mid", "small")


@pytest.mark.parametrize("arguments, words", [
    ("'p'", ["2 positional arguments", "got 1"]),
    ("'p', text, other", ["2 positional arguments", "got 3"]),
    ("'p', accuracy => 0.9, text", ["positional arguments must come before"]),
    ("'p', text, acuracy => 0.9", ["unknown argument `acuracy`", "accuracy, confidence"]),
    ("'p', text, accuracy => 0.9, accuracy => 0.8", ["`accuracy` is given twice"]),
    ("'p', text, accuracy => 0", ["`accuracy` must be in (0, 1]"]),
    ("'p', text, accuracy => 1.5", ["`accuracy` must be in (0, 1]"]),
    ("'p', text, accuracy => 'high'", ["`accuracy` must be a number"]),
    ("'p', text, accuracy => x", ["`accuracy` must be a literal value, got x"]),
    ("'p', text, confidence => 1", ["`confidence` must be in (0, 1)"]),
    ("'p', text, labels => []", ["`labels` must be a non-empty list"]),
    ("'p', text, labels => 'yes'", ["`labels` must be a non-empty list"]),
    ("'p', text, labels => ['Yes', 'yes.']", ["`labels` must be distinct"]),
    ("'p', text, labels => [1, 2]", ["`labels` must be a non-empty list of non-empty strings"]),
    ("'p', text, models => ['gpt-5']", ["`models` names 'gpt-5'", "big, mid, small"]),
    ("'p', text, reference => 'gpt-5'", ["`reference` names 'gpt-5'", "big, mid, small"]),
    ("'p', text, method => 'cheapest'", ["`method` must be one of mix, single, reference"]),
    ("'p', text, max_tokens => 0", ["`max_tokens` must be >= 1"]),
    ("'p', text, max_tokens => 2.5", ["`max_tokens` must be an integer"]),
    ("'p', text, temperature => -1", ["`temperature` must be >= 0"]),
    ("'p', text, empty_text => 'drop'", ["`empty_text` must be one of 'null', 'send'"]),
])
def test_bad_arguments_are_reported_with_file_position_and_rule(arguments, words):
    sql = f"select id,\n       SMART_LLM({arguments}) as s\nfrom t"
    with pytest.raises(ModelError) as caught:
        rewrite_sql(sql, CONFIG, path=PATH)
    message = str(caught.value)
    assert message.startswith(f"{PATH}:2: SMART_LLM call #1 (line 2, column 8)")
    for word in words:
        assert word in message


def test_error_names_the_right_call_among_several():
    sql = "select SMART_LLM('a', x) as a,\n SMART_LLM('b', y, accuracy => 2) as b from t"
    with pytest.raises(ModelError, match=r"call #2 \(line 2, "):
        rewrite_sql(sql, CONFIG, path=PATH)


@pytest.mark.parametrize("sql, words", [
    ("select * from a join b on SMART_LLM('same?', a.x || b.y) = 'yes'", "in a JOIN condition is not supported"),
    ("select x from t qualify SMART_LLM('p', x) = 'a'", "in QUALIFY is not supported"),
    ("select list_transform(xs, lambda v: SMART_LLM('p', v)) from t", "inside a lambda is not supported"),
    ("select (select SMART_LLM('p', u.y || t.x) from u) from t", "reads t.x from an enclosing query"),
    ("select 1; select SMART_LLM('p', x) from t", "exactly one statement"),
    ("select SMART_LLM('p', x) from t using sample 10%", "samples its rows is not supported"),
    ("select SMART_LLM('p', x) from t tablesample 10%", "samples its rows is not supported"),
])
def test_unsupported_positions_are_clear_errors(sql, words):
    with pytest.raises(ModelError) as caught:
        rewrite_sql(sql, CONFIG, path=PATH)
    assert words in str(caught.value) and PATH in str(caught.value)


def test_sql_that_duckdb_would_reject_is_rejected_with_its_line_and_column():
    sql = "select t.id,\n       t.priority,,\n       SMART_LLM('p', t.body) as s\nfrom t"
    with pytest.raises(ModelError) as caught:
        rewrite_sql(sql, CONFIG, path=PATH)
    assert str(caught.value).startswith(f"{PATH}:2:19: cannot parse the SQL: Parser Error: syntax error")
    assert "  2 |        t.priority,,\n    |                   ^" in str(caught.value)
