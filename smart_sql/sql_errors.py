"""DuckDB's errors about a model's SQL, placed in the model file.

DuckDB ends an error about a position with the statement's line (`LINE 3: ...`) and carets under
it, counting lines of the statement it ran, which wraps the model's SQL. Here that position is
read back, moved into the model's SQL, mapped to the model file where that is certain, and shown
as the user's own line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

from .errors import ModelError, SmartSqlError
from .positions import CompiledSQL, Place

_CONTEXT = re.compile(r"^LINE (\d+): (.*)\n( *)\^+ *$", re.M)
_ELLIPSIS = "..."


def error_text(error: BaseException) -> str:
    """DuckDB's message without its LINE excerpt (which numbers the lines of the wrapped statement)."""
    message = str(error)
    return _CONTEXT.sub("", message).rstrip() if _CONTEXT.search(message) else message


def error_place(error: BaseException, sql: str, *, first_line: int = 1, within: str = "the SQL") -> Place | None:
    """Where DuckDB's `error` points in `sql`, which stands in the statement DuckDB ran from the start
    of its line `first_line`: in the model file when `sql` is a CompiledSQL, else a line of `sql`
    described as `within`. None when the error names no position in `sql`."""
    position = _position(str(error), sql, first_line)
    if position is None:
        return None
    line, column = position
    lines = sql.split("\n")
    offset = sum(len(text) + 1 for text in lines[:line - 1]) + (column or 1) - 1
    if isinstance(sql, CompiledSQL):
        place = sql.place(offset)
    else:
        place = Place(line, column, lines[line - 1], within=within)
    return place if column is not None else replace(place, column=None)


def placed_error(message: str, place: Place | None, *, path: str | None, hint: str | None = None,
                 kind: type[SmartSqlError] = ModelError) -> SmartSqlError:
    """An error with `message`, naming the file's line and column and showing the line."""
    if place is None:
        return kind(message, path=path, hint=hint)
    if place.within is None:
        return kind(message, path=path, line=place.line, column=place.column, excerpt=place.excerpt(), hint=hint)
    column = f", column {place.column}" if place.column else ""
    return kind(f"{message}\n  at line {place.line}{column} of {place.within}:", path=path,
                excerpt=place.excerpt(), hint=hint)


def sql_error(message: str, error: BaseException, sql: str, *, first_line: int = 1, path: str | None,
              hint: str | None = None, within: str = "the SQL") -> SmartSqlError:
    """`message: <DuckDB's error>`, placed where the error points in `sql` (see `error_place`)."""
    place = error_place(error, sql, first_line=first_line, within=within)
    return placed_error(f"{message}: {error_text(error)}", place, path=path, hint=hint)


def _position(message: str, sql: str, first_line: int) -> tuple[int, int | None] | None:
    """(line, column) in `sql`, 1-based; the column is None when the excerpt cannot be found in the line."""
    matches = list(_CONTEXT.finditer(message))
    if not matches:
        return None
    number, shown, indent = matches[-1].groups()
    line = int(number) - first_line + 1
    lines = sql.split("\n")
    if not 1 <= line <= len(lines):
        return None
    width = len(indent) - len(f"LINE {number}: ")
    start = _excerpt_start(lines[line - 1], shown)
    if start is None:
        return line, None
    if shown.startswith(_ELLIPSIS):
        width -= len(_ELLIPSIS)
    return line, start + _characters_within(lines[line - 1][start:], width) + 1


def _excerpt_start(text: str, shown: str) -> int | None:
    """Where the excerpt DuckDB shows (cut with '...' at either end when the line is long) starts in `text`."""
    cut_left = shown.startswith(_ELLIPSIS)
    body = shown[len(_ELLIPSIS):] if cut_left else shown
    for candidate in (body, body.removesuffix(_ELLIPSIS)):
        if not candidate:
            continue
        if not cut_left:
            if text.startswith(candidate):
                return 0
        elif (found := text.find(candidate)) >= 0:
            return found
    return None


def _characters_within(text: str, width: int) -> int:
    """How many characters of `text` a terminal shows in `width` columns (DuckDB aligns its carets so):
    control and combining characters take none, East Asian wide ones two. The caret stands under a
    character that shows, so characters that take no column before it are passed over."""
    used = 0
    for index, character in enumerate(text):
        if used >= width and _render_width(character):
            return index
        used += _render_width(character)
    return len(text)


def _render_width(character: str) -> int:
    if unicodedata.combining(character) or unicodedata.category(character) in ("Cc", "Cf", "Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1

