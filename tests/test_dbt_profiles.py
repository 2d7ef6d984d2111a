"""profiles.yml as dbt writes it: dbt's places after ours, and the duckdb output keys dbt-duckdb reads
(threads, extensions, settings, database, attach), an `llm` block for SMART_LLM columns."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from smart_sql import profiles
from smart_sql.dbt import profiles as dbt_profiles
from smart_sql.errors import ConfigError
from smart_sql.profiles import find_profiles_file, load_target
from smart_sql.project import load_project


def _profile(folder: Path, output: str = "{type: duckdb, path: target/dev.duckdb}") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profiles.yml"
    path.write_text(f"shop:\n  target: dev\n  outputs:\n    dev: {output}\n")
    return path


def test_lookup_order_ours_first_then_dbt_profiles_dir_then_dot_dbt(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles, "USER_PROFILES_DIR", tmp_path / "smart_home")
    monkeypatch.setattr(dbt_profiles, "DBT_HOME", tmp_path / "dot_dbt")
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path / "env_dir"))
    project = tmp_path / "project"
    project.mkdir()
    with pytest.raises(ConfigError) as error:
        find_profiles_file(project)
    for folder in ("project", "smart_home", "env_dir", "dot_dbt"):
        assert str(tmp_path / folder / "profiles.yml") in error.value.message
    steps = [_profile(tmp_path / "dot_dbt"), _profile(tmp_path / "env_dir"), _profile(tmp_path / "smart_home"),
             _profile(project)]
    assert find_profiles_file(project) == steps[-1]
    for path in reversed(steps):
        assert find_profiles_file(project) == path
        path.unlink()
    flagged = _profile(tmp_path / "flag")
    _profile(project)
    assert find_profiles_file(project, tmp_path / "flag") == flagged


def test_without_dbt_profiles_dir_dot_dbt_is_used(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles, "USER_PROFILES_DIR", tmp_path / "smart_home")
    monkeypatch.setattr(dbt_profiles, "DBT_HOME", tmp_path / "dot_dbt")
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    path = _profile(tmp_path / "dot_dbt")
    assert find_profiles_file(tmp_path) == path


def test_threads_are_kept_for_target_threads(make_dbt_project, query, cli):
    root = make_dbt_project({
        "profiles.yml": "shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: target/dev.duckdb, threads: 8}\n",
        "models/m.sql": "select {{ target.threads }} as threads, '{{ target.database }}' as db, '{{ target.type }}' as t",
    })
    assert cli("run", "--project-dir", root).exit_code == 0
    assert query(root, "select threads, db, t from m") == [(8, "dev", "duckdb")]


@pytest.mark.parametrize("output, message", [
    ("{type: duckdb, threads: 0}", "`threads` must be a whole number of at least 1"),
    ("{type: duckdb, extensions: httpfs}", "`extensions` must be a list"),
    ("{type: duckdb, extensions: [{name: x, install: true}]}", "extension {'name': 'x', 'install': True} is neither"),
    ("{type: duckdb, settings: [threads]}", "`settings` must map DuckDB setting names to values"),
    ("{type: duckdb, attach: [{path: a.duckdb, secret: s}]}", "unsupported key(s) secret"),
    ("{type: duckdb, path: target/dev.duckdb, database: prod}", "`database: prod` names neither the database"),
    ("{type: duckdb, secrets: [{type: s3}]}", "unknown key(s) secrets"),
])
def test_bad_output_keys_are_refused_naming_the_key(tmp_path, output, message):
    _profile(tmp_path, output)
    with pytest.raises(ConfigError) as error:
        load_target("shop", tmp_path)
    assert message in error.value.message and error.value.path == str(tmp_path / "profiles.yml")


def test_unknown_output_keys_list_the_allowed_ones(tmp_path):
    _profile(tmp_path, "{type: duckdb, keep_open: true}")
    with pytest.raises(ConfigError) as error:
        load_target("shop", tmp_path)
    assert error.value.hint == ("allowed: type, path, schema, database, threads, extensions, settings, attach, llm, "
                                "external_root")


def test_an_absolute_path_in_a_missing_folder_is_an_error(tmp_path):
    missing = tmp_path / "no" / "such" / "folder" / "dev.duckdb"
    _profile(tmp_path, f"{{type: duckdb, path: '{missing}'}}")
    with pytest.raises(ConfigError, match="the folder of `path: .*dev.duckdb` does not exist"):
        load_target("shop", tmp_path)
    assert not (tmp_path / "no").exists()


def test_settings_are_applied_and_built_in_extensions_load_offline(make_dbt_project, cli, query):
    root = make_dbt_project({
        "profiles.yml": "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/dev.duckdb\n"
                        "      extensions: [json, parquet]\n      settings: {default_order: desc, timezone: UTC}\n",
        "models/m.sql": "{{ config(materialized='table') }} select current_setting('default_order') as o, current_setting('TimeZone') as tz, "
                        "json_extract('{\"a\": 1}', '$.a')::int as a",
    })
    result = cli("run", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert query(root, "select o, tz, a from m") == [("DESC", "UTC", 1)]


def test_an_extension_that_cannot_be_installed_fails_clearly_and_fast(make_dbt_project, cli):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = make_dbt_project({
        "profiles.yml": "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/dev.duckdb\n"
                        f"      extensions: [{{name: no_such_ext, repo: 'http://127.0.0.1:{port}'}}]\n",
        "models/m.sql": "select 1 as x",
    })
    started = time.perf_counter()
    result = cli("run", "--project-dir", root)
    assert time.perf_counter() - started < 20
    assert result.exit_code == 2
    assert "cannot install the DuckDB extension 'no_such_ext'" in result.output
    assert "connect to the network once, or remove it from `extensions:`" in result.output


def test_database_may_name_an_attached_database_and_models_are_built_there(make_dbt_project, cli):
    import duckdb

    root = make_dbt_project({
        "profiles.yml": "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/dev.duckdb\n"
                        "      database: lake\n      attach:\n        - {path: target/lake.duckdb, alias: lake}\n",
        "models/m.sql": "{{ config(materialized='table') }} select '{{ this }}' as me",
    })
    (root / "target").mkdir()
    project = load_project(root)
    assert project.target.catalog == "lake" and str(project.models["m"].relation) == '"lake"."main"."m"'
    result = cli("run", "--project-dir", root)
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(root / "target/lake.duckdb"), read_only=True) as conn:
        assert conn.execute("select me from main.m").fetchall() == [('"lake"."main"."m"',)]


def test_a_dbt_profile_with_an_llm_block_fills_smart_llm_columns(make_dbt_project, cli, query):
    root = make_dbt_project({
        "profiles.yml": """\
            shop:
              target: dev
              outputs:
                dev:
                  type: duckdb
                  path: target/dev.duckdb
                  threads: 4
                  llm:
                    provider: simulated
        """,
        "seeds/reviews.csv": "review_id,body\n1,Great kettle\n2,Leaks water\n",
        "models/moods.sql": "{{ config(materialized='table') }} select review_id, SMART_LLM('Happy?', body, "
                            "labels => ['yes', 'no']) as happy from {{ ref('reviews') }}",
    })
    result = cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    assert "moods: SMART_LLM: 1 task, 2 rows" in result.output
    assert {happy for (happy,) in query(root, "select happy from moods")} <= {"yes", "no"}
