"""Live progress of LLM tasks and the build's output formats (terminal, plain lines, JSON lines, quiet)."""

from .output import make_output
from .state import TaskProgress

__all__ = ["TaskProgress", "make_output"]
