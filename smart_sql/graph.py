"""The DAG of seeds, models and data tests, its build order, and the nodes a selection picks."""

from __future__ import annotations

import graphlib
import heapq
from typing import TYPE_CHECKING, Iterable

from .errors import ConfigError

if TYPE_CHECKING:
    from .project import Node, Project

_RANK = {"test": 0, "unit_test": 0, "seed": 1, "snapshot": 2, "model": 2}
"""Among nodes ready at once: tests first (right after what they test), then seeds, then models."""


class Graph:
    def __init__(self, project: Project):
        self.project = project
        self.nodes: dict[str, Node] = project.nodes()
        self.parents: dict[str, set[str]] = {uid: set(node.depends_on) for uid, node in self.nodes.items()}
        self._check_cycles()
        self._children_wait_for_tests()
        self._models_wait_for_unit_tests()
        self.children: dict[str, set[str]] = {uid: set() for uid in self.nodes}
        for uid, parents in self.parents.items():
            for parent in parents:
                self.children[parent].add(uid)

    def order(self, selected: Iterable[str] | None = None) -> list[str]:
        """Every node after the nodes it depends on; ties broken by kind then name, so runs are repeatable."""
        wanted = set(self.nodes if selected is None else selected)
        sorter = graphlib.TopologicalSorter(self.parents)
        sorter.prepare()
        ready: list[tuple[int, str, str]] = []
        ordered: list[str] = []
        while sorter.is_active():
            for uid in sorter.get_ready():
                node = self.nodes[uid]
                heapq.heappush(ready, (_RANK[node.resource_type], node.name, uid))
            _, _, uid = heapq.heappop(ready)
            if uid in wanted:
                ordered.append(uid)
            sorter.done(uid)
        return ordered

    def ancestors(self, uid: str, depth: int | None = None) -> set[str]:
        return _reach(uid, self.parents, depth)

    def descendants(self, uid: str, depth: int | None = None) -> set[str]:
        return _reach(uid, self.children, depth)

    def select(self, select: Iterable[str] = (), exclude: Iterable[str] = (),
               resource_types: Iterable[str] = ("seed", "model", "snapshot", "test", "unit_test")) -> set[str]:
        """unique_ids chosen by dbt's selectors (smart_sql.selectors), or by the YAML selector of
        --selector, or else by the default one of selectors.yml; tests follow the node or source they
        are declared on."""
        from .selectors import parse_words

        types = set(resource_types)
        if self.project.flags.only is not None:
            return {uid for uid in self.project.flags.only if uid in self.nodes
                    and self.nodes[uid].resource_type in types}
        chosen = self.chosen(select, exclude)
        chosen = (set(self.nodes) if chosen is None else chosen) - parse_words(exclude).nodes(self)
        return {uid for uid in chosen if uid in self.nodes and self.nodes[uid].resource_type in types}

    def chosen(self, select: Iterable[str], exclude: Iterable[str]) -> set[str] | None:
        """What the selection (or YAML selector) picks, sources included; None when it picks everything."""
        from .selectors import default_selector, parse_words, yaml_selector

        named = self.project.flags.selector
        if named and _words(select):
            raise ConfigError("--select and --selector cannot be used together",
                              hint="put the extra criteria in the YAML selector, or use one of the two")
        if not named and not _words(select) and not _words(exclude):
            named = default_selector(self.project.root)
        if named:
            return yaml_selector(self.project.root, named).nodes(self)
        return parse_words(select).nodes(self) if _words(select) else None

    def with_tests(self, chosen: set[str]) -> set[str]:
        return chosen | {uid for uid, node in self.nodes.items() if node.resource_type in ("test", "unit_test")
                         and (node.attached_to in chosen or node.attached_to is None and chosen & set(node.depends_on))}

    def readers(self, source_id: str) -> set[str]:
        return {uid for uid, node in self.nodes.items()
                if node.resource_type in ("model", "snapshot") and source_id in node.sources}

    def _check_cycles(self) -> None:
        try:
            graphlib.TopologicalSorter(self.parents).prepare()
        except graphlib.CycleError as error:
            cycle = error.args[1]
            nodes = [self.nodes[uid] for uid in cycle]
            chain = " -> ".join(node.name for node in reversed(nodes))
            files = ", ".join(dict.fromkeys(node.relpath for node in nodes))
            raise ConfigError(f"models refer to each other in a cycle: {chain} (files: {files})",
                              hint="a model cannot depend on itself, directly or through others; "
                                   "break the cycle by removing one ref()") from None

    def _children_wait_for_tests(self) -> None:
        """As in dbt's build: a model runs after the single-parent tests of what it reads (models, seeds
        and sources), so a failing test skips it. (Tests with two parents, as relationships, are left
        out: they could form cycles.)"""
        tests_of: dict[str, list[str]] = {}
        for uid, node in self.nodes.items():
            if node.resource_type == "test" and len(node.depends_on) <= 1:
                tested = node.attached_to or next(iter(node.depends_on), None)
                tests_of.setdefault(tested, []).append(uid)
        for uid, node in self.nodes.items():
            if node.resource_type in ("model", "snapshot"):
                for read in [*self.parents[uid], *node.sources]:
                    self.parents[uid].update(tests_of.get(read, []))


    def _models_wait_for_unit_tests(self) -> None:
        """As in dbt's build: a model runs after its unit tests, which run one after another by name, so a
        failing one skips the rest, the model and what follows."""
        by_model: dict[str, list[str]] = {}
        for uid, node in sorted(self.nodes.items(), key=lambda item: item[1].name):
            if node.resource_type == "unit_test" and node.attached_to in self.parents:
                by_model.setdefault(node.attached_to, []).append(uid)
        for model, tests in by_model.items():
            self.parents[model].update(tests)
            for earlier, later in zip(tests, tests[1:]):
                self.parents[later].add(earlier)


def _reach(start: str, edges: dict[str, set[str]], depth: int | None = None) -> set[str]:
    """Every node reachable from `start` (not itself), within `depth` steps when given."""
    seen: set[str] = set()
    frontier, steps = {start}, 0
    while frontier and (depth is None or steps < depth):
        frontier = {nxt for uid in frontier for nxt in edges[uid]} - seen
        seen |= frontier
        steps += 1
    return seen


def _words(selectors: Iterable[str]) -> list[str]:
    return [word for selector in selectors for word in selector.split()]
