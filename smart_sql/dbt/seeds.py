"""A seed's column types as dbt-duckdb gives them: dbt infers a type per column with agate (the first of
number, date, datetime, ISO datetime, boolean, text that reads every value), creates the table with
those types and lets DuckDB read the file into it. Numbers without decimals become INTEGER (not DuckDB's
BIGINT), others DOUBLE; a column of empty values is INTEGER."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable

from ..errors import ConfigError, display_path

_NULLS = ("", "null")
_CURRENCY = "$£€¥₹₽¢"


def column_types(path: Path, delimiter: str = ",") -> dict[str, str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            rows = list(csv.reader(file, delimiter=delimiter))
    except UnicodeDecodeError as error:
        raise ConfigError(f"seed {path.stem!r} is not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
                          f"{error.start})", path=display_path(path),
                          hint="save the file as UTF-8: dbt reads seeds as UTF-8 (a byte-order mark is fine)") from None
    if not rows:
        return {}
    header, values = rows[0], rows[1:]
    return {name: _column_type([row[index] for row in values if index < len(row)])
            for index, name in enumerate(header)}


def _column_type(values: list[str]) -> str:
    present = [value.strip() for value in values if value.strip().lower() not in _NULLS]
    numbers = _all(present, _number)
    if numbers is not None:
        return "DOUBLE" if any(_decimal_places(number) for number in numbers) else "INTEGER"
    for parse, kind in ((_date, "DATE"), (_datetime, "TIMESTAMP"), (_iso_datetime, "TIMESTAMP"),
                        (_boolean, "BOOLEAN")):
        if _all(present, parse) is not None:
            return kind
    return "VARCHAR"


def _all(values: list[str], parse: Callable[[str], object]) -> list | None:
    parsed = []
    for value in values:
        try:
            parsed.append(parse(value))
        except ValueError:
            return None
    return parsed


def _number(text: str) -> Decimal:
    """agate's Number: percent signs, a leading minus, currency symbols and thousands commas allowed."""
    text = text.strip("%")
    sign = -1 if text.startswith("-") else 1
    text = text[1:] if sign < 0 else text
    text = text.strip(_CURRENCY).replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not number.is_finite():
        raise ValueError(text)
    return number * sign


def _decimal_places(number: Decimal) -> int:
    return max(0, -int(number.normalize().as_tuple().exponent))


def _date(text: str) -> object:
    return datetime.strptime(text, "%Y-%m-%d")


def _datetime(text: str) -> object:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def _iso_datetime(text: str) -> object:
    if "T" not in text:
        raise ValueError(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _boolean(text: str) -> bool:
    lowered = text.replace(",", "").lower()
    if lowered not in ("true", "false"):
        raise ValueError(text)
    return lowered == "true"
