"""dbt's snapshots, read as dbt-core 1.11 reads them: `{% snapshot name %}...{% endsnapshot %}` blocks in
the snapshot paths, and `snapshots:` entries of YAML files (with `relation:` they define a snapshot,
without it they describe one); their config from the project's `snapshots:` block, under the YAML
`config:`, under the block's config()."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..config import check_keys, folder_config, merge_config, validate_config
from ..errors import ConfigError, display_path
from ..snapshot_sql import HARD_DELETES

if TYPE_CHECKING:
    from ..project import Project, SnapshotNode

_BLOCK = re.compile(r"{%-?\s*snapshot\s+(\w+)\s*-?%}(.*?){%-?\s*endsnapshot\s*-?%}", re.S)
_OPEN = re.compile(r"{%-?\s*snapshot\b")
_RELATION = re.compile(r"""^\s*(ref\(\s*['"][^'"]+['"]\s*\)|source\(\s*['"][^'"]+['"]\s*,\s*['"][^'"]+['"]\s*\))\s*$""")
ENTRY_KEYS = {"name", "description", "config", "columns", "meta", "docs", "relation", "group", "tests", "data_tests"}
STRATEGIES = ("timestamp", "check")


def discover(project: Project, described: Mapping[str, tuple[dict[str, Any], Path]]) -> dict[str, SnapshotNode]:
    from ..project import Relation, SnapshotNode

    config = project.config
    found: dict[str, SnapshotNode] = {}
    for folder, path, name, folders, raw_sql in _blocks(project.root, config.snapshot_paths):
        _check_new(project, found, name, path)
        found[name] = SnapshotNode(name=name, path=path, relpath=path.relative_to(project.root).as_posix(),
                                   raw_sql=raw_sql, relation=Relation(project.target.schema, name),
                                   fqn=[config.name, *folders, path.stem, name])
    for name, (entry, yaml_path) in described.items():
        unknown = sorted(set(entry) - ENTRY_KEYS)
        if unknown:
            raise ConfigError(f"snapshot {name!r}: unknown or unsupported key(s) {', '.join(unknown)}",
                              path=display_path(yaml_path), hint=f"allowed: {', '.join(sorted(ENTRY_KEYS))}")
        if entry.get("relation") is not None:
            _check_new(project, found, name, yaml_path)
            relation = entry["relation"]
            if not isinstance(relation, str) or not _RELATION.match(relation):
                raise ConfigError(f"snapshot {name!r}: `relation` must be ref('name') or source('source', 'table'), "
                                  f"got {relation!r}", path=display_path(yaml_path))
            raw_sql = "\n" * (_line_of(yaml_path, name) - 1) + f"select * from {{{{ {relation} }}}}"
            found[name] = SnapshotNode(name=name, path=yaml_path,
                                       relpath=yaml_path.relative_to(project.root).as_posix(), raw_sql=raw_sql,
                                       relation=Relation(project.target.schema, name), fqn=[config.name, name])
        elif name not in found:
            raise ConfigError(f"properties for snapshot {name!r}, but no such snapshot exists",
                              path=display_path(yaml_path),
                              hint="define it with {% snapshot %} in snapshots/, or give the entry a `relation:`")
    for snapshot in found.values():
        entry, yaml_path = described.get(snapshot.name, ({}, snapshot.path))
        snapshot.config = folder_config(config.snapshots, snapshot.fqn[1:], config.name)
        declared = entry.get("config") or {}
        if not isinstance(declared, Mapping):
            raise ConfigError(f"snapshot {snapshot.name!r}: `config:` must be a mapping", path=display_path(yaml_path))
        check_keys(declared, "snapshot", f"snapshot {snapshot.name!r}", yaml_path)
        merge_config(snapshot.config, project.renderer.render_value(dict(declared), yaml_path))
        snapshot.description = str(entry.get("description") or "")
    return {name: node for name, node in found.items() if node.config.get("enabled") is not False}


def parse(project: Project, snapshot: SnapshotNode) -> None:
    """Record the snapshot's refs, sources and config() (as a model's are), then check its config."""
    from ..project import _Recorder

    recorder = _Recorder(project, snapshot)
    project.renderer.render_part(snapshot.raw_sql, snapshot.path, snapshot.name, recorder.functions())
    check_keys(recorder.config, "snapshot", f"snapshot {snapshot.name!r}: config()", snapshot.path)
    merge_config(snapshot.config, recorder.config)
    check_config(snapshot)


def check_config(snapshot: SnapshotNode) -> None:
    config, where, path = snapshot.config, f"snapshot {snapshot.name!r}", display_path(snapshot.path)
    validate_config(config, where, snapshot.path, kind="snapshot")
    strategy = config.get("strategy")
    if strategy not in STRATEGIES:
        raise ConfigError(f"{where}: `strategy` must be timestamp or check, got {strategy!r}", path=path,
                          hint="timestamp with `updated_at: column`, or check with `check_cols: [columns]` or 'all'")
    if not unique_key(snapshot):
        raise ConfigError(f"{where} needs `unique_key` (a column, or a list of columns)", path=path)
    if strategy == "timestamp" and not isinstance(config.get("updated_at"), str):
        raise ConfigError(f"{where}: the timestamp strategy needs `updated_at: <column>`", path=path)
    check_cols = config.get("check_cols")
    if strategy == "check" and not (check_cols == "all" or (isinstance(check_cols, list) and check_cols
                                                             and all(isinstance(c, str) for c in check_cols))):
        raise ConfigError(f"{where}: the check strategy needs `check_cols: 'all'` or a list of columns, "
                          f"got {check_cols!r}", path=path)
    hard_deletes(snapshot)


def unique_key(snapshot: SnapshotNode) -> list[str]:
    key = snapshot.config.get("unique_key")
    keys = [key] if isinstance(key, str) else key if isinstance(key, list) else []
    return [k for k in keys if isinstance(k, str) and k.strip()]


def hard_deletes(snapshot: SnapshotNode) -> str:
    """dbt's get_hard_deletes_behavior: `hard_deletes`, or the older `invalidate_hard_deletes`."""
    config = snapshot.config
    legacy, value = config.get("invalidate_hard_deletes"), config.get("hard_deletes")
    if legacy is not None and value is not None:
        raise ConfigError(f"snapshot {snapshot.name!r}: give `hard_deletes` or `invalidate_hard_deletes`, not both",
                          path=display_path(snapshot.path))
    if legacy:
        return "invalidate"
    value = value or "ignore"
    if value not in HARD_DELETES:
        raise ConfigError(f"snapshot {snapshot.name!r}: hard_deletes must be one of {', '.join(HARD_DELETES)}, "
                          f"got {value!r}", path=display_path(snapshot.path))
    return value


