"""The engine adapter boundary: the build the Spark target uses, run over the DuckDB adapter, gives the
tables and the SMART_LLM spend of the DuckDB build itself; and the DuckDB adapter's chunks keep order."""

from __future__ import annotations

import duckdb

from smart_sql.adapters.build import build as build_on_adapter
from smart_sql.adapters.duckdb_adapter import DuckDBAdapter
from smart_sql.execute import build
from smart_sql.project import load_project
from conftest import copy_example
from test_spark_build import _rows


def _tables(conn) -> dict[str, list[tuple]]:
    names = [n for (n,) in conn.execute("select table_name from information_schema.tables "
                                        "where table_schema = 'main' and table_name not like '%smart%'").fetchall()]
    return {name: _rows(conn.execute(f'select * from main."{name}"').fetchall()) for name in names}


def test_the_adapter_build_over_duckdb_gives_the_duckdb_builds_tables(tmp_path):
    root = copy_example(tmp_path)
    project = load_project(root)
    from smart_sql.cli import sql_transform_for
    from smart_sql.report import Reporter

    assert build(project, sql_transform=sql_transform_for(project, Reporter(), use_cache=False)).exit_code == 0
    with duckdb.connect(str(root / "target" / "dev.duckdb"), read_only=True) as conn:
        expected = _tables(conn)
    with duckdb.connect(str(tmp_path / "through_adapter.duckdb")) as conn:
        results = build_on_adapter(load_project(root), adapter=DuckDBAdapter(conn))
        assert results.exit_code == 0
        assert _tables(conn) == expected
    spent = {r.name: r.extras["llm"]["tasks"][0]["account"]["total_cost"] for r in results.results if r.extras.get("llm")}
    assert set(spent) == {"review_archive_sentiment", "review_insights", "urgent_tickets"}


def test_inputs_come_in_chunks_in_prompt_then_text_order_and_answers_go_back_whole():
    conn = duckdb.connect()
    adapter = DuckDBAdapter(conn)
    conn.execute("create table inputs as select 'p' || (i % 3) as prompt, 't' || i as text, 1 as n from range(10) r(i)")
    chunks = list(adapter.read_inputs("select * from inputs", chunk_rows=4))
    assert [len(prompts) for prompts, _, _ in chunks] == [4, 4, 2]
    pairs = [pair for prompts, texts, _ in chunks for pair in zip(prompts, texts)]
    assert pairs == sorted(pairs)
    adapter.write_answers("answers", [(["a", "b"], ["x", "y"], ["1", None], ["m", None]), (["c"], ["z"], ["3"], ["m"])])
    assert conn.execute("select * from answers order by 1").fetchall() == [
        ("a", "x", "1", "m"), ("b", "y", None, None), ("c", "z", "3", "m")]
