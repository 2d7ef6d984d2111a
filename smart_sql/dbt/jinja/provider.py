"""Adds dbt's context to what a template sees, per render (see context.py for the pieces)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from . import context as dbt
from . import cross_db
from .adapter import Adapter, Api

MACRO_FILES = [Path(__file__).with_name("series.sql")]
"""dbt's macros written in Jinja (the rest are in cross_db); the project's macros replace them."""
_EMPTY_GRAPH = {"nodes": {}, "sources": {}, "exposures": {}, "metrics": {}, "groups": {}, "semantic_models": {},
                "saved_queries": {}}


@dataclass
class DbtContext:
    root: str
    """The root project's name."""
    file_catalog: str
    schema: str
    search_orders: Mapping[str, list[str]] = field(default_factory=dict)
    """The project's `dispatch:`: macro namespace -> packages to search, in order."""
    graph: Callable[[], dict] | None = None
    """dbt's `graph` once the project is read (None while it is being read)."""
    node_dict: Callable[[Any], dict] | None = None
    """A node as `model` shows it."""
    flags: dbt.Flags = field(default_factory=dbt.Flags)

    def add(self, context: dict[str, Any], by_package: Mapping[str, Mapping[str, Any]], internal: Mapping[str, Any],
            node: Any, connection: Any) -> None:
        """`internal`: the macros of MACRO_FILES (dbt's own, in the `dbt` namespace)."""
        statements = dbt.Statements(connection)
        dispatcher = dbt.Dispatcher(self.root, self.search_orders, context, by_package, internal)
        context.update(
            execute=connection is not None, run_query=statements.run_query, statement=statements.statement,
            load_result=statements.load_result, adapter=Adapter(dispatcher, statements, self.file_catalog),
            api=Api(self.file_catalog, self.schema), flags=self.flags,
            dbt=dbt.Namespace("dbt", {}, fallback=dispatcher.dbt_macro),
            graph=self.graph() if self.graph is not None and connection is not None else _EMPTY_GRAPH,
        )
        if hasattr(node, "unique_id") and self.node_dict is not None:
            context.setdefault("model", self.node_dict(node))
        for name in [*cross_db.MACROS, *(name[len("default__"):] for name in internal if name.startswith("default__"))]:
            context.setdefault(name, dispatcher.dbt_macro(name))
