"""The models, seeds, sources and YAML tests of installed packages, built with the project's as dbt
builds them: ids `model.<package>.<name>`, the package's own dbt_project.yml configs under the root
project's `models: <package>:` / `seeds: <package>:` blocks (applied last, as dbt applies them), vars
scoped to the package (its own, under the root's, under `vars: {<package>: ...}`, under --vars)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..config import ProjectConfig, folder_config, merge_config, project_vars
from ..errors import ConfigError, display_path
from . import project as dbt_project
from .packages import Package

if TYPE_CHECKING:
    from ..project import Project
    from ..render import Renderer, TargetInfo

CONFIGURED = ("models", "seeds")
"""The root project's blocks that configure a package's nodes."""


@dataclass
class PackageProject:
    package: Package
    config: ProjectConfig
    vars: dict[str, Any]


def read(packages: list[Package], root: ProjectConfig, target: TargetInfo,
         cli_vars: Mapping[str, Any]) -> list[PackageProject]:
    """Each installed package's project file, and the vars its nodes see."""
    found = []
    for package in packages:
        config = dbt_project.read_project(package.root / dbt_project.PROJECT_FILE, target, cli_vars, package=True)
        _refuse_unbuilt(config)
        own = project_vars(config.vars, config.name, {})
        scoped = project_vars(root.vars, package.name, cli_vars)
        found.append(PackageProject(package, config, {**own, **scoped}))
    return found


def _refuse_unbuilt(config: ProjectConfig) -> None:
    if config.data_tests:
        raise ConfigError(f"package {config.name!r} configures its tests in `data_tests:`, which smart-sql does not "
                          f"apply for packages yet", path=display_path(config.path),
                          hint="remove the block from the installed package, or uninstall the package")
    for key, hooks in (("on-run-start", config.on_run_start), ("on-run-end", config.on_run_end)):
        if hooks:
            raise ConfigError(f"package {config.name!r} has `{key}:` hooks, which smart-sql does not run for "
                              f"packages", path=display_path(config.path),
                              hint="run them from the project's own dbt_project.yml, or uninstall the package")


def warnings(root: ProjectConfig, installed: list[str]) -> list[str]:
    """The root's blocks for packages that are not installed apply to nothing (dbt warns too); those for
    installed packages that smart-sql cannot apply are refused."""
    found = []
    for key, blocks in root.package_configs.items():
        for package in blocks:
            if package not in installed:
                found.append(f"{display_path(root.path)}: {key}.{package} configures the package {package!r}, which "
                             f"is not this project ({root.name!r}) nor an installed package; its configs apply to "
                             f"nothing")
            elif key not in CONFIGURED:
                raise ConfigError(f"`{key}: {package}:` configures the {key} of an installed package, which "
                                  f"smart-sql does not apply", path=display_path(root.path),
                                  hint="configure the package's tests in its YAML, or remove the block")
    return found


def scope_renderer(renderer: Renderer, projects: list[PackageProject]) -> None:
    """A package's files render with its vars and its own macros first (dbt's local namespace)."""
    renderer.scopes = [(project.package.root, project.package.name, project.vars) for project in projects]


def add_nodes(project: Project, found: PackageProject, properties: Any, discover: Any) -> dict[str, str]:
    """The package's seeds, models and sources into the project (`discover`: the project module's
    discovery functions, run with the package's folder and config); the keys of the nodes whose name
    the project or another package already has (`<package>.<name>`), by name."""
    package, config = found.package, found.config
    _refuse_undescribed(package, config, properties)
    seeds, models, sources = discover(package.root, config, properties)
    keys: dict[str, str] = {}
    for key, nodes in (("seeds", seeds), ("models", models)):
        enabled = {name: node for name, node in nodes.items()
                   if {**node.config, **_root_config(project, key, node)}.get("enabled") is not False}
        keys.update(_merge(getattr(project, key), enabled, project))
    for key, source in sources.items():
        if key in project.sources:
            raise ConfigError(f"source {key[0]}.{key[1]} is declared by the project and by package {package.name!r}",
                              path=display_path(source.path), hint="smart-sql needs one declaration per source table")
        project.sources[key] = source
    return keys


