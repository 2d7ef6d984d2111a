"""Live progress of LLM tasks and the build's output formats (terminal, plain lines, JSON lines, quiet)."""

from .output import LOG_FORMATS, make_output
from .state import TaskProgress

__all__ = ["LOG_FORMATS", "TaskProgress", "make_output"]
