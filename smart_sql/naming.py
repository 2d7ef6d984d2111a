"""Where a seed or model is built: its database, schema and name, from its `database`, `schema` and `alias`
configs through dbt's generate_database_name, generate_schema_name and generate_alias_name macros, as dbt
defines them unless the project's own macros of those names override them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .render import Renderer, TargetInfo


class ConfigView(dict):
    """A node's config as macros see it: `node.config.schema` and `node.config.get('schema')` alike."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name)


@dataclass
class NodeView:
    """The `node` argument of the naming macros (the attributes dbt users' overrides read)."""

    name: str
    resource_type: str
    package_name: str
    fqn: list[str]
    original_file_path: str
    path: str
    config: ConfigView = field(default_factory=ConfigView)
    version: None = None

    @property
    def unique_id(self) -> str:
        return f"{self.resource_type}.{self.package_name}.{self.name}"

    @property
    def tags(self) -> list[str]:
        return self.config.get("tags", [])


def default_schema(custom: str | None, target: TargetInfo) -> str:
    return target.schema if custom is None else f"{target.schema}_{custom.strip()}"


def default_alias(custom: str | None, node: NodeView) -> str:
    return custom.strip() if custom else node.name


def default_database(custom: str | None, target: TargetInfo) -> str:
    return custom.strip() if custom else target.database


def builtins(target: TargetInfo) -> dict[str, Callable[..., str]]:
    """dbt's default naming macros, for the project's overrides to call (e.g. outside prod)."""
    return {
        "default__generate_schema_name": lambda custom=None, node=None: default_schema(custom, target),
        "default__generate_alias_name": lambda custom=None, node=None: default_alias(custom, node),
        "default__generate_database_name": lambda custom=None, node=None: default_database(custom, target),
        "generate_schema_name_for_env": lambda custom=None, node=None: (
            custom.strip() if target.name == "prod" and custom is not None else target.schema),
    }


def relation_parts(node: NodeView, file: Path, renderer: Renderer) -> tuple[str, str, str]:
    """(database, schema, identifier) of a node whose config is final."""
    target = renderer.target
    config = node.config

    def generate(macro: str, custom: str | None, default: Callable[[], str]) -> str:
        value = renderer.call_macro(macro, file, node.name, custom, node)
        return default() if value is None else value.strip()

    return (generate("generate_database_name", config.get("database"),
                     lambda: default_database(config.get("database"), target)),
            generate("generate_schema_name", config.get("schema"), lambda: default_schema(config.get("schema"), target)),
            generate("generate_alias_name", config.get("alias"), lambda: default_alias(config.get("alias"), node)))
