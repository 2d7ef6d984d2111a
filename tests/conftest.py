"""Shared fixtures: small smart-sql projects written into tmp_path, run through the CLI or the Python API."""

from __future__ import annotations

import sys
import textwrap
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
