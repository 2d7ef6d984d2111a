"""Loading a project: the project file (ours or dbt's), the target, models, seeds, macros, sources and
YAML properties, and where each node is built."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

from .dbt import docs as dbt_docs
from .dbt import package_nodes
from .dbt import packages as dbt_packages
from .dbt import project as dbt_project
from .dbt import external_sources, snapshots as dbt_snapshots
from .config import (HOOK_KEYS, ProjectConfig, canonical_key, check_config_block, check_keys as validate_keys,
                     config_paths, folder_config, merge_config, project_vars, validate_config)
from . import contracts, described, singular_tests, unit_tests
from .contracts import Contract
from .unit_tests import UnitTest
from . import versions
from .versions import Versions
from .datatests import BUILTIN_KINDS, BUILTIN_TESTS_FILE, DataTest, Tested, parse_test
from .errors import ConfigError, display_path
from .flags import RunFlags
from .graph import Graph
from .hooks import Hook, parse_hooks
from . import naming
from .naming import ConfigView, NodeView, relation_parts
from .profiles import Target, load_target, read_yaml
from .render import ModelFunctions, Renderer, TargetInfo

PROJECT_FILE = "smart_sql_project.yml"
OUR_KEYS = {"name", "profile", "version", "config-version", "model-paths", "macro-paths", "seed-paths",
            "target-path", "clean-targets", "vars", "models", "seeds", "on-run-start", "on-run-end"}
TMP_SUFFIX = "__smart_tmp"
PROPERTY_KEYS = {"version", "models", "seeds", "sources", "snapshots", "macros", "exposures", "groups", "metrics",
                 "semantic_models", "saved_queries", "analyses", "data_tests", "unit_tests"}
"""Top-level keys of a YAML properties file; all but models, seeds and sources only describe."""
UNSUPPORTED_PROPERTY_KEYS = {"functions": "user-defined functions are not supported yet"}
NODE_KEYS = {"name", "description", "config", "columns", "tests", "data_tests", "meta", "docs", "access",
             "group", "constraints", "deprecation_date", "time_spine"}
VERSIONED_KEYS = {"versions", "latest_version"}
SOURCE_KEYS = {"name", "description", "schema", "database", "tables", "meta", "loader", "loaded_at_field",
               "loaded_at_query", "freshness", "tags", "config", "quoting", "docs"}
SOURCE_TABLE_KEYS = {"name", "description", "identifier", "schema", "database", "columns", "tests", "data_tests",
                     "meta", "loaded_at_field", "loaded_at_query", "freshness", "tags", "config", "quoting", "loader",
                     "external", "docs"}
SINGULAR_TEST_KEYS = {"name", "description", "config", "meta", "docs"}
COLUMN_KEYS = {"name", "description", "tests", "data_tests", "meta", "data_type", "tags", "quote", "config",
               "constraints", "granularity"}
COMPILED_TEMPLATES = "jinja_bytecode"
"""The folder of the target folder where compiled Jinja templates are kept (smart_sql.jinja_cache)."""
DEFAULT_LLM_CACHE = "llm_cache.sqlite"
"""The response cache's file in the target folder, unless the llm block sets `cache_path`. `clean`
keeps every file whose name starts with its stem and a dot (its WAL, journals, the old-format cache)."""


def unique_id_of(resource_type: str, fqn: list[str], name: str) -> str:
    """dbt's unique_id: `model.<project>.<name>` (the project is the first part of the fqn)."""
    return ".".join([resource_type, *fqn[:1], name])


@dataclass(frozen=True)
class Relation:
    schema: str
    identifier: str
    database: str | None = None
    """None: the target's own database file."""

    def __str__(self) -> str:
        parts = [self.database, self.schema, self.identifier] if self.database else [self.schema, self.identifier]
        return ".".join('"' + part.replace('"', '""') + '"' for part in parts)

    @property
    def name(self) -> str:
        return self.identifier

    @property
    def display(self) -> str:
        return f"{self.schema}.{self.identifier}" if self.database is None else \
            f"{self.database}.{self.schema}.{self.identifier}"

    def temporary(self) -> Relation:
        return Relation(self.schema, self.identifier + TMP_SUFFIX, self.database)


@dataclass(frozen=True)
class ExternalRelation(Relation):
    """A source read from a file or table function (dbt-duckdb's external_location)."""

    location: str = ""

    def __str__(self) -> str:
        return self.location

    @property
    def display(self) -> str:
        return self.location


@dataclass
class ModelNode:
    name: str
    path: Path
    relpath: str
    """Path inside the project, e.g. models/marts/fct_orders.sql."""
    raw_sql: str
    relation: Relation
    config: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    """unique_ids of the models and seeds this model reads (via ref and source)."""
    sources: list[str] = field(default_factory=list)
    """unique_ids of the source tables this model reads."""
    fqn: list[str] = field(default_factory=list)
    """Project name, folders inside the model path, name: what `models:` config paths match."""
    contract: Contract | None = None
    """The enforced contract (smart_sql.contracts), when the model has one."""

    resource_type: ClassVar[str] = "model"

    @property
    def unique_id(self) -> str:
        return unique_id_of(self.resource_type, self.fqn, self.name)

    @property
    def materialized(self) -> str:
        return self.config.get("materialized", "table")

    @property
    def tags(self) -> list[str]:
        return self.config.get("tags", [])

    @property
    def pre_hooks(self) -> list[Hook]:
        return parse_hooks(self.config.get("pre_hook"))

    @property
    def post_hooks(self) -> list[Hook]:
        return parse_hooks(self.config.get("post_hook"))


