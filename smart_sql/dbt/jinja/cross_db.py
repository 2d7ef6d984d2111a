"""dbt's cross-database macros (`dbt.datediff`, `dbt.type_string`, ...) as dbt-duckdb 1.11 renders
them: the duckdb__ implementation where dbt-duckdb has one, dbt-core's default__ otherwise. A project's
own `duckdb__NAME` or `default__NAME` macro replaces one (see context.Dispatcher)."""

from __future__ import annotations

from typing import Any, Callable

from ...errors import ModelError

TYPES = {"string": "TEXT", "int": "integer", "numeric": "numeric(28,6)", "timestamp": "timestamp",
         "float": "float", "boolean": "boolean", "bigint": "bigint"}


def datediff(first_date: Any, second_date: Any, datepart: str) -> str:
    if datepart == "week":
        return (f"({datediff(first_date, second_date, 'day')} // 7 + case\n"
                f"    when date_part('dow', ({first_date})::timestamp) <= date_part('dow', ({second_date})::timestamp) then\n"
                f"        case when {first_date} <= {second_date} then 0 else -1 end\n"
                f"    else\n"
                f"        case when {first_date} <= {second_date} then 1 else 0 end\nend)")
    return f"(date_diff('{datepart}', {first_date}::timestamp, {second_date}::timestamp ))"


def dateadd(datepart: str, interval: Any, from_date_or_timestamp: Any) -> str:
    unit = str(datepart).lower()
    if unit == "quarter":
        return f"({from_date_or_timestamp} + (cast({interval} as bigint) * 3) * interval 1 month)"
    if unit == "week":
        return f"({from_date_or_timestamp} + (cast({interval} as bigint) * 7) * interval 1 day)"
    return f"({from_date_or_timestamp} + cast({interval} as bigint) * interval 1 {unit})"


def date_trunc(datepart: str, date: Any) -> str:
    return f"date_trunc('{datepart}', {date})"


def last_day(date: Any, datepart: str) -> str:
    months = "3" if datepart == "quarter" else "1"
    unit = "month" if datepart == "quarter" else datepart
    return f"cast({dateadd('day', '-1', dateadd(unit, months, date_trunc(datepart, date)))} as date)"


def date(year: int, month: int, day: int) -> str:
    return f"make_date({year}, {month}, {day})"


def listagg(measure: Any, delimiter_text: str = "','", order_by_clause: str | None = None,
            limit_num: int | None = None) -> str:
    order = f" {order_by_clause}" if order_by_clause else ""
    if limit_num:
        return f"list_aggr((array_agg({measure}{order}))[1:{limit_num}], 'string_agg', {delimiter_text})"
    return f"string_agg({measure}, {delimiter_text}{order})"


def split_part(string_text: Any, delimiter_text: Any, part_number: Any) -> str:
    return f"string_split({string_text}, {delimiter_text})[ {part_number} ]"


def array_construct(inputs: list | None = None, data_type: str = "integer") -> str:
    return f"array[ {' , '.join(str(item) for item in inputs)} ]" if inputs else f"array[]::{data_type}[]"


def generate_series(upper_bound: Any) -> str:
    return f"select generate_series as generated_number from generate_series(1, {upper_bound})"


def get_powers_of_two(upper_bound: int) -> int:
    if upper_bound <= 0:
        raise ModelError("upper bound must be positive")
    return next(power for power in range(1, 100) if upper_bound <= 2 ** power)


def _type(name: str) -> Callable[[], str]:
    return lambda: TYPES[name]


def _template(text: str) -> Callable[..., str]:
    return lambda *args: text.format(*args)


MACROS: dict[str, Callable[..., Any]] = {
    "datediff": datediff, "dateadd": dateadd, "date_trunc": date_trunc, "last_day": last_day, "date": date,
    "listagg": listagg, "split_part": split_part, "array_construct": array_construct,
    "generate_series": generate_series, "get_powers_of_two": get_powers_of_two,
    **{f"type_{name}": _type(name) for name in TYPES},
    "current_timestamp": lambda: "now()",
    "current_timestamp_backcompat": lambda: "now()",
    "current_timestamp_in_utc_backcompat": lambda: "now()",
    "snapshot_get_time": lambda: "now()",
    "hash": lambda field: f"md5(cast({field} as TEXT))",
    "safe_cast": _template("cast({} as {})"),
    "cast": _template("cast({} as {})"),
    "concat": lambda fields: " || ".join(str(field) for field in fields),
    "cast_bool_to_text": _template("cast({} as TEXT)"),
    "replace": _template("replace({}, {}, {})"),
    "right": _template("right({}, {})"),
    "length": _template("length({})"),
    "position": _template("position({} in {})"),
    "escape_single_quotes": lambda expression: str(expression).replace("'", "''"),
    "string_literal": lambda value: f"'{value}'",
    "any_value": _template("arbitrary({})"),
    "bool_or": _template("bool_or({})"),
    "array_append": _template("array_append({}, {})"),
    "array_concat": _template("array_cat({}, {})"),
    "equals": _template("({} = {})"),
    "except": lambda: "except",
    "intersect": lambda: "intersect",
}
"""By dbt's macro name."""
DUCKDB_OWN = {"any_value", "date", "dateadd", "datediff", "last_day", "listagg", "split_part", "current_timestamp",
              "snapshot_get_time", "generate_series"}
"""The macros dbt-duckdb implements itself (duckdb__NAME); dbt-core's default__NAME gives the rest."""
