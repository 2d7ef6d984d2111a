"""dbt packages: `packages.yml` (or `dependencies.yml`) and what `dbt deps` installed under the
packages-install-path (dbt_packages/). A package's macros are callable as `package.macro` and its
generic tests usable in YAML; its models and seeds are built (smart_sql.dbt.package_nodes), its
snapshots refused (not built yet).
`smart-sql deps` installs `local:` packages as dbt does (a link, else a copy)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError, display_path
from ..profiles import read_yaml

FILES = ("packages.yml", "dependencies.yml")
KINDS = ("local", "package", "git", "tarball", "private")
_MATERIALIZATION = re.compile(r"{%-?\s*materialization\s")
_NODE_FOLDERS = (("snapshot-paths", "snapshots", "*.sql", "snapshots"),)


@dataclass
class Package:
    name: str
    root: Path
    macro_files: list[Path]
    """Its macros and its generic tests (test-paths/generic)."""


def listed(root: Path) -> tuple[list[dict[str, Any]], Path | None]:
    """The package entries and the file they are in."""
    found = [root / name for name in FILES if (root / name).is_file()]
    entries_by_file = [(path, _entries(path)) for path in found]
    with_entries = [(path, entries) for path, entries in entries_by_file if entries]
    if len(with_entries) > 1:
        raise ConfigError("packages are listed in both packages.yml and dependencies.yml",
                          path=display_path(with_entries[1][0]), hint="keep one of the two files, as dbt requires")
    return (with_entries[0][1], with_entries[0][0]) if with_entries else ([], None)


def _entries(path: Path) -> list[dict[str, Any]]:
    raw = read_yaml(path) or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path.name} must be a mapping with `packages:`", path=display_path(path))
    if raw.get("projects"):
        raise ConfigError("`projects:` lists dbt Mesh projects for cross-project ref(), which smart-sql does not "
                          "support", path=display_path(path), hint="remove the `projects:` entries")
    entries = raw.get("packages") or []
    if not isinstance(entries, list) or not all(isinstance(entry, Mapping) and any(kind in entry for kind in KINDS)
                                                for entry in entries):
        raise ConfigError(f"`packages:` must be a list of entries with one of {', '.join(KINDS)}",
                          path=display_path(path), hint="e.g. - package: dbt-labs/dbt_utils\n    version: 1.3.0")
    return [dict(entry) for entry in entries]


def load(root: Path, install_path: str) -> list[Package]:
    """The installed packages, checked against the list (as dbt checks before it parses)."""
    entries, listing = listed(root)
    folder = root / install_path
    installed = sorted(child for child in folder.iterdir() if child.is_dir()) if folder.is_dir() else []
    if len(installed) < len(entries):
        raise ConfigError(f"{len(entries)} package(s) are listed in {listing.name}, but only {len(installed)} are "
                          f"installed in {install_path}/", path=display_path(listing),
                          hint="run `dbt deps` (hub, git and tarball packages need the network), or `smart-sql deps` "
                               "for local packages")
    return [_package(child) for child in installed]


def _package(folder: Path) -> Package:
    project_file = folder / "dbt_project.yml"
    if not project_file.is_file():
        raise ConfigError(f"installed package {folder.name!r} has no dbt_project.yml", path=display_path(folder),
                          hint="reinstall the packages with `dbt deps`")
    raw = read_yaml(project_file) or {}
    name = raw.get("name") if isinstance(raw, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ConfigError("a package's dbt_project.yml needs `name:`", path=display_path(project_file))
    for key, default, pattern, kind in _NODE_FOLDERS:
        for path in _files(folder, _paths(raw, key, default, project_file), pattern):
            raise ConfigError(f"package {name!r} has {kind}, and smart-sql does not build the {kind} of packages yet",
                              path=display_path(path),
                              hint="use a package whose macros and tests you need, or copy its models into the project")
    macro_files = _files(folder, _paths(raw, "macro-paths", "macros", project_file), "*.sql")
    macro_files += _files(folder, [f"{test}/generic" for test in _paths(raw, "test-paths", "tests", project_file)],
                          "*.sql")
    for path in macro_files:
        _check_blocks(name, path)
    return Package(name, folder, macro_files)


def _check_blocks(package: str, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = _MATERIALIZATION.search(text)
    if found:
        raise ConfigError(f"package {package!r} defines a custom materialization, which smart-sql does not support",
                          path=display_path(path), line=text.count("\n", 0, found.start()) + 1,
                          hint="use a version of the package without it, or uninstall the package")


def _paths(raw: Mapping[str, Any], key: str, default: str, path: Path) -> list[str]:
    value = raw.get(key, [default])
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"`{key}` must be a list of folders", path=display_path(path))
    return value


def _files(root: Path, folders: list[str], pattern: str) -> list[Path]:
    return [path for folder in folders for path in sorted((root / folder).rglob(pattern)) if path.is_file()]


def install(root: Path, install_path: str) -> list[str]:
    """`smart-sql deps`: the local packages linked (or copied) into the install path; what it cannot
    install (it needs the network) is said, and is an error unless already installed."""
    entries, listing = listed(root)
    if listing is None:
        return ["no packages.yml or dependencies.yml lists packages; nothing to install"]
    folder = root / install_path
    folder.mkdir(parents=True, exist_ok=True)
    lines, missing = [], []
    for entry in entries:
        if "local" in entry:
            lines.append(_install_local(root, Path(str(entry["local"])), folder, listing))
            continue
        kind = next(kind for kind in KINDS if kind in entry)
        spec = f"{kind}: {entry[kind]}" + (f" (version {entry['version']})" if entry.get("version") else "")
        name = str(entry[kind]).rstrip("/").split("/")[-1].removesuffix(".git")
        if (folder / name).is_dir():
            lines.append(f"{spec}: already installed in {display_path(folder / name)}")
        else:
            missing.append(spec)
    if missing:
        raise ConfigError(f"cannot install {', '.join(missing)}: hub, git and tarball packages are downloaded from "
                          f"the network, which smart-sql does not do", path=display_path(listing),
                          hint="run `dbt deps` to install them (smart-sql reads what it installs in "
                               f"{install_path}/)")
    return lines


def _install_local(root: Path, relative: Path, folder: Path, listing: Path) -> str:
    source = (root / relative).resolve()
    if not (source / "dbt_project.yml").is_file():
        raise ConfigError(f"local package {str(relative)!r} has no dbt_project.yml", path=display_path(listing),
                          hint="`local:` is a path, relative to the project, to a folder holding a dbt project")
    name = _package_name(source)
    target = folder / name
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    try:
        target.symlink_to(source, target_is_directory=True)
        how = "linked"
    except OSError:
        shutil.copytree(source, target)
        how = "copied"
    return f"local: {relative}: {how} into {display_path(target)}"


def _package_name(source: Path) -> str:
    raw = read_yaml(source / "dbt_project.yml") or {}
    name = raw.get("name") if isinstance(raw, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ConfigError("a package's dbt_project.yml needs `name:`", path=display_path(source / "dbt_project.yml"))
    return name