@dataclass
class SeedNode:
    name: str
    path: Path
    relpath: str
    relation: Relation
    config: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    fqn: list[str] = field(default_factory=list)
    infer_types: Callable[[Path, str], dict[str, str]] | None = None
    """(path, delimiter) -> column types where the project types seeds itself (dbt's way); None: DuckDB's."""

    resource_type: ClassVar[str] = "seed"
    materialized: ClassVar[str] = "seed"

    @property
    def unique_id(self) -> str:
        return unique_id_of(self.resource_type, self.fqn, self.name)

    @property
    def tags(self) -> list[str]:
        return self.config.get("tags", [])

    @property
    def pre_hooks(self) -> list[Hook]:
        return parse_hooks(self.config.get("pre_hook"))

    @property
    def post_hooks(self) -> list[Hook]:
        return parse_hooks(self.config.get("post_hook"))

    def column_types(self) -> dict[str, str]:
        """The types the seed's table is created with: dbt's inferred ones (dbt projects) under the
        `column_types` config."""
        inferred = self.infer_types(self.path, self.config.get("delimiter", ",")) if self.infer_types else {}
        return {**inferred, **(self.config.get("column_types") or {})}


@dataclass
class SnapshotNode(ModelNode):
    """A snapshot: a `{% snapshot %}` block in the snapshot paths, or a YAML `snapshots:` entry with
    `relation:`; `raw_sql` is its SELECT (padded to keep the file's line numbers)."""

    resource_type: ClassVar[str] = "snapshot"

    @property
    def materialized(self) -> str:
        return "snapshot"


@dataclass
class Source:
    source_name: str
    name: str
    relation: Relation
    path: Path
    node_id: str | None = None
    """The seed or model that creates this table, when one does."""
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    entry: dict[str, Any] = field(default_factory=dict, repr=False)
    """The table's YAML entry (its tests are read from it)."""
    package_name: str = ""
    source_entry: dict[str, Any] = field(default_factory=dict, repr=False)
    """The source's own YAML entry (defaults for its tables: freshness, loaded_at_field, tags)."""

    @property
    def unique_id(self) -> str:
        return ".".join(filter(None, ["source", self.package_name, self.source_name, self.name]))


Node = ModelNode | SeedNode | SnapshotNode | DataTest | UnitTest


@dataclass
class Project:
    root: Path
    config: ProjectConfig
    target: Target
    vars: dict[str, Any]
    models: dict[str, ModelNode]
    seeds: dict[str, SeedNode]
    sources: dict[tuple[str, str], Source]
    tests: dict[str, DataTest]
    renderer: Renderer
    snapshots: dict[str, SnapshotNode] = field(default_factory=dict)
    flags: RunFlags = field(default_factory=RunFlags)
    unit_tests: dict[str, UnitTest] = field(default_factory=dict)
    versions: Versions = field(default_factory=Versions)
    described: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Exposures, metrics, semantic models, saved queries and groups by YAML key, then unique_id."""
    packages: list[package_nodes.PackageProject] = field(default_factory=list)
    """The installed packages and their project files."""

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def target_path(self) -> Path:
        return self.root / (self.flags.target_path or self.config.target_path)

    @property
    def database(self) -> str:
        return self.target.database

    @property
    def llm_cache_path(self) -> Path:
        """In the project's target-path even under --target-path, so answers already paid for are found."""
        configured = self.target.llm.cache_path
        return self.root / (configured or Path(self.config.target_path) / DEFAULT_LLM_CACHE)

    @property
    def on_run_start(self) -> list[Hook]:
        return parse_hooks(self.config.on_run_start)

    @property
    def on_run_end(self) -> list[Hook]:
        return parse_hooks(self.config.on_run_end)

    def nodes(self) -> dict[str, Node]:
        nodes: dict[str, Node] = {}
        for group in (self.seeds, self.models, self.snapshots, self.tests, self.unit_tests):
            nodes.update({node.unique_id: node for node in group.values()})
        return nodes

    def display(self, path: Path) -> str:
        return display_path(path)


