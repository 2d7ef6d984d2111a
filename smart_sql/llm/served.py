"""Which model versions served a task's answers. The answers of one task should come from one
version of each model: a provider that changed its model under the same name (or cached answers
from before the change) make the column a mix, and the agreement measured on one version may not
hold for the other."""

from __future__ import annotations

from typing import Iterable

from .base import LLMResponse


class ServedVersions:
    def __init__(self):
        self.by_model: dict[str, set[str]] = {}

    def add(self, model: str, responses: Iterable[LLMResponse]) -> None:
        self.add_versions(model, (response.served_model for response in responses))

    def add_versions(self, model: str, versions: Iterable[str | None]) -> None:
        named = set(versions) - {None, ""}
        if named:
            self.by_model.setdefault(model, set()).update(named)

    def warning(self) -> str | None:
        """One line naming each model whose answers come from more than one version, else None."""
        mixed = [f"{model} from {len(versions)} served versions ({', '.join(sorted(versions))})"
                 for model, versions in sorted(self.by_model.items()) if len(versions) > 1]
        if not mixed:
            return None
        return ("warning: answers of " + "; ".join(mixed) + " (cached answers may predate a model update; "
                "`smart-sql cache clear` and a rebuild answer everything with the current version)")
