"""`smart-sql show`: a model's SQL, or an inline SELECT, run with a limit and printed; nothing is built."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator

from .errors import ConfigError

if TYPE_CHECKING:
    from .project import Project


def show(project: Project, select: Iterable[str], exclude: Iterable[str], inline: str | None,
         limit: int) -> Iterator[str]:
    from .execute import connect, render_inline, render_model
    from .graph import Graph

    words = [word for text in select for word in text.split()]
    if inline is not None and words:
        raise ConfigError("show takes --select or --inline, not both")
    with connect(project) as conn:
        if inline is not None:
            yield from _preview(conn, "Previewing inline node:", render_inline(project, inline), limit)
            return
        if not words:
            raise ConfigError("show needs --select NODE or --inline 'select ...'",
                              hint="e.g. smart-sql show --select stg_orders --limit 10")
        graph = Graph(project)
        chosen = [uid for uid in graph.order(graph.select(select, exclude, ("model", "snapshot", "seed")))]
        for uid in chosen:
            node = graph.nodes[uid]
            sql = (f"select * from {node.relation}" if node.resource_type == "seed"
                   else str(render_model(project, node)))
            yield from _preview(conn, f"Previewing node '{node.name}':", sql, limit)


def _preview(conn, title: str, sql: str, limit: int) -> Iterator[str]:
    import duckdb

    body = sql.strip().rstrip(";")
    query = f"select * from (\n{body}\n) as __smart_show" + (f" limit {int(limit)}" if limit >= 0 else "")
    try:
        cursor = conn.execute(query)
    except duckdb.Error as error:
        raise ConfigError(f"show: the query failed: {error}", hint="a node's parents must be built first "
                                                                  "(`smart-sql build`)") from None
    columns = [column[0] for column in cursor.description]
    rows = cursor.fetchall()
    yield title
    yield "| " + " | ".join(columns) + " |"
    yield "| " + " | ".join("-" * max(3, len(column)) for column in columns) + " |"
    for row in rows:
        yield "| " + " | ".join("" if value is None else str(value) for value in row) + " |"
    yield ""
