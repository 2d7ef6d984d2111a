"""A task whose input passes another task's LLM filter cannot be counted before that filter has run:
the plan counts it as if every row passed (an upper bound), by dropping the conditions that read
the other task's answers."""

from __future__ import annotations

import sqlglot
from sqlglot import exp


def without_answer_filters(sql: str, answer_tables: set[str]) -> tuple[str, bool]:
    """`sql` with every WHERE / HAVING condition that reads one of `answer_tables` made TRUE, and
    whether any was."""
    if not answer_tables:
        return sql, False
    tree = sqlglot.parse_one(sql, read="duckdb")
    changed = False
    for select in list(tree.find_all(exp.Select)):
        for clause in ("where", "having"):
            node = select.args.get(clause)
            if node is None:
                continue
            for condition in _conjuncts(node.this):
                if any(isinstance(t, exp.Table) and t.name in answer_tables for t in condition.walk()):
                    condition.replace(exp.true())
                    changed = True
    return tree.sql(dialect="duckdb"), changed


def _conjuncts(condition: exp.Expression) -> list[exp.Expression]:
    if isinstance(condition, exp.Paren):
        return _conjuncts(condition.this)
    if isinstance(condition, exp.And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    return [condition]
