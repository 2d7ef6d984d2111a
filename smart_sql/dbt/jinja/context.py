"""What dbt-core 1.11 puts in a template's context beyond ref/source/config/var: the `dbt` macros and
`adapter.dispatch` with dbt's search order, `run_query`, `statement` and `load_result` (which run only
when `execute` is true: while a node is built, not while the project is read), `return`, `log`,
`print`, `exceptions`, `modules`, `run_started_at`, `invocation_id`, `flags`, the JSON and YAML helpers,
`graph` and `model`."""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import re
import sys
import uuid
from typing import Any, Callable, Mapping

from ...errors import ModelError
from . import cross_db, returns
from .table import Table

PREFIXES = ("duckdb", "default")
"""dbt-duckdb's adapter macro prefixes, in dispatch's order."""
INTERNAL = "dbt"
RUN_STARTED_AT = datetime.datetime.now(datetime.timezone.utc)
INVOCATION_ID = str(uuid.uuid4())
_INTERNAL_MACROS = {f"{'duckdb' if name in cross_db.DUCKDB_OWN else 'default'}__{name}": function
                    for name, function in cross_db.MACROS.items()}


class Namespace:
    """`package.macro` in templates."""

    def __init__(self, package: str, macros: Mapping[str, Any], fallback: Callable[[str], Any] | None = None):
        self._package = package
        self._macros = macros
        self._fallback = fallback

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._macros:
            return self._macros[name]
        if self._fallback is not None:
            found = self._fallback(name)
            if found is not None:
                return found
        raise ModelError(f"{self._package}.{name}: package {self._package!r} has no macro {name!r}",
                         hint=f"its macros: {', '.join(sorted(self._macros)) or 'none'}")


class Dispatcher:
    """adapter.dispatch as dbt-core's: for each package of the search order, `duckdb__NAME` then
    `default__NAME`. The search order of a namespace is the project's `dispatch:` entry for it, else
    [root project, namespace] for an installed package and for dbt's own (so the project's default__NAME
    replaces dbt-duckdb's duckdb__NAME), else the template's own macros (then dbt's)."""

    def __init__(self, root: str, search_orders: Mapping[str, list[str]], flat: Mapping[str, Any],
                 by_package: Mapping[str, Mapping[str, Any]], internal: Mapping[str, Any]):
        self.root = root
        self.search_orders = search_orders
        self.flat = flat
        self.by_package = by_package
        self.internal = {**internal, **_INTERNAL_MACROS}

    def dispatch(self, macro_name: str, macro_namespace: str | None = None, packages: Any = None) -> Any:
        if "." in macro_name:
            namespace, name = macro_name.split(".", 1)
            raise ModelError(f'In adapter.dispatch, got a macro name of "{macro_name}", but "." is not a valid '
                             f'macro name component', hint=f'adapter.dispatch("{name}", macro_namespace="{namespace}")')
        if packages is not None:
            raise ModelError("adapter.dispatch's `packages` argument was removed in dbt 1.0",
                             hint="pass macro_namespace=... and set the search order in `dispatch:` of dbt_project.yml")
        attempts = []
        for package in self._search_order(macro_namespace):
            for prefix in PREFIXES:
                name = f"{prefix}__{macro_name}"
                found = self._lookup(package, name)
                attempts.append(name if package is None else f"{package}.{name}")
                if found is not None:
                    return found
        raise ModelError(f"In dispatch: No macro named {macro_name!r} found within namespace: {macro_namespace!r}; "
                         f"searched for: {', '.join(attempts)}",
                         hint=f"define {PREFIXES[1]}__{macro_name} in the project's macros, or install the package")

    def _search_order(self, namespace: str | None) -> list[str | None]:
        if namespace is None:
            return [None]
        if not isinstance(namespace, str):
            raise ModelError(f"In adapter.dispatch, macro_namespace must be None or a string, got {namespace!r}")
        if self.search_orders.get(namespace):
            return list(self.search_orders[namespace])
        if namespace == INTERNAL or (namespace in self.by_package and namespace != self.root):
            return [self.root, namespace]
        return [None]

    def _lookup(self, package: str | None, name: str) -> Any:
        if package is None:
            return self.flat.get(name) or self.internal.get(name)
        if package == INTERNAL:
            return self.internal.get(name)
        return self.by_package.get(package, {}).get(name)

    def dbt_macro(self, name: str) -> Any:
        """`dbt.NAME` (and dbt's NAME unqualified): dispatched in the `dbt` namespace."""
        if name in cross_db.MACROS or f"default__{name}" in self.internal:
            return lambda *args, **kwargs: returns.call(self.dispatch(name, INTERNAL), *args, **kwargs)
        return self.internal.get(name)


class Response:
    """A statement's `response` (dbt's AdapterResponse)."""

    def __init__(self, rows_affected: int):
        self.rows_affected = rows_affected
        self.code = self._message = "OK"

    def __str__(self) -> str:
        return self._message