def _refuse_undescribed(package: Package, config: ProjectConfig, properties: Any) -> None:
    declared = {"snapshots": list(properties.snapshots.values()), "unit tests": properties.unit_tests,
                "data tests": list(properties.data_tests.values()), **properties.described}
    singular = [path for folder in config.test_paths for path in sorted((package.root / folder).rglob("*.sql"))
                if path.relative_to(package.root / folder).parts[0] != "generic"]
    for what, items in declared.items():
        if items:
            raise ConfigError(f"package {package.name!r} declares {what} in YAML, which smart-sql does not read "
                              f"for packages yet", path=display_path(items[0][1]),
                              hint="remove those entries from the installed package, or uninstall it")
    if singular:
        raise ConfigError(f"package {package.name!r} has singular tests, which smart-sql does not run for packages "
                          f"yet", path=display_path(singular[0]), hint="remove them from the installed package")


def _merge(into: dict[str, Any], nodes: Mapping[str, Any], project: Project) -> dict[str, str]:
    """Nodes go in by name, or by `<package>.<name>` where the name is taken (dbt keeps names unique
    within a package only; ref() tells them apart, see find)."""
    groups = [project.models, project.seeds, project.snapshots]
    keys = {}
    for name, node in nodes.items():
        key = f"{node.fqn[0]}.{name}" if any(name in group for group in groups) else name
        into[key] = node
        if key != name:
            keys[name] = key
    return keys


def apply_root_configs(project: Project) -> None:
    """The root project's top-level `models:`/`seeds:` configs and its `<package>:` block under them over a
    package node's config (after its own project file, YAML and config() call, as dbt applies them)."""
    for key, nodes in (("models", project.models), ("seeds", project.seeds)):
        for name, node in list(nodes.items()):
            if node.fqn[0] == project.name:
                continue
            merge_config(node.config, _root_config(project, key, node))
            if key == "seeds" and node.config.get("enabled") is False:
                del nodes[name]


def _root_config(project: Project, key: str, node: Any) -> dict[str, Any]:
    """What the root's `models:`/`seeds:` block sets for a package's node: its top-level configs and
    its `<package>:` block."""
    config, package = project.config, node.fqn[0]
    shared = {name: value for name, value in getattr(config, key).items() if name != project.name}
    block = {**shared, package: config.package_configs.get(key, {}).get(package, {})}
    return folder_config(block, node.fqn[1:], package)


def local_tests(renderer: Renderer, path: Path) -> tuple[str | None, set[str]]:
    """The package whose YAML file `path` is, and the generic tests it names without its prefix (dbt
    finds them in the package's own namespace)."""
    package = renderer.scope(path)[0]
    names = renderer.package_macro_names.get(package, set()) if package else set()
    return package, {name[5:] for name in names if name.startswith("test_")}


def resolve(project: Project, package: str, name: str) -> Any:
    """`ref('package', 'name')`: the package's model, seed or snapshot (None when it has none)."""
    return next((node for node in _named(project, name) if node.fqn[0] == package), None)


def find(project: Project, name: str, own_package: str, where: str, path: Path) -> Any:
    """`ref('name')` as dbt resolves it: the project's node, else the referring package's, else the one
    package's that has it (two packages: ambiguous, an error as in dbt); None when there is none."""
    named = _named(project, name)
    for package in (project.name, own_package):
        node = next((node for node in named if node.fqn[0] == package), None)
        if node is not None:
            return node
    if len(named) > 1:
        raise ConfigError(f"{where} refers to {name!r}, which is in several packages: "
                          f"{', '.join(node.unique_id for node in named)}", path=display_path(path),
                          hint=f"name the package: ref({named[0].fqn[0]!r}, {name!r})")
    return named[0] if named else None


def _named(project: Project, name: str) -> list[Any]:
    keys = [name, *(f"{found.package.name}.{name}" for found in project.packages)]
    return [group[key] for group in (project.models, project.seeds, project.snapshots) for key in keys
            if key in group]


def home(project: Project, path: Path) -> tuple[str, Path]:
    """The package (or the project) whose folder holds `path`, and that folder."""
    for folder, package, _ in project.renderer.scopes:
        if folder in path.parents:
            return package, folder
    return project.name, project.root


def packages_of(project: Project) -> set[str]:
    """The project's name and the names of the packages whose nodes it builds."""
    return {node.fqn[0] for node in project.nodes().values() if getattr(node, "fqn", None)} | {project.name}
