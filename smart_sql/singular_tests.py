"""Data tests as files: singular tests (a SELECT in the test paths, outside generic/), and the config()
calls of generic test definitions; and the SQL of a test's failing rows as it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from .config import check_keys, folder_config, merge_config
from .datatests import SINGULAR, DataTest, singular_test, where_subquery
from .errors import ConfigError, display_path
from .render import ModelFunctions

if TYPE_CHECKING:
    from .project import Project

GENERIC_FOLDER = "generic"


@dataclass
class _Reader:
    """What project._Recorder records into while a test file is read: its refs, sources and config()."""

    name: str
    path: Path
    relation: Any = None
    depends_on: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    resource_type: str = "test"


def discover(project: Project, described: Mapping[str, tuple[dict[str, Any], Path]]) -> Iterator[DataTest]:
    """The singular tests of the project's test paths, with their config: the project's `data_tests:`
    block, under a properties file's `data_tests:` entry, under the file's own config()."""
    config = project.config
    found: dict[str, Path] = {}
    for folder in config.test_paths:
        base = project.root / folder
        for path in sorted(base.rglob("*.sql")):
            parts = path.relative_to(base).parts
            if parts[0] == GENERIC_FOLDER or not path.is_file():
                continue
            if path.stem in found:
                raise ConfigError(f"two singular tests are named {path.stem!r}: {display_path(found[path.stem])} "
                                  f"and {display_path(path)}", path=display_path(path), hint="rename one of them")
            found[path.stem] = path
            test = _read(project, path, [*parts[:-1], path.stem], described.get(path.stem))
            if test.config.get("enabled") is not False:
                yield test
    for name, (_, yaml_path) in described.items():
        if name not in found:
            config.warnings.append(f"{display_path(yaml_path)}: properties for data test {name!r}, but no singular "
                                   f"test {name}.sql is in {', '.join(config.test_paths)}; they apply to nothing")


def add_definition_config(project: Project, test: DataTest, defaults: Mapping[str, Any]) -> None:
    """A generic test definition's own config() (e.g. severity='warn'): over the project's, under the YAML's."""
    from .project import _Recorder

    reader = _Reader(test.name, test.path)
    recorder = _Recorder(project, reader)
    failing_rows_sql(project, test, recorder.functions())
    if recorder.config:
        check_keys(recorder.config, "test", f"test {test.kind!r}: config()", test.path)
        test.config = merge_config(merge_config(dict(defaults), recorder.config), test.declared_config)


def failing_rows_sql(project: Project, test: DataTest, functions: ModelFunctions) -> str:
    """The SELECT of the rows that break the test, rendered with the given ref/source/config."""
    if test.kind == SINGULAR:
        return project.renderer.render(test.path, test.name, functions)
    call = "{{ " + project.renderer.test_macro(test.kind) + "(**smart_sql_test_kwargs) }}"
    kwargs = {name: _native(project, test, functions, value)
              for name, value in test.macro_kwargs(where_subquery(test)).items()}
    return project.renderer.render_text(call, test.path, test.name, functions, smart_sql_test_kwargs=kwargs,
                                        should_store_failures=lambda: test.stores_failures)


def _native(project: Project, test: DataTest, functions: ModelFunctions, value: Any) -> Any:
    """An argument written as Jinja (`values: "{{ var('statuses') }}"`) is what it renders to, a list
    where it renders to one, as dbt renders test arguments natively."""
    import ast

    if not (isinstance(value, str) and ("{{" in value or "{%" in value)):
        return value
    rendered = project.renderer.render_text(value, test.path, test.name, functions)
    try:
        return ast.literal_eval(rendered)
    except (ValueError, SyntaxError):
        return rendered


def _read(project: Project, path: Path, folders: list[str], described: tuple[dict[str, Any], Path] | None
          ) -> DataTest:
    from .project import _Recorder

    config = project.config
    reader = _Reader(path.stem, path)
    recorder = _Recorder(project, reader)
    project.renderer.render(path, path.stem, recorder.functions())
    test_config = folder_config(config.data_tests, folders, config.name)
    if described is not None:
        entry, yaml_path = described
        declared = entry.get("config") or {}
        if not isinstance(declared, Mapping):
            raise ConfigError(f"data test {path.stem!r}: `config:` must be a mapping", path=display_path(yaml_path))
        check_keys(declared, "test", f"data test {path.stem!r}", yaml_path)
        merge_config(test_config, declared)
    check_keys(recorder.config, "test", f"singular test {path.stem!r}: config()", path)
    merge_config(test_config, recorder.config)
    depends_on = list(reader.depends_on)
    for source_id in reader.sources:
        creator = next(s.node_id for s in project.sources.values() if s.unique_id == source_id)
        if creator and creator not in depends_on:
            depends_on.append(creator)
    return singular_test(path.stem, path, test_config, depends_on)
