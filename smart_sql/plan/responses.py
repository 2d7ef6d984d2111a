"""Reading the response cache for the plan: read-only, without creating the file, and with the
endpoint the build's provider would key its answers by (no provider is opened, no key is needed)."""

from __future__ import annotations

import sqlite3
from typing import Callable

from ..llm.cache_store import NotACache, Store
from ..llm.openai_provider import DEFAULT_BASE_URL
from ..llm.simulated import Simulator
from ..project import Project


def endpoint(project: Project) -> str:
    config = project.target.llm
    if config.provider == "openai":
        return f"openai:{(config.base_url or DEFAULT_BASE_URL).rstrip('/')}"
    return f"simulated:{Simulator.from_config(config).fingerprint}"


def open_lookup(project: Project) -> tuple[Callable | None, str, Callable[[], None]]:
    """(lookup of cached keys or None, endpoint, close)."""
    path = project.llm_cache_path
    if not project.target.llm.cache or not path.exists():
        return None, endpoint(project), lambda: None
    try:
        store = Store(path, read_only=True)
    except (NotACache, OSError, sqlite3.Error):
        return None, endpoint(project), lambda: None
    return store.get_many, endpoint(project), store.close
