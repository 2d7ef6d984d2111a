"""Model contracts (`contract: {enforced: true}`), as dbt-duckdb enforces them.

Before a contracted model is built, the names and types of its query's columns must be those of its
YAML `columns:` (each with a `data_type`); a view is only checked. A table (and an incremental model's
first build) is created with the YAML's column types and constraints (`not_null`, `unique`,
`primary_key`, `check`, `foreign_key`, `custom`), which DuckDB then enforces on every row written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .datatests import quote
from .errors import ConfigError, ModelError, display_path

if TYPE_CHECKING:
    import duckdb

    from .project import ModelNode, Project, Relation

CONSTRAINT_TYPES = ("not_null", "unique", "primary_key", "check", "foreign_key", "custom")
CONSTRAINT_KEYS = {"type", "name", "expression", "columns", "to", "to_columns", "warn_unenforced",
                   "warn_unsupported"}
_REF = re.compile(r"""^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$""")
_SOURCE = re.compile(r"""^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$""")
_BACKUP_SUFFIX = "__smart_fk_backup"


@dataclass
class ContractColumn:
    name: str
    data_type: str
    constraints: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass
class Contract:
    columns: list[ContractColumn]
    constraints: list[Mapping[str, Any]]
    """Model-level constraints."""
    path: Path
    """The YAML file that declares the contract's columns."""

    def references(self) -> list[str]:
        """The `to:` of every foreign key, e.g. "ref('customers')"."""
        all_constraints = [*self.constraints, *(c for column in self.columns for c in column.constraints)]
        return [str(c["to"]) for c in all_constraints if c.get("type") == "foreign_key" and c.get("to")]


def enforced(config: Mapping[str, Any]) -> bool:
    contract = config.get("contract") or {}
    return isinstance(contract, Mapping) and contract.get("enforced") is True


def validate_config(config: Mapping[str, Any], where: str, path: Path) -> None:
    contract = config.get("contract")
    if contract is None:
        return
    if not isinstance(contract, Mapping) or set(contract) - {"enforced", "alias_types"} or \
            not isinstance(contract.get("enforced", False), bool):
        raise ConfigError(f"{where}: `contract` must be a mapping like {{enforced: true}}", path=display_path(path))
    if contract.get("alias_types") is False:
        raise ConfigError(f"{where}: contract `alias_types: false` is not supported (types are compared as DuckDB "
                          f"names them)", path=display_path(path), hint="remove `alias_types`")


def read(model: ModelNode, entry: Mapping[str, Any] | None, yaml_path: Path | None) -> Contract | None:
    """The model's contract when it is enforced, checked as dbt checks it when the project is parsed."""
    if not enforced(model.config):
        return None
    where = f"model {model.name!r} has an enforced contract"
    materialized = model.materialized
    if materialized in ("ephemeral", "external"):
        raise ConfigError(f"{where}, but contracts are enforced here on tables, incremental models and views, "
                          f"not {materialized} models", path=display_path(model.path),
                          hint="make it a table or a view, or remove `contract`")
    if materialized == "incremental" and model.config.get("on_schema_change") not in ("append_new_columns", "fail"):
        raise ConfigError(f"{where}: an incremental model with a contract must set on_schema_change to "
                          f"'append_new_columns' or 'fail' (dbt refuses {model.config.get('on_schema_change') or 'ignore'!r})",
                          path=display_path(model.path), hint="add on_schema_change='fail' to its config")
    columns = list((entry or {}).get("columns") or [])
    if not columns:
        raise ConfigError(f"{where}, but no YAML file lists its columns", path=display_path(yaml_path or model.path),
                          hint="describe it under `models:` with `columns:`, each with a `data_type`")
    missing = [column["name"] for column in columns if not column.get("data_type")]
    if missing:
        raise ConfigError(f"{where}: column(s) {', '.join(missing)} have no `data_type`", path=display_path(yaml_path),
                          hint="give every column of a contracted model a data_type (e.g. data_type: integer)")
    contract = Contract([ContractColumn(c["name"], str(c["data_type"]), _constraints(c, yaml_path, where, column=True))
                         for c in columns], _constraints(entry or {}, yaml_path, where, column=False), yaml_path)
    for target in contract.references():
        if not (_REF.match(target) or _SOURCE.match(target)):
            raise ConfigError(f"{where}: a foreign key's `to: {target}` is not ref('...') or source('...', '...')",
                              path=display_path(yaml_path), hint="write e.g. to: ref('customers')")
    return contract


