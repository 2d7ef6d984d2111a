"""Loading a project: smart_sql_project.yml, the target, models, seeds, macros, sources and YAML properties."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping

from .datatests import DataTest, Tested, parse_test
from .errors import ConfigError
from .graph import Graph
from .profiles import Target, load_target, read_yaml
from .render import ModelFunctions, Renderer, TargetInfo

PROJECT_FILE = "smart_sql_project.yml"
MATERIALIZATIONS = ("table", "view", "incremental", "ephemeral")
TMP_SUFFIX = "__smart_tmp"
NODE_KEYS = {"name", "description", "config", "columns", "tests", "data_tests", "meta", "docs"}
SOURCE_KEYS = {"name", "description", "schema", "database", "tables", "meta"}
SOURCE_TABLE_KEYS = {"name", "description", "identifier", "schema", "database", "columns", "tests", "data_tests", "meta"}
COLUMN_KEYS = {"name", "description", "tests", "data_tests", "meta", "data_type", "tags", "quote"}
DEFAULT_LLM_CACHE = "llm_cache.sqlite"
"""The response cache's file in the target folder, unless the llm block sets `cache_path`. `clean`
keeps every file whose name starts with its stem and a dot (its WAL, journals, the old-format cache)."""


@dataclass(frozen=True)
class Relation:
    schema: str
    identifier: str
    database: str | None = None

    def __str__(self) -> str:
        parts = [self.database, self.schema, self.identifier] if self.database else [self.schema, self.identifier]
        return ".".join('"' + part.replace('"', '""') + '"' for part in parts)

    @property
    def name(self) -> str:
        return self.identifier

    @property
    def display(self) -> str:
        return f"{self.schema}.{self.identifier}"

    def temporary(self) -> Relation:
        return Relation(self.schema, self.identifier + TMP_SUFFIX, self.database)


@dataclass
class ProjectConfig:
    name: str
    profile: str
    model_paths: list[str] = field(default_factory=lambda: ["models"])
    macro_paths: list[str] = field(default_factory=lambda: ["macros"])
    seed_paths: list[str] = field(default_factory=lambda: ["seeds"])
    target_path: str = "target"
    vars: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    """Folder-level model config defaults, as dbt's `models:` block."""
    seeds: dict[str, Any] = field(default_factory=dict)


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

    resource_type: ClassVar[str] = "model"

    @property
    def unique_id(self) -> str:
        return f"model.{self.name}"

    @property
    def materialized(self) -> str:
        return self.config.get("materialized", "table")

    @property
    def tags(self) -> list[str]:
        return self.config.get("tags", [])


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

    resource_type: ClassVar[str] = "seed"
    materialized: ClassVar[str] = "seed"

    @property
    def unique_id(self) -> str:
        return f"seed.{self.name}"

    @property
    def tags(self) -> list[str]:
        return self.config.get("tags", [])


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

    @property
    def unique_id(self) -> str:
        return f"source.{self.source_name}.{self.name}"


Node = ModelNode | SeedNode | DataTest


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

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def target_path(self) -> Path:
        return self.root / self.config.target_path

    @property
    def database(self) -> str:
        return self.target.database

    @property
    def llm_cache_path(self) -> Path:
        configured = self.target.llm.cache_path
        return self.root / configured if configured else self.target_path / DEFAULT_LLM_CACHE

    def nodes(self) -> dict[str, Node]:
        nodes: dict[str, Node] = {}
        for group in (self.seeds, self.models, self.tests):
            nodes.update({node.unique_id: node for node in group.values()})
        return nodes

    def display(self, path: Path) -> str:
        return display_path(path)


