"""dbt unit tests (`unit_tests:` in YAML, dbt 1.8+): a model's SQL run on given input rows instead of
its real inputs, its result compared with the expected rows.

Each `given` input (`ref('x')`, `source('s', 't')` or `this`) becomes a CTE: dict or csv rows are cast
to the types of the input's relation in the database (so it must exist, as in dbt), missing columns are
NULL; `format: sql` is used as written. The model is rendered with those CTEs in place of the relations,
`overrides` (`vars`, `macros`, `env_vars`) applied, and only the columns the expected rows name are
compared, as a multiset. In `build` a model's unit tests run before it (after its parents), so a
failing unit test skips the model.
"""

from __future__ import annotations

import copy
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from .config import folder_config, merge_config
from .datatests import literal, quote
from .errors import ConfigError, ModelError, display_path
from .rewrite import mentions_smart_llm

if TYPE_CHECKING:
    import duckdb

    from .project import ModelNode, Project

UNIT_TEST_KEYS = {"name", "description", "model", "given", "expect", "overrides", "config", "versions"}
GIVEN_KEYS = {"input", "rows", "format", "fixture"}
EXPECT_KEYS = {"rows", "format", "fixture"}
OVERRIDE_KEYS = {"macros", "vars", "env_vars"}
CONFIG_KEYS = {"tags", "meta", "enabled"}
FORMATS = ("dict", "csv", "sql")
_REF = re.compile(r"""^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$""")
_SOURCE = re.compile(r"""^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$""")
_CTE = "__unit_test_input_"


@dataclass
class Fixture:
    """One `given` input, or the `expect` block (input None)."""

    input: str | None
    format: str
    rows: Any
    """A list of mappings (dict), or the text of a CSV or a SELECT."""


@dataclass
class UnitTest:
    name: str
    model: str
    """The YAML's `model:` (a versioned model's name for each of its versions)."""
    path: Path
    relpath: str
    project_name: str
    given: list[Fixture]
    expect: Fixture
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    depends_on: list[str] = field(default_factory=list)
    """What the model reads (its unit tests run once those are built)."""
    attached_to: str = ""
    """unique_id of the model under test."""
    node: str = ""
    """The name of the model node under test (e.g. `dim_customers_v2` for a version)."""

    resource_type: ClassVar[str] = "unit_test"
    materialized: ClassVar[str] = "unit_test"
    relation: ClassVar[None] = None

    @property
    def unique_id(self) -> str:
        return f"unit_test.{self.project_name}.{self.model}.{self.name}"

    @property
    def tags(self) -> list[str]:
        tags = self.config.get("tags", [])
        return [tags] if isinstance(tags, str) else list(tags)


def discover(project: Project, entries: list[tuple[Mapping[str, Any], Path]]) -> dict[str, UnitTest]:
    """The enabled unit tests of the YAML `unit_tests:` entries, checked against the project's models."""
    tests: dict[str, UnitTest] = {}
    for entry, path in entries:
        _check_keys(entry, UNIT_TEST_KEYS, f"unit test {entry['name']!r}", path)
        for node, suffix in _versions_tested(project, entry, path):
            test = _read(project, entry, path, node, suffix)
            if test.config.get("enabled") is False:
                continue
            if test.unique_id in tests:
                raise ConfigError(f"unit test {test.name!r} of model {test.model!r} is declared twice",
                                  path=display_path(path))
            tests[test.unique_id] = test
    return tests


def _versions_tested(project: Project, entry: Mapping[str, Any], path: Path) -> list[tuple[str, str]]:
    """(model node, suffix of the test's name) per model version tested: every version of a versioned
    model (or those `versions: {include: [...], exclude: [...]}` picks), named `<test>_v<version>` as in dbt."""
    name = str(entry.get("model"))
    chosen = entry.get("versions")
    versions = project.versions.nodes.get(name)
    if versions is None:
        if chosen is not None:
            raise ConfigError(f"unit test {entry['name']!r}: `versions:` given, but model {name!r} is not versioned",
                              path=display_path(path), hint="remove `versions:`")
        return [(name, "")]
    if not isinstance(chosen or {}, Mapping) or set(chosen or {}) - {"include", "exclude"}:
        raise ConfigError(f"unit test {entry['name']!r}: `versions:` must be {{include: [...]}} or {{exclude: [...]}}",
                          path=display_path(path))
    include = [str(v) for v in (chosen or {}).get("include") or versions]
    exclude = {str(v) for v in (chosen or {}).get("exclude") or []}
    unknown = [v for v in [*include, *exclude] if v not in versions]
    if unknown:
        raise ConfigError(f"unit test {entry['name']!r}: model {name!r} has no version {', '.join(unknown)} "
                          f"(it has {', '.join(versions)})", path=display_path(path))
    return [(versions[v], f"_v{v}") for v in include if v not in exclude]


