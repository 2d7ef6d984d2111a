"""sqlglot work: find SMART_LLM calls, validate them, and produce LLM tasks and the rewritten SQL."""

from .options import CallOptions
from .plan import ANSWER, MODEL, PROMPT, TEXT, LLMTask, RewrittenSQL, mentions_smart_llm, rewrite_sql

__all__ = ["ANSWER", "MODEL", "PROMPT", "TEXT", "CallOptions", "LLMTask", "RewrittenSQL", "mentions_smart_llm",
           "rewrite_sql"]