def load_project(project_dir: str | Path = ".", profiles_dir: str | Path | None = None, target: str | None = None,
                 vars: Mapping[str, Any] | None = None) -> Project:
    root = Path(project_dir).resolve()
    chosen = load_target(read_project_config(root).profile, root, profiles_dir=profiles_dir, target=target)
    info = target_info(chosen)
    config = read_project_config(root, info, vars)
    all_vars = project_vars(config.vars, config.name, vars or {})
    macro_files = [BUILTIN_TESTS_FILE, *_files(root, config.macro_paths, "*.sql"),
                   *_files(root, [f"{folder}/generic" for folder in config.test_paths], "*.sql")]
    installed = _installed_packages(root, config)
    package_projects = package_nodes.read(installed, config, info, vars or {})
    renderer = Renderer(macro_files, vars=all_vars, target=info, display=display_path, builtins=naming.builtins(info),
                        compiled_dir=root / config.target_path / COMPILED_TEMPLATES, **_dbt_jinja(installed, config, chosen))
    package_nodes.scope_renderer(renderer, package_projects)
    properties = _read_properties(root, config, renderer)
    model_versions = versions.expand(properties.models)
    seeds = _discover_seeds(root, config, chosen.schema, properties)
    models = _discover_models(root, config, chosen.schema, properties, model_versions.files)
    _check_names(models, seeds)
    _check_properties_match(properties, models, seeds)
    sources = _sources(properties, config, chosen)
    project = Project(root=root, config=config, target=chosen, vars=all_vars, models=models, seeds=seeds,
                      sources=sources, tests={}, renderer=renderer, versions=model_versions, packages=package_projects)
    _add_package_nodes(project, properties, package_projects)
    _link_dbt_context(project)
    project.snapshots = dbt_snapshots.discover(project, properties.snapshots)
    for model in list(models.values()):
        if model.config.get("enabled") is not False:
            _parse_model(project, model)
    for snapshot in list(project.snapshots.values()):
        dbt_snapshots.parse(project, snapshot)
    package_nodes.apply_root_configs(project)
    for name in [name for name, model in models.items() if model.config.get("enabled") is False]:
        del models[name]
    _read_contracts(project, properties)
    _check_enabled_refs(project)
    _place_nodes(project)
    _link_sources(project)
    config.warnings += _unused_config_paths(project) + package_nodes.warnings(config, [p.name for p in installed])
    project.tests = _tests(project, properties)
    project.unit_tests = unit_tests.discover(project, properties.unit_tests)
    project.described = {key: dict(described.entry(config.name, key, item, path, root) for item, path in items)
                          for key, items in properties.described.items()}
    dbt_docs.describe(project)
    Graph(project)
    return project


def _installed_packages(root: Path, config: ProjectConfig) -> list[dbt_packages.Package]:
    packages = dbt_packages.load(root, config.packages_install_path)
    taken = [package.name for package in packages if package.name == config.name]
    if taken:
        raise ConfigError(f"the installed package {taken[0]!r} has the project's own name",
                          path=display_path(root / config.packages_install_path / taken[0]))
    return packages


def _dbt_jinja(packages: list[dbt_packages.Package], config: ProjectConfig, target: Target) -> dict[str, Any]:
    """The Renderer's installed packages and dbt context (smart_sql.dbt.jinja)."""
    from .dbt.jinja.provider import DbtContext

    return {"packages": {package.name: package.macro_files for package in packages},
            "dbt": DbtContext(config.name, target.file_catalog, target.schema, search_orders=config.dispatch)}


def _add_package_nodes(project: Project, properties: _Properties,
                       package_projects: list[package_nodes.PackageProject]) -> None:
    """Each installed package's seeds, models and sources (smart_sql.dbt.package_nodes); its YAML entries
    join the project's, for their tests."""
    def discover(root: Path, config: ProjectConfig, own: _Properties) -> tuple[dict, dict, dict]:
        if versions.expand(own.models).nodes:
            raise ConfigError(f"package {config.name!r} has versioned models, which smart-sql does not build "
                              f"for packages yet", path=display_path(config.path))
        seeds = _discover_seeds(root, config, project.target.schema, own)
        models = _discover_models(root, config, project.target.schema, own, {})
        _check_properties_match(own, models, seeds)
        return seeds, models, _sources(own, config, project.target)

    for found in package_projects:
        own = _read_properties(found.package.root, found.config, project.renderer)
        keys = package_nodes.add_nodes(project, found, own, discover)
        properties.models.update({keys.get(name, name): entry for name, entry in own.models.items()})
        properties.seeds.update({keys.get(name, name): entry for name, entry in own.seeds.items()})


def _link_dbt_context(project: Project) -> None:
    """`model` and `graph` in templates read the project."""
    from .dbt.jinja import nodes

    cached: list[dict] = []
    project.renderer.dbt.node_dict = lambda node: nodes.node_dict(project, node)
    project.renderer.dbt.graph = lambda: cached[0] if cached else cached.append(nodes.graph(project)) or cached[0]


def target_info(target: Target) -> TargetInfo:
    return TargetInfo(target.name, target.profile_name, target.schema, target.type, database=target.catalog,
                      threads=target.threads, path=target.database)


