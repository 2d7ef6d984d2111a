"""Versioned models (`versions:` and `latest_version:` of a YAML model entry), as dbt resolves them.

Version `v` of model `m` is the node `m_v<v>` (its relation too, unless an alias says otherwise),
defined in `m_v<v>.sql` or the version's `defined_in`. Its properties are the entry's, with the
version's `config` merged in and its `columns` (an `include`/`exclude` element picks the entry's
columns, the others are added or replace). `ref('m')` is the latest version (`latest_version`, else
the highest), `ref('m', v=1)` (or `version=1`) a given one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError, display_path

VERSION_KEYS = {"v", "defined_in", "config", "columns", "description", "docs", "meta", "access", "constraints",
                "data_tests", "tests", "deprecation_date", "latest_version", "group"}


@dataclass
class Versions:
    """Per versioned model name: its versions' node names by version, and the latest version."""

    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    latest: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    """File stem -> node name, for the files that define versions."""

    def node_name(self, name: str, version: Any, where: str, path: Path) -> str:
        """The node `ref(name, v=version)` reads."""
        if name not in self.nodes:
            if version is None:
                return name
            raise ConfigError(f"{where}: ref({name!r}, v={version!r}) names a version, but {name!r} is not a "
                              f"versioned model", path=display_path(path), hint="remove `v=`, or add `versions:`")
        chosen = self.latest[name] if version is None else str(version)
        if chosen not in self.nodes[name]:
            raise ConfigError(f"{where}: ref({name!r}, v={version!r}): model {name!r} has versions "
                              f"{', '.join(self.nodes[name])}", path=display_path(path))
        return self.nodes[name][chosen]

    def base_name(self, node_name: str) -> str | None:
        for name, nodes in self.nodes.items():
            if node_name in nodes.values():
                return name
        return None


def requested(keywords: Mapping[str, Any]) -> Any:
    """The version a ref() call asks for (`v=` or `version=`), None for the latest."""
    unknown = sorted(set(keywords) - {"v", "version"})
    if unknown:
        raise ConfigError(f"ref() takes v= or version=, not {', '.join(unknown)}")
    return keywords.get("v", keywords.get("version"))


def expand(described: dict[str, tuple[dict[str, Any], Path]]) -> Versions:
    """Replace each versioned entry of `described` (YAML model entries by name) by one entry per version."""
    versions = Versions()
    for name, (entry, path) in list(described.items()):
        if "versions" not in entry and "latest_version" not in entry:
            continue
        listed = entry.get("versions") or []
        if not isinstance(listed, list) or not all(isinstance(v, Mapping) and "v" in v for v in listed):
            raise ConfigError(f"model {name!r}: `versions:` must be a list of mappings, each with `v:`",
                              path=display_path(path))
        numbers = [str(version["v"]) for version in listed]
        latest = str(entry["latest_version"]) if "latest_version" in entry else max(numbers, key=_order, default=None)
        if latest not in numbers:
            raise ConfigError(f"model {name!r}: latest_version: {latest} is not one of its versions: "
                              f"{', '.join(numbers) or 'none'}", path=display_path(path))
        del described[name]
        versions.nodes[name], versions.latest[name] = {}, latest
        for version, number in zip(listed, numbers):
            unknown = sorted(set(version) - VERSION_KEYS)
            if unknown:
                raise ConfigError(f"model {name!r} version {number}: unknown key(s) {', '.join(unknown)}",
                                  path=display_path(path), hint=f"allowed: {', '.join(sorted(VERSION_KEYS))}")
            node = f"{name}_v{number.replace('.', '_')}"
            versions.nodes[name][number] = node
            versions.files[str(version.get("defined_in") or node)] = node
            described[node] = (_version_entry(entry, version, node, path), path)
    return versions


def _version_entry(entry: Mapping[str, Any], version: Mapping[str, Any], node: str, path: Path) -> dict[str, Any]:
    merged = {key: value for key, value in entry.items() if key not in ("versions", "latest_version")}
    merged.update({key: value for key, value in version.items()
                   if key not in ("v", "defined_in", "config", "columns", "latest_version")})
    merged["name"] = node
    merged["config"] = {**(entry.get("config") or {}), **(version.get("config") or {})}
    if "columns" in version:
        merged["columns"] = _columns(entry.get("columns") or [], version["columns"] or [], node, path)
    return merged


def _columns(base: list[Mapping[str, Any]], given: list[Mapping[str, Any]], node: str, path: Path) -> list[dict]:
    rules = [column for column in given if "include" in column or "exclude" in column]
    own = [dict(column) for column in given if column not in rules]
    if len(rules) > 1:
        raise ConfigError(f"model {node!r}: one include/exclude element per version", path=display_path(path))
    rule = rules[0] if rules else {"include": "all"}
    include, exclude = rule.get("include", "all"), set(rule.get("exclude") or [])
    own_names = {column["name"] for column in own}
    kept = [dict(column) for column in base if (include in ("all", "*") or column["name"] in include)
            and column["name"] not in exclude and column["name"] not in own_names]
    return kept + own


def _order(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in version.split("."))