def _project_config(project: Project, model: Any, name: str) -> dict[str, Any]:
    """The project file's `unit_tests:` block for this test, by its fqn as dbt has it: the model's
    folders and name, then the test's name."""
    from .selectors import node_fqn

    return folder_config(project.config.unit_tests, [*node_fqn(project, model)[1:], name], project.name)


def _read(project: Project, entry: Mapping[str, Any], path: Path, node: str, suffix: str) -> UnitTest:
    where = f"unit test {entry['name'] + suffix!r}"
    model = project.models.get(node)
    if model is None:
        from .project import _did_you_mean

        raise ConfigError(f"{where}: `model: {entry.get('model')}` is not a SQL model of the project",
                          path=display_path(path), hint=_did_you_mean(str(entry.get("model")), project.models)
                          or "unit tests test models (not seeds or snapshots)")
    if model.materialized == "ephemeral":
        raise ConfigError(f"{where}: model {model.name!r} is ephemeral; dbt does not unit test ephemeral models",
                          path=display_path(path))
    given = [_fixture(project, item, path, f"{where}, given input") for item in _list(entry, "given", where, path)]
    expect = entry.get("expect")
    if not isinstance(expect, Mapping):
        raise ConfigError(f"{where}: `expect:` must be a mapping with `rows:`", path=display_path(path))
    overrides = dict(entry.get("overrides") or {})
    _check_keys(overrides, OVERRIDE_KEYS, f"{where}: overrides", path)
    declared = dict(entry.get("config") or {})
    _check_keys(declared, CONFIG_KEYS, f"{where}: config", path)
    config = _project_config(project, model, entry["name"] + suffix)
    merge_config(config, declared)
    test = UnitTest(name=entry["name"] + suffix, model=str(entry["model"]), node=model.name, path=path, relpath=path.relative_to(project.root).as_posix(),
                    project_name=project.name, given=given,
                    expect=_fixture(project, {**expect, "input": None}, path, f"{where}, expect"),
                    overrides={key: dict(value or {}) for key, value in overrides.items()}, config=config,
                    description=str(entry.get("description") or ""), depends_on=list(model.depends_on),
                    attached_to=model.unique_id)
    _check_inputs(project, model, test, where)
    return test


def _list(entry: Mapping[str, Any], key: str, where: str, path: Path) -> list[Mapping[str, Any]]:
    value = entry.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ConfigError(f"{where}: `{key}:` must be a list of mappings", path=display_path(path))
    return value


def _check_keys(entry: Mapping[str, Any], allowed: set[str], where: str, path: Path) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}", path=display_path(path),
                          hint=f"allowed: {', '.join(sorted(allowed))}")


def _fixture(project: Project, item: Mapping[str, Any], path: Path, where: str) -> Fixture:
    _check_keys(item, GIVEN_KEYS if item.get("input") is not None else EXPECT_KEYS | {"input"}, where, path)
    kind = item.get("format", "dict")
    if kind not in FORMATS:
        raise ConfigError(f"{where}: format {kind!r} is not one of {', '.join(FORMATS)}", path=display_path(path))
    rows = _fixture_file(project, str(item["fixture"]), kind, path, where) if "fixture" in item else item.get("rows")
    if kind == "dict":
        rows = rows or []
        if not isinstance(rows, list) or not all(isinstance(row, Mapping) for row in rows):
            raise ConfigError(f"{where}: `rows:` must be a list of mappings (format: dict)", path=display_path(path),
                              hint="e.g. rows: [{id: 1, name: a}], or say format: csv / format: sql")
    elif not isinstance(rows, str):
        raise ConfigError(f"{where}: `rows:` must be text with format: {kind}", path=display_path(path))
    input_ = item.get("input")
    if input_ is not None and input_ != "this" and not (_REF.match(str(input_)) or _SOURCE.match(str(input_))):
        raise ConfigError(f"{where}: `input: {input_}` must be ref('...'), source('...', '...') or this",
                          path=display_path(path))
    return Fixture(None if input_ is None else str(input_), kind, rows)


def _fixture_file(project: Project, name: str, kind: str, path: Path, where: str) -> str:
    suffix = {"csv": ".csv", "sql": ".sql"}.get(kind)
    found = [file for folder in project.config.test_paths or ["tests"]
             for file in sorted((project.root / folder / "fixtures").rglob(f"{name}{suffix}"))] if suffix else []
    if not found:
        raise ConfigError(f"{where}: fixture {name!r} (format {kind}) not found in tests/fixtures/",
                          path=display_path(path), hint="fixture files are tests/fixtures/<name>.csv or .sql")
    return found[0].read_text(encoding="utf-8")


