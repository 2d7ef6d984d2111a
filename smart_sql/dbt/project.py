"""dbt_project.yml read as dbt-core 1.11 reads it, into the engine's ProjectConfig.

Every key of dbt's project file is either honoured, accepted because it changes nothing smart-sql
builds (documentation, dbt's own machinery), or refused with the reason. Strings are rendered with
`env_var`, `var` (from --vars) and `target`, except what dbt renders late: `vars`, the run hooks,
`query-comment` and the `pre-hook`/`post-hook` configs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import jinja2

from ..config import ProjectConfig, check_config_block
from ..errors import ConfigError, display_path
from ..profiles import env_var, read_yaml, typed_scalar
from ..render import TargetInfo
from . import seeds, unsupported

PROJECT_FILE = "dbt_project.yml"
HONOURED = {"name", "profile", "model-paths", "source-paths", "seed-paths", "data-paths", "macro-paths",
            "target-path", "clean-targets", "vars", "models", "seeds", "data_tests", "tests", "on-run-start",
            "on-run-end", "flags", "test-paths", "snapshots", "snapshot-paths", "analysis-paths", "function-paths",
            "packages-install-path", "sources", "dispatch", "docs-paths", "unit_tests"}
"""`*-paths` of resources smart-sql does not build are honoured by refusing the files found there."""
ACCEPTED = {
    "version": "the project's own version",
    "config-version": "must be 2, as dbt requires",
    "require-dbt-version": "smart-sql is not dbt; the range is not checked",
    "asset-paths": "assets are copied for the docs site only",
    "log-path": "smart-sql writes no log files",
    "quoting": "DuckDB keeps the case of names quoted or not, so it changes nothing built",
    "query-comment": "a comment dbt adds to each query",
    "analyses": "configs of analyses (analysis files are refused)",
    "functions": "configs of functions (function files are refused)",
    "exposures": "documentation",
    "metrics": "semantic layer, not built",
    "semantic-models": "semantic layer, not built",
    "saved-queries": "semantic layer, not built",
    "dbt-cloud": "dbt Cloud settings",
    "restrict-access": "model access (private/protected) is not checked",
}
KEYS = HONOURED | set(ACCEPTED)
LATE_RENDERED = {"vars", "on-run-start", "on-run-end", "query-comment"}
NEEDED_BEFORE_THE_TARGET = {"name", "profile", "target-path", "clean-targets"}
SOURCE_CONFIG_KEYS = {"meta", "tags", "freshness", "loaded_at_field", "quoting", "event_time", "docs"}
_NAME = re.compile(r"^[^\d\W]\w*$")
_HOOK_KEYS = {"pre-hook", "post-hook", "pre_hook", "post_hook"}
_UNSET = object()


def read_project(path: Path, target: TargetInfo | None = None, cli_vars: Mapping[str, Any] | None = None,
                 package: bool = False) -> ProjectConfig:
    """The project's configuration; without `target` (not known before the profile is read), only the
    keys needed to find the profile and to clean are rendered. An installed `package` needs no profile."""
    raw = read_yaml(path)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{PROJECT_FILE} must be a mapping", path=display_path(path))
    _check_keys(raw, path)
    context = _Context(path, target, cli_vars or {})
    raw = {key: value if key in LATE_RENDERED or (target is None and key not in NEEDED_BEFORE_THE_TARGET)
           else context.render(value, (key,)) for key, value in raw.items()}
    for key in ("name",) if package else ("name", "profile"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"`{key}:` is required", path=display_path(path),
                              hint="dbt needs it too: e.g. name: my_project, profile: my_project")
    if not _NAME.match(raw["name"]):
        raise ConfigError(f"project name {raw['name']!r} must be a word (letters, digits, _; not starting "
                          f"with a digit)", path=display_path(path))
    if raw.get("config-version", 2) != 2:
        raise ConfigError(f"config-version {raw['config-version']!r} is not supported", path=display_path(path),
                          hint="dbt 1.x reads config-version: 2 only")
    if raw.get("data_tests") and raw.get("tests"):
        raise ConfigError("both `data_tests:` and `tests:` are given", path=display_path(path),
                          hint="keep `data_tests:` (dbt refuses both too)")
    blocks = {key: _mapping(raw, key, path) for key in ("vars", "models", "seeds", "data_tests", "tests", "flags",
                                                        "sources", "snapshots", "unit_tests")}
    check_config_block(blocks["models"], "model", "models", path)
    check_config_block(blocks["seeds"], "seed", "seeds", path)
    check_config_block(blocks["snapshots"], "snapshot", "snapshots", path)
    check_config_block(blocks["data_tests"] or blocks["tests"], "test", "data_tests", path)
    check_config_block(blocks["unit_tests"], "unit_test", "unit_tests", path)
    _check_source_configs(blocks["sources"], path)
    warnings: list[str] = []
    package_configs: dict[str, dict[str, Any]] = {}
    for key in ("models", "seeds", "data_tests", "tests", "snapshots"):
        blocks[key] = _own_package(blocks[key], raw["name"], package_configs.setdefault(key, {}))
    paths = _Paths(raw, path)
    config = ProjectConfig(
        name=raw["name"], profile=raw.get("profile") or "", path=path,
        model_paths=paths.get("model-paths", "models", alias="source-paths"),
        seed_paths=paths.get("seed-paths", "seeds", alias="data-paths"),
        macro_paths=paths.get("macro-paths", "macros"),
        test_paths=paths.get("test-paths", "tests"), snapshot_paths=paths.get("snapshot-paths", "snapshots"),
        target_path=paths.folder("target-path", "target"),
        clean_targets=paths.get("clean-targets", None),
        vars=blocks["vars"], models=blocks["models"], seeds=blocks["seeds"],
        data_tests=blocks["data_tests"] or blocks["tests"], snapshots=blocks["snapshots"],
        unit_tests=blocks["unit_tests"],
        on_run_start=_run_hooks(raw, "on-run-start", path), on_run_end=_run_hooks(raw, "on-run-end", path),
        default_materialized="view", sources_default_to_their_name=True, seed_types=seeds.column_types,
        seeds_reload_in_place=True, on_schema_change="ignore",
        nodes_run_after_failed_start_hook=not blocks["flags"].get("skip_nodes_if_on_run_start_fails", False),
        warnings=warnings, packages_install_path=paths.folder("packages-install-path", "dbt_packages"),
        dispatch=_dispatch(raw, path), docs_paths=paths.get("docs-paths", None), package_configs=package_configs,
    )
    unsupported_paths = {kind: paths.get(key, default) for kind, (key, default) in unsupported.PATH_KEYS.items()}
    config.property_paths = [*config.model_paths, *config.seed_paths, *config.macro_paths, *config.test_paths,
                             *config.snapshot_paths,
                             *(folder for folders in unsupported_paths.values() for folder in folders)]
    if target is not None:
        unsupported.check(path.parent, config, unsupported_paths)
    return config


def _check_keys(raw: Mapping[str, Any], path: Path) -> None:
    unknown = sorted(str(key) for key in set(raw) - KEYS)
    if "packages" in unknown:
        raise ConfigError("`packages:` in the project file is not read, as dbt does not read it there",
                          path=display_path(path), hint="list the packages in packages.yml")
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}", path=display_path(path),
                          hint=f"dbt_project.yml keys smart-sql reads: {', '.join(sorted(KEYS))}")


def _dispatch(raw: Mapping[str, Any], path: Path) -> dict[str, list[str]]:
    entries = raw.get("dispatch") or []
    if not isinstance(entries, list):
        raise ConfigError("`dispatch:` must be a list of {macro_namespace: ..., search_order: [...]}",
                          path=display_path(path))
    orders: dict[str, list[str]] = {}
    for entry in entries:
        namespace = entry.get("macro_namespace") if isinstance(entry, Mapping) else None
        order = entry.get("search_order") if isinstance(entry, Mapping) else None
        if not isinstance(namespace, str) or not isinstance(order, list) or not all(isinstance(p, str) for p in order):
            raise ConfigError(f"dispatch entry {entry!r} needs `macro_namespace:` (a name) and `search_order:` "
                              f"(a list of package names)", path=display_path(path),
                              hint="e.g. - macro_namespace: dbt_utils\n    search_order: [my_project, dbt_utils]")
        orders[namespace] = order
    return orders


def _mapping(raw: Mapping[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"`{key}:` must be a mapping", path=display_path(path))
    return dict(value)


def _own_package(block: dict[str, Any], name: str, others: dict[str, Any]) -> dict[str, Any]:
    """dbt reads the keys under `models:` (and `seeds:`, ...) as package names: the blocks for another
    package go to `others` (they configure an installed package's nodes, or nothing)."""
    kept = {}
    for package, value in block.items():
        if package.startswith("+") or not isinstance(value, Mapping) or package == name:
            kept[package] = value
        else:
            others[package] = value
    return kept


def _check_source_configs(block: Mapping[str, Any], path: Path, where: str = "sources") -> None:
    for key, value in block.items():
        if key.startswith("+") or not isinstance(value, Mapping):
            if key.lstrip("+") not in SOURCE_CONFIG_KEYS:
                raise ConfigError(f"{where}.{key}: the source config `{key.lstrip('+')}` is not supported",
                                  path=display_path(path),
                                  hint=f"remove it; accepted (they change nothing built): "
                                       f"{', '.join(sorted(SOURCE_CONFIG_KEYS))}")
        else:
            _check_source_configs(value, path, f"{where}.{key}")


def _run_hooks(raw: Mapping[str, Any], key: str, path: Path) -> list[str]:
    value = raw.get(key) or []
    hooks = [value] if isinstance(value, str) else value
    if not isinstance(hooks, list) or not all(isinstance(hook, str) for hook in hooks):
        raise ConfigError(f"`{key}:` must be SQL text or a list of SQL texts", path=display_path(path))
    return hooks


class _Paths:
    def __init__(self, raw: Mapping[str, Any], path: Path):
        self.raw = raw
        self.path = path

    def get(self, key: str, default: str | None, alias: str | None = None) -> list[str] | None:
        name = key if key in self.raw or alias not in self.raw else alias
        if name not in self.raw:
            return None if default is None else [default]
        value = self.raw[name]
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"`{name}` must be a list of folders", path=display_path(self.path))
        return value

    def folder(self, key: str, default: str) -> str:
        value = self.raw.get(key, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"`{key}` must be a folder", path=display_path(self.path))
        return value


