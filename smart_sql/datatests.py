"""Data tests as dbt has them: generic tests declared in YAML (the built-in not_null, unique, accepted_values,
relationships, and the project's own `{% test name(model, column_name, ...) %}` definitions) and singular
tests (a SELECT file in the test paths); their configs, their names as dbt makes them, and the SQL that
counts their failures.

A test's SQL selects the rows that break it; `fail_calc` (count(*)) over them, compared by `warn_if` and
`error_if` (!= 0), makes it pass, warn or fail.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

from .errors import ConfigError, display_path

BUILTIN_TESTS_FILE = Path(__file__).with_name("builtin_tests.sql")
BUILTIN_KINDS = ("not_null", "unique", "accepted_values", "relationships")
SEVERITIES = ("error", "warn")
CONFIG_ARGS = ("severity", "tags", "enabled", "where", "limit", "warn_if", "error_if", "fail_calc", "store_failures",
               "store_failures_as", "meta", "database", "schema", "alias")
"""Keys of a test entry that are configs, not arguments of the test (dbt's TestBuilder.CONFIG_ARGS)."""
STORE_FAILURES_AS = ("table", "view", "ephemeral")
AUDIT_SCHEMA = "dbt_test__audit"
"""The custom schema of stored failures: the target schema + `_dbt_test__audit`, as dbt's."""
SINGULAR = "singular"
_NAME_ARG = re.compile(r"[^0-9a-zA-Z_]+")
_REF = re.compile(r"""^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$""")
_SOURCE = re.compile(r"""^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$""")
_CONDITION = re.compile(r"^\s*(=|==|!=|<>|>=|<=|>|<)\s*-?\d+(\.\d+)?\s*$")


@dataclass(frozen=True)
class Tested:
    """What a generic test is declared on: a model, a seed or a source table."""

    unique_id: str
    name: str
    relation: str
    depends_on: tuple[str, ...]
    source_name: str | None = None
    """The source's name when a source table is tested (dbt names its tests source_<test>_<source>_<table>)."""
    table_name: str | None = None


@dataclass
class DataTest:
    name: str
    kind: str
    """The generic test's name (its macro is test_<kind>), or "singular"."""
    attached_to: str | None
    """unique_id of the model, seed or source table whose YAML declares a generic test; None for singular."""
    attached_name: str | None
    relation: str | None
    """The relation a generic test is on."""
    column: str | None
    arguments: dict[str, Any]
    config: dict[str, Any]
    path: Path
    depends_on: list[str] = field(default_factory=list)
    relations: dict[str, str] = field(default_factory=dict)
    """Arguments given as ref('x') / source('a', 'b'), by name: the relation they stand for."""
    alias: str = ""
    """The name of the compiled file and of the stored failures (dbt's, shortened below 64 characters)."""
    metadata_hash: str | None = None
    """The last part of dbt's unique_id of a generic test."""
    declared_config: dict[str, Any] = field(default_factory=dict)
    """The config given where the test is declared (YAML), which overrides its definition's config()."""
    package_name: str = ""

    resource_type: ClassVar[str] = "test"
    materialized: ClassVar[str] = "test"

    @property
    def unique_id(self) -> str:
        """dbt's: test.<project>.<name>, and for a generic test its hash."""
        return ".".join(filter(None, ["test", self.package_name, self.name, self.metadata_hash]))

    @property
    def tags(self) -> list[str]:
        return list(self.config.get("tags", []))

    @property
    def severity(self) -> str:
        return str(self.config.get("severity", "error")).lower()

    @property
    def stores_failures(self) -> bool:
        """As dbt 1.11: `store_failures_as` decides when given (table, view: stored; ephemeral: not)."""
        kind = self.config.get("store_failures_as")
        return kind in ("table", "view") if kind is not None else bool(self.config.get("store_failures"))

    def macro_kwargs(self, model: str) -> dict[str, Any]:
        """The generic test macro's arguments, with `model` the relation (or its where-filtered subquery)."""
        kwargs: dict[str, Any] = {} if self.column is None else {"column_name": self.column}
        kwargs.update({name: self.relations.get(name, value) for name, value in self.arguments.items()})
        kwargs["model"] = model
        return kwargs


def parse_test(entry: Any, *, tested: Tested, column: str | None, path: Path, known: set[str],
               resolve: Callable[[str, str | None], tuple[str | None, str]],
               defaults: Mapping[str, Any] | None = None) -> DataTest:
    """One entry of a `tests:`/`data_tests:` list: a column's (`column` given) or a model's.

    `known`: the generic tests defined (built-in and the project's); `resolve(name, source_table)` gives
    (unique_id or None, relation) for an argument `ref(...)` / `source(...)`; `defaults` is the project's
    `data_tests:` config for the test, which the entry's own overrides.
    """
    kind, arguments = _split_entry(entry, path, tested.name, column, known)
    where = f"{kind} test on {tested.name}" + (f".{column}" if column else "")
    declared = {key: arguments.pop(key) for key in CONFIG_ARGS if arguments.get(key) is not None}
    nested = arguments.pop("config", None) or {}
    if not isinstance(nested, Mapping):
        raise ConfigError(f"{where}: `config:` must be a mapping", path=display_path(path))
    declared.update(nested)
    config = {**(defaults or {}), **declared}
    given = arguments.pop("arguments", None) or {}
    if not isinstance(given, Mapping):
        raise ConfigError(f"{where}: `arguments:` must be a mapping", path=display_path(path))
    arguments.update(given)
    arguments.pop("description", None)
    custom_name = arguments.pop("name", None)
    column = arguments.pop("column_name", column)
    check_config(config, where, path)
    test = DataTest(name="", kind=kind, attached_to=tested.unique_id, attached_name=tested.name,
                    relation=tested.relation, column=column, arguments=arguments, config=config, path=path,
                    depends_on=list(tested.depends_on), declared_config=declared)
    _check_builtin_arguments(test, where)
    test.alias, test.name = (custom_name, custom_name) if custom_name else generic_test_names(test, tested)
    test.alias = str(config.get("alias") or test.alias)
    test.metadata_hash = _metadata_hash(test, tested)
    for name, value in arguments.items():
        _attach_relation(test, name, value, resolve)
    return test


def singular_test(name: str, path: Path, config: Mapping[str, Any], depends_on: list[str]) -> DataTest:
    check_config(config, f"singular test {name!r}", path)
    if config.get("where"):
        raise ConfigError(f"singular test {name!r}: `where` filters the model of a generic test; a singular test "
                          f"has none", path=display_path(path), hint="write the condition into the test's SELECT")
    return DataTest(name=name, kind=SINGULAR, attached_to=None, attached_name=None, relation=None, column=None,
                    arguments={}, config=dict(config), path=path, depends_on=depends_on, alias=name)


def check_config(config: Mapping[str, Any], where: str, path: Path) -> None:
    severity = str(config.get("severity", "error")).lower()
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}: severity must be error or warn, got {config['severity']!r}",
                          path=display_path(path))
    for key in ("warn_if", "error_if"):
        if key in config and not _CONDITION.match(str(config[key])):
            raise ConfigError(f"{where}: `{key}` must be a comparison with a number, e.g. '>10' or '!= 0', "
                              f"got {config[key]!r}", path=display_path(path))
    limit = config.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ConfigError(f"{where}: `limit` must be a whole number, got {limit!r}", path=display_path(path))
    kind = config.get("store_failures_as")
    if kind is not None and kind not in STORE_FAILURES_AS:
        raise ConfigError(f"{where}: store_failures_as must be one of {', '.join(STORE_FAILURES_AS)}, got {kind!r}",
                          path=display_path(path))