def read_project_config(root: Path, target: TargetInfo | None = None,
                        cli_vars: Mapping[str, Any] | None = None) -> ProjectConfig:
    """smart_sql_project.yml when there is one, else dbt_project.yml (read by smart_sql.dbt)."""
    path = root / PROJECT_FILE
    if path.is_file():
        return _read_our_project(path)
    if (root / dbt_project.PROJECT_FILE).is_file():
        return dbt_project.read_project(root / dbt_project.PROJECT_FILE, target, cli_vars)
    raise ConfigError(f"no {PROJECT_FILE} or {dbt_project.PROJECT_FILE} in {display_path(root)}",
                      hint="run smart-sql from the project directory, pass --project-dir, "
                           "or create a project with `smart-sql init NAME`")


def _read_our_project(path: Path) -> ProjectConfig:
    raw = read_yaml(path)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{PROJECT_FILE} must be a mapping", path=display_path(path))
    for key in ("name", "profile"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"`{key}:` is required", path=display_path(path),
                              hint="e.g. name: my_project, profile: my_project")
    unknown = sorted(set(raw) - OUR_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}", path=display_path(path),
                          hint=f"allowed: {', '.join(sorted(OUR_KEYS))}")

    def paths(key: str, default: str | None) -> list[str] | None:
        if key not in raw and default is None:
            return None
        value = raw.get(key, [default])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"`{key}` must be a list of folders", path=display_path(path))
        return value

    for key in ("vars", "models", "seeds"):
        if not isinstance(raw.get(key) or {}, Mapping):
            raise ConfigError(f"`{key}:` must be a mapping", path=display_path(path))
    hooks = {key: [raw[key]] if isinstance(raw.get(key), str) else list(raw.get(key) or [])
             for key in ("on-run-start", "on-run-end")}
    check_config_block(raw.get("models") or {}, "model", "models", path)
    check_config_block(raw.get("seeds") or {}, "seed", "seeds", path)
    return ProjectConfig(name=raw["name"], profile=raw["profile"], path=path,
                         model_paths=paths("model-paths", "models"), macro_paths=paths("macro-paths", "macros"),
                         seed_paths=paths("seed-paths", "seeds"), target_path=str(raw.get("target-path", "target")),
                         clean_targets=paths("clean-targets", None), vars=dict(raw.get("vars") or {}),
                         models=dict(raw.get("models") or {}), seeds=dict(raw.get("seeds") or {}),
                         on_run_start=hooks["on-run-start"], on_run_end=hooks["on-run-end"])


@dataclass
class _Properties:
    models: dict[str, tuple[dict[str, Any], Path]] = field(default_factory=dict)
    seeds: dict[str, tuple[dict[str, Any], Path]] = field(default_factory=dict)
    sources: list[tuple[dict[str, Any], Path]] = field(default_factory=list)
    data_tests: dict[str, tuple[dict[str, Any], Path]] = field(default_factory=dict)
    """Singular tests described by name (their config and description)."""
    snapshots: dict[str, tuple[dict[str, Any], Path]] = field(default_factory=dict)
    unit_tests: list[tuple[dict[str, Any], Path]] = field(default_factory=list)
    described: dict[str, list[tuple[dict[str, Any], Path]]] = field(default_factory=dict)


def _files(root: Path, folders: list[str], pattern: str) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        found.extend(sorted((root / folder).rglob(pattern)))
    return [path for path in found if path.is_file()]


