"""profiles.yml: lookup order, env_var rendering, targets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from smart_sql import profiles
from smart_sql.errors import ConfigError
from smart_sql.profiles import find_profiles_file, load_target, render_env_vars

PROFILE = """\
shop:
  target: dev
  outputs:
    dev: {type: duckdb, path: target/dev.duckdb}
    mem: {type: duckdb, path: ":memory:", schema: analytics}
"""


def _write(folder: Path, text: str = PROFILE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(text)
    return folder / "profiles.yml"


def test_lookup_order_flag_then_project_then_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setattr(profiles, "USER_PROFILES_DIR", home)
    project = tmp_path / "project"
    project.mkdir()
    with pytest.raises(ConfigError, match="no profiles.yml found"):
        find_profiles_file(project)
    _write(home)
    assert find_profiles_file(project) == home / "profiles.yml"
    _write(project)
    assert find_profiles_file(project) == project / "profiles.yml"
    flagged = _write(tmp_path / "elsewhere")
    assert find_profiles_file(project, tmp_path / "elsewhere") == flagged


def test_default_target_and_named_target(tmp_path):
    _write(tmp_path)
    dev = load_target("shop", tmp_path)
    assert dev.name == "dev" and dev.database == str(tmp_path.resolve() / "target/dev.duckdb")
    assert dev.llm.provider == "simulated"
    mem = load_target("shop", tmp_path, target="mem")
    assert mem.database == ":memory:" and mem.schema == "analytics"


def test_env_var_renders_with_default_and_types_numbers(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOP_CONCURRENCY", "8")
    monkeypatch.delenv("SHOP_UNSET", raising=False)
    rendered = render_env_vars({"a": "{{ env_var('SHOP_CONCURRENCY') }}", "b": ["{{ env_var('SHOP_UNSET', 'x') }}"],
                                "c": 3, "d": "plain"}, tmp_path / "profiles.yml")
    assert rendered == {"a": 8, "b": ["x"], "c": 3, "d": "plain"}


def test_api_key_from_env_reaches_the_llm_config_but_not_its_repr(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOP_KEY", "sk-secret-123")
    _write(tmp_path, textwrap.dedent("""\
        shop:
          target: prod
          outputs:
            prod:
              type: duckdb
              llm:
                provider: openai
                api_key: "{{ env_var('SHOP_KEY') }}"
                models: [{name: m, input_price_per_1m: 1, output_price_per_1m: 2, reference: true}]
    """))
    target = load_target("shop", tmp_path)
    assert target.llm.api_key == "sk-secret-123"
    assert "sk-secret-123" not in repr(target)


def test_unsupported_type_and_unknown_keys(tmp_path):
    _write(tmp_path, "shop:\n  target: dev\n  outputs:\n    dev: {type: postgres}\n")
    with pytest.raises(ConfigError, match="unsupported type 'postgres'"):
        load_target("shop", tmp_path)
    _write(tmp_path, "shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb, pth: x.duckdb}\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_target("shop", tmp_path)


def test_profile_without_outputs(tmp_path):
    _write(tmp_path, "shop:\n  target: dev\n")
    with pytest.raises(ConfigError, match="outputs"):
        load_target("shop", tmp_path)