def outcome_sql(test: DataTest, failing_rows: str) -> str:
    """dbt's get_test_sql: the failures (fail_calc over the failing rows, up to `limit`), and whether they
    reach warn_if and error_if."""
    fail_calc = test.config.get("fail_calc", "count(*)")
    warn_if, error_if = test.config.get("warn_if", "!= 0"), test.config.get("error_if", "!= 0")
    return (f"select {fail_calc} as failures, {fail_calc} {warn_if} as should_warn, "
            f"{fail_calc} {error_if} as should_error\nfrom (\n{limited(test, failing_rows)}\n) dbt_internal_test")


def limited(test: DataTest, failing_rows: str) -> str:
    limit = test.config.get("limit")
    return failing_rows if limit is None else f"{failing_rows}\nlimit {limit}"


def status(test: DataTest, should_warn: bool, should_error: bool) -> str:
    if test.severity == "error" and should_error:
        return "fail"
    return "warn" if should_warn else "pass"


def judged(test: DataTest, outcome: tuple, warn_error: bool, path: str) -> tuple[str, int]:
    """The test's status and failures from the row `outcome_sql` gives (warn as fail under --warn-error)."""
    failures, should_warn, should_error = outcome
    if failures is None:
        raise ConfigError(f"test {test.name!r}: fail_calc {test.config.get('fail_calc', 'count(*)')!r} gave "
                          f"NULL, not a number of failures", path=path,
                          hint="make fail_calc return a number when no row fails, e.g. coalesce(sum(x), 0)")
    result = status(test, bool(should_warn), bool(should_error))
    if result == "warn" and warn_error:
        result = "fail"
    return result, 0 if result == "pass" else int(failures)


def where_subquery(test: DataTest) -> str:
    where = test.config.get("where")
    return f"(select * from {test.relation} where {where}) dbt_subquery" if where else str(test.relation)