class _Context:
    """What dbt renders dbt_project.yml with: env_var, var (--vars only), target."""

    def __init__(self, path: Path, target: TargetInfo | None, cli_vars: Mapping[str, Any]):
        self.path = path
        self.env = jinja2.Environment(undefined=jinja2.StrictUndefined)
        self.env.globals.update(env_var=self._env_var, var=self._var)
        if target is not None:
            self.env.globals["target"] = target
        self.cli_vars = cli_vars

    def render(self, value: Any, keypath: tuple[Any, ...]) -> Any:
        if isinstance(value, Mapping):
            return {key: self.render(item, (*keypath, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.render(item, (*keypath, index)) for index, item in enumerate(value)]
        if not isinstance(value, str) or "{" not in value or _is_hook(keypath):
            return value
        try:
            return typed_scalar(self.env.from_string(value).render())
        except jinja2.TemplateError as error:
            where = ".".join(map(str, keypath))
            raise ConfigError(f"{where}: cannot render {value!r}: {error}", path=display_path(self.path)) from None

    def _env_var(self, name: str, default: Any = _UNSET) -> str:
        if default is _UNSET:
            return env_var(name, path=display_path(self.path))
        return env_var(name, default, path=display_path(self.path))

    def _var(self, name: str, default: Any = None) -> Any:
        if name in self.cli_vars:
            return self.cli_vars[name]
        if default is not None:
            return default
        raise ConfigError(f"var({name!r}) in {PROJECT_FILE} is not given with --vars", path=display_path(self.path),
                          hint="dbt_project.yml sees only --vars (and defaults: var('name', 'default'))")


def _is_hook(keypath: tuple[Any, ...]) -> bool:
    return keypath[0] in ("models", "seeds", "snapshots", "tests", "data_tests") and any(
        isinstance(key, str) and key.lstrip("+ ") in _HOOK_KEYS for key in keypath)
