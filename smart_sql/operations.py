"""`smart-sql run-operation MACRO --args '{...}'`: one macro called with the build's context (its
run_query and statement calls run, `execute` is true), in one transaction, as dbt's run-operation."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from . import materialize
from .dbt.jinja.model_config import ModelConfig
from .errors import ConfigError
from .project import Project, resolve_ref, resolve_source
from .render import ModelFunctions

_CALL = "{{ smart_sql_operation(**smart_sql_operation_args) }}"


@dataclass
class _Operation:
    """What ref() and source() name in their errors."""

    name: str
    path: Path
    resource_type: str = "operation"


def run_operation(project: Project, macro: str, args: Mapping[str, Any]) -> str:
    """The macro's rendered text (dbt discards it; its effects are its queries)."""
    from .execute import connect

    from .dbt.jinja.context import Flags

    function_name = _check_macro(project, macro)
    project.renderer.dbt.flags = Flags(WHICH="run-operation")
    operation = _Operation(macro, project.config.path)
    functions = ModelFunctions(
        ref=lambda *names, **_: resolve_ref(project, operation, *names).relation,
        source=lambda source, table: resolve_source(project, operation, source, table).relation,
        config=ModelConfig(lambda *a, **k: "", dict, f"operation {macro!r}"), this=None)
    call = _CALL.replace("smart_sql_operation", function_name, 1)
    with connect(project) as conn, materialize.atomic(conn):
        return project.renderer.render_text(call, project.config.path, None, functions,
                                            smart_sql_operation_args=dict(args))


def _check_macro(project: Project, macro: str) -> str:
    renderer = project.renderer
    package, _, name = macro.rpartition(".")
    known = {**{name: "" for name in renderer.macro_names},
             **{f"{p}.{n}": p for p, names in renderer.package_macro_names.items() for n in names}}
    if (macro if package else name) not in known:
        close = difflib.get_close_matches(macro, list(known), n=3)
        raise ConfigError(f"run-operation: no macro named {macro!r} in the project or its packages",
                          path=project.display(project.config.path),
                          hint=f"did you mean: {', '.join(close)}?" if close else
                          "macros are defined with {% macro name(...) %} in the macro paths (macros/)")
    return macro
