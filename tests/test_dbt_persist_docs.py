"""persist_docs as dbt-duckdb applies it. tests/fixtures/dbt_persist_docs has a view, a table with
`relation: false` and a seed; the comments are those dbt-core 1.11.16 / dbt-duckdb 1.11.1 wrote (a
relation comment only with a description; every YAML column in the relation, '' without one)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

FIXTURE = Path(__file__).parent / "fixtures" / "dbt_persist_docs"


def _comments(root: Path) -> tuple[list, list]:
    with duckdb.connect(str(root / "target/docs.duckdb"), read_only=True) as conn:
        relations = conn.execute("select table_name, comment from duckdb_tables() union all select view_name, comment "
                                 "from duckdb_views() where not internal order by 1").fetchall()
        columns = conn.execute("select table_name, column_name, comment from duckdb_columns() "
                               "where schema_name = 'main' and not internal order by 1, 2").fetchall()
    return relations, columns


def test_descriptions_are_written_as_dbt_writes_them(tmp_path, cli, monkeypatch):
    root = Path(shutil.copytree(FIXTURE, tmp_path / "docs"))
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert _comments(root) == (
        [("raw_things", "Raw things."), ("thing_ids", None), ("things", "Things, with 'quotes'.")],
        [("raw_things", "id", None), ("raw_things", "name", "A name."), ("thing_ids", "id", "Again the id."),
         ("things", "id", "The id."), ("things", "name", ""), ("things", "undocumented", None)])


def test_a_description_from_a_doc_block_is_written_rendered(tmp_path, cli, monkeypatch):
    root = Path(shutil.copytree(FIXTURE, tmp_path / "docs"))
    monkeypatch.chdir(root)
    path = root / "models/props.yml"
    path.write_text(path.read_text().replace('"Things, with \'quotes\'."', "\"{{ doc('things') }}\""))
    (root / "models/things.md").write_text("{% docs things %}Things, from a doc block.{% enddocs %}\n")
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert ("things", "Things, from a doc block.") in _comments(root)[0]