def _blocks(root: Path, folders: list[str]):
    for folder in folders:
        base = root / folder
        for path in sorted(base.rglob("*.sql")):
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
            blocks = list(_BLOCK.finditer(text))
            if not blocks and text.strip():
                line = text.count("\n", 0, _OPEN.search(text).start()) + 1 if _OPEN.search(text) else None
                raise ConfigError("a file in the snapshot paths must hold {% snapshot name %} ... {% endsnapshot %}",
                                  path=display_path(path), line=line,
                                  hint="close the block with {% endsnapshot %}, or move the file out of snapshots/")
            folders_in = list(path.relative_to(base).parent.parts)
            for block in blocks:
                padding = "\n" * text.count("\n", 0, block.start(2))
                yield folder, path, block.group(1), folders_in, padding + block.group(2)


def _check_new(project: Project, found: Mapping[str, Any], name: str, path: Path) -> None:
    other = found.get(name) or project.models.get(name) or project.seeds.get(name)
    if other is not None:
        raise ConfigError(f"{name!r} is defined twice: {other.relpath} and {display_path(path)}",
                          path=display_path(path), hint="ref() needs one name per relation: rename one")


def _line_of(path: Path, name: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if re.search(rf"name:\s*['\"]?{re.escape(name)}['\"]?\s*$", line):
            return number
    return 1
