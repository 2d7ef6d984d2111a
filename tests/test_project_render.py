"""Rendering: macros, vars, env_var, is_incremental, this, target; errors located in their file."""

from __future__ import annotations

from pathlib import Path

import pytest

from smart_sql.errors import ModelError
from smart_sql.execute import with_ctes
from smart_sql.project import Relation
from smart_sql.render import ModelFunctions, Renderer, TargetInfo


def _renderer(tmp_path: Path, macros: dict[str, str] | None = None, vars: dict | None = None) -> Renderer:
    files = []
    for name, text in (macros or {}).items():
        path = tmp_path / "macros" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        files.append(path)
    return Renderer(files, vars=vars or {}, target=TargetInfo("dev", "demo", "main"))


def _render(renderer: Renderer, tmp_path: Path, text: str, incremental: bool = False) -> str:
    path = tmp_path / "models" / "m.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    functions = ModelFunctions(ref=lambda name: Relation("main", name), source=lambda s, t: Relation(s, t),
                               config=lambda **kw: "", this=Relation("main", "m"), is_incremental=incremental)
    return renderer.render(path, "m", functions)


def test_macros_from_several_files_call_each_other_and_see_vars(tmp_path):
    renderer = _renderer(tmp_path, {
        "a.sql": "{% macro scaled(col) %}{{ col }} * {{ factor() }}{% endmacro %}",
        "b.sql": "{% macro factor() %}{{ var('factor') }}{% endmacro %}",
    }, vars={"factor": 3})
    assert _render(renderer, tmp_path, "select {{ scaled('x') }} from {{ ref('t') }}") == 'select x * 3 from "main"."t"'


def test_macros_see_jinja_builtins(tmp_path):
    renderer = _renderer(tmp_path, {"cols.sql": "{% macro cols(n) %}{% for i in range(n) %}c{{ i }}{{ ', ' if not loop.last }}"
                                                "{% endfor %}{% endmacro %}"})
    assert _render(renderer, tmp_path, "select {{ cols(3) | upper }}") == "select C0, C1, C2"


def test_is_incremental_this_target_and_source(tmp_path):
    renderer = _renderer(tmp_path)
    text = ("select * from {{ source('raw', 'events') }}{% if is_incremental() %} where id > "
            "(select max(id) from {{ this }}){% endif %} -- {{ target.name }}")
    assert _render(renderer, tmp_path, text) == 'select * from "raw"."events" -- dev'
    assert _render(renderer, tmp_path, text, incremental=True).endswith('where id > (select max(id) from "main"."m") -- dev')


def test_var_default_and_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("SMART_SQL_RENDER_TEST", "on")
    renderer = _renderer(tmp_path)
    assert _render(renderer, tmp_path, "{{ var('x', 7) }} {{ env_var('SMART_SQL_RENDER_TEST') }}") == "7 on"


def test_undefined_var_error_names_the_model_file_and_line(tmp_path):
    renderer = _renderer(tmp_path)
    with pytest.raises(ModelError) as error:
        _render(renderer, tmp_path, "select 1\n, {{ var('missing') }}")
    assert error.value.path.endswith("models/m.sql") and error.value.line == 2
    assert "var('missing')" in error.value.message


def test_syntax_error_in_a_macro_file_names_that_file(tmp_path):
    with pytest.raises(ModelError) as error:
        _renderer(tmp_path, {"bad.sql": "{% macro x() %}\n{% if %}\n{% endmacro %}"})
    assert error.value.path.endswith("macros/bad.sql") and error.value.line == 2


def test_with_ctes_prepends_or_joins_an_existing_with():
    ctes = {"__smart_cte__a": "select 1 as x"}
    assert with_ctes("select * from __smart_cte__a", ctes) == (
        "with __smart_cte__a as (\nselect 1 as x\n)\nselect * from __smart_cte__a")
    joined = with_ctes("-- note\nWITH RECURSIVE r as (select 1) select * from r, __smart_cte__a", ctes)
    assert joined.startswith("-- note\nWITH RECURSIVE __smart_cte__a as (\nselect 1 as x\n),\nr as (select 1)")
    assert with_ctes("select 1", {}) == "select 1"
