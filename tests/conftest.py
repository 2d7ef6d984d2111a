"""Shared fixtures: small smart-sql projects written into tmp_path, run through the CLI or the Python API."""

from __future__ import annotations

import sys
import textwrap
import shutil
from pathlib import Path
from typing import Callable

import duckdb
import pytest
from click.testing import CliRunner, Result

PROJECT_YML = """\
name: demo
profile: demo
"""

PROFILES_YML = """\
demo:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: target/dev.duckdb
      llm:
        provider: simulated
"""


SIM_LARGE = {"name": "sim-large", "input_price_per_1m": 10, "output_price_per_1m": 30, "reference": True}
SIM_SMALL = {"name": "sim-small", "input_price_per_1m": 1, "output_price_per_1m": 2}


def openai_profiles(base_url: str, api_key: str, *, models: tuple[dict, ...] = (SIM_LARGE, SIM_SMALL),
                    **options: object) -> str:
    """profiles.yml of the `demo` project with the openai provider at `base_url` (a local server);
    `options` are further keys of the llm block."""
    import yaml

    llm = {"provider": "openai", "base_url": base_url, "api_key": api_key, **options, "models": list(models)}
    output = {"type": "duckdb", "path": "target/dev.duckdb", "llm": llm}
    return yaml.safe_dump({"demo": {"target": "dev", "outputs": {"dev": output}}}, sort_keys=False)


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """Write a project: `make_project({"models/a.sql": "select 1 as x"})` -> its folder.

    smart_sql_project.yml (name/profile `demo`) and profiles.yml (DuckDB at target/dev.duckdb,
    simulated llm) are added unless given; file texts are dedented.
    """
    def make(files: dict[str, str] | None = None, *, folder: str = "project") -> Path:
        root = tmp_path / folder
        contents = {"smart_sql_project.yml": PROJECT_YML, "profiles.yml": PROFILES_YML, **(files or {})}
        for relpath, text in contents.items():
            write(root, relpath, text)
        return root
    return make


def write(root: Path, relpath: str, text: str) -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Invoke `smart-sql <args>` in-process; exceptions other than exits propagate."""
    from smart_sql.cli import main

    def invoke(*args: str | Path) -> Result:
        words = [str(arg) for arg in args]
        return CliRunner().invoke(main, words, catch_exceptions=False)
    return invoke


@pytest.fixture
def query() -> Callable[[Path, str], list[tuple]]:
    """Rows of `sql` in a project's target/dev.duckdb (opened read-only, closed at once)."""
    def run(root: Path, sql: str) -> list[tuple]:
        with duckdb.connect(str(root / "target" / "dev.duckdb"), read_only=True) as conn:
            return conn.execute(sql).fetchall()
    return run


def smart_sql_command() -> list[str]:
    """The installed `smart-sql` command, to run as a process of its own."""
    script = Path(sys.executable).with_name("smart-sql")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from smart_sql.cli import main; main()"]


DBT_PROJECT_YML = """\
name: shop
config-version: 2
profile: shop
"""

DBT_PROFILES_YML = """\
shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: target/dev.duckdb
      threads: 1
"""


@pytest.fixture
def make_dbt_project(tmp_path: Path) -> Callable[..., Path]:
    """Write a dbt project: dbt_project.yml (name/profile `shop`) and profiles.yml (DuckDB at
    target/dev.duckdb) unless given, no smart_sql_project.yml; file texts are dedented."""
    def make(files: dict[str, str] | None = None, *, folder: str = "dbt_project") -> Path:
        root = tmp_path / folder
        contents = {"dbt_project.yml": DBT_PROJECT_YML, "profiles.yml": DBT_PROFILES_YML, **(files or {})}
        for relpath, text in contents.items():
            write(root, relpath, text)
        return root
    return make


def relations(database: Path) -> dict[str, tuple[str, list[tuple[str, str]], list[tuple]]]:
    """Every table and view in a DuckDB file and the databases attached to it as they are after a
    build: 'catalog.schema.name' -> (kind, [(column, type)], sorted rows)."""
    with duckdb.connect(str(database), read_only=True) as conn:
        found = {}
        for catalog, schema, name, kind in conn.execute(
                "select table_catalog, table_schema, table_name, table_type from information_schema.tables "
                "where table_catalog not in ('system', 'temp') order by all").fetchall():
            columns = conn.execute("select column_name, data_type from information_schema.columns where "
                                   "table_catalog = ? and table_schema = ? and table_name = ? "
                                   "order by ordinal_position", [catalog, schema, name]).fetchall()
            rows = conn.execute(f'select * from "{catalog}"."{schema}"."{name}" order by all').fetchall()
            found[f"{catalog}.{schema}.{name}"] = (kind, columns, rows)
        return found


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One local[2] SparkSession for the whole run (skips, saying why, without pyspark or Java); builds on a
    `type: spark` target use it, as they use any session already active."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'smart-sql[spark]')")
    from smart_sql.adapters.spark_session import java_missing, quiet_query_errors

    if java_missing():
        pytest.skip("Spark needs Java: apt-get install openjdk-17-jre-headless")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("smart-sql-tests")
               .config("spark.sql.shuffle.partitions", "2").config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.catalogImplementation", "in-memory")
               .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    quiet_query_errors()
    yield session
    session.stop()


def copy_example(tmp_path: Path) -> Path:
    """A copy of the bundled example project (models, macros, seeds and its two YAML files) under tmp_path."""
    repo = Path(__file__).resolve().parent.parent
    root = tmp_path / "example"
    for name in ("models", "macros", "seeds"):
        shutil.copytree(repo / name, root / name)
    for name in ("smart_sql_project.yml", "profiles.yml"):
        shutil.copy(repo / name, root / name)
    return root
