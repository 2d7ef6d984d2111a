"""What a build keeps to go faster must never change what it builds: the catalog of relations read
once (and kept up to date, or read again after hooks) and the compiled templates kept in target/."""

from __future__ import annotations

import os


def test_a_model_changed_since_the_last_run_is_compiled_again(make_project, cli, query):
    root = make_project({"models/m.sql": "select {{ 1 + 1 }} as x"})
    assert cli("build", "--project-dir", root).exit_code == 0
    assert any((root / "target" / "jinja_bytecode").iterdir())
    model = root / "models" / "m.sql"
    model.write_text("select {{ 2 + 2 }} as x")
    os.utime(model, (1, 1))
    assert cli("build", "--project-dir", root).exit_code == 0
    assert query(root, "select x from m") == [(4,)]


def test_an_error_in_a_template_compiled_by_an_earlier_run_still_names_its_line(make_project, cli):
    root = make_project({"models/m.sql": "select 1 as x,\n{{ var('missing') }} as y"})
    first, second = cli("build", "--project-dir", root), cli("build", "--project-dir", root)
    assert first.exit_code == second.exit_code == 1
    assert "models/m.sql:2" in first.output and "models/m.sql:2" in second.output, second.output


def test_a_model_whose_relation_changed_kind_is_swapped_from_the_kind_it_now_has(make_project, cli, query):
    root = make_project({"models/m.sql": "{{ config(materialized='view') }} select 1 as x"})
    assert cli("build", "--project-dir", root).exit_code == 0
    (root / "models" / "m.sql").write_text("{{ config(materialized='table') }} select 2 as x")
    assert cli("build", "--project-dir", root).exit_code == 0
    assert query(root, "select table_type, (select x from m) from information_schema.tables "
                       "where table_name = 'm'") == [("BASE TABLE", 2)]


def test_relations_that_hooks_create_or_drop_are_seen_by_the_nodes_after_them(make_project, cli, query):
    root = make_project({
        "smart_sql_project.yml": "name: demo\nprofile: demo\n"
                                 "on-run-start: [\"drop table if exists main.later\", "
                                 "\"create view main.later as select 0 as x\"]\n",
        "models/first.sql": "{{ config(post_hook='drop view if exists main.later_too') }} select 1 as x",
        "models/later.sql": "{{ config(materialized='table') }} select * from {{ ref('first') }}",
        "models/later_too.sql": "{{ config(materialized='view') }} select 3 as x from {{ ref('first') }}",
        "models/own.sql": "{{ config(materialized='table', pre_hook='drop table if exists {{ this }}') }} select 4 as x",
    })
    for _ in range(2):
        result = cli("build", "--project-dir", root, "--threads", "2")
        assert result.exit_code == 0, result.output
    assert query(root, "select (select x from later), (select x from later_too), (select x from own)") == [(1, 3, 4)]
