"""dbt's `return(value)`: a macro that calls it gives `value` (any object) to its caller instead of
its rendered text. Every macro call in a template goes through the template context's `call`, which
is where the value is caught."""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2.runtime import Macro


class MacroReturn(Exception):
    def __init__(self, value: Any):
        super().__init__("return() outside a macro")
        self.value = value


def return_(value: Any = None) -> None:
    raise MacroReturn(value)


def call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """A macro (or function) called from Python, its return() honoured."""
    try:
        return function(*args, **kwargs)
    except MacroReturn as returned:
        return returned.value


class ReturningContext(jinja2.runtime.Context):
    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (jinja's signature)
        if not isinstance(__obj, Macro):
            return super().call(__obj, *args, **kwargs)
        try:
            return super().call(__obj, *args, **kwargs)
        except MacroReturn as returned:
            return returned.value
