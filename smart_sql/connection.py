"""Opening a target's DuckDB database as dbt-duckdb does: load its `extensions`, `attach` its other
databases, apply its `settings`; and the checks of those keys when the profile is read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .errors import ConfigError

if TYPE_CHECKING:
    import duckdb

    from .profiles import Target

MEMORY = ":memory:"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ATTACH_KEYS = {"path", "alias", "type", "read_only", "options"}


@dataclass(frozen=True)
class Extension:
    name: str
    repository: str | None = None
    """dbt-duckdb's `{name: ..., repo: ...}`: installed from there on every connect."""


@dataclass(frozen=True)
class Attachment:
    path: str
    alias: str | None = None
    type: str | None = None
    read_only: bool = False
    options: tuple[tuple[str, Any], ...] = ()

    def sql(self) -> str:
        statement = f"attach if not exists {_string(self.path)}" + (f" as {self.alias}" if self.alias else "")
        options = ([f"type {self.type}"] if self.type else []) + (["read_only"] if self.read_only else [])
        for key, value in self.options:
            if isinstance(value, bool):
                options += [key] if value else []
            elif value is not None:
                options.append(f"{key} {_string(value) if isinstance(value, str) else value}")
        return statement + (f" ({', '.join(options)})" if options else "")


def catalog_of(path: str) -> str:
    """The name DuckDB gives the database in `path` (dbt-duckdb's `database`): 'memory', or the file's
    name up to its first dot."""
    if path == MEMORY:
        return "memory"
    return Path(path).name.lstrip(".").split(".")[0]


def parse_extensions(value: Any, where: str, path: Path) -> tuple[Extension, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}: `extensions` must be a list", path=path,
                          hint="e.g. extensions: [httpfs, {name: my_ext, repo: 'https://my.repo'}]")
    extensions = []
    for entry in value:
        if isinstance(entry, str) and _NAME.match(entry):
            extensions.append(Extension(entry))
        elif (isinstance(entry, Mapping) and set(entry) == {"name", "repo"} and isinstance(entry["name"], str)
              and _NAME.match(entry["name"]) and isinstance(entry["repo"], str)):
            extensions.append(Extension(entry["name"], entry["repo"]))
        else:
            raise ConfigError(f"{where}: extension {entry!r} is neither a name nor {{name: ..., repo: ...}}",
                              path=path, hint="as dbt-duckdb: extensions: [httpfs, {name: x, repo: 'https://...'}]")
    return tuple(extensions)


def parse_settings(value: Any, where: str, path: Path) -> tuple[tuple[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping) or not all(isinstance(key, str) and _NAME.match(key) for key in value):
        raise ConfigError(f"{where}: `settings` must map DuckDB setting names to values", path=path,
                          hint="e.g. settings: {threads: 4, timezone: UTC}")
    return tuple(value.items())


def parse_attach(value: Any, where: str, path: Path, project_dir: Path) -> tuple[Attachment, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}: `attach` must be a list of {{path: ..., alias: ...}}", path=path)
    attachments = []
    for entry in value:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("path"), str):
            raise ConfigError(f"{where}: every `attach` entry needs a `path:`", path=path)
        unknown = sorted(set(entry) - ATTACH_KEYS)
        if unknown:
            raise ConfigError(f"{where}: attach entry {entry['path']!r}: unsupported key(s) {', '.join(unknown)}",
                              path=path, hint=f"supported: {', '.join(sorted(ATTACH_KEYS))}")
        alias, kind, options = entry.get("alias"), entry.get("type"), entry.get("options") or {}
        for name, item in (("alias", alias), ("type", kind)):
            if item is not None and not (isinstance(item, str) and _NAME.match(item)):
                raise ConfigError(f"{where}: attach `{name}` must be a name, got {item!r}", path=path)
        if not isinstance(options, Mapping) or not all(isinstance(k, str) and _NAME.match(k) for k in options):
            raise ConfigError(f"{where}: attach `options` must map option names to values", path=path)
        attachments.append(Attachment(_local_path(entry["path"], project_dir), alias, kind,
                                      bool(entry.get("read_only", False)), tuple(options.items())))
    return tuple(attachments)


def _local_path(path: str, project_dir: Path) -> str:
    """A file path relative to the project; URLs (md:, s3://, ...) and absolute paths as written."""
    if path == MEMORY or ":" in path.split("/")[0] or Path(path).is_absolute():
        return path
    return str((project_dir / path).resolve())


def prepare(conn: duckdb.DuckDBPyConnection, target: Target) -> None:
    """Extensions, then attached databases, then settings: dbt-duckdb's order."""
    for extension in target.extensions:
        _load(conn, extension, target)
    for attachment in target.attachments:
        _run(conn, attachment.sql(), target, f"cannot attach {attachment.path}",
             "check the `attach` entry: the file's folder must exist, and a type needs its extension")
    for key, value in target.settings:
        _run(conn, f"set {key} = {_string(str(value))}", target, f"cannot apply setting {key}",
             "check `settings:` of the target against DuckDB's settings")


def _load(conn: duckdb.DuckDBPyConnection, extension: Extension, target: Target) -> None:
    """dbt-duckdb installs every listed extension on each connect; here one already installed (or built
    in) is only loaded, so a build works offline, and one missing is installed then loaded."""
    import duckdb

    if extension.repository is None:
        try:
            conn.execute(f"load {extension.name}")
            return
        except duckdb.Error:
            pass
    source = f" from {_string(extension.repository)}" if extension.repository else ""
    _run(conn, f"install {extension.name}{source}", target, f"cannot install the DuckDB extension "
         f"{extension.name!r}", "installing downloads it once (then it is cached in ~/.duckdb/extensions): "
         "connect to the network once, or remove it from `extensions:`")
    _run(conn, f"load {extension.name}", target, f"cannot load the DuckDB extension {extension.name!r}",
         "check the extension's name in `extensions:`")


def _run(conn: duckdb.DuckDBPyConnection, sql: str, target: Target, problem: str, hint: str) -> None:
    import duckdb

    try:
        conn.execute(sql)
    except duckdb.Error as error:
        raise ConfigError(f"target {target.name!r} of profile {target.profile_name!r}: {problem}: "
                          f"{str(error).splitlines()[0]}", path=target.profiles_path, hint=hint) from None


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
