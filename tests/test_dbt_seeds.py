"""Seeds in dbt projects: typed as dbt-duckdb types them, placed by +schema, configured by the
`seeds:` block (column_types, enabled, delimiter, hooks), unsupported keys refused."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from conftest import relations
from smart_sql.dbt.seeds import column_types
from smart_sql.errors import ConfigError
from smart_sql.project import load_project

PROBE = """\
i,d,flag,flag_caps,empty_col,with_null,sci,iso_ts,ts,dt,txt,zero_pad,whole_decimals
1,1.50,true,True,,5,1e3,2024-05-01T08:00:00,2024-05-01 08:00:00,2024-05-01,a,007,2.0
2,2.0,false,FALSE,,,2e3,2024-05-02T09:30:00,2024-05-02 09:30:00,2024-05-02,b,010,3.00
"""
PROBE_TYPES_FROM_DBT = [  # dbt seed of PROBE with dbt-core 1.11.16 / dbt-duckdb 1.11.1 (whole_decimals: agate normalizes)
    ("i", "INTEGER"), ("d", "DOUBLE"), ("flag", "BOOLEAN"), ("flag_caps", "BOOLEAN"), ("empty_col", "INTEGER"),
    ("with_null", "INTEGER"), ("sci", "INTEGER"), ("iso_ts", "TIMESTAMP"), ("ts", "TIMESTAMP"), ("dt", "DATE"),
    ("txt", "VARCHAR"), ("zero_pad", "INTEGER"), ("whole_decimals", "INTEGER"),
]


def test_seed_columns_get_the_types_dbt_gives_them(make_dbt_project, cli):
    root = make_dbt_project({"seeds/probe.csv": PROBE})
    result = cli("seed", "--project-dir", root)
    assert result.exit_code == 0, result.output
    kind, columns, rows = relations(root / "target/dev.duckdb")["dev.main.probe"]
    assert columns == PROBE_TYPES_FROM_DBT
    assert rows == [
        (1, 1.5, True, True, None, 5, 1000, datetime(2024, 5, 1, 8), datetime(2024, 5, 1, 8), date(2024, 5, 1), "a", 7, 2),
        (2, 2.0, False, False, None, None, 2000, datetime(2024, 5, 2, 9, 30), datetime(2024, 5, 2, 9, 30),
         date(2024, 5, 2), "b", 10, 3)]


def test_mixed_columns_fall_through_to_text_and_currency_reads_as_a_number_as_in_dbt(tmp_path):
    """dbt infers the same four types for this file (and then fails to load "$1,200" into INTEGER, as
    smart-sql does)."""
    path = tmp_path / "mixed.csv"
    path.write_text('a,b,c,d\n1,2024-01-01,yes,"$1,200"\nx,2024-01-01 10:00:00,no,-4%\n')
    assert column_types(path) == {"a": "VARCHAR", "b": "VARCHAR", "c": "VARCHAR", "d": "INTEGER"}


def test_our_projects_keep_duckdbs_own_seed_types(make_project, cli, query):
    root = make_project({"seeds/s.csv": "id,amount\n1,2.5\n"})
    assert cli("seed", "--project-dir", root).exit_code == 0
    assert query(root, "select data_type from information_schema.columns where table_name = 's' "
                       "order by ordinal_position") == [("BIGINT",), ("DOUBLE",)]


def test_seeds_block_sets_schema_types_delimiter_enabled_and_hooks(make_dbt_project, query):
    root = make_dbt_project({
        "dbt_project.yml": """\
            name: shop
            profile: shop
            seeds:
              shop:
                +schema: raw
                codes:
                  +column_types: {code: varchar}
                  +delimiter: ";"
                  +post-hook: "create table {{ this.schema }}.codes_seen as select count(*) as n from {{ this }}"
                legacy:
                  +enabled: false
        """,
        "seeds/codes.csv": "code;label\n007;bond\n042;answer\n",
        "seeds/legacy/old.csv": "id\n1\n",
    })
    project = load_project(root)
    assert list(project.seeds) == ["codes"] and str(project.seeds["codes"].relation) == '"main_raw"."codes"'
    from smart_sql.execute import seed

    assert seed(project).exit_code == 0
    assert query(root, "select code, label from main_raw.codes order by 1") == [("007", "bond"), ("042", "answer")]
    assert query(root, "select n from main_raw.codes_seen") == [(2,)]


def test_an_unsupported_seed_config_is_refused(make_dbt_project):
    root = make_dbt_project({"dbt_project.yml": "name: shop\nprofile: shop\nseeds:\n  +grants: {select: [bi]}\n",
                             "seeds/s.csv": "id\n1\n"})
    with pytest.raises(ConfigError, match=r"seeds.\+grants: the seed config `grants` is not supported"):
        load_project(root)


def _seed_project(make_dbt_project, column_type: str, codes: str) -> Path:
    return make_dbt_project({
        "dbt_project.yml": "name: shop\nprofile: shop\nseeds:\n  shop:\n    codes:\n"
                           f"      +column_types: {{code: {column_type}}}\n    pinned:\n      +full_refresh: false\n"
                           f"      +column_types: {{code: {column_type}}}\n",
        "seeds/codes.csv": codes, "seeds/pinned.csv": codes})


def test_a_reseed_keeps_the_tables_types_until_a_full_refresh_as_in_dbt(make_dbt_project, cli):
    """dbt-duckdb empties an existing seed table and copies the file in (its column types stay), and
    recreates it only with --full-refresh, never for a seed with `full_refresh: false` (checked with dbt)."""
    root = _seed_project(make_dbt_project, "varchar", "code,label\n007,bond\n042,answer\n")
    assert cli("seed", "--project-dir", root).exit_code == 0
    root = _seed_project(make_dbt_project, "integer", "code,label\n7,bond\n9,nine\n")
    assert cli("seed", "--project-dir", root).exit_code == 0
    kept = ("BASE TABLE", [("code", "VARCHAR"), ("label", "VARCHAR")], [("7", "bond"), ("9", "nine")])
    assert relations(root / "target/dev.duckdb")["dev.main.codes"] == kept
    assert cli("seed", "--project-dir", root, "--full-refresh").exit_code == 0
    built = relations(root / "target/dev.duckdb")
    assert built["dev.main.codes"] == ("BASE TABLE", [("code", "INTEGER"), ("label", "VARCHAR")], [(7, "bond"), (9, "nine")])
    assert built["dev.main.pinned"] == kept


def test_seed_encodings_and_quoted_column_names_as_in_dbt(make_dbt_project, cli):
    root = make_dbt_project({"dbt_project.yml": "name: shop\nprofile: shop\nseeds:\n  shop:\n    spaced:\n"
                                                "      +quote_columns: true\n",
                             "seeds/spaced.csv": "Order ID,Unit Price\n1,2.5\n"})
    (root / "seeds/bom.csv").write_bytes(b"\xef\xbb\xbfid,name\n1,Zo\xc3\xab\n2,Jos\xc3\xa9\n")
    assert cli("seed", "--project-dir", root).exit_code == 0
    built = relations(root / "target/dev.duckdb")
    assert built["dev.main.bom"] == ("BASE TABLE", [("id", "INTEGER"), ("name", "VARCHAR")], [(1, "Zoë"), (2, "José")])
    assert built["dev.main.spaced"] == ("BASE TABLE", [("Order ID", "INTEGER"), ("Unit Price", "DOUBLE")], [(1, 2.5)])


def test_a_seed_that_is_not_utf8_is_named(make_dbt_project, cli):
    root = make_dbt_project({})
    (root / "seeds").mkdir(exist_ok=True)
    (root / "seeds/latin.csv").write_bytes(b"id,name\n1,Zo\xeb\n")
    result = cli("seed", "--project-dir", root)
    assert result.exit_code == 1
    assert "seeds/latin.csv: seed 'latin' is not UTF-8 text (byte 0xeb at offset 12)" in result.output
    assert "save the file as UTF-8" in result.output