def _relpath(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _read_properties(root: Path, config: ProjectConfig, renderer: Renderer) -> _Properties:
    properties = _Properties()
    folders = list(dict.fromkeys(config.property_paths or [*config.model_paths, *config.seed_paths]))
    for path in _files(root, folders, "*.yml") + _files(root, folders, "*.yaml"):
        raw = read_yaml(path) or {}
        if not isinstance(raw, Mapping):
            raise ConfigError("a properties file must be a mapping (models:, seeds:, sources:)",
                              path=display_path(path))
        _check_property_keys(raw, path)
        for key, into in (("models", properties.models), ("seeds", properties.seeds)):
            for entry in _entries(raw, key, path):
                _check_keys(entry, NODE_KEYS | (VERSIONED_KEYS if key == "models" else set()),
                            f"{key[:-1]} {entry['name']!r}", path)
                if entry["name"] in into:
                    raise ConfigError(f"{key[:-1]} {entry['name']!r} is described twice "
                                      f"(also in {display_path(into[entry['name']][1])})", path=display_path(path))
                if isinstance(entry.get("config"), Mapping):
                    entry["config"] = {key: value if canonical_key(key) in HOOK_KEYS else renderer.render_value(value, path)
                                       for key, value in entry["config"].items()}
                into[entry["name"]] = (entry, path)
        properties.sources.extend((_rendered_source(entry, renderer, path), path)
                                  for entry in _entries(raw, "sources", path))
        for entry in _entries(raw, "snapshots", path):
            if entry["name"] in properties.snapshots:
                raise ConfigError(f"snapshot {entry['name']!r} is described twice (also in "
                                  f"{display_path(properties.snapshots[entry['name']][1])})", path=display_path(path))
            properties.snapshots[entry["name"]] = (entry, path)
        properties.unit_tests.extend((entry, path) for entry in _entries(raw, "unit_tests", path))
        for key in described.KINDS:
            properties.described.setdefault(key, []).extend((entry, path) for entry in _entries(raw, key, path))
        for entry in _entries(raw, "data_tests", path):
            _check_keys(entry, SINGULAR_TEST_KEYS, f"data test {entry['name']!r}", path)
            properties.data_tests[entry["name"]] = (entry, path)
    return properties


def _check_property_keys(raw: Mapping[str, Any], path: Path) -> None:
    for key in raw:
        if key in UNSUPPORTED_PROPERTY_KEYS:
            raise ConfigError(f"`{key}:` {UNSUPPORTED_PROPERTY_KEYS[key]}", path=display_path(path),
                              hint=f"remove the `{key}:` entries to build the rest of the project")
    _check_keys(raw, PROPERTY_KEYS, "properties file", path)


def _rendered_source(entry: dict[str, Any], renderer: Renderer, path: Path) -> dict[str, Any]:
    """A source's schema, database and identifier may use var, env_var and target (as in dbt)."""
    names = ("schema", "database", "identifier")
    entry.update({key: renderer.render_value(entry[key], path) for key in names if key in entry})
    for table in entry.get("tables") or []:
        if isinstance(table, dict):
            table.update({key: renderer.render_value(table[key], path) for key in names if key in table})
    return entry


def _entries(raw: Mapping[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    entries = raw.get(key) or []
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) and isinstance(e.get("name"), str)
                                                for e in entries):
        raise ConfigError(f"`{key}:` must be a list of mappings, each with a `name:`", path=display_path(path))
    return [dict(entry) for entry in entries]


def _columns(entry: Mapping[str, Any], path: Path) -> dict[str, str]:
    columns = entry.get("columns") or []
    if not isinstance(columns, list) or not all(isinstance(c, Mapping) and isinstance(c.get("name"), str)
                                                for c in columns):
        raise ConfigError(f"{entry['name']}: `columns:` must be a list of mappings, each with a `name:`",
                          path=display_path(path))
    for column in columns:
        _check_keys(column, COLUMN_KEYS, f"column {entry['name']}.{column['name']}", path)
    return {column["name"]: str(column.get("description") or "") for column in columns}


def _check_keys(entry: Mapping[str, Any], allowed: set[str], where: str, path: Path) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}", path=display_path(path),
                          hint=f"allowed: {', '.join(sorted(allowed))}")


def _yaml_config(entry: Mapping[str, Any] | None, path: Path | None, kind: str) -> dict[str, Any]:
    config = (entry or {}).get("config") or {}
    if not isinstance(config, Mapping):
        raise ConfigError(f"{entry['name']}: `config:` must be a mapping", path=display_path(path))
    if config:
        validate_keys(config, kind, f"{kind} {entry['name']!r}", path)
    return dict(config)


def _discover_seeds(root: Path, config: ProjectConfig, schema: str, properties: _Properties) -> dict[str, SeedNode]:
    seeds: dict[str, SeedNode] = {}
    for seed_path in config.seed_paths:
        for path in _files(root, [seed_path], "*.csv"):
            folders = list(path.relative_to(root / seed_path).parent.parts)
            entry, yaml_path = properties.seeds.get(path.stem, (None, None))
            seed_config = merge_config(folder_config(config.seeds, [*folders, path.stem], config.name),
                                       _yaml_config(entry, yaml_path, "seed"))
            if seed_config.get("enabled") is False:
                continue
            validate_config(seed_config, f"seed {path.stem!r}", path, kind="seed")
            _check_duplicate(seeds, path.stem, path, root)
            seeds[path.stem] = SeedNode(name=path.stem, path=path, relpath=_relpath(root, path),
                                        relation=Relation(schema, path.stem), config=seed_config,
                                        description=str((entry or {}).get("description") or ""),
                                        columns=_columns(entry, yaml_path) if entry else {},
                                        fqn=[config.name, *folders, path.stem], infer_types=config.seed_types)
    return seeds


def _discover_models(root: Path, config: ProjectConfig, schema: str, properties: _Properties,
                     versioned_files: Mapping[str, str]) -> dict[str, ModelNode]:
    """Models by name: a file's stem, or `<model>_v<version>` for a file that defines a version."""
    models: dict[str, ModelNode] = {}
    for model_path in config.model_paths:
        python = _files(root, [model_path], "*.py")
        if python:
            raise ConfigError("Python models are not supported", path=display_path(python[0]),
                              hint="write the model as a SQL SELECT, or move the file out of the model paths")
        for path in _files(root, [model_path], "*.sql"):
            folders = list(path.relative_to(root / model_path).parent.parts)
            name = versioned_files.get(path.stem, path.stem)
            entry, yaml_path = properties.models.get(name, (None, None))
            model_config = merge_config({"materialized": config.default_materialized},
                                        folder_config(config.models, [*folders, path.stem], config.name))
            merge_config(model_config, _yaml_config(entry, yaml_path, "model"))
            _check_duplicate(models, name, path, root)
            models[name] = ModelNode(name=name, path=path, relpath=_relpath(root, path),
                                     raw_sql=path.read_text(encoding="utf-8"),
                                     relation=Relation(schema, name), config=model_config,
                                     description=str((entry or {}).get("description") or ""),
                                     columns=_columns(entry, yaml_path) if entry else {},
                                     fqn=[config.name, *folders, name])
    return models


