"""sqlglot work: find SMART_LLM calls, validate them, and produce LLM tasks and the rewritten SQL.

`smart_sql.rewrite.plan.rewrite_sql` does the work; this module holds what the SQL layer needs
without importing sqlglot, so that a build without LLM columns never loads it.
"""

import re

PROMPT, TEXT, ANSWER, MODEL = "__smart_prompt", "__smart_text", "__smart_answer", "__smart_model"
"""Columns of a result table; named so that they cannot capture the model's own columns."""

MENTION = re.compile(r"smart_llm\s*\(", re.IGNORECASE)


def mentions_smart_llm(sql: str) -> bool:
    return bool(MENTION.search(sql))
