"""`config` in a model: called, it sets configs (keywords, or one dict as dbt allows); `config.get`
and `config.require` read the node's configs."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ...errors import ModelError

_MISSING = object()


class ModelConfig:
    def __init__(self, set_config: Callable[..., str], current: Callable[[], Mapping[str, Any]], where: str):
        self._set = set_config
        self._current = current
        self._where = where

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        if len(args) == 1 and isinstance(args[0], Mapping) and not kwargs:
            return self._set(**args[0])
        return self._set(*args, **kwargs)

    def get(self, name: str, default: Any = None, validator: Any = None) -> Any:
        return self._current().get(name, default)

    def require(self, name: str, validator: Any = None) -> Any:
        value = self._current().get(name, _MISSING)
        if value is _MISSING:
            raise ModelError(f"{self._where}: config({name!r}) is required, but it is not set",
                             hint=f"set it with {{{{ config({name}=...) }}}}, in the YAML `config:` or the project file")
        return value

    def set(self, name: str, value: Any) -> str:
        return self._set(**{name: value})

    def __repr__(self) -> str:
        return repr(dict(self._current()))
