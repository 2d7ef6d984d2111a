"""`smart-sql build --target spark`: the bundled example project on a local[2] Spark session gives every
table and view DuckDB's build gives, its SMART_LLM columns answered and paid as on DuckDB, and its
incremental models add the same rows; what a Spark target does not do is refused by name."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb

from conftest import copy_example, write

NEW_TICKET = '1011,2,102,Lid leaks,"The bottle lid leaks when it lies in my bag, and I need a refund now.",open,2024-01-29\n'


def _value(item):
    if isinstance(item, Decimal):
        return float(item)
    if isinstance(item, float):
        return round(item, 9)
    return item


def _rows(rows) -> list[tuple]:
    return sorted((tuple(_value(item) for item in row) for row in rows), key=repr)


def duckdb_relations(root: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    with duckdb.connect(str(root / "target" / "dev.duckdb"), read_only=True) as conn:
        names = [name for (name,) in conn.execute("select table_name from information_schema.tables "
                                                  "where table_schema = 'main' order by 1").fetchall()]
        result = {}
        for name in names:
            cursor = conn.execute(f'select * from main."{name}"')
            result[name] = ([c[0] for c in cursor.description], _rows(cursor.fetchall()))
        return result


def spark_relations(spark, names) -> dict[str, tuple[list[str], list[tuple]]]:
    result = {}
    for name in names:
        frame = spark.table(f"main.`{name}`")
        result[name] = (frame.columns, _rows(tuple(row) for row in frame.collect()))
    return result


def llm_costs(root: Path) -> dict[str, list[float]]:
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"]: [task["account"]["total_cost"] for task in r["llm"]["tasks"]]
            for r in results if r.get("llm")}


def test_the_example_project_builds_on_spark_with_the_tables_duckdb_builds(tmp_path, cli, spark):
    root = copy_example(tmp_path)
    on_duckdb = cli("build", "--project-dir", root)
    assert on_duckdb.exit_code == 0, on_duckdb.output
    duckdb_costs = llm_costs(root)
    on_spark = cli("build", "--project-dir", root, "--target", "spark", "--no-cache")
    assert on_spark.exit_code == 0, on_spark.output
    assert "ERROR=0" in on_spark.output and "SKIP=0" in on_spark.output
    assert llm_costs(root) == duckdb_costs, "the same inputs, in the same order, cost the same on Spark"
    expected = duckdb_relations(root)
    assert {"review_archive_sentiment", "urgent_tickets", "stg_reviews", "reviews"} <= set(expected)
    assert spark_relations(spark, expected) == expected
    assert not [t.name for t in spark.catalog.listTables("main") if t.name.startswith("__smart")], \
        "no answer table or leftover stays behind"

    with (root / "seeds/support_tickets.csv").open("a") as seeds:
        seeds.write(NEW_TICKET)
    for target in ("dev", "spark"):
        assert cli("seed", "--project-dir", root, "--target", target, "-s", "support_tickets").exit_code == 0
        result = cli("run", "--project-dir", root, "--target", target, "-s", "support_ticket_history urgent_tickets")
        assert result.exit_code == 0, result.output
    incremental = duckdb_relations(root)
    assert len(incremental["support_ticket_history"][1]) == 11
    assert spark_relations(spark, ["support_ticket_history", "urgent_tickets"]) == {
        name: incremental[name] for name in ("support_ticket_history", "urgent_tickets")}


def test_a_failing_model_leaves_the_previous_table_on_spark(make_project, cli, spark):
    root = make_project({"models/kept.sql": "select 1 as x"})
    _spark_profile(root, "kept_schema")
    assert cli("run", "--project-dir", root).exit_code == 0
    write(root, "models/kept.sql", "select no_such_column from (select 1 as x) as t")
    result = cli("run", "--project-dir", root)
    assert result.exit_code == 1 and "no_such_column" in result.output and "kept" in result.output
    assert [tuple(r) for r in spark.table("kept_schema.kept").collect()] == [(1,)]


def test_a_construct_spark_lacks_is_refused_naming_the_file_and_line(make_project, cli, spark):
    root = make_project({"models/a.sql": "select 1 as id, 2 as v", "models/b.sql": "select 1 as id, 3 as w",
                         "models/asof.sql": "select a.id\nfrom {{ ref('a') }} a\nasof join {{ ref('b') }} b "
                                            "on a.id >= b.id"})
    _spark_profile(root, "asof_schema")
    result = cli("run", "--project-dir", root)
    assert result.exit_code == 1
    assert "models/asof.sql:3" in result.output and "ASOF JOIN has no Spark SQL counterpart" in result.output


def test_features_a_spark_target_lacks_are_refused_before_anything_runs(make_project, cli):
    """No Spark session is needed to refuse: the check runs before the adapter opens."""
    root = make_project({
        "models/contracted.sql": "{{ config(materialized='table', contract={'enforced': true}) }} select 1 as id",
        "models/hooked.sql": "{{ config(post_hook='select 1') }} select 1 as id",
        "models/merged.sql": "{{ config(materialized='incremental', unique_key='id', incremental_strategy='merge') }}"
                             " select 1 as id",
        "models/schema.yml": "models:\n  - name: contracted\n    columns:\n      - name: id\n        data_type: int\n",
    })
    _spark_profile(root, "refused")
    result = cli("run", "--project-dir", root)
    assert result.exit_code == 2
    for expected in ("model 'contracted' (models/contracted.sql): contracts",
                     "model 'hooked' (models/hooked.sql): pre-hooks and post-hooks",
                     "model 'merged' (models/merged.sql): incremental_strategy 'merge'"):
        assert expected in result.output
    assert "not supported on spark" in result.output


def test_commands_that_run_on_duckdb_only_say_so_for_a_spark_target(make_project, cli):
    root = make_project({"models/a.sql": "select 1 as x"})
    _spark_profile(root, "compiled")
    result = cli("compile", "--project-dir", root)
    assert result.exit_code == 2 and "runs on DuckDB targets only" in result.output


def test_md5_number_lower_on_spark_equals_duckdb(spark):
    from smart_sql.adapters.transpile import to_spark

    words = ["abc", "", "Ça marche ✓", "a much longer text with spaces, commas and numbers 12345"]
    duck = duckdb.connect()
    expected = [duck.execute("select md5_number_lower(?)", [word]).fetchone()[0] for word in words]
    frame = spark.createDataFrame([(w,) for w in words], "w string")
    frame.createOrReplaceTempView("md5_words")
    got = {row[0]: int(row[1]) for row in spark.sql(to_spark("select w, md5_number_lower(w) from md5_words")).collect()}
    assert [got[word] for word in words] == expected


def _spark_profile(root: Path, schema: str) -> None:
    write(root, "profiles.yml", f"""\
        demo:
          target: spark
          outputs:
            spark:
              type: spark
              method: session
              master: local[2]
              schema: {schema}
              llm:
                provider: simulated
        """)
