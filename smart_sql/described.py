"""The resources a YAML file only describes (exposures, metrics, semantic models, saved queries,
groups) and the unit tests, as manifest.json lists them under dbt's top-level keys."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from .project import Project

KINDS = {"exposures": "exposure", "metrics": "metric", "semantic_models": "semantic_model",
         "saved_queries": "saved_query", "groups": "group"}
"""YAML key -> dbt's resource type (the first part of its unique_id)."""


def entry(project_name: str, key: str, item: Mapping[str, Any], path: Path, root: Path) -> tuple[str, dict[str, Any]]:
    """(unique_id, manifest entry) of one described resource, as written, with its file."""
    kind = KINDS[key]
    return f"{kind}.{project_name}.{item['name']}", {**item, "resource_type": kind, "package_name": project_name,
                                                     "original_file_path": path.relative_to(root).as_posix()}


def manifest_sections(project: Project) -> dict[str, dict[str, Any]]:
    sections = {key: dict(project.described.get(key, {})) for key in (*KINDS, "docs")}
    sections["unit_tests"] = {
        uid: {"name": test.name, "resource_type": "unit_test", "package_name": project.name, "unique_id": uid,
              "model": test.model, "description": test.description,
              "given": [vars(fixture) for fixture in test.given], "expect": vars(test.expect),
              "overrides": test.overrides, "config": test.config, "depends_on": {"nodes": [test.attached_to]},
              "original_file_path": test.relpath}
        for uid, test in project.unit_tests.items()}
    return sections