def _constraints(entry: Mapping[str, Any], path: Path | None, where: str, *, column: bool) -> list[Mapping[str, Any]]:
    constraints = entry.get("constraints") or []
    owner = f"column {entry['name']}" if column else "the model"
    if not isinstance(constraints, list) or not all(isinstance(c, Mapping) for c in constraints):
        raise ConfigError(f"{where}: `constraints:` of {owner} must be a list of mappings", path=display_path(path))
    for constraint in constraints:
        kind = constraint.get("type")
        unknown = sorted(set(constraint) - CONSTRAINT_KEYS)
        if kind not in CONSTRAINT_TYPES or unknown:
            raise ConfigError(f"{where}: constraint {dict(constraint)} of {owner} is not understood",
                              path=display_path(path), hint=f"`type:` is one of {', '.join(CONSTRAINT_TYPES)}; "
                                                            f"keys: {', '.join(sorted(CONSTRAINT_KEYS))}")
        if kind in ("check", "custom") and not constraint.get("expression"):
            raise ConfigError(f"{where}: the {kind} constraint of {owner} needs an `expression`", path=display_path(path))
        if kind == "foreign_key" and not (constraint.get("expression") or (constraint.get("to") and
                                                                           constraint.get("to_columns"))):
            raise ConfigError(f"{where}: the foreign key of {owner} needs `to:` and `to_columns:` (or an `expression`)",
                              path=display_path(path), hint="e.g. to: ref('customers'), to_columns: [customer_id]")
        if not column and kind == "not_null":
            raise ConfigError(f"{where}: a not_null constraint belongs on its column (DuckDB has no table-level "
                              f"NOT NULL)", path=display_path(path), hint="move it under the column's `constraints:`")
        if not column and kind in ("unique", "primary_key", "foreign_key") and not constraint.get("columns"):
            raise ConfigError(f"{where}: the model-level {kind} constraint needs `columns:`", path=display_path(path))
    return list(constraints)


def check(conn: duckdb.DuckDBPyConnection, model: ModelNode, contract: Contract, sql: str) -> None:
    """dbt's assert_columns_equivalent: the same number of columns, each with the YAML's name and type."""
    query = conn.execute(f"describe select * from (\n{sql}\n) as contract_query where false limit 0").fetchall()
    declared = ", ".join(f"cast(null as {c.data_type}) as {quote(c.name)}" for c in contract.columns)
    try:
        yaml = conn.execute(f"describe select {declared}").fetchall()
    except Exception as error:
        raise ModelError(f"model {model.name!r}: a contract data_type is not a DuckDB type: {error}",
                         path=display_path(contract.path)) from None
    query_types = {name.lower(): kind for name, kind, *_ in query}
    yaml_types = {name.lower(): kind for name, kind, *_ in yaml}
    rows = []
    for name, kind, *_ in query:
        if name.lower() not in yaml_types:
            rows.append((name, kind, "", "missing in contract"))
        elif yaml_types[name.lower()] != kind:
            rows.append((name, kind, yaml_types[name.lower()], "data type mismatch"))
    rows += [(name, "", kind, "missing in definition") for name, kind, *_ in yaml if name.lower() not in query_types]
    if rows:
        raise ModelError(
            f"model {model.name!r} has an enforced contract that failed: the name, data_type and number of columns "
            f"in {display_path(contract.path)} must match the columns of {display_path(model.path)}.\n"
            + _table(("column_name", "definition_type", "contract_type", "mismatch_reason"), rows),
            path=display_path(model.path),
            hint="change the query, or the `columns:` (data_type) of the model's YAML entry")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [header, tuple("-" * width for width in widths), *rows]
    return "\n".join("| " + " | ".join(str(cell).ljust(width) for cell, width in zip(line, widths)) + " |"
                     for line in lines)


def create_table(conn: duckdb.DuckDBPyConnection, model: ModelNode, contract: Contract, sql: str,
                 relation_of: Callable[[str], Relation], rebuilt_later: Callable[[str], bool]) -> int:
    """The model's table created under its name with the contract's columns and constraints, then
    filled from `sql` (DuckDB checks every constraint). Tables whose foreign keys point at the old table
    are set aside and put back without their keys; they are rebuilt later in the run (as dbt-duckdb)."""
    from .materialize import relation_type

    relation = model.relation
    existing = relation_type(conn, relation)
    set_aside = _set_aside_dependents(conn, relation, rebuilt_later) if existing == "table" else []
    if existing:
        conn.execute(f"drop {existing} {relation}")
    conn.execute(f"create table {relation} (\n{ddl(contract, relation_of)}\n)")
    names = ", ".join(quote(column.name) for column in contract.columns)
    rows = conn.execute(f"insert into {relation} ({names}) select {names} from (\n{sql}\n) as contract_query").fetchone()[0]
    for dependent, backup in reversed(set_aside):
        conn.execute(f"alter table {backup} rename to {quote(dependent.identifier)}")
    return rows


def ddl(contract: Contract, relation_of: Callable[[str], Relation]) -> str:
    """The column definitions and constraints of CREATE TABLE, as dbt-duckdb renders them."""
    lines = [" ".join([quote(column.name), column.data_type,
                       *(_column_constraint(c, relation_of) for c in column.constraints)])
             for column in contract.columns]
    lines += [_model_constraint(c, relation_of) for c in contract.constraints]
    return ",\n".join(lines)


