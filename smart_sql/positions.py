"""Where a position of a model's compiled SQL stands in the model file the user wrote.

The compiled SQL is the model file rendered by Jinja, stripped of surrounding blank space, with
the ephemeral models it reads inserted as CTEs. A position maps back to a line and column of the
model file where the rendered line can be traced to exactly one line of the file: its literal
text, with `{{ ... }}` outputs and tags in between. Where Jinja leaves that uncertain (a block that
drops lines, a loop, a macro that expands to several lines), the place is a line of the compiled
SQL, and says so rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


@dataclass(frozen=True)
class Place:
    """A line (1-based) and column (1-based character, None when unknown) with the line's text."""

    line: int
    column: int | None
    text: str
    within: str | None = None
    """None for the model file itself; otherwise what the line is a line of, e.g. 'the compiled SQL at ...'."""

    def excerpt(self, width: int = 100) -> str:
        """The line, numbered, and a caret under the column (tabs kept, so that it lines up); a line
        longer than `width` is cut to the part around the column."""
        shown, column = self.text.rstrip(), self.column
        if len(shown) > width:
            start = max(0, min((column or 1) - 1 - width // 2, len(shown) - width))
            shown = ("..." if start else "") + shown[start:start + width] + ("..." if start + width < len(shown) else "")
            column = column - start + (3 if start else 0) if column else None
        number = str(self.line)
        text = f"  {number} | {shown}"
        if column is None:
            return text
        marker = "".join("\t" if c == "\t" else " " for c in shown[:column - 1])
        return f"{text}\n  {' ' * len(number)} | {marker}^"


class CompiledSQL(str):
    """A model's SQL as it runs, which can say where each of its positions came from (`place`).

    It is a str so that it goes wherever SQL goes; text made from it by any str operation is a
    plain str again, which is right: positions in that text no longer map back."""

    compiled_path: str | None

    def __new__(cls, sql: str, *, source: str | None = None, rendered: str | None = None, start: int = 0,
                inserted: tuple[int, int] = (0, 0), compiled_path: str | None = None) -> "CompiledSQL":
        """`rendered` is the model file `source` after Jinja; the compiled SQL is its part from `start`,
        with `inserted` = (position, length) of the text put in there (ephemeral CTEs). Without them,
        the SQL is what the user wrote and every position maps to itself."""
        self = super().__new__(cls, sql)
        self.compiled_path = compiled_path
        self._source = sql if source is None else source
        self._rendered = sql if rendered is None else rendered
        self._start = start
        self._inserted = inserted
        return self

    def written_to(self, compiled_path: str) -> "CompiledSQL":
        """The same SQL, known to be written to `compiled_path` (named where a line is uncertain)."""
        return CompiledSQL(str(self), source=self._source, rendered=self._rendered, start=self._start,
                           inserted=self._inserted, compiled_path=compiled_path)

    def place(self, offset: int) -> Place:
        """Where the character at `offset` of this SQL stands: in the model file if certain, else here."""
        rendered = self._rendered_offset(offset)
        if rendered is not None:
            line, column = line_and_column(self._rendered, rendered)
            found = self._lines.find(line, column)
            if found is not None:
                source_line, source_column = found
                return Place(source_line, source_column, self._source.split("\n")[source_line - 1])
        line, column = line_and_column(self, offset)
        return Place(line, column, self.split("\n")[line - 1], within=self._description())

    def _rendered_offset(self, offset: int) -> int | None:
        at, length = self._inserted
        if offset < at:
            return self._start + offset
        if offset < at + length:
            return None
        return self._start + offset - length

    def _description(self) -> str:
        where = f" at {self.compiled_path}" if self.compiled_path else ""
        return f"the compiled SQL{where} (after Jinja, the line in the model file is not certain)"

    @cached_property
    def _lines(self) -> "_LineMap":
        return _LineMap(self._source, self._rendered)


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of the character at `offset` of `text`."""
    offset = max(0, min(offset, len(text)))
    start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - start + 1


def offset_of(text: str, line: int, column: int) -> int:
    """The offset of the 1-based line and column in `text` (clamped to the text)."""
    start = 0
    for _ in range(line - 1):
        found = text.find("\n", start)
        if found < 0:
            return len(text)
        start = found + 1
    return min(start + max(column, 1) - 1, len(text))


@dataclass
class _Part:
    kind: str
    """'text' (literal, output as written), 'output' ({{ ... }}) or 'tag' ({% %} and {# #}: no output)."""
    text: str
    offset: int
    """Where the part starts in the source."""


class _LineMap:
    """Traces a line of Jinja output back to the one source line it came from, when there is one."""

    def __init__(self, source: str, rendered: str):
        self.source = source
        self.rendered_lines = rendered.split("\n")
        self.identical = source == rendered
        self.lines = [] if self.identical else _logical_lines(source)
        self.patterns = [_pattern(parts) for parts in self.lines]

    def find(self, line: int, column: int) -> tuple[int, int] | None:
        """Source (line, column) of the rendered line and column, or None when not certain."""
        if self.identical:
            return line, column
        text = self.rendered_lines[line - 1]
        matches = {index: match for index, (parts, pattern) in enumerate(zip(self.lines, self.patterns))
                   if (match := pattern.fullmatch(text)) and _has_literal(parts, match)}
        if len(matches) == 1 and self.rendered_lines.count(text) == 1:
            index = next(iter(matches))
        elif len(self.lines) == len(self.rendered_lines) and line - 1 in matches:
            index = line - 1
        else:
            return None
        return line_and_column(self.source, _source_offset(self.lines[index], matches[index], column - 1))


def _logical_lines(source: str) -> list[list[_Part]]:
    """The source cut where its literal text has a newline, i.e. into what renders as one line each
    (a tag or `{{ }}` spanning lines outputs none of its newlines), after Jinja's `-` whitespace control."""
    parts: list[_Part] = []
    position = 0
    for match in _JINJA.finditer(source):
        if match.start() > position:
            parts.append(_Part("text", source[position:match.start()], position))
        parts.append(_Part("output" if match.group().startswith("{{") else "tag", match.group(), match.start()))
        position = match.end()
    if position < len(source):
        parts.append(_Part("text", source[position:], position))
    _strip_whitespace_control(parts)

    lines: list[list[_Part]] = [[]]
    for part in parts:
        if part.kind != "text":
            lines[-1].append(part)
            continue
        offset = part.offset
        for number, chunk in enumerate(part.text.split("\n")):
            if number:
                lines.append([])
            if chunk:
                lines[-1].append(_Part("text", chunk, offset))
            offset += len(chunk) + 1
    return lines


def _strip_whitespace_control(parts: list[_Part]) -> None:
    for index, part in enumerate(parts):
        if part.kind == "text":
            continue
        before = parts[index - 1] if index else None
        after = parts[index + 1] if index + 1 < len(parts) else None
        if part.text[2:3] == "-" and before is not None and before.kind == "text":
            before.text = before.text.rstrip()
        if part.text[-3:-2] == "-" and after is not None and after.kind == "text":
            stripped = after.text.lstrip()
            after.offset += len(after.text) - len(stripped)
            after.text = stripped


def _pattern(parts: list[_Part]) -> re.Pattern:
    """What the line renders to: its literal text (optional after a tag, which may leave it out, as an
    `{% if %}` branch), anything for a `{{ }}` output, nothing for a tag."""
    groups = []
    for index, part in enumerate(parts):
        if part.kind == "output":
            groups.append("(.*?)")
        elif part.kind == "tag":
            groups.append("()")
        elif index and parts[index - 1].kind == "tag":
            groups.append(f"((?:{re.escape(part.text)})?)")
        else:
            groups.append(f"({re.escape(part.text)})")
    return re.compile("".join(groups))


def _has_literal(parts: list[_Part], match: re.Match) -> bool:
    """Whether the match rests on literal text that shows (not on blank space and outputs alone)."""
    return any(part.kind == "text" and match.group(number).strip() for number, part in enumerate(parts, start=1))


def _source_offset(parts: list[_Part], match: re.Match, column: int) -> int:
    """The source offset of the rendered `column` (0-based): inside literal text exactly, inside the
    output of `{{ ... }}` where that expression starts."""
    for number, part in enumerate(parts, start=1):
        start, end = match.span(number)
        if start <= column < end:
            return part.offset + (column - start if part.kind == "text" else 0)
    last = parts[-1]
    return last.offset + len(last.text)