class Statements:
    """run_query, statement and load_result of one render: they run on the build's connection, and only
    when there is one (`execute`)."""

    def __init__(self, connection: Any):
        self.connection = connection
        self.results: dict[str, dict[str, Any]] = {}

    def run_query(self, sql: Any) -> Table | None:
        return None if self.connection is None else self._run(str(sql))

    def statement(self, name: str | None = None, fetch_result: bool = False, auto_begin: bool = True,
                  language: str = "sql", caller: Callable[[], str] | None = None) -> str:
        if language != "sql":
            raise ModelError(f"statement({name!r}): language {language!r} is not supported, only sql")
        sql = caller() if caller is not None else ""
        if self.connection is None:
            return ""
        table = self._run(str(sql))
        if name is not None:
            self.results[name] = _AttrDict(response=Response(len(table.rows)),
                                           data=[list(row) for row in table.rows] if fetch_result else [],
                                           table=table if fetch_result else Table([], [], []))
        return ""

    def load_result(self, name: str) -> Any:
        return self.results.get(name)

    def _run(self, sql: str) -> Table:
        import duckdb

        try:
            return Table.from_cursor(self.connection.execute(sql))
        except duckdb.Error as error:
            raise ModelError(f"a query run from Jinja failed: {error}",
                             hint=f"the query: {' '.join(sql.split())[:300]}") from None


class _AttrDict(dict):
    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Modules:
    """`modules` as dbt's: datetime, re, itertools (and pytz where installed)."""

    datetime = datetime
    re = re
    itertools = itertools

    @property
    def pytz(self):
        try:
            import pytz
        except ImportError:
            raise ModelError("modules.pytz: the pytz package is not installed",
                             hint="pip install pytz, or use modules.datetime.timezone") from None
        return pytz


class Exceptions:
    """`exceptions`: raise_compiler_error stops the node with the message; warn prints it."""

    @staticmethod
    def raise_compiler_error(message: Any, node: Any = None) -> None:
        raise ModelError(f"Compilation Error: {message}")

    @staticmethod
    def raise_not_implemented(message: Any) -> None:
        raise ModelError(f"Not implemented: {message}")

    @staticmethod
    def warn(message: Any, node: Any = None) -> str:
        print(f"Warning: {message}", file=sys.stderr)
        return ""

    raise_fail_fast_error = raise_compiler_error


class Flags:
    """`flags`: what the invocation asked for (dbt's names)."""

    def __init__(self, **values: Any):
        self.FULL_REFRESH = False
        self.STORE_FAILURES = False
        self.WHICH = "build"
        self.EMPTY = False
        self.WARN_ERROR = False
        self.FAIL_FAST = False
        self.__dict__.update(values)


def log(message: Any, info: bool = False) -> str:
    """dbt writes every log() to its log file and shows info=True ones on the console; smart-sql has no
    log file, so it shows the info ones."""
    if info:
        print(f"{datetime.datetime.now():%H:%M:%S}  {message}", flush=True)
    return ""


def print_(message: Any) -> str:
    print(message, flush=True)
    return ""


def fromjson(string: str, default: Any = None) -> Any:
    try:
        return json.loads(string)
    except (TypeError, ValueError):
        return default


def tojson(value: Any, default: Any = None, sort_keys: bool = False) -> Any:
    try:
        return json.dumps(value, sort_keys=sort_keys)
    except (TypeError, ValueError):
        return default


def fromyaml(value: str, default: Any = None) -> Any:
    import yaml

    try:
        return yaml.safe_load(value)
    except (yaml.YAMLError, TypeError):
        return default


def toyaml(value: Any, default: Any = None, sort_keys: bool = False) -> Any:
    import yaml

    try:
        return yaml.safe_dump(data=value, sort_keys=sort_keys)
    except (yaml.YAMLError, TypeError):
        return default


def _zip(*args: Any, default: Any = None) -> Any:
    try:
        return zip(*args)
    except TypeError:
        return default


def _set(value: Any, default: Any = None) -> Any:
    try:
        return set(value)
    except TypeError:
        return default


def _strict(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    def strict(*args: Any) -> Any:
        try:
            return function(*args)
        except TypeError as error:
            raise ModelError(f"{name}: {error}") from None
    return strict


def static_globals() -> dict[str, Any]:
    """What does not depend on the node or the run."""
    return {
        "return": returns.return_, "log": log, "print": print_, "exceptions": Exceptions(), "modules": Modules(),
        "run_started_at": RUN_STARTED_AT, "invocation_id": INVOCATION_ID,
        "fromjson": fromjson, "tojson": tojson, "fromyaml": fromyaml, "toyaml": toyaml,
        "zip": _zip, "set": _set, "zip_strict": _strict(zip, "zip_strict"), "set_strict": _strict(set, "set_strict"),
        "local_md5": lambda value: hashlib.md5(str(value).encode("utf-8")).hexdigest(),
    }