def generic_test_names(test: DataTest, tested: Tested) -> tuple[str, str]:
    """(alias, name) as dbt's synthesize_generic_test_names makes them."""
    args = dict(test.arguments)
    if test.column is not None:
        args["column_name"] = test.column
    flat: list[str] = []
    for arg_name in sorted(args):
        value = args[arg_name]
        parts = list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, (list, tuple)) \
            else [value]
        flat.extend(str(part) for part in parts)
    unique = "__".join(_NAME_ARG.sub("_", part) for part in flat)
    if tested.source_name is not None:
        identifier = f"source_{test.kind.replace('.', '_')}_{tested.source_name}_{tested.table_name}"
    else:
        identifier = f"{test.kind.replace('.', '_')}_{tested.name}"
    full_name = f"{identifier}_{unique}"
    if len(full_name) >= 64:
        return f"{identifier[:30]}_{hashlib.md5(full_name.encode()).hexdigest()}", full_name
    return full_name, full_name


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _split_entry(entry: Any, path: Path, node_name: str, column: str | None,
                 known: set[str]) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, str):
        kind, arguments = entry, {}
    elif isinstance(entry, Mapping) and len(entry) == 1:
        kind, arguments = next(iter(entry.items()))
        if arguments is not None and not isinstance(arguments, Mapping):
            raise ConfigError(f"test {kind!r} on {node_name}: its arguments must be a mapping, got {arguments!r}",
                              path=display_path(path))
        arguments = dict(arguments or {})
    else:
        raise ConfigError(f"tests of {node_name}: each entry is a test name or a one-key mapping, "
                          f"got {entry!r}", path=display_path(path))
    qualified = sorted(name for name in known if name.endswith(f".{kind}"))
    if kind not in known and qualified:
        raise ConfigError(f"test {kind!r} on {node_name} is defined in a package; dbt finds a package's test by "
                          f"its package name only", path=display_path(path), hint=f"write it as {qualified[0]}")
    if kind not in known:
        raise ConfigError(f"unknown test {kind!r} on {node_name}" + (f".{column}" if column else ""),
                          path=display_path(path),
                          hint=f"define it with {{% test {kind}(model, column_name) %}} in macros/ or tests/generic/; "
                               f"tests defined: {', '.join(sorted(known))}")
    return kind, arguments


def _check_builtin_arguments(test: DataTest, where: str) -> None:
    if test.kind in BUILTIN_KINDS and test.column is None:
        raise ConfigError(f"{where} names no column", path=display_path(test.path),
                          hint="declare it under the column's `data_tests:`, or give `column_name:`")
    values = test.arguments.get("values")
    if test.kind == "accepted_values" and not _jinja(values) and (not isinstance(values, list) or not values):
        raise ConfigError(f"{where} needs a non-empty `values:` list", path=display_path(test.path))
    if test.kind == "relationships" and not (isinstance(test.arguments.get("to"), str)
                                             and isinstance(test.arguments.get("field"), str)):
        raise ConfigError(f"{where} needs `to: ref('model')` and `field: column`", path=display_path(test.path))
    if test.kind == "relationships" and not (_REF.match(test.arguments["to"]) or _SOURCE.match(test.arguments["to"])):
        raise ConfigError(f"{where}: `to` must be ref('name') or source('source', 'table'), "
                          f"got {test.arguments['to']!r}", path=display_path(test.path))


def _jinja(value: Any) -> bool:
    """An argument rendered when the test is compiled, as dbt renders it."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _attach_relation(test: DataTest, name: str, value: Any, resolve) -> None:
    """An argument `ref('x')` or `source('a', 'b')` is that relation, and the test waits for it."""
    if not isinstance(value, str):
        return
    ref, source = _REF.match(value), _SOURCE.match(value)
    if not (ref or source):
        return
    parent_id, relation = resolve(ref.group(1), None) if ref else resolve(source.group(1), source.group(2))
    test.relations[name] = relation
    if parent_id and parent_id not in test.depends_on:
        test.depends_on.append(parent_id)


def _metadata_hash(test: DataTest, tested: Tested) -> str:
    """The hash dbt ends a generic test's unique_id with (md5 of its name and test_metadata)."""
    model = (f"source('{tested.source_name}', '{tested.table_name}')" if tested.source_name is not None
             else f"ref('{tested.name}')")
    kwargs = test.macro_kwargs("{{ get_where_subquery(" + model + ") }}")
    kwargs.update(test.arguments)
    namespace, _, name = test.kind.rpartition(".")
    metadata = {"name": name, "kwargs": kwargs, "namespace": namespace or None}
    return hashlib.md5((test.name + repr(_hashable(metadata))).encode()).hexdigest()[-10:]


def _hashable(data: Any) -> Any:
    if type(data) is dict:
        return {key: _hashable(data[key]) for key in sorted(data)}
    if type(data) is list:
        return [_hashable(value) for value in data]
    return str(data)
