"""dbt's node selection syntax: criteria (`fqn`, `tag:`, `path:`, `source:`, `config.x:`, `state:` ...)
with graph operators (`2+name`, `name+1`, `@name`), intersections (`a,b`), unions (words), exclusions,
and the YAML selectors of selectors.yml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .errors import ConfigError, display_path

if TYPE_CHECKING:
    from .graph import Graph

SELECTORS_FILE = "selectors.yml"
_SPEC = re.compile(r"\A(?P<at>@)?(?:(?P<parents_depth>\d*)(?P<parents>\+))?(?:(?P<method>[\w.]+):)?"
                   r"(?P<value>.*?)(?:(?P<children>\+)(?P<children_depth>\d*))?\Z")
METHODS = ("fqn", "path", "file", "package", "tag", "source", "resource_type", "test_type", "test_name",
           "config.<key>", "state", "selector")
HINT = ("select by name (or fqn, with wildcards), 1+name / name+2 / @name, tag:x, path:models/folder, "
        "source:name, resource_type:model, test_type:singular|generic, config.materialized:table, "
        "state:modified (with --state), a,b for both; `smart-sql ls` lists the nodes")
_RESOURCE_TYPES = {"model", "seed", "snapshot", "test", "source"}
_STATE_VALUES = {"new", "old", "modified", "unmodified", "modified.body", "modified.configs"}
_QUIET_METHODS = {"state"}
"""Methods whose matching nothing is normal (nothing changed since the state run), not a mistake."""


@dataclass(frozen=True)
class Criterion:
    method: str
    value: str
    parents: bool = False
    parents_depth: int | None = None
    children: bool = False
    children_depth: int | None = None
    childrens_parents: bool = False
    text: str = ""

    def nodes(self, graph: Graph) -> set[str]:
        """What the criterion matches, with its graph operators, and the tests of those (dbt's eager
        indirect selection, per criterion: `test_type:generic,orders` is the generic tests of orders)."""
        found = _match(graph, self)
        if not found and self.method not in _QUIET_METHODS:
            raise ConfigError(f"selector {self.text!r} matches nothing", hint=HINT)
        expanded = set(found)
        for uid in found:
            readers = graph.readers(uid) if uid.startswith("source.") else {uid}
            if self.parents and uid in graph.nodes:
                expanded |= graph.ancestors(uid, self.parents_depth)
            if self.children or self.childrens_parents:
                expanded |= readers.union(*(graph.descendants(reader, self.children_depth) for reader in readers))
        if self.childrens_parents:
            expanded |= set().union(*(graph.ancestors(uid) for uid in list(expanded) if uid in graph.nodes))
        return graph.with_tests(expanded)


@dataclass(frozen=True)
class Union:
    items: tuple
    excluded: tuple = ()

    def nodes(self, graph: Graph) -> set[str]:
        return set().union(*(item.nodes(graph) for item in self.items)) - _nodes(self.excluded, graph)


@dataclass(frozen=True)
class Intersection:
    items: tuple
    excluded: tuple = ()

    def nodes(self, graph: Graph) -> set[str]:
        sets = [item.nodes(graph) for item in self.items]
        return (set.intersection(*sets) if sets else set()) - _nodes(self.excluded, graph)


def _nodes(items: Iterable, graph: Graph) -> set[str]:
    return set().union(*(item.nodes(graph) for item in items))


def parse_spec(text: str) -> Criterion:
    """One criterion as written on the command line, e.g. `2+tag:nightly+`."""
    found = _SPEC.match(text)
    if not found or not found["value"]:
        raise ConfigError(f"selector {text!r} cannot be read", hint=HINT)
    if found["at"] and found["parents"]:
        raise ConfigError(f"selector {text!r} uses both @ and +name, which dbt does not allow",
                          hint="@name already selects every parent of name's children")
    method = found["method"] or _default_method(found["value"])
    return Criterion(method, found["value"], parents=bool(found["parents"]),
                     parents_depth=_depth(found["parents_depth"]), children=bool(found["children"]),
                     children_depth=_depth(found["children_depth"]), childrens_parents=bool(found["at"]), text=text)


def parse_words(words: Iterable[str]) -> Union:
    """The union of space-separated words, each the intersection of its comma-separated criteria."""
    items = []
    for word in (word for text in words for word in text.split()):
        criteria = tuple(parse_spec(part) for part in word.split(","))
        items.append(criteria[0] if len(criteria) == 1 else Intersection(criteria))
    return Union(tuple(items))


def _depth(text: str | None) -> int | None:
    return int(text) if text else None


def _default_method(value: str) -> str:
    """As dbt: a value that looks like a path selects by path, anything else by fqn (or name)."""
    if "/" in value or "\\" in value or value.endswith((".sql", ".csv", ".py")):
        return "path"
    return "fqn"


def _match(graph: Graph, criterion: Criterion) -> set[str]:
    method, value = criterion.method, criterion.value
    if method.startswith("config."):
        return {uid for uid, node in graph.nodes.items() if _config_matches(node, method[7:], value)}
    matcher = _MATCHERS.get(method)
    if matcher is None:
        raise ConfigError(f"selector {criterion.text!r}: unknown selection method {method!r}",
                          hint=f"methods: {', '.join(METHODS)}")
    return matcher(graph, value)


def _by_fqn(graph: Graph, value: str) -> set[str]:
    """As dbt: the name (wildcards allowed), or the start of the fqn with or without the project's name
    (`staging` is every node in models/staging/)."""
    parts = value.split(".")
    found = set()
    for uid, node in graph.nodes.items():
        fqn = node_fqn(graph.project, node)
        if len(parts) == 1 and any(fnmatchcase(name, value) for name in _names(graph.project, node)):
            found.add(uid)
        elif any(len(full) >= len(parts) and all(fnmatchcase(have, want) for have, want in zip(full, parts))
                 for full in (fqn, fqn[1:])):
            found.add(uid)
    return found


def _names(project, node) -> list[str]:
    """A node's name, and a versioned model's name without its version (`m` selects `m_v1` and `m_v2`)."""
    base = project.versions.base_name(node.name) if node.resource_type == "model" else None
    return [node.name, base] if base else [node.name]


def _by_path(graph: Graph, value: str) -> set[str]:
    prefix = PurePosixPath(value.replace("\\", "/").rstrip("/"))
    found = {uid for uid, node in graph.nodes.items() if _under(PurePosixPath(node_path(graph.project, node)), prefix)}
    found |= {source.unique_id for source in graph.project.sources.values()
              if _under(PurePosixPath(source.path.relative_to(graph.project.root).as_posix()), prefix)}
    return found


def _under(path: PurePosixPath, prefix: PurePosixPath) -> bool:
    return (path == prefix or prefix in path.parents or path.with_suffix("") == prefix
            or fnmatchcase(path.as_posix(), prefix.as_posix()))


def _by_file(graph: Graph, value: str) -> set[str]:
    return {uid for uid, node in graph.nodes.items()
            if fnmatchcase(Path(node_path(graph.project, node)).name, value)
            or fnmatchcase(Path(node_path(graph.project, node)).stem, value)}


def _by_package(graph: Graph, value: str) -> set[str]:
    project = graph.project
    return ({uid for uid, node in graph.nodes.items() if fnmatchcase(node_fqn(project, node)[0], value)}
            | {source.unique_id for source in project.sources.values() if fnmatchcase(source.package_name, value)})


def _by_tag(graph: Graph, value: str) -> set[str]:
    found = {uid for uid, node in graph.nodes.items() if any(fnmatchcase(str(tag), value) for tag in node.tags)}
    return found | {source.unique_id for source in graph.project.sources.values()
                    if any(fnmatchcase(str(tag), value) for tag in source_tags(source))}


def _by_source(graph: Graph, value: str) -> set[str]:
    """`shop` (every table), `shop.orders`, or `project.shop.orders`; wildcards allowed."""
    parts = value.split(".")
    found = set()
    for source in graph.project.sources.values():
        full = [source.package_name, source.source_name, source.name]
        for candidate in (full, full[1:]):
            if len(parts) <= len(candidate) and all(fnmatchcase(have, want) for have, want in zip(candidate, parts)):
                found.add(source.unique_id)
    return found


def _by_resource_type(graph: Graph, value: str) -> set[str]:
    if value not in _RESOURCE_TYPES:
        raise ConfigError(f"resource_type:{value}: no such resource type here",
                          hint=f"one of: {', '.join(sorted(_RESOURCE_TYPES))}")
    if value == "source":
        return {source.unique_id for source in graph.project.sources.values()}
    return {uid for uid, node in graph.nodes.items() if node.resource_type == value}


def _by_test_type(graph: Graph, value: str) -> set[str]:
    kinds = {"singular": {True}, "generic": {False}, "data": {True, False}}
    if value == "unit":
        raise ConfigError("test_type:unit: unit tests are not supported yet", hint="select test_type:data")
    if value not in kinds:
        raise ConfigError(f"test_type:{value}: no such test type", hint="one of: singular, generic, data")
    return {uid for uid, node in graph.nodes.items()
            if node.resource_type == "test" and (node.kind == "singular") in kinds[value]}


def _by_test_name(graph: Graph, value: str) -> set[str]:
    return {uid for uid, node in graph.nodes.items() if node.resource_type == "test" and fnmatchcase(node.kind, value)}


def _by_state(graph: Graph, value: str) -> set[str]:
    from .state import changed_nodes

    state = graph.project.flags.state
    if state is None:
        raise ConfigError(f"state:{value} needs --state PATH, a folder with the manifest.json of an earlier run",
                          hint="e.g. --state prod-artifacts/ (a copy of the target/ of the run to compare with)")
    if value not in _STATE_VALUES:
        raise ConfigError(f"state:{value}: no such state", hint=f"one of: {', '.join(sorted(_STATE_VALUES))}")
    return changed_nodes(graph.project, graph.nodes, state, value)


def _by_selector(graph: Graph, value: str) -> set[str]:
    return yaml_selector(graph.project.root, value).nodes(graph)


_MATCHERS = {"fqn": _by_fqn, "path": _by_path, "file": _by_file, "package": _by_package, "tag": _by_tag,
             "source": _by_source, "resource_type": _by_resource_type, "test_type": _by_test_type,
             "test_name": _by_test_name, "state": _by_state, "selector": _by_selector}


def _config_matches(node: Any, key: str, value: str) -> bool:
    have = node.materialized if key == "materialized" else node.config.get(key)
    values = have if isinstance(have, list) else [have]
    return any(str(item).lower() == value.lower() if isinstance(item, bool) else fnmatchcase(str(item), value)
               for item in values if item is not None)


def node_fqn(project: Any, node: Any) -> list[str]:
    """dbt's fqn: for a test, the project, the folders of the file that declares it, and its name."""
    fqn = getattr(node, "fqn", None)
    if fqn:
        return list(fqn)
    from .dbt.package_nodes import home

    package, root = home(project, node.path)
    return [package, *node.path.relative_to(root).parts[1:-1], node.name]


