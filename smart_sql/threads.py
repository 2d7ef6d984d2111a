"""`--threads`: it replaces the profile's `threads`, as in dbt, so templates see it as `target.threads`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .project import Project


def with_threads(project: Project, threads: int) -> None:
    project.target = replace(project.target, threads=threads)
    project.renderer.target = replace(project.renderer.target, threads=threads)
