"""SMART_LLM's `compare`, `max_invalid_share` and per-task seeds, through SQL (simulated answers)."""

import duckdb
import pytest

from smart_sql import api
from smart_sql.errors import LLMError, ModelError
from smart_sql.llm.base import LLMResponse
from smart_sql.llm.config import parse_llm_config
from smart_sql.rewrite.plan import rewrite_sql

pytestmark = pytest.mark.filterwarnings("ignore::smart_sql.api.SimulatedAnswersWarning")
CONFIG = parse_llm_config({"provider": "simulated", "cache": False})


@pytest.fixture
def conn():
    connection = duckdb.connect()
    connection.execute("create table notes as select i as id, 'note ' || i as body from range(300) r(i)")
    yield connection
    connection.close()


class ScriptedProvider:
    """Answers every request with reply(model, text); labelled simulated."""

    name, simulated, endpoint = "simulated", True, "simulated:scripted"

    def __init__(self, reply):
        self.reply = reply

    async def complete(self, requests, on_response=None):
        return [LLMResponse(self.reply(r.model, r.text), 10, 1) for r in requests]

    async def aclose(self):
        return None


def test_two_columns_draw_independently_and_a_build_is_reproducible():
    sql = ("select SMART_LLM('Is it a chore?', body) as a, SMART_LLM('Is it urgent?', body) as b, "
           "SMART_LLM('Is it urgent?', body, seed => 7) as c from notes")
    first = rewrite_sql(sql, CONFIG, model="m").tasks
    again = rewrite_sql(sql, CONFIG, model="m").tasks
    elsewhere = rewrite_sql(sql, CONFIG, model="other").tasks
    seeds = [task.seed for task in first]
    assert len(set(seeds)) == 3
    assert seeds == [task.seed for task in again]
    assert not set(seeds) & {task.seed for task in elsewhere}


def test_the_stored_value_follows_compare(conn):
    reference = CONFIG.reference.name

    def reply(model, text):
        return f"  Code {text[-1]}." if model == reference else f"code {text[-1]}"

    rows = {}
    for compare in ("normalized", "casefold", "exact"):
        result = api.run(conn, f"select SMART_LLM('Code?', body, compare => '{compare}', accuracy => 1.0) "
                               "from notes where id = 1", CONFIG, provider=ScriptedProvider(reply))
        rows[compare] = result.relation.fetchall()[0][0]
    assert rows == {"normalized": "Code 1", "casefold": "code 1", "exact": "  Code 1."}


@pytest.mark.parametrize("options, message", [
    ("compare => 'fuzzy'", "`compare` must be one of normalized, casefold, exact"),
    ("compare => 'exact', labels => ['a', 'b']", "`compare` and `labels` cannot be combined"),
    ("max_invalid_share => 2", "`max_invalid_share` must be in \\[0, 1\\]"),
])
def test_bad_options_are_refused_before_any_call(conn, options, message):
    with pytest.raises(ModelError, match=message):
        api.run(conn, f"select SMART_LLM('p', body, {options}) from notes", CONFIG,
                provider=ScriptedProvider(lambda model, text: pytest.fail("no call expected")))


def test_a_reference_that_names_no_label_fails_the_task_with_examples(conn):
    with pytest.raises(LLMError) as caught:
        api.run(conn, "select SMART_LLM('Chore?', body, labels => ['yes', 'no']) from notes", CONFIG,
                provider=ScriptedProvider(lambda model, text: "I cannot tell"))
    message = str(caught.value)
    assert "answers of the reference model" in message and "named none of the labels" in message
    assert "'I cannot tell'" in message and "max_invalid_share" in message


def test_invalid_answers_are_null_and_counted_in_the_summary(conn):
    from smart_sql.llm_sql import summary_line

    reference = CONFIG.reference.name

    def reply(model, text):
        return "" if model == reference and text.endswith("7") else "yes"

    result = api.run(conn, "select id, SMART_LLM('Chore?', body, labels => ['yes', 'no'], accuracy => 1.0, "
                           "max_invalid_share => 0.2) as chore from notes", CONFIG, provider=ScriptedProvider(reply))
    nulls = [row[0] for row in result.relation.fetchall() if row[1] is None]
    assert sorted(nulls) == [i for i in range(300) if str(i).endswith("7")]
    line = summary_line(result.reports, True)
    assert f"{len(nulls)} rows NULL because their answer was empty or named no label" in line
    assert f"invalid answers by model: {reference} {len(nulls)}" in line
    assert (f"agreement with the reference >= {1 - len(nulls) / 300:.3f} certified (under the requested accuracy 1: "
            f"the reference model itself answered {len(nulls)} rows invalidly)") in line