def node_path(project: Any, node: Any) -> str:
    from .dbt.package_nodes import home

    return node.relpath if hasattr(node, "relpath") else node.path.relative_to(home(project, node.path)[1]).as_posix()


def source_tags(source: Any) -> list[str]:
    tags = source.entry.get("tags") or []
    return [tags] if isinstance(tags, str) else list(tags)


# YAML selectors (selectors.yml)

def read_selectors(root: Path) -> dict[str, dict[str, Any]]:
    """selectors.yml's entries by name, checked; {} when there is no file."""
    from .profiles import read_yaml

    path = root / SELECTORS_FILE
    if not path.is_file():
        return {}
    raw = read_yaml(path) or {}
    entries = raw.get("selectors") if isinstance(raw, Mapping) else None
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) and isinstance(e.get("name"), str)
                                                and "definition" in e for e in entries):
        raise ConfigError("`selectors:` must be a list of mappings, each with `name:` and `definition:`",
                          path=display_path(path))
    defaults = [entry["name"] for entry in entries if entry.get("default") is True]
    if len(defaults) > 1:
        raise ConfigError(f"more than one selector has `default: true`: {', '.join(defaults)}",
                          path=display_path(path), hint="dbt allows one default selector")
    return {entry["name"]: dict(entry) for entry in entries}


