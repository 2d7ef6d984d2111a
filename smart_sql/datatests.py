"""Data tests declared in YAML (not_null, unique, accepted_values, relationships) and their SQL.

Each test's SQL selects the rows that break it; the test passes when there are none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

from .errors import ConfigError

KINDS = ("not_null", "unique", "accepted_values", "relationships")
SEVERITIES = ("error", "warn")
_NON_WORD = re.compile(r"\W+")
_REF = re.compile(r"""^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$""")
_SOURCE = re.compile(r"""^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$""")


@dataclass(frozen=True)
class Tested:
    """What a test is declared on: a model, a seed or a source table."""

    unique_id: str
    name: str
    relation: str
    depends_on: tuple[str, ...]


@dataclass
class DataTest:
    name: str
    kind: str
    attached_to: str
    """unique_id of the model, seed or source table whose YAML declares the test."""
    attached_name: str
    relation: str
    """The relation tested."""
    column: str
    arguments: dict[str, Any]
    severity: str
    path: Path
    depends_on: list[str] = field(default_factory=list)
    to_relation: str | None = None
    """The parent relation of a `relationships` test."""

    resource_type: ClassVar[str] = "test"
    materialized: ClassVar[str] = "test"

    @property
    def unique_id(self) -> str:
        return f"test.{self.name}"

    @property
    def tags(self) -> list[str]:
        return []


def parse_test(entry: Any, *, tested: Tested, column: str | None, path: Path,
               resolve: Callable[[str, str | None], tuple[str | None, str]],
               defaults: Mapping[str, Any] | None = None) -> DataTest:
    """One entry of a `tests:`/`data_tests:` list: a column's (`column` given) or a model's
    (the entry then names its column with `column_name:`).

    `resolve(name, source_table)` returns (unique_id or None, relation) for `to: ref(...)` / `source(...)`;
    `defaults` is the project's config for the test (its `severity`), which the entry's own overrides.
    """
    node_name = tested.name
    kind, arguments = _split_entry(entry, path, node_name, column)
    config = dict(arguments.pop("config", None) or {})
    arguments.update(arguments.pop("arguments", None) or {})
    column = arguments.pop("column_name", column)
    if not isinstance(column, str) or not column:
        raise ConfigError(f"{kind} test on {node_name} names no column", path=path,
                          hint="declare it under the column's `tests:`, or give `column_name:`")
    severity = str(config.get("severity", arguments.pop("severity", (defaults or {}).get("severity", "error")))).lower()
    if severity not in SEVERITIES:
        raise ConfigError(f"{kind} test on {node_name}.{column}: severity must be error or warn, got {severity!r}",
                          path=path)
    test = DataTest(name=_test_name(kind, node_name, column, arguments), kind=kind, attached_to=tested.unique_id,
                    attached_name=node_name, relation=tested.relation, column=column, arguments=arguments,
                    severity=severity, path=path, depends_on=list(tested.depends_on))
    if kind == "accepted_values":
        values = arguments.get("values")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"accepted_values test on {node_name}.{column} needs a non-empty `values:` list",
                              path=path)
    if kind == "relationships":
        _attach_parent(test, resolve, node_name)
    return test


def failing_rows_sql(test: DataTest) -> str:
    relation = test.relation
    column = quote(test.column)
    if test.kind == "not_null":
        return f"select * from {relation} where {column} is null"
    if test.kind == "unique":
        return (f"select {column}, count(*) as n_records from {relation} where {column} is not null "
                f"group by {column} having count(*) > 1")
    if test.kind == "accepted_values":
        values = ", ".join(literal(value) for value in test.arguments["values"])
        return f"select * from {relation} where {column} is not null and {column} not in ({values})"
    field_name = quote(test.arguments["field"])
    return (f"select child.{column} from {relation} as child left join {test.to_relation} as parent "
            f"on child.{column} = parent.{field_name} where child.{column} is not null and parent.{field_name} is null")


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _split_entry(entry: Any, path: Path, node_name: str, column: str) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, str):
        kind, arguments = entry, {}
    elif isinstance(entry, Mapping) and len(entry) == 1:
        kind, arguments = next(iter(entry.items()))
        arguments = dict(arguments or {})
    else:
        raise ConfigError(f"tests of {node_name}: each entry is a test name or a one-key mapping, "
                          f"got {entry!r}", path=path)
    if kind not in KINDS:
        raise ConfigError(f"unknown test {kind!r} on {node_name}" + (f".{column}" if column else ""), path=path,
                          hint=f"available tests: {', '.join(KINDS)}")
    return kind, arguments


def _attach_parent(test: DataTest, resolve, node_name: str) -> None:
    target, field_name = test.arguments.get("to"), test.arguments.get("field")
    if not isinstance(target, str) or not isinstance(field_name, str):
        raise ConfigError(f"relationships test on {node_name}.{test.column} needs `to: ref('model')` and "
                          f"`field: column`", path=test.path)
    ref, source = _REF.match(target), _SOURCE.match(target)
    if ref:
        parent_id, relation = resolve(ref.group(1), None)
    elif source:
        parent_id, relation = resolve(source.group(1), source.group(2))
    else:
        raise ConfigError(f"relationships test on {node_name}.{test.column}: `to` must be ref('name') or "
                          f"source('source', 'table'), got {target!r}", path=test.path)
    test.to_relation = relation
    if parent_id and parent_id not in test.depends_on:
        test.depends_on.append(parent_id)


def _test_name(kind: str, node_name: str, column: str, arguments: Mapping[str, Any]) -> str:
    name = f"{kind}_{_NON_WORD.sub('_', node_name)}_{column}"
    if kind == "relationships":
        target = _NON_WORD.sub("_", str(arguments.get("to", ""))).strip("_")
        name += "__" + re.sub(r"^(ref|source)_", "", target)
    return name