def _named(constraint: Mapping[str, Any], text: str) -> str:
    return f"constraint {quote(constraint['name'])} {text}" if constraint.get("name") else text


def _column_constraint(constraint: Mapping[str, Any], relation_of: Callable[[str], Relation]) -> str:
    kind = constraint["type"]
    text = {"not_null": "not null", "unique": "unique", "primary_key": "primary key"}.get(kind)
    if kind == "check":
        text = f"check ({constraint['expression']})"
    elif kind == "custom":
        text = str(constraint["expression"])
    elif kind == "foreign_key":
        text = f"references {_referenced(constraint, relation_of)}"
    return _named(constraint, text)


def _model_constraint(constraint: Mapping[str, Any], relation_of: Callable[[str], Relation]) -> str:
    kind = constraint["type"]
    columns = ", ".join(constraint.get("columns") or [])
    if kind == "custom":
        return str(constraint["expression"])
    if kind == "check":
        return _named(constraint, f"check ({constraint['expression']})")
    if kind == "foreign_key":
        return _named(constraint, f"foreign key ({columns}) references {_referenced(constraint, relation_of)}")
    return _named(constraint, f"{'primary key' if kind == 'primary_key' else 'unique'} ({columns})")


def _referenced(constraint: Mapping[str, Any], relation_of: Callable[[str], Relation]) -> str:
    if constraint.get("to"):
        # DuckDB's foreign keys stay within one schema and name the table alone.
        return f"{quote(relation_of(str(constraint['to'])).identifier)} ({', '.join(constraint['to_columns'])})"
    return str(constraint["expression"])


def referenced_node(project: Project, model: ModelNode, target: str) -> Any:
    """The model, seed or source a foreign key's `to:` names (ref('x') or source('s', 't'))."""
    from .project import resolve_ref, resolve_source

    found = _REF.match(target)
    if found:
        return resolve_ref(project, model, found.group(1))
    source = _SOURCE.match(target)
    return resolve_source(project, model, source.group(1), source.group(2))


def add_dependencies(project: Project, model: ModelNode) -> None:
    """A foreign key's table is built before the model (dbt adds `to:` to the model's depends_on)."""
    for target in model.contract.references() if model.contract else []:
        node = referenced_node(project, model, target)
        into = model.sources if node.unique_id.startswith("source.") else model.depends_on
        if node.unique_id not in into:
            into.append(node.unique_id)


def build_table(conn: duckdb.DuckDBPyConnection, project: Project, model: ModelNode, sql: str,
                selected: set[str]) -> int:
    """create_table for a model of `project`, in a run that builds the nodes `selected`."""
    by_table = {(node.relation.database, node.relation.schema, node.relation.identifier): node
                for node in project.models.values() if node.materialized != "ephemeral"}

    def rebuilt_later(name: str) -> bool:
        node = by_table.get((model.relation.database, model.relation.schema, name))
        return bool(node and node.unique_id in selected and node.materialized == "table"
                    and enforced(node.config))

    return create_table(conn, model, model.contract, sql,
                        lambda target: referenced_node(project, model, target).relation, rebuilt_later)


def _set_aside_dependents(conn: duckdb.DuckDBPyConnection, relation: Relation,
                          rebuilt_later: Callable[[str], bool]) -> list[tuple[Relation, Relation]]:
    """DuckDB will not drop a table that a foreign key references: each table that does (directly or
    through others) is copied aside and dropped, deepest first. Each must be a table this run rebuilds."""
    from .project import Relation

    rows = conn.execute(
        "with recursive fks as (select table_name, referenced_table from duckdb_constraints() "
        "where constraint_type = 'FOREIGN KEY' and database_name = coalesce(?, current_database()) "
        "and schema_name = ? and table_name <> referenced_table), "
        "dependents(table_name, depth) as (select table_name, 1 from fks where referenced_table = ? union "
        "select fks.table_name, dependents.depth + 1 from fks join dependents on fks.referenced_table = "
        "dependents.table_name) select table_name from dependents group by table_name order by max(depth) desc, 1",
        [relation.database, relation.schema, relation.identifier]).fetchall()
    problems = [name for (name,) in rows if not rebuilt_later(name)]
    if problems:
        raise ModelError(f"cannot replace {relation.display}: DuckDB does not allow replacing a table that a foreign "
                         f"key references, and {', '.join(problems)} (which reference it) would not be rebuilt "
                         f"in this run", hint="select those models too (e.g. --select name+), as tables")
    set_aside = []
    for (name,) in rows:
        dependent = Relation(relation.schema, name, relation.database)
        backup = Relation(relation.schema, name + _BACKUP_SUFFIX, relation.database)
        conn.execute(f"drop table if exists {backup}")
        conn.execute(f"create table {backup} as select * from {dependent}")
        conn.execute(f"drop table {dependent}")
        set_aside.append((dependent, backup))
    return set_aside