def default_selector(root: Path) -> str | None:
    return next((name for name, entry in read_selectors(root).items() if entry.get("default") is True), None)


def yaml_selector(root: Path, name: str, _seen: tuple[str, ...] = ()):
    selectors = read_selectors(root)
    path = display_path(root / SELECTORS_FILE)
    if name not in selectors:
        raise ConfigError(f"no selector named {name!r}", path=path,
                          hint=f"selectors: {', '.join(selectors) or 'none (add them to selectors.yml)'}")
    if name in _seen:
        raise ConfigError(f"selector {name!r} refers to itself: {' -> '.join([*_seen, name])}", path=path)
    return _definition(selectors[name]["definition"], root, f"selector {name!r}", (*_seen, name))


_DEFINITION_KEYS = {"method", "value", "children", "parents", "children_depth", "parents_depth",
                    "childrens_parents", "indirect_selection", "description"}


def _definition(raw: Any, root: Path, where: str, seen: tuple[str, ...]):
    path = display_path(root / SELECTORS_FILE)
    if isinstance(raw, str):
        return parse_words([raw])
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a definition is a string or a mapping, got {raw!r}", path=path)
    for key, kind in (("union", Union), ("intersection", Intersection)):
        if key in raw:
            members = raw[key]
            if not isinstance(members, list):
                raise ConfigError(f"{where}: `{key}:` must be a list", path=path)
            included = [m for m in members if not (isinstance(m, Mapping) and set(m) == {"exclude"})]
            excluded = [e for m in members if isinstance(m, Mapping) and set(m) == {"exclude"} for e in m["exclude"]]
            return kind(tuple(_definition(m, root, where, seen) for m in included),
                        tuple(_definition(e, root, where, seen) for e in excluded))
    if "method" not in raw and len(raw) == 1:
        (method, value), = raw.items()
        raw = {"method": method, "value": value}
    unknown = sorted(set(raw) - _DEFINITION_KEYS)
    if unknown or "method" not in raw or "value" not in raw:
        raise ConfigError(f"{where}: a definition needs `method:` and `value:`"
                          + (f"; unknown key(s) {', '.join(map(str, unknown))}" if unknown else ""),
                          path=path, hint=f"allowed: union, intersection, exclude, {', '.join(sorted(_DEFINITION_KEYS))}")
    if raw.get("indirect_selection", "eager") != "eager":
        raise ConfigError(f"{where}: indirect_selection {raw['indirect_selection']!r} is not supported "
                          f"(tests follow the nodes they test, dbt's `eager`)", path=path,
                          hint="remove `indirect_selection:`")
    method, value = str(raw["method"]), str(raw["value"])
    if method == "selector":
        return yaml_selector(root, value, seen)
    return Criterion(method, value, parents=raw.get("parents") is True, parents_depth=raw.get("parents_depth"),
                     children=raw.get("children") is True, children_depth=raw.get("children_depth"),
                     childrens_parents=raw.get("childrens_parents") is True, text=f"{method}:{value}")
