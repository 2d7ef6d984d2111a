"""What a dbt project may hold that smart-sql does not build yet. Each is refused, naming the file,
rather than skipped: a build that silently left out an analysis or a function would look complete."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ..config import ProjectConfig
from ..errors import ConfigError, display_path

PATH_KEYS = {
    "analyses": ("analysis-paths", "analyses"),
    "functions": ("function-paths", "functions"),
}
"""Resources by the project key of their folders and its default."""
_FILES = {
    "analyses": (("*.sql",), "analyses are not supported yet; this analysis would not be compiled"),
    "functions": (("*.sql", "*.py"), "user-defined functions are not supported yet; this function would not "
                                     "be created"),
}
_BLOCKS = re.compile(r"{%-?\s*(materialization|snapshot)\s")
_BLOCK_REASONS = {
    "materialization": "custom materializations are not supported",
    "snapshot": "a {% snapshot %} block is read from the snapshot paths (snapshots/), not from macros",
}
_MOVE_HINT = "remove the file (or move it out of the project's {key}) to build the rest of the project"


def check(root: Path, config: ProjectConfig, resource_paths: Mapping[str, list[str]]) -> None:
    for kind, folders in resource_paths.items():
        patterns, reason = _FILES[kind]
        for folder in folders:
            for pattern in patterns:
                for path in sorted((root / folder).rglob(pattern)):
                    if path.is_file():
                        raise ConfigError(reason, path=display_path(path),
                                          hint=_MOVE_HINT.format(key=PATH_KEYS[kind][0]))
    _check_macros(root, config.macro_paths)


def _check_macros(root: Path, folders: list[str]) -> None:
    for folder in folders:
        for path in sorted((root / folder).rglob("*.sql")):
            text = path.read_text(encoding="utf-8")
            found = _BLOCKS.search(text)
            if found:
                line = text.count("\n", 0, found.start()) + 1
                raise ConfigError(_BLOCK_REASONS[found.group(1)], path=display_path(path), line=line,
                                  hint="remove the block to build the rest of the project")


