"""`smart-sql clean`: empty the project's clean targets (default the target folder), never deleting
the LLM response cache (answers already paid for) or anything outside the project."""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import ConfigError
from .project import DEFAULT_LLM_CACHE, read_project_config


def clean(root: Path) -> list[str]:
    """What was done, one line per folder."""
    root = root.resolve()
    config = read_project_config(root)
    folders = [root / folder for folder in config.folders_to_clean]
    for folder in folders:
        if folder.resolve() == root or root not in folder.resolve().parents:
            raise ConfigError(f"refusing to delete {folder}: a clean target must be a folder inside the project",
                              path=config.path, hint="list only folders inside the project under clean-targets")
    return [_clean_folder(folder) for folder in folders]


def _clean_folder(folder: Path) -> str:
    if not folder.exists():
        return f"nothing to clean ({folder} does not exist)"
    cache = [path for path in folder.iterdir() if path.name.startswith(Path(DEFAULT_LLM_CACHE).stem + ".")]
    for path in folder.iterdir():
        if path not in cache:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    if cache:
        return (f"emptied {folder}, keeping the LLM response cache {cache[0].name} "
                f"(`smart-sql cache clear` empties it)")
    folder.rmdir()
    return f"removed {folder}"
