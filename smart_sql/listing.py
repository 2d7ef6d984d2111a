"""`smart-sql ls` / `list`: the selected nodes and sources, printed as dbt ls prints them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    from .project import Project

ALL_TYPES = ("model", "seed", "snapshot", "source", "test", "unit_test", "exposure")
_PREFIXED = ("source", "unit_test", "exposure")


def listed(project: Project, select: Iterable[str], exclude: Iterable[str], resource_types: Iterable[str],
           output: str) -> Iterator[str]:
    """One line per node, sorted by unique_id as dbt sorts them; `output` is selector, name, path or json.
    Exposures are listed when nothing is selected (a selector does not reach them here)."""
    from .artifacts import manifest
    from .graph import Graph

    types = set(resource_types or ALL_TYPES)
    graph = Graph(project)
    chosen = graph.select(select, exclude, types - {"source", "exposure"})
    if "source" in types:
        chosen |= _sources(project, graph, select, exclude)
    entries = manifest(project)
    if "exposure" in types and not (select or exclude):
        chosen |= set(entries["exposures"])
    found = {**entries["nodes"], **entries["sources"], **entries["unit_tests"], **entries["exposures"]}
    for uid in sorted(chosen):
        yield _line(found[uid], output)


def _sources(project: Project, graph, select: Iterable[str], exclude: Iterable[str]) -> set[str]:
    from .selectors import parse_words

    sources = {source.unique_id for source in project.sources.values()}
    picked = graph.chosen(select, exclude)
    if picked is not None:
        sources &= picked
    return sources - parse_words(exclude).nodes(graph)


def _line(entry: dict, output: str) -> str:
    if output == "name":
        return f"{entry['source_name']}.{entry['name']}" if entry["resource_type"] == "source" else entry["name"]
    if output == "path":
        return entry["original_file_path"]
    if output == "json":
        keys = ("name", "resource_type", "package_name", "original_file_path", "unique_id", "alias", "config",
                "tags", "depends_on")
        return json.dumps({key: entry.get(key) for key in keys if key in entry or key == "alias"}, default=str)
    if entry["resource_type"] == "source":
        return f"source:{entry['package_name']}.{entry['source_name']}.{entry['name']}"
    if entry["resource_type"] in _PREFIXED:
        return f"{entry['resource_type']}:{entry['package_name']}.{entry['name']}"
    return ".".join(entry["fqn"])