def _check_duplicate(nodes: Mapping[str, Any], name: str, path: Path, root: Path) -> None:
    if name in nodes:
        raise ConfigError(f"two files define {name!r}: {nodes[name].relpath} and {_relpath(root, path)}",
                          path=display_path(path), hint="rename one of them; names must be unique in a project")


def _check_names(models: Mapping[str, ModelNode], seeds: Mapping[str, SeedNode]) -> None:
    clashes = sorted(set(models) & set(seeds))
    if clashes:
        name = clashes[0]
        raise ConfigError(f"{name!r} is both a model ({models[name].relpath}) and a seed ({seeds[name].relpath})",
                          path=display_path(models[name].path), hint="ref() needs one name per relation: rename one")


def _check_properties_match(properties: _Properties, models: Mapping[str, ModelNode],
                            seeds: Mapping[str, SeedNode]) -> None:
    for kind, entries, existing in (("model", properties.models, models), ("seed", properties.seeds, seeds)):
        for name, (_, path) in entries.items():
            if name not in existing:
                raise ConfigError(f"properties for {kind} {name!r}, but no such {kind} exists", path=display_path(path),
                                  hint=_did_you_mean(name, existing))


def _did_you_mean(name: str, known: Any) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=3)
    return f"did you mean: {', '.join(close)}?" if close else None


def _sources(properties: _Properties, config: ProjectConfig, target: Target) -> dict[tuple[str, str], Source]:
    sources: dict[tuple[str, str], Source] = {}
    for entry, path in properties.sources:
        tables = entry.get("tables") or []
        if not isinstance(tables, list) or not all(isinstance(t, Mapping) and isinstance(t.get("name"), str)
                                                   for t in tables):
            raise ConfigError(f"source {entry['name']!r}: `tables:` must be a list of mappings with `name:`",
                              path=display_path(path))
        _check_keys(entry, SOURCE_KEYS, f"source {entry['name']!r}", path)
        default_schema = entry["name"] if config.sources_default_to_their_name else target.schema
        for table in tables:
            _check_keys(table, SOURCE_TABLE_KEYS, f"source table {entry['name']}.{table['name']}", path)
            database = table.get("database") or entry.get("database")
            relation = Relation(str(table.get("schema") or entry.get("schema") or default_schema),
                                str(table.get("identifier") or table["name"]),
                                None if database in (None, target.file_catalog) else str(database))
            external = external_sources.location(entry, table, relation.schema, relation.identifier,
                                                 database, path)
            if external:
                relation = ExternalRelation(relation.schema, relation.identifier, relation.database, external)
            sources[(entry["name"], table["name"])] = Source(
                entry["name"], table["name"], relation, path,
                description=str(table.get("description") or ""), columns=_columns(table, path), entry=dict(table),
                package_name=config.name, source_entry={k: v for k, v in entry.items() if k != "tables"})
    return sources


def _place_nodes(project: Project) -> None:
    """Each seed's and model's relation from its final config (see smart_sql.naming); two nodes in one
    relation is an error."""
    placed: dict[Relation, Node] = {}
    for node in [*project.seeds.values(), *project.models.values(), *project.snapshots.values()]:
        if getattr(node, "materialized", None) == "ephemeral":
            continue
        database, schema, identifier = relation_parts(_node_view(project, node), node.path, project.renderer)
        database = node.config.get("target_database") or database
        schema = node.config.get("target_schema") or schema
        node.relation = Relation(schema, identifier, None if database == project.target.file_catalog else database)
        other = placed.setdefault(node.relation, node)
        if other is not node:
            raise ConfigError(f"{other.resource_type} {other.name!r} ({other.relpath}) and {node.resource_type} "
                              f"{node.name!r} are both built as {node.relation.display}", path=display_path(node.path),
                              hint="give one of them another `alias` or `schema`")


def _unused_config_paths(project: Project) -> list[str]:
    """Paths of the `models:`/`seeds:` blocks that match no node (a misspelt folder configures nothing)."""
    config = project.config
    unused = []
    for kind, block, nodes in (("models", config.models, project.models), ("seeds", config.seeds, project.seeds)):
        fqns = [tuple(node.fqn) for node in nodes.values()]
        for path in config_paths(block):
            full = path if path[0] == config.name else (config.name, *path)
            if not any(fqn[:len(full)] == full for fqn in fqns):
                unused.append(f"{display_path(config.path)}: {kind}.{'.'.join(path)} matches no {kind[:-1]}; "
                              f"its configs apply to nothing (check the folder's name)")
    return unused


def _node_view(project: Project, node: ModelNode | SeedNode) -> NodeView:
    return NodeView(name=node.name, resource_type=node.resource_type, package_name=node.fqn[0], fqn=node.fqn,
                    original_file_path=node.relpath, path="/".join([*node.fqn[1:-1], node.path.name]),
                    config=ConfigView({"materialized": node.materialized, **node.config}))


