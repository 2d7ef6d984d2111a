"""dbt's `{% docs name %}...{% enddocs %}` blocks (in *.md files of the docs paths) and the
descriptions that use them with `{{ doc('name') }}`, rendered as dbt renders descriptions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from ..errors import ConfigError, display_path

_BLOCK = re.compile(r"{%-?\s*docs\s+(\w+)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.S)


def read(root: Path, folders: list[str]) -> dict[str, tuple[str, Path]]:
    """Block name -> (its text, rendered and stripped as dbt stores it; its file)."""
    blocks: dict[str, tuple[str, Path]] = {}
    for folder in dict.fromkeys(folders):
        for path in sorted((root / folder).rglob("*.md")):
            text = path.read_text(encoding="utf-8")
            for found in _BLOCK.finditer(text):
                name = found.group(1)
                if name in blocks:
                    raise ConfigError(f"two doc blocks are named {name!r} (also in {display_path(blocks[name][1])})",
                                      path=display_path(path), line=text.count("\n", 0, found.start()) + 1,
                                      hint="rename one of them")
                blocks[name] = (jinja2.Environment().from_string(found.group(2)).render().strip(), path)
    return blocks


def describe(project: Any) -> None:
    """Every description of the project's nodes, columns and sources that holds Jinja, rendered with
    doc(), var, env_var and target."""
    from .package_nodes import home

    by_package = {project.name: read(project.root, _folders(project.config))}
    by_package.update({found.package.name: read(found.package.root, _folders(found.config))
                       for found in project.packages})
    roots = {project.name: project.root, **{found.package.name: found.package.root for found in project.packages}}
    project.described["docs"] = {f"doc.{package}.{name}": _manifest_entry(package, roots[package], name, text, path)
                                 for package, blocks in by_package.items() for name, (text, path) in blocks.items()}
    items = [*project.models.values(), *project.seeds.values(), *project.snapshots.values(),
             *project.sources.values()]
    for item in items:
        what = f"{getattr(item, 'resource_type', 'source')} {item.name!r}"
        searched = _search_order(by_package, project.name, home(project, item.path)[0])
        item.description = _render(project, searched, item.description, item.path, f"the description of {what}")
        item.columns = {name: _render(project, searched, text, item.path,
                                      f"the description of {what}'s column {name!r}")
                        for name, text in item.columns.items()}


def _folders(config: Any) -> list[str]:
    return config.docs_paths or [*config.model_paths, *config.seed_paths, *config.macro_paths,
                                 *config.test_paths, *config.snapshot_paths]


def _search_order(by_package: dict[str, dict[str, tuple[str, Path]]], root: str, own: str
                  ) -> dict[str, dict[str, tuple[str, Path]]]:
    """dbt's order for doc('name'): the root project, the node's package, then any package."""
    names = list(dict.fromkeys([root, own, *by_package]))
    return {name: by_package[name] for name in names if name in by_package}


def _manifest_entry(package: str, root: Path, name: str, text: str, path: Path) -> dict[str, Any]:
    """A doc block as manifest.json's `docs` lists it."""
    return {"name": name, "resource_type": "doc", "package_name": package, "path": path.name,
            "original_file_path": path.relative_to(root).as_posix(), "unique_id": f"doc.{package}.{name}",
            "block_contents": text}


def _render(project: Any, searched: dict[str, dict[str, tuple[str, Path]]], text: str, path: Path,
            what: str) -> str:
    if "{" not in text:
        return text

    def doc(*names: str) -> str:
        name = names[-1]
        packages = [names[0]] if len(names) == 2 else list(searched)
        found = next((searched[package][name] for package in packages if name in searched.get(package, {})), None)
        if len(names) > 2 or found is None:
            known = sorted({block for blocks in searched.values() for block in blocks})
            raise ConfigError(f"{what}: doc({', '.join(repr(n) for n in names)}): no such doc block",
                              path=display_path(path),
                              hint=f"define it in a .md file: {{% docs {name} %}}...{{% enddocs %}}"
                                   + (f"; doc blocks: {', '.join(known)}" if known else ""))
        return found[0]

    return project.renderer.render_value(text, path, doc=doc)
