"""--state: the manifest of an earlier run, and which nodes are new or modified since (dbt's
`state:new`, `state:modified`, by checksum of the file and by config)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .errors import ConfigError, display_path

if TYPE_CHECKING:
    from .project import Project


@dataclass
class State:
    path: Path
    nodes: dict[str, dict[str, Any]]


def load_state(folder: Path) -> State:
    path = folder / "manifest.json"
    if not path.is_file():
        raise ConfigError(f"--state {display_path(folder)}: there is no manifest.json in it",
                          hint="pass the folder of an earlier run's artifacts (its target/, or a copy of it)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ConfigError(f"--state: manifest.json is not valid JSON: {error}", path=display_path(path)) from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("nodes"), Mapping):
        raise ConfigError("--state: manifest.json has no `nodes`", path=display_path(path))
    if "smart_sql_version" not in (raw.get("metadata") or {}):
        raise ConfigError("--state: this manifest.json was written by dbt, not by smart-sql; dbt's configs carry "
                          "dbt's defaults, so comparing them would mark every node modified",
                          path=display_path(path), hint="run `smart-sql parse` on the state's version of the "
                                                        "project and pass its target/ folder")
    return State(path, dict(raw["nodes"]))


def changed_nodes(project: Project, nodes: Mapping[str, Any], state: State, value: str) -> set[str]:
    from .artifacts import manifest

    current = manifest(project)["nodes"]
    new = {uid for uid in nodes if uid not in state.nodes}
    body = {uid for uid in nodes if uid in state.nodes and _body(current[uid]) != _body(state.nodes[uid])}
    configs = {uid for uid in nodes if uid in state.nodes and _config(current[uid]) != _config(state.nodes[uid])}
    chosen = {"new": new, "old": set(nodes) - new, "modified.body": body, "modified.configs": configs,
              "modified": new | body | configs}
    if value == "unmodified":
        return set(nodes) - chosen["modified"]
    return chosen[value]


def _body(entry: Mapping[str, Any]) -> Any:
    """What a node is: its file's checksum (a generic test's: its name and arguments)."""
    return entry.get("checksum") if (entry.get("checksum") or {}).get("name") != "none" else entry.get("test_metadata")


def _config(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry.get("config"), sort_keys=True, default=str)