def _link_sources(project: Project) -> None:
    """A source that names a seed's or model's relation waits for it."""
    creators = {node.relation: node.unique_id for group in (project.seeds, project.models, project.snapshots)
                for node in group.values()}
    for source in project.sources.values():
        source.node_id = creators.get(source.relation)
    by_id = {source.unique_id: source for source in project.sources.values()}
    for model in [*project.models.values(), *project.snapshots.values()]:
        for source_id in model.sources:
            creator = by_id[source_id].node_id
            if creator and creator not in model.depends_on and creator != model.unique_id:
                model.depends_on.append(creator)


class _Recorder:
    """The functions a model calls while its dependencies and config are being read."""

    def __init__(self, project: Project, model: ModelNode):
        self.project = project
        self.model = model
        self.config: dict[str, Any] = {}

    def functions(self) -> ModelFunctions:
        from .dbt.jinja.model_config import ModelConfig

        config = ModelConfig(self.set_config, lambda: {**getattr(self.model, "config", {}), **self.config},
                             f"{self.model.resource_type} {self.model.name!r}")
        return ModelFunctions(ref=self.ref, source=self.source, config=config, this=self.model.relation,
                              node=self.model)

    def ref(self, *args: str, **version: Any) -> Relation:
        node = resolve_ref(self.project, self.model, *args, version=versions.requested(version))
        if node.unique_id not in self.model.depends_on:
            self.model.depends_on.append(node.unique_id)
        return node.relation

    def source(self, source_name: str, table_name: str) -> Relation:
        source = resolve_source(self.project, self.model, source_name, table_name)
        if source.unique_id not in self.model.sources:
            self.model.sources.append(source.unique_id)
        return source.relation

    def set_config(self, *args: Any, **config: Any) -> str:
        if args:
            raise ConfigError(f"model {self.model.name!r}: config() takes keyword arguments only, "
                              f"e.g. config(materialized='view')", path=display_path(self.model.path))
        merge_config(self.config, config)
        return ""


def resolve_ref(project: Project, model: ModelNode, *args: str, version: Any = None) -> ModelNode | SeedNode:
    if len(args) == 2 and args[0] != project.name and version is None:
        return _package_ref(project, model, *args)
    within = args[0] if len(args) == 2 else None
    if within == project.name:
        args = args[1:]
    if len(args) != 1 or not isinstance(args[0], str):
        raise ConfigError(f"{model.resource_type} {model.name!r}: ref() takes one name, got {args!r}", path=display_path(model.path))
    where = f"{model.resource_type} {model.name!r}"
    name = project.versions.node_name(args[0], version, where, model.path)
    node = package_nodes.find(project, name, package_nodes.home(project, model.path)[0], where, model.path)
    if node is None or within not in (None, node.fqn[0]):
        raise ConfigError(f"{model.resource_type} {model.name!r} refers to {name!r}, which is neither a model, a seed nor a snapshot"
                          + (f" of {within!r}" if within else ""),
                          path=display_path(model.path),
                          hint=_did_you_mean(name, [*project.models, *project.seeds])
                          or "models live in models/*.sql, seeds in seeds/*.csv")
    return node


def _package_ref(project: Project, model: ModelNode, package: str, name: str) -> ModelNode | SeedNode:
    node = package_nodes.resolve(project, package, name)
    if node is None:
        raise ConfigError(f"{model.resource_type} {model.name!r} refers to ref({package!r}, {name!r}), but "
                          f"{package!r} has no model, seed or snapshot {name!r}", path=display_path(model.path),
                          hint=f"packages whose nodes are built: {', '.join(sorted(package_nodes.packages_of(project)))}")
    return node


def resolve_source(project: Project, model: ModelNode, source_name: str, table_name: str) -> Source:
    source = project.sources.get((source_name, table_name))
    if source is None:
        known = [f"{s}.{t}" for s, t in project.sources]
        raise ConfigError(f"{model.resource_type} {model.name!r} uses source({source_name!r}, {table_name!r}), which is not declared",
                          path=display_path(model.path),
                          hint=_did_you_mean(f"{source_name}.{table_name}", known)
                          or "declare it in a YAML file under models/: sources: [{name: ..., tables: [{name: ...}]}]")
    return source


def _parse_model(project: Project, model: ModelNode) -> None:
    recorder = _Recorder(project, model)
    project.renderer.render(model.path, model.name, recorder.functions())
    validate_keys(recorder.config, "model", f"model {model.name!r}: config()", model.path)
    merge_config(model.config, recorder.config)
    validate_config(model.config, f"model {model.name!r}", model.path)


def _read_contracts(project: Project, properties: _Properties) -> None:
    for key, model in project.models.items():
        model.contract = contracts.read(model, *properties.models.get(key, (None, None)))
        contracts.add_dependencies(project, model)


