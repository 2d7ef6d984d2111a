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
    from ..profiles import Target
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


def add_nodes(project: Project, found: PackageProject, properties: Any, discover: Any) -> None:
    """The package's seeds, models, sources and described nodes into the project (`discover`: the
    project module's discovery functions, run with the package's folder and config)."""
    package, config = found.package, found.config
    _refuse_undescribed(package, config, properties)
    seeds, models, sources = discover(package.root, config, properties)
    for kind, key, nodes in (("seed", "seeds", seeds), ("model", "models", models)):
        enabled = {name: node for name, node in nodes.items()
                   if {**node.config, **_root_config(project, key, node)}.get("enabled") is not False}
        _merge(getattr(project, key), enabled, kind, project)
    for key, source in sources.items():
        if key in project.sources:
            raise ConfigError(f"source {key[0]}.{key[1]} is declared by the project and by package {package.name!r}",
                              path=display_path(source.path), hint="smart-sql needs one declaration per source table")
        project.sources[key] = source


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


def _merge(into: dict[str, Any], nodes: Mapping[str, Any], kind: str, project: Project) -> None:
    groups = [project.models, project.seeds, project.snapshots]
    for name, node in nodes.items():
        other = next((group[name] for group in groups if name in group), None)
        if other is not None:
            raise ConfigError(f"{kind} {name!r} of package {node.fqn[0]!r} has the name of {other.resource_type} "
                              f"{other.unique_id} ({display_path(other.path)})", path=display_path(node.path),
                              hint="smart-sql needs names unique across the project and its packages; rename or "
                                   "disable one of them")
        into[name] = node


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
    for group in (project.models, project.seeds, project.snapshots):
        node = group.get(name)
        if node is not None and node.fqn[0] == package:
            return node
    return None


def home(project: Project, path: Path) -> tuple[str, Path]:
    """The package (or the project) whose folder holds `path`, and that folder."""
    for folder, package, _ in project.renderer.scopes:
        if folder in path.parents:
            return package, folder
    return project.name, project.root


def packages_of(project: Project) -> set[str]:
    """The project's name and the names of the packages whose nodes it builds."""
    return {node.fqn[0] for node in project.nodes().values() if getattr(node, "fqn", None)} | {project.name}
