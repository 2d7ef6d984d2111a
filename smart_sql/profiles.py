"""`profiles.yml`: where it is found, `env_var` rendering, and the chosen target."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import jinja2
import yaml

from . import connection
from .adapters.spark_profile import SparkSettings, spark_target
from .connection import MEMORY, Attachment, Extension
from .dbt.profiles import dbt_profiles_dirs
from .errors import ConfigError
from .llm.config import LLMConfig, parse_llm_config

PROFILES_FILE = "profiles.yml"
USER_PROFILES_DIR = Path("~/.smart_sql")
OUTPUT_KEYS = ("type", "path", "schema", "database", "threads", "extensions", "settings", "attach", "llm",
               "external_root")


@dataclass(frozen=True)
class Target:
    """One output of a profile: where the DuckDB database is and how LLM columns are answered."""

    profile_name: str
    name: str
    type: str
    database: str
    """The DuckDB file as an absolute path, or ':memory:'."""
    schema: str
    llm: LLMConfig
    profiles_path: Path
    catalog: str = "memory"
    """The catalog models are built in by default (dbt-duckdb's `database`)."""
    threads: int = 1
    """Stored for `target.threads`; nodes are built one at a time."""
    extensions: tuple[Extension, ...] = ()
    settings: tuple[tuple[str, Any], ...] = ()
    attachments: tuple[Attachment, ...] = ()
    external_root: str = "."
    """Where `external` models write their files by default (dbt-duckdb's), relative to the project."""
    spark: SparkSettings | None = None
    """How to reach Spark, for `type: spark` (smart_sql.adapters.spark_profile)."""

    @property
    def file_catalog(self) -> str:
        """The catalog of the database file itself; relations there need no database prefix."""
        return connection.catalog_of(self.database)


def find_profiles_file(project_dir: Path, profiles_dir: str | Path | None = None) -> Path:
    """`--profiles-dir` if given; else the project directory, `~/.smart_sql/`, then dbt's places:
    `$DBT_PROFILES_DIR` and `~/.dbt/`."""
    if profiles_dir is not None:
        candidates = [Path(profiles_dir) / PROFILES_FILE]
    else:
        folders = [project_dir, USER_PROFILES_DIR.expanduser(), *dbt_profiles_dirs()]
        candidates = [folder / PROFILES_FILE for folder in folders]
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise ConfigError(f"no {PROFILES_FILE} found (looked in: {looked})",
                      hint="create one next to the project file, or pass --profiles-dir "
                           "(see profiles.yml.example)")


def load_target(profile_name: str, project_dir: Path, *, profiles_dir: str | Path | None = None,
                target: str | None = None) -> Target:
    path = find_profiles_file(project_dir, profiles_dir)
    profiles = read_yaml(path)
    if not isinstance(profiles, Mapping) or profile_name not in profiles:
        known = ", ".join(sorted(profiles)) if isinstance(profiles, Mapping) else "none"
        raise ConfigError(f"profile {profile_name!r} not found (profiles here: {known})", path=path,
                          hint=f"add a `{profile_name}:` entry, or change `profile:` in the project file")
    profile = profiles[profile_name]
    if not isinstance(profile, Mapping) or not isinstance(profile.get("outputs"), Mapping):
        raise ConfigError(f"profile {profile_name!r} needs an `outputs:` mapping of targets", path=path)
    target_name = target or profile.get("target")
    if not target_name:
        raise ConfigError(f"profile {profile_name!r} names no default `target:`", path=path,
                          hint="add `target: dev` to the profile, or pass --target")
    outputs = profile["outputs"]
    if target_name not in outputs:
        raise ConfigError(f"target {target_name!r} not found in profile {profile_name!r} "
                          f"(targets: {', '.join(sorted(map(str, outputs)))})", path=path,
                          hint="pass --target with one of these, or add the output")
    output = render_env_vars(outputs[target_name], path)
    return _parse_output(output, profile_name, str(target_name), project_dir, path)


SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""yaml.safe_load's loader, in C where PyYAML has libyaml: ten times as fast on a project's schema files."""


def read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"invalid YAML: {problem}", path=path,
                          line=mark.line + 1 if mark is not None else None) from None


def render_env_vars(value: Any, path: Path) -> Any:
    """Render `{{ env_var('NAME', 'default') }}` in every string of a parsed YAML value."""
    if isinstance(value, str):
        return _render_string(value, path) if "{" in value else value
    if isinstance(value, Mapping):
        return {key: render_env_vars(item, path) for key, item in value.items()}
    if isinstance(value, list):
        return [render_env_vars(item, path) for item in value]
    return value


_MISSING = object()


def env_var(name: str, default: Any = _MISSING, *, path: Path | str | None = None) -> str:
    if name in os.environ:
        return os.environ[name]
    if default is not _MISSING:
        return default
    raise ConfigError(f"environment variable {name!r} is not set", path=path,
                      hint=f"export {name}=..., or give a default: env_var('{name}', 'value')")


def _render_string(text: str, path: Path) -> Any:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals["env_var"] = lambda name, default=_MISSING: env_var(name, default, path=path)
    try:
        rendered = env.from_string(text).render()
    except jinja2.TemplateError as error:
        raise ConfigError(f"cannot render {text!r}: {error}", path=path) from None
    return typed_scalar(rendered)


def typed_scalar(rendered: str) -> Any:
    """Numbers and booleans become typed values (e.g. max_concurrency); everything else stays text."""
    try:
        loaded = yaml.safe_load(rendered)
    except yaml.YAMLError:
        return rendered
    return loaded if isinstance(loaded, (int, float, bool)) else rendered


def _parse_output(output: Any, profile_name: str, target_name: str, project_dir: Path, path: Path) -> Target:
    where = f"target {target_name!r} of profile {profile_name!r}"
    if not isinstance(output, Mapping):
        raise ConfigError(f"{where} must be a mapping", path=path)
    kind = output.get("type")
    if kind == "spark":
        return spark_target(output, profile_name, target_name, project_dir, path)
    if kind != "duckdb":
        raise ConfigError(f"{where}: unsupported type {kind!r}", path=path, hint="use `type: duckdb` or `type: spark`")
    unknown = sorted(set(output) - set(OUTPUT_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}", path=path,
                          hint=f"allowed: {', '.join(OUTPUT_KEYS)}")
    database = _database_path(output.get("path"), project_dir, where, path)
    schema = output.get("schema", "main")
    if not isinstance(schema, str) or not schema:
        raise ConfigError(f"{where}: `schema` must be a name", path=path)
    threads = output.get("threads", 1)
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ConfigError(f"{where}: `threads` must be a whole number of at least 1, got {threads!r}", path=path)
    attachments = connection.parse_attach(output.get("attach"), where, path, project_dir)
    return Target(profile_name=profile_name, name=target_name, type=kind, database=database, schema=schema,
                  llm=parse_llm_config(output.get("llm"), source=str(path)), profiles_path=path,
                  catalog=_catalog(output.get("database"), database, attachments, where, path), threads=threads,
                  extensions=connection.parse_extensions(output.get("extensions"), where, path),
                  settings=connection.parse_settings(output.get("settings"), where, path), attachments=attachments,
                  external_root=str(output.get("external_root") or "."))


def _database_path(value: Any, project_dir: Path, where: str, path: Path) -> str:
    """The DuckDB file as an absolute path: relative ones are inside the project (their folder is created
    on connect); an absolute one must name an existing folder."""
    database = str(value or MEMORY)
    if database == MEMORY:
        return database
    if Path(database).is_absolute() and not Path(database).parent.is_dir():
        raise ConfigError(f"{where}: the folder of `path: {database}` does not exist", path=path,
                          hint="create it, or give a path relative to the project")
    return str((project_dir / database).resolve())


def _catalog(value: Any, database: str, attachments: tuple[Attachment, ...], where: str, path: Path) -> str:
    """dbt-duckdb's rule: `database` is the file's own catalog name or the alias of an attached database."""
    own = connection.catalog_of(database)
    if value is None:
        return own
    allowed = [own, *(a.alias for a in attachments if a.alias)]
    if value not in allowed:
        raise ConfigError(f"{where}: `database: {value}` names neither the database in `path` nor an attached one",
                          path=path, hint=f"use one of: {', '.join(allowed)} (the file's catalog is named after "
                                          f"the file), or leave `database` out")
    return str(value)
