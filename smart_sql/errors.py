"""Errors written for people: each names the file (and line and column where known) and what to fix."""

from __future__ import annotations

from pathlib import Path


class SmartSqlError(Exception):
    """Base error. `exit_code` is what the CLI exits with: 2 for usage/configuration, 1 for run failures."""

    exit_code = 1

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 column: int | None = None, excerpt: str | None = None, hint: str | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        self.excerpt = excerpt
        """The line the error is about, with a caret under the column, shown under the message."""
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path:
            position = "".join(f"{n}:" for n in (self.line, self.column if self.line else None) if n)
            where = f"{self.path}:{position} "
        text = f"{where}{self.message}"
        if self.excerpt:
            text += f"\n{self.excerpt}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ConfigError(SmartSqlError):
    """Bad project/profile configuration or usage: exit code 2."""

    exit_code = 2


class ModelError(SmartSqlError):
    """A model failed to render, compile or run: exit code 1."""

    exit_code = 1


class LLMError(SmartSqlError):
    """A permanent provider failure (bad key, unknown model, bad request): exit code 1."""

    exit_code = 1


def display_path(path: str | Path | None) -> str | None:
    """A path as the user will recognise it: relative to the working directory when inside it."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
