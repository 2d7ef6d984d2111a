"""A project's configuration: the settings of its project file, and the config keys of models, seeds and
data tests (folder defaults, YAML `config:`, `config()` in a file), merged and checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import ConfigError, display_path
from .contracts import validate_config as validate_contract
from .external import CONFIG_KEYS as EXTERNAL_KEYS, validate as validate_external
from .incremental import CONFIG_KEYS as INCREMENTAL_KEYS, validate as validate_incremental

MATERIALIZATIONS = ("table", "view", "incremental", "ephemeral", "external")
HOOK_KEYS = ("pre_hook", "post_hook")
_SHARED_KEYS = {"enabled", "tags", "schema", "alias", "database", "pre_hook", "post_hook", "full_refresh",
                "meta", "docs", "group", "access", "persist_docs"}
MODEL_KEYS = _SHARED_KEYS | {"materialized", "unique_key", "incremental_strategy", "contract", *INCREMENTAL_KEYS,
                             *EXTERNAL_KEYS}
SEED_KEYS = _SHARED_KEYS | {"column_types", "delimiter", "quote_columns"}
TEST_KEYS = {"enabled", "severity", "meta", "tags", "where", "limit", "warn_if", "error_if", "fail_calc",
             "store_failures", "store_failures_as", "schema", "alias", "database"}
SNAPSHOT_KEYS = {"enabled", "tags", "schema", "alias", "database", "pre_hook", "post_hook", "meta", "docs", "group",
                 "target_schema", "target_database", "unique_key", "strategy", "updated_at", "check_cols",
                 "invalidate_hard_deletes", "hard_deletes", "dbt_valid_to_current"}
UNIT_TEST_KEYS = {"enabled", "tags", "meta"}
CONFIG_KEYS = {"model": MODEL_KEYS, "seed": SEED_KEYS, "test": TEST_KEYS, "snapshot": SNAPSHOT_KEYS,
               "unit_test": UNIT_TEST_KEYS}
"""Config keys honoured per kind of node (meta, docs, group and access describe a node and change nothing built)."""

_WHY_NOT = {
    "grants": "DuckDB has no grants",
    "sql_header": "run the statement in a pre_hook instead",
    "snapshot_meta_column_names": "snapshot columns keep dbt's names (dbt_valid_from, ...)",
    "plugin": "dbt-duckdb plugins are not supported",
    "glue_register": "external tables are not registered in AWS Glue",
}


@dataclass
class ProjectConfig:
    """What a project file says, in the engine's terms (see smart_sql.dbt for how dbt_project.yml maps)."""

    name: str
    profile: str
    path: Path
    """The project file itself."""
    model_paths: list[str] = field(default_factory=lambda: ["models"])
    macro_paths: list[str] = field(default_factory=lambda: ["macros"])
    seed_paths: list[str] = field(default_factory=lambda: ["seeds"])
    test_paths: list[str] = field(default_factory=list)
    """Folders of singular tests (*.sql) and, under generic/, generic test definitions (dbt's test-paths)."""
    snapshot_paths: list[str] = field(default_factory=list)
    property_paths: list[str] | None = None
    """Folders whose YAML files describe nodes; default the model and seed paths."""
    target_path: str = "target"
    clean_targets: list[str] | None = None
    """Folders `smart-sql clean` empties; default the target path."""
    vars: dict[str, Any] = field(default_factory=dict)
    """As written: global vars, and vars scoped to the project under its name (see `project_vars`)."""
    models: dict[str, Any] = field(default_factory=dict)
    """Folder-level model config defaults, as dbt's `models:` block."""
    seeds: dict[str, Any] = field(default_factory=dict)
    data_tests: dict[str, Any] = field(default_factory=dict)
    snapshots: dict[str, Any] = field(default_factory=dict)
    unit_tests: dict[str, Any] = field(default_factory=dict)
    """The project file's `unit_tests:` config block (dbt projects)."""
    on_run_start: list[Any] = field(default_factory=list)
    on_run_end: list[Any] = field(default_factory=list)
    default_materialized: str = "table"
    sources_default_to_their_name: bool = False
    """dbt: a source without `schema:` reads the schema named like the source; ours: the target schema."""
    seed_types: Callable[[Path, str], dict[str, str]] | None = None
    """(csv path, delimiter) -> column types, where the project types seeds itself (dbt); None: DuckDB infers."""
    on_schema_change: str = "fail"
    """What an incremental model does by default when its query's columns differ from its table's:
    dbt's `ignore` (only the table's columns are written) in dbt projects; ours stops, naming them."""
    seeds_reload_in_place: bool = False
    """dbt's seeds: an existing table is emptied and reloaded, keeping its columns and types, unless the
    seed is fully refreshed (--full-refresh, or its `full_refresh` config); ours: rebuilt every time."""
    nodes_run_after_failed_start_hook: bool = False
    """dbt's default (flag skip_nodes_if_on_run_start_fails: false); ours: a failed on-run-start skips all."""
    warnings: list[str] = field(default_factory=list)
    """What the project file says that applies to nothing, printed when a command runs (as dbt warns)."""
    packages_install_path: str = "dbt_packages"
    """Where `dbt deps` (or `smart-sql deps`) installs packages."""
    dispatch: dict[str, list[str]] = field(default_factory=dict)
    """dbt's `dispatch:`: macro namespace -> the packages adapter.dispatch searches, in order."""
    package_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The project file's blocks for other packages: `models:`/`seeds:`/... -> package name -> block
    (applied over an installed package's own configs; smart_sql.dbt.package_nodes)."""
    docs_paths: list[str] | None = None
    """Folders of `{% docs %}` blocks (*.md); default the model, seed, macro, test and snapshot paths."""

    @property
    def folders_to_clean(self) -> list[str]:
        return [self.target_path] if self.clean_targets is None else self.clean_targets


def project_vars(written: Mapping[str, Any], project_name: str, cli_vars: Mapping[str, Any]) -> dict[str, Any]:
    """dbt's rule: global vars, overridden by those under the project's name, overridden by --vars."""
    scoped = written.get(project_name)
    return {**written, **(scoped if isinstance(scoped, Mapping) else {}), **cli_vars}


def folder_config(block: Mapping[str, Any], folders: list[str], project_name: str) -> dict[str, Any]:
    """Config defaults for a node from a dbt-style `models:`/`seeds:` block; `folders` is the node's path
    below the project (its folders, then its name, as dbt's fqn).

    Keys with a leading `+`, or whose value is not a mapping, are configs; other keys are sub-folders
    (or a node's name). Deeper levels override shallower ones; tags and hooks accumulate.
    """
    config: dict[str, Any] = {}
    levels: list[Any] = [block]
    if isinstance(block.get(project_name), Mapping):
        levels.append(block[project_name])
    level: Any = levels[-1]
    for folder in folders:
        level = level.get(folder) if isinstance(level, Mapping) else None
        levels.append(level)
    for level in levels:
        if not isinstance(level, Mapping):
            break
        merge_config(config, {key: value for key, value in level.items() if _is_config(key, value)})
    return config


def config_paths(block: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The folder (or node) paths a config block names, e.g. ('shop', 'staging')."""
    paths = []
    for key, value in block.items():
        if not _is_config(key, value):
            paths += [(*prefix, key), *config_paths(value, (*prefix, key))]
    return paths


def _is_config(key: str, value: Any) -> bool:
    return key.startswith("+") or not isinstance(value, Mapping)


def merge_config(config: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in update.items():
        key = canonical_key(key)
        if key == "tags":
            tags = [value] if isinstance(value, str) else list(value or [])
            config["tags"] = list(dict.fromkeys([*config.get("tags", []), *tags]))
        elif key in HOOK_KEYS:
            config[key] = [*config.get(key, []), *(value if isinstance(value, list) else [value])]
        else:
            config[key] = value
    return config


def canonical_key(key: str) -> str:
    """`+pre-hook` and `pre_hook` are one key, as in dbt."""
    return key.lstrip("+").replace("-", "_") if key.lstrip("+") in ("pre-hook", "post-hook") else key.lstrip("+")


def check_config_block(block: Mapping[str, Any], kind: str, where: str, path: Path) -> None:
    """Every config key of a project file's `models:`/`seeds:`/`data_tests:` block, at any folder depth."""
    for key, value in block.items():
        if _is_config(key, value):
            check_keys({key: value}, kind, f"{where}.{key}", path)
        else:
            check_config_block(value, kind, f"{where}.{key}", path)


def check_keys(config: Mapping[str, Any], kind: str, where: str, path: Path) -> None:
    allowed = CONFIG_KEYS[kind]
    for key in config:
        name = canonical_key(key)
        if name not in allowed:
            reason = _WHY_NOT.get(name)
            raise ConfigError(f"{where}: the {kind} config `{name}` is not supported"
                              + (f" ({reason})" if reason else ""), path=display_path(path),
                              hint=f"remove it; {kind} configs honoured: {', '.join(sorted(allowed))}")


def validate_config(config: Mapping[str, Any], where: str, path: Path, kind: str = "model") -> None:
    check_keys(config, kind, where, path)
    tags = config.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ConfigError(f"{where}: `tags` must be a name or a list of names", path=display_path(path))
    for key in ("schema", "alias", "database"):
        if config.get(key) is not None and not (isinstance(config[key], str) and config[key].strip()):
            raise ConfigError(f"{where}: `{key}` must be a name, got {config[key]!r}", path=display_path(path))
    from .hooks import check_hooks
    from .persist_docs import validate as validate_persist_docs

    validate_persist_docs(config, where, path)

    for key in HOOK_KEYS:
        check_hooks(config.get(key, []), f"{where}: `{key}`", path)
    if kind == "model":
        _validate_model(config, where, path)


def _validate_model(config: Mapping[str, Any], where: str, path: Path) -> None:
    materialized = config.get("materialized", "table")
    if materialized not in MATERIALIZATIONS:
        raise ConfigError(f"{where}: unknown materialization {materialized!r}", path=display_path(path),
                          hint=f"use one of: {', '.join(MATERIALIZATIONS)}")
    key = config.get("unique_key")
    if key is not None and not (isinstance(key, str) or (isinstance(key, list) and key
                                                         and all(isinstance(k, str) for k in key))):
        raise ConfigError(f"{where}: `unique_key` must be a column name or a list of column names",
                          path=display_path(path))
    validate_incremental(config, where, path)
    validate_contract(config, where, path)
    validate_external(config, where, path)
