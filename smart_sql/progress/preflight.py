"""Before a build spends anything: when it has LLM tasks on a real server, check the endpoint once
(`GET /models`, free) so that a rejected key stops it before any upstream model is built."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from ..errors import LLMError

if TYPE_CHECKING:
    from ..project import Project
    from ..report import Reporter


def has_llm_tasks(project: Project, select: Iterable[str], exclude: Iterable[str],
                  resource_types: Iterable[str]) -> bool:
    from ..graph import Graph
    from ..rewrite import mentions_smart_llm

    graph = Graph(project)
    return any(mentions_smart_llm(getattr(graph.nodes[uid], "raw_sql", "") or "")
               for uid in graph.select(select, exclude, resource_types))


def check_before_build(project: Project, reporter: Reporter, select: Iterable[str] = (),
                       exclude: Iterable[str] = (), resource_types: Iterable[str] = ("model",)) -> None:
    """Raise LLMError when the server rejects the key; say so when it cannot be reached (cached
    answers may still let the build finish) or does not list a configured model."""
    llm = project.target.llm
    if llm.provider != "openai" or not has_llm_tasks(project, select, exclude, resource_types):
        return
    from ..llm.endpoint import check_endpoint

    check = check_endpoint(llm)
    if check.key_accepted is False:
        raise LLMError(check.lines()[0] + "; nothing was built and no request was sent",
                       hint=f"fix api_key in the llm block of {project.display(project.target.profiles_path)} "
                            "(or the environment variable it reads); `smart-sql debug` checks it")
    if not check.ok:
        for line in check.lines():
            reporter.info(f"Warning: {line}")
