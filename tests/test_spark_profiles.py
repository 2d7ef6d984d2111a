"""`type: spark` outputs in profiles.yml: dbt-spark's keys, and clear messages when pyspark or Java is missing."""

from __future__ import annotations

import sys

import pytest

from conftest import write
from smart_sql.errors import ConfigError
from smart_sql.profiles import load_target


def _profile(root, body: str):
    write(root, "profiles.yml", "demo:\n  target: s\n  outputs:\n    s:\n" +
          "".join(f"      {line}\n" for line in body.strip().splitlines()))
    return load_target("demo", root)


def test_a_session_profile_reads_master_config_and_warehouse(tmp_path):
    target = _profile(tmp_path, """
type: spark
method: session
master: local[2]
schema: analytics
warehouse_dir: wh
spark_config: {spark.sql.shuffle.partitions: 4}
server_side_parameters: {spark.ui.enabled: false}
threads: 2
""")
    assert (target.type, target.schema, target.threads) == ("spark", "analytics", 2)
    settings = target.spark
    assert settings.master == "local[2]" and settings.warehouse_dir == str((tmp_path / "wh").resolve())
    assert dict(settings.config) == {"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"}
    assert settings.metastore_dir == str(tmp_path.resolve() / "metastore_db")


def test_a_connect_profile_needs_a_host(tmp_path):
    target = _profile(tmp_path, "type: spark\nmethod: connect\nhost: spark.internal\nport: 15003")
    assert target.spark.remote == "sc://spark.internal:15003" and target.spark.warehouse_dir is None
    with pytest.raises(ConfigError, match="needs `host:`"):
        _profile(tmp_path, "type: spark\nmethod: connect")


@pytest.mark.parametrize("body, message", [
    ("type: spark\nmethod: thrift\nhost: h", "`method: thrift` is not supported on Spark"),
    ("type: spark\nschema: a\ndatabase: b", "`database: b` differs from `schema: a`"),
    ("type: spark\npath: x.duckdb", "unknown key\\(s\\) for `type: spark`: path"),
    ("type: spark\nport: many", "`port` must be a whole number"),
])
def test_bad_spark_profiles_are_refused_naming_the_key(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        _profile(tmp_path, body)


def test_missing_pyspark_says_what_to_install(tmp_path, monkeypatch):
    from smart_sql.adapters.spark_session import open_session

    target = _profile(tmp_path, "type: spark")
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ConfigError, match=r"pyspark is not installed") as error:
        open_session(target)
    assert "pip install 'smart-sql[spark]'" in str(error.value)


def test_missing_java_says_what_to_install(tmp_path, monkeypatch):
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'smart-sql[spark]')")
    from smart_sql.adapters import spark_session

    target = _profile(tmp_path, "type: spark")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_session.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="needs Java") as error:
        spark_session.open_session(target)
    assert "openjdk-17-jre-headless" in str(error.value)