def display_path(path: Path) -> str:
    """A path as the user will recognise it: relative to the working directory when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_project(project_dir: str | Path = ".", profiles_dir: str | Path | None = None, target: str | None = None,
                 vars: Mapping[str, Any] | None = None) -> Project:
    root = Path(project_dir).resolve()
    config = read_project_config(root)
    chosen = load_target(config.profile, root, profiles_dir=profiles_dir, target=target)
    all_vars = {**config.vars, **(vars or {})}
    properties = _read_properties(root, config)
    seeds = _discover_seeds(root, config, chosen.schema, properties)
    models = _discover_models(root, config, chosen.schema, properties)
    _check_names(models, seeds)
    _check_properties_match(properties, models, seeds)
    sources = _sources(properties, chosen.schema, models, seeds)
    renderer = Renderer(_files(root, config.macro_paths, "*.sql"), vars=all_vars,
                        target=TargetInfo(chosen.name, chosen.profile_name, chosen.schema), display=display_path)
    project = Project(root=root, config=config, target=chosen, vars=all_vars, models=models, seeds=seeds,
                      sources=sources, tests={}, renderer=renderer)
    for model in list(models.values()):
        if model.config.get("enabled") is not False:
            _parse_model(project, model)
    for name in [name for name, model in models.items() if model.config.get("enabled") is False]:
        del models[name]
    _check_enabled_refs(project)
    project.tests = _tests(project, properties)
    Graph(project)
    return project


def read_project_config(root: Path) -> ProjectConfig:
    path = root / PROJECT_FILE
    if not path.is_file():
        raise ConfigError(f"no {PROJECT_FILE} in {display_path(root)}",
                          hint="run smart-sql from the project directory, pass --project-dir, "
                               "or create a project with `smart-sql init NAME`")
    raw = read_yaml(path)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{PROJECT_FILE} must be a mapping", path=display_path(path))
    for key in ("name", "profile"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"`{key}:` is required", path=display_path(path),
                              hint="e.g. name: my_project, profile: my_project")
    known = {"name", "profile", "version", "config-version", "model-paths", "macro-paths", "seed-paths",
             "target-path", "vars", "models", "seeds"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}", path=display_path(path),
                          hint=f"allowed: {', '.join(sorted(known))}")

    def paths(key: str, default: str) -> list[str]:
        value = raw.get(key, [default])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"`{key}` must be a list of folders", path=display_path(path))
        return value

    for key in ("vars", "models", "seeds"):
        if not isinstance(raw.get(key) or {}, Mapping):
            raise ConfigError(f"`{key}:` must be a mapping", path=display_path(path))
    return ProjectConfig(name=raw["name"], profile=raw["profile"], model_paths=paths("model-paths", "models"),
                         macro_paths=paths("macro-paths", "macros"), seed_paths=paths("seed-paths", "seeds"),
                         target_path=str(raw.get("target-path", "target")), vars=dict(raw.get("vars") or {}),
                         models=dict(raw.get("models") or {}), seeds=dict(raw.get("seeds") or {}))


def folder_config(block: Mapping[str, Any], folders: list[str], project_name: str) -> dict[str, Any]:
    """Config defaults for a file in `folders` from a dbt-style `models:`/`seeds:` block.

    Keys with a leading `+`, or whose value is not a mapping, are configs; other keys are sub-folders.
    Deeper folders override shallower ones; tags accumulate.
    """
    level: Any = block[project_name] if isinstance(block.get(project_name), Mapping) else block
    config: dict[str, Any] = {}
    for folder in [None, *folders]:
        if folder is not None:
            level = level.get(folder)
        if not isinstance(level, Mapping):
            break
        for key, value in level.items():
            if key.startswith("+") or not isinstance(value, Mapping):
                merge_config(config, {key.lstrip("+"): value})
    return config


def merge_config(config: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in update.items():
        if key == "tags":
            tags = [value] if isinstance(value, str) else list(value or [])
            config["tags"] = list(dict.fromkeys([*config.get("tags", []), *tags]))
        else:
            config[key] = value
    return config


def validate_config(config: Mapping[str, Any], where: str, path: Path) -> None:
    materialized = config.get("materialized", "table")
    if materialized not in MATERIALIZATIONS:
        raise ConfigError(f"{where}: unknown materialization {materialized!r}", path=display_path(path),
                          hint=f"use one of: {', '.join(MATERIALIZATIONS)}")
    tags = config.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ConfigError(f"{where}: `tags` must be a name or a list of names", path=display_path(path))
    key = config.get("unique_key")
    if key is not None and not (isinstance(key, str) or (isinstance(key, list) and key
                                                         and all(isinstance(k, str) for k in key))):
        raise ConfigError(f"{where}: `unique_key` must be a column name or a list of column names",
                          path=display_path(path))


@dataclass
class _Properties:
    models: dict[str, tuple[dict[str, Any], Path]] = field(default_factory=dict)
    seeds: dict[str, tuple[dict[str, Any], Path]] = field(default_factory=dict)
    sources: list[tuple[dict[str, Any], Path]] = field(default_factory=list)


def _files(root: Path, folders: list[str], pattern: str) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        found.extend(sorted((root / folder).rglob(pattern)))
    return [path for path in found if path.is_file()]


def _relpath(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _read_properties(root: Path, config: ProjectConfig) -> _Properties:
    properties = _Properties()
    folders = config.model_paths + config.seed_paths
    for path in _files(root, folders, "*.yml") + _files(root, folders, "*.yaml"):
        raw = read_yaml(path) or {}
        if not isinstance(raw, Mapping):
            raise ConfigError("a properties file must be a mapping (models:, seeds:, sources:)",
                              path=display_path(path))
        for key, into in (("models", properties.models), ("seeds", properties.seeds)):
            for entry in _entries(raw, key, path):
                _check_keys(entry, NODE_KEYS, f"{key[:-1]} {entry['name']!r}", path)
                if entry["name"] in into:
                    raise ConfigError(f"{key[:-1]} {entry['name']!r} is described twice "
                                      f"(also in {display_path(into[entry['name']][1])})", path=display_path(path))
                into[entry["name"]] = (entry, path)
        properties.sources.extend((entry, path) for entry in _entries(raw, "sources", path))
    return properties


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


def _yaml_config(entry: Mapping[str, Any] | None, path: Path | None) -> dict[str, Any]:
    config = (entry or {}).get("config") or {}
    if not isinstance(config, Mapping):
        raise ConfigError(f"{entry['name']}: `config:` must be a mapping", path=display_path(path))
    return dict(config)


def _discover_seeds(root: Path, config: ProjectConfig, schema: str, properties: _Properties) -> dict[str, SeedNode]:
    seeds: dict[str, SeedNode] = {}
    for seed_path in config.seed_paths:
        for path in _files(root, [seed_path], "*.csv"):
            folders = list(path.relative_to(root / seed_path).parent.parts)
            entry, yaml_path = properties.seeds.get(path.stem, (None, None))
            seed_config = merge_config(folder_config(config.seeds, folders, config.name),
                                       _yaml_config(entry, yaml_path))
            if seed_config.get("enabled") is False:
                continue
            _check_duplicate(seeds, path.stem, path, root)
            seeds[path.stem] = SeedNode(name=path.stem, path=path, relpath=_relpath(root, path),
                                        relation=Relation(schema, path.stem), config=seed_config,
                                        description=str((entry or {}).get("description") or ""),
                                        columns=_columns(entry, yaml_path) if entry else {})
    return seeds


def _discover_models(root: Path, config: ProjectConfig, schema: str,
                     properties: _Properties) -> dict[str, ModelNode]:
    models: dict[str, ModelNode] = {}
    for model_path in config.model_paths:
        for path in _files(root, [model_path], "*.sql"):
            folders = list(path.relative_to(root / model_path).parent.parts)
            entry, yaml_path = properties.models.get(path.stem, (None, None))
            model_config = merge_config(folder_config(config.models, folders, config.name),
                                        _yaml_config(entry, yaml_path))
            _check_duplicate(models, path.stem, path, root)
            models[path.stem] = ModelNode(name=path.stem, path=path, relpath=_relpath(root, path),
                                          raw_sql=path.read_text(encoding="utf-8"),
                                          relation=Relation(schema, path.stem), config=model_config,
                                          description=str((entry or {}).get("description") or ""),
                                          columns=_columns(entry, yaml_path) if entry else {})
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
    for kind, described, existing in (("model", properties.models, models), ("seed", properties.seeds, seeds)):
        for name, (_, path) in described.items():
            if name not in existing:
                raise ConfigError(f"properties for {kind} {name!r}, but no such {kind} exists", path=display_path(path),
                                  hint=_did_you_mean(name, existing))


def _did_you_mean(name: str, known: Any) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=3)
    return f"did you mean: {', '.join(close)}?" if close else None


def _sources(properties: _Properties, schema: str, models: Mapping[str, ModelNode],
             seeds: Mapping[str, SeedNode]) -> dict[tuple[str, str], Source]:
    creators = {node.relation: node.unique_id for group in (seeds, models) for node in group.values()}
    sources: dict[tuple[str, str], Source] = {}
    for entry, path in properties.sources:
        tables = entry.get("tables") or []
        if not isinstance(tables, list) or not all(isinstance(t, Mapping) and isinstance(t.get("name"), str)
                                                   for t in tables):
            raise ConfigError(f"source {entry['name']!r}: `tables:` must be a list of mappings with `name:`",
                              path=display_path(path))
        _check_keys(entry, SOURCE_KEYS, f"source {entry['name']!r}", path)
        for table in tables:
            _check_keys(table, SOURCE_TABLE_KEYS, f"source table {entry['name']}.{table['name']}", path)
            relation = Relation(str(table.get("schema") or entry.get("schema") or schema),
                                str(table.get("identifier") or table["name"]),
                                table.get("database") or entry.get("database"))
            sources[(entry["name"], table["name"])] = Source(
                entry["name"], table["name"], relation, path, creators.get(relation),
                description=str(table.get("description") or ""), columns=_columns(table, path), entry=dict(table))
    return sources


class _Recorder:
    """The functions a model calls while its dependencies and config are being read."""

    def __init__(self, project: Project, model: ModelNode):
        self.project = project
        self.model = model
        self.config: dict[str, Any] = {}

    def functions(self) -> ModelFunctions:
        return ModelFunctions(ref=self.ref, source=self.source, config=self.set_config, this=self.model.relation)

    def ref(self, *args: str, **_: Any) -> Relation:
        node = resolve_ref(self.project, self.model, *args)
        if node.unique_id not in self.model.depends_on:
            self.model.depends_on.append(node.unique_id)
        return node.relation

    def source(self, source_name: str, table_name: str) -> Relation:
        source = resolve_source(self.project, self.model, source_name, table_name)
        if source.node_id and source.node_id not in self.model.depends_on:
            self.model.depends_on.append(source.node_id)
        if source.unique_id not in self.model.sources:
            self.model.sources.append(source.unique_id)
        return source.relation

    def set_config(self, *args: Any, **config: Any) -> str:
        if args:
            raise ConfigError(f"model {self.model.name!r}: config() takes keyword arguments only, "
                              f"e.g. config(materialized='view')", path=display_path(self.model.path))
        merge_config(self.config, config)
        return ""


def resolve_ref(project: Project, model: ModelNode, *args: str) -> ModelNode | SeedNode:
    if len(args) == 2 and args[0] == project.name:
        args = args[1:]
    if len(args) != 1 or not isinstance(args[0], str):
        raise ConfigError(f"model {model.name!r}: ref() takes one name, got {args!r}", path=display_path(model.path))
    name = args[0]
    node = project.models.get(name) or project.seeds.get(name)
    if node is None:
        raise ConfigError(f"model {model.name!r} refers to {name!r}, which is neither a model nor a seed",
                          path=display_path(model.path),
                          hint=_did_you_mean(name, [*project.models, *project.seeds])
                          or "models live in models/*.sql, seeds in seeds/*.csv")
    return node


def resolve_source(project: Project, model: ModelNode, source_name: str, table_name: str) -> Source:
    source = project.sources.get((source_name, table_name))
    if source is None:
        known = [f"{s}.{t}" for s, t in project.sources]
        raise ConfigError(f"model {model.name!r} uses source({source_name!r}, {table_name!r}), which is not declared",
                          path=display_path(model.path),
                          hint=_did_you_mean(f"{source_name}.{table_name}", known)
                          or "declare it in a YAML file under models/: sources: [{name: ..., tables: [{name: ...}]}]")
    return source


def _parse_model(project: Project, model: ModelNode) -> None:
    recorder = _Recorder(project, model)
    project.renderer.render(model.path, model.name, recorder.functions())
    merge_config(model.config, recorder.config)
    validate_config(model.config, f"model {model.name!r}", model.path)


def _check_enabled_refs(project: Project) -> None:
    for model in project.models.values():
        for node_id in model.depends_on:
            kind, name = node_id.split(".", 1)
            if name not in (project.models if kind == "model" else project.seeds):
                raise ConfigError(f"model {model.name!r} refers to {name!r}, which is disabled (enabled: false)",
                                  path=display_path(model.path))


def _tests(project: Project, properties: _Properties) -> dict[str, DataTest]:
    declared: list[tuple[Tested, Mapping[str, Any], Path]] = []
    for described, nodes in ((properties.models, project.models), (properties.seeds, project.seeds)):
        for name, (entry, path) in described.items():
            node = nodes.get(name)
            if node is None:
                continue
            if node.materialized == "ephemeral" and _column_tests(entry, path):
                raise ConfigError(f"model {name!r} is ephemeral (it has no table), so it cannot have data tests",
                                  path=display_path(path), hint="test the models that use it, or make it a view")
            declared.append((Tested(node.unique_id, name, str(node.relation), (node.unique_id,)), entry, path))
    for source in project.sources.values():
        tested = Tested(source.unique_id, f"{source.source_name}.{source.name}", str(source.relation),
                        (source.node_id,) if source.node_id else ())
        declared.append((tested, source.entry, source.path))

    tests: dict[str, DataTest] = {}
    for tested, entry, path in declared:
        for column, test_entry in _column_tests(entry, path):
            test = parse_test(test_entry, tested=tested, column=column, path=path,
                              resolve=lambda ref, table: _resolve_for_test(project, ref, table, path))
            test.name = _unique_name(test.name, tests)
            tests[test.name] = test
    return tests


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
    node = project.models.get(name) or project.seeds.get(name)
    if node is None:
        raise ConfigError(f"relationships test points at ref({name!r}), which is neither a model nor a seed",
                          path=display_path(path), hint=_did_you_mean(name, [*project.models, *project.seeds]))
    return node.unique_id, str(node.relation)


def _unique_name(name: str, taken: Mapping[str, Any]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    return candidate