def _input_id(project: Project, model: ModelNode, input_: str) -> str:
    from .project import resolve_ref, resolve_source

    if input_ == "this":
        return model.unique_id
    ref = _REF.match(input_)
    if ref:
        return resolve_ref(project, model, ref.group(1)).unique_id
    source = _SOURCE.match(input_)
    return resolve_source(project, model, source.group(1), source.group(2)).unique_id


def _check_inputs(project: Project, model: ModelNode, test: UnitTest, where: str) -> None:
    """As dbt: every relation the model reads needs a `given` input (rows: [] for none)."""
    given = {_input_id(project, model, fixture.input) for fixture in test.given}
    reads = [*model.depends_on, *model.sources]
    waited_for = {source.node_id for source in project.sources.values() if source.unique_id in given}
    missing = [uid for uid in reads if uid not in given | waited_for and not uid.startswith("unit_test.")]
    if missing:
        names = ", ".join(uid.split(".")[-1] for uid in missing)
        raise ConfigError(f"{where}: model {model.name!r} reads {names}, which `given:` does not provide",
                          path=display_path(test.path), hint="add a `given:` input for each (rows: [] for none)")
    for uid in given - {*reads, model.unique_id}:
        raise ConfigError(f"{where}: `given:` provides {uid.split('.')[-1]}, which model {model.name!r} does not read",
                          path=display_path(test.path))


def run(conn: duckdb.DuckDBPyConnection, project: Project, test: UnitTest) -> tuple[str, int, str | None, str]:
    """(status pass/fail, differing rows, the failure message or None, the SQL that ran)."""
    model = project.models[test.node]
    ctes = {f"{_CTE}{index}": _input_sql(conn, project, model, test, fixture)
            for index, fixture in enumerate(test.given)}
    model_sql = _render(project, model, test, {fixture.input: name for name, fixture in zip(ctes, test.given)})
    if mentions_smart_llm(model_sql):
        raise ModelError(f"unit test {test.name!r}: model {model.name!r} has SMART_LLM columns, which unit tests do "
                         f"not answer (that would be paid for on every run)", path=display_path(test.path),
                         hint="unit test the models before and after it, or remove the unit test")
    actual_columns = _columns(conn, model_sql, ctes)
    columns = _expected_columns(test, conn, actual_columns)
    expected = _rows_sql(test.expect, {name: actual_columns[name] for name in columns}, test, "expect")
    names = ", ".join(quote(name) for name in columns)
    definitions = ",\n".join(f"{name} as (\n{sql}\n)" for name, sql in ctes.items())
    sql = (f"with {definitions + ',' if definitions else ''}\n"
           f"actual as (select {names} from (\n{model_sql}\n) as model_result),\n"
           f"expected as (select {names} from (\n{expected}\n) as expected_rows)\n"
           f"select '+' as diff, * from (select * from actual except all select * from expected)\n"
           f"union all select '-' as diff, * from (select * from expected except all select * from actual)\n"
           f"order by all")
    cursor = conn.execute(sql)
    differing = cursor.fetchall()
    if not differing:
        return "pass", 0, None, sql
    from .failures import format_rows

    table = format_rows([""] + list(columns), differing)
    return ("fail", len(differing), f"actual differs from expected (+ rows only in the model's result, - rows only "
                                    f"in `expect:`):\n{table}", sql)


def _render(project: Project, model: ModelNode, test: UnitTest, inputs: Mapping[str, str]) -> str:
    from .execute import _trimmed
    from .render import ModelFunctions

    def ref(*args: str, **_: Any) -> str:
        name = args[-1]
        return inputs.get(f"ref('{name}')") or _missing(f"ref('{name}')")

    def source(source_name: str, table_name: str) -> str:
        return inputs.get(f"source('{source_name}', '{table_name}')") or _missing(
            f"source('{source_name}', '{table_name}')")

    def _missing(what: str) -> str:
        raise ModelError(f"unit test {test.name!r}: model {model.name!r} reads {what}, which `given:` does not provide",
                         path=display_path(test.path))

    inputs = {_normalised(key): value for key, value in inputs.items()}
    macros = dict(test.overrides.get("macros") or {})
    incremental = bool(macros.pop("is_incremental", False))
    renderer = copy.copy(project.renderer)
    renderer.vars = {**renderer.vars, **(test.overrides.get("vars") or {})}
    renderer.overrides = {name: (lambda value: lambda *a, **k: value)(value) for name, value in macros.items()}
    this = inputs.get("this", model.relation)
    functions = ModelFunctions(ref=ref, source=source, config=lambda *a, **k: "", this=this,
                               is_incremental=incremental)
    env = test.overrides.get("env_vars") or {}
    with _environment(env):
        return _trimmed(renderer.render(model.path, model.name, functions))