def _check_enabled_refs(project: Project) -> None:
    groups = {"model": project.models, "seed": project.seeds, "snapshot": project.snapshots}
    for model in [*project.models.values(), *project.snapshots.values()]:
        for node_id in model.depends_on:
            kind, name = node_id.split(".")[0], node_id.split(".")[-1]
            if name not in groups[kind]:
                raise ConfigError(f"{model.resource_type} {model.name!r} refers to {name!r}, which is disabled (enabled: false)",
                                  path=display_path(model.path))


def _tests(project: Project, properties: _Properties) -> dict[str, DataTest]:
    declared: list[tuple[Tested, Mapping[str, Any], Path]] = []
    for entries, nodes in ((properties.models, project.models), (properties.seeds, project.seeds),
                           (properties.snapshots, project.snapshots)):
        for name, (entry, path) in entries.items():
            node = nodes.get(name)
            if node is None:
                continue
            if node.materialized == "ephemeral" and _column_tests(entry, path):
                raise ConfigError(f"model {name!r} is ephemeral (it has no table), so it cannot have data tests",
                                  path=display_path(path), hint="test the models that use it, or make it a view")
            declared.append((Tested(node.unique_id, name, str(node.relation), (node.unique_id,)), entry, path))
    for source in project.sources.values():
        tested = Tested(source.unique_id, f"{source.source_name}.{source.name}", str(source.relation),
                        (source.node_id,) if source.node_id else (), source.source_name, source.name)
        declared.append((tested, source.entry, source.path))

    known = set(BUILTIN_KINDS) | {name[5:] for name in project.renderer.macro_names if name.startswith("test_")}
    for package, names in project.renderer.package_macro_names.items():
        tests = {name[5:] for name in names if name.startswith("test_")}
        known |= {f"{package}.{name}" for name in tests}
    tests: dict[str, DataTest] = {}
    for tested, entry, path in declared:
        defaults = _test_defaults(project, path)
        package, local = package_nodes.local_tests(project.renderer, path)
        for column, test_entry in _column_tests(entry, path):
            test = parse_test(test_entry, tested=tested, column=column, path=path, defaults=defaults,
                              known=known | local, resolve=lambda ref, table: _resolve_for_test(project, ref, table, path))
            if test.kind in local - known:
                test.kind = f"{package}.{test.kind}"
            test.config = project.renderer.render_value(test.config, path)
            test.declared_config = project.renderer.render_value(test.declared_config, path)
            singular_tests.add_definition_config(project, test, defaults)
            validate_keys(test.config, "test", f"test {test.name!r}", path)
            if test.config.get("enabled") is not False:
                test.package_name = package or project.name
                test.name = _unique_name(test.name, tests)
                tests[test.name] = test
    for test in singular_tests.discover(project, properties.data_tests):
        test.package_name = project.name
        if test.name in tests:
            raise ConfigError(f"two data tests are named {test.name!r}", path=display_path(test.path),
                              hint="rename the singular test's file")
        tests[test.name] = test
    return tests


def _test_defaults(project: Project, yaml_path: Path) -> dict[str, Any]:
    """The project's `data_tests:` config for the tests declared in a YAML file (by the file's folders)."""
    config = project.config
    if package_nodes.home(project, yaml_path)[0] != project.name:
        return folder_config({key: value for key, value in config.data_tests.items() if key != config.name}, [], "")
    for folder in config.property_paths or [*config.model_paths, *config.seed_paths]:
        base = project.root / folder
        if base in yaml_path.parents:
            return folder_config(config.data_tests, list(yaml_path.relative_to(base).parent.parts), config.name)
    return folder_config(config.data_tests, [], config.name)


def _column_tests(entry: Mapping[str, Any], path: Path) -> list[tuple[str | None, Any]]:
    """(column or None for entry-level tests, test entry) for every test in a YAML entry."""
    found: list[tuple[str | None, Any]] = [(None, test) for test in _test_entries(entry, path)]
    found += [(column["name"], test) for column in entry.get("columns") or [] for test in _test_entries(column, path)]
    return found


def _test_entries(entry: Mapping[str, Any], path: Path) -> list[Any]:
    entries = []
    for key in ("tests", "data_tests"):
        value = entry.get(key) or []
        if not isinstance(value, list):
            raise ConfigError(f"{entry['name']}: `{key}:` must be a list", path=display_path(path))
        entries.extend(value)
    return entries


def _resolve_for_test(project: Project, name: str, table: str | None, path: Path) -> tuple[str | None, str]:
    if table is not None:
        source = project.sources.get((name, table))
        if source is None:
            raise ConfigError(f"relationships test points at undeclared source({name!r}, {table!r})",
                              path=display_path(path))
        return source.node_id, str(source.relation)
    name = project.versions.node_name(name, None, "a test argument", path)
    node = package_nodes.find(project, name, package_nodes.home(project, path)[0], "a test argument", path)
    if node is None:
        raise ConfigError(f"a test argument points at ref({name!r}), which is neither a model, a seed nor a snapshot",
                          path=display_path(path), hint=_did_you_mean(name, [*project.models, *project.seeds]))
    return node.unique_id, str(node.relation)


def _unique_name(name: str, taken: Mapping[str, Any]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    return candidate