def _normalised(input_: str) -> str:
    ref, source = _REF.match(input_), _SOURCE.match(input_)
    if ref:
        return f"ref('{ref.group(1)}')"
    if source:
        return f"source('{source.group(1)}', '{source.group(2)}')"
    return input_


class _environment:
    """os.environ with a unit test's env_vars overrides, while the model renders."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = {key: str(value) for key, value in values.items()}
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        import os

        self.saved = {key: os.environ.get(key) for key in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc: Any) -> None:
        import os

        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _input_sql(conn: duckdb.DuckDBPyConnection, project: Project, model: ModelNode, test: UnitTest,
               fixture: Fixture) -> str:
    if fixture.format == "sql":
        return fixture.rows
    from .materialize import relation_type

    node_id = _input_id(project, model, fixture.input)
    node = model if node_id == model.unique_id else project.nodes().get(node_id) or next(
        source for source in project.sources.values() if source.unique_id == node_id)
    if getattr(node, "materialized", None) == "ephemeral":
        raise ModelError(f"unit test {test.name!r}: input {fixture.input} is an ephemeral model; give its rows with "
                         f"format: sql", path=display_path(test.path))
    if relation_type(conn, node.relation) is None:
        raise ModelError(f"unit test {test.name!r}: the columns of input {fixture.input} are read from "
                         f"{node.relation.display}, which does not exist yet", path=display_path(test.path),
                         hint="build it first (smart-sql build builds a model's parents before its unit tests), "
                              "or give the rows with format: sql")
    types = {name: kind for name, kind, *_ in conn.execute(f"describe {node.relation}").fetchall()}
    return _rows_sql(fixture, types, test, f"input {fixture.input}")


def _rows_sql(fixture: Fixture, types: Mapping[str, str], test: UnitTest, what: str) -> str:
    """dict or csv rows as a SELECT with the columns `types` (absent ones NULL), or format sql as written."""
    if fixture.format == "sql":
        return fixture.rows
    rows = _dict_rows(fixture)
    for row in rows:
        unknown = [key for key in row if key not in types]
        if unknown:
            raise ModelError(f"unit test {test.name!r}: {what} has column(s) {', '.join(map(str, unknown))}, which "
                             f"are not among {', '.join(types)}", path=display_path(test.path))
    if not rows:
        nulls = ", ".join(f"cast(null as {kind}) as {quote(name)}" for name, kind in types.items())
        return f"select {nulls} where false"
    return "\nunion all\n".join(
        "select " + ", ".join(f"cast({_value(row.get(name))} as {kind}) as {quote(name)}"
                              for name, kind in types.items()) for row in rows)


def _dict_rows(fixture: Fixture) -> list[Mapping[str, Any]]:
    if fixture.format == "dict":
        return list(fixture.rows)
    reader = csv.DictReader(io.StringIO(fixture.rows.strip()))
    return [{key.strip(): (None if value is None or value.strip() == "" else value.strip())
             for key, value in row.items()} for row in reader]


def _value(value: Any) -> str:
    return "null" if value is None else literal(value if isinstance(value, (bool, int, float)) else str(value))


def _columns(conn: duckdb.DuckDBPyConnection, sql: str, ctes: Mapping[str, str]) -> dict[str, str]:
    definitions = ",\n".join(f"{name} as (\n{body}\n)" for name, body in ctes.items())
    prefix = f"with {definitions}\n" if definitions else ""
    rows = conn.execute(f"describe {prefix}select * from (\n{sql}\n) as model_result").fetchall()
    return {name: kind for name, kind, *_ in rows}


def _expected_columns(test: UnitTest, conn: duckdb.DuckDBPyConnection, actual: Mapping[str, str]) -> list[str]:
    if test.expect.format == "sql":
        columns = list(_columns(conn, test.expect.rows, {}))
    else:
        columns = list(dict.fromkeys(key for row in _dict_rows(test.expect) for key in row))
    unknown = [name for name in columns if name not in actual]
    if unknown:
        raise ModelError(f"unit test {test.name!r}: `expect:` names column(s) {', '.join(unknown)}, which model "
                         f"{test.node!r} does not return (it returns {', '.join(actual)})",
                         path=display_path(test.path))
    return columns or list(actual)
