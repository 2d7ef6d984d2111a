"""Where a SMART_LLM call stands: its SELECT scope, clause, level (row or group) and CASE branch."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from .options import CallErrors, CallOptions, is_smart_llm

SUPPORTED_CLAUSES = ("expressions", "where", "group", "having", "order")


@dataclass
class CallSite:
    call: exp.Anonymous
    ordinal: int
    options: CallOptions
    scope: exp.Select
    clause: str
    """The scope's clause holding the call: one of SUPPORTED_CLAUSES."""
    row_level: bool
    """True when the call sees rows; False when it sees the groups of an aggregating SELECT."""
    branch_filter: exp.Expression | None
    """The condition under which a CASE / IF branch holding the call is taken."""
    key: tuple
    """Calls with equal keys share one task."""


def locate(call: exp.Anonymous, ordinal: int, options: CallOptions, fail: CallErrors) -> CallSite:
    path = [call]
    node = call.parent
    while node is not None and not isinstance(node, exp.Select):
        if isinstance(node, exp.Lambda):
            raise fail("SMART_LLM inside a lambda is not supported",
                       "compute the call on unnested rows in a subquery or CTE")
        path.append(node)
        node = node.parent
    if node is None:
        raise fail("SMART_LLM must stand inside a SELECT")
    scope, clause = node, path[-1].arg_key
    if clause not in SUPPORTED_CLAUSES:
        where = {"joins": "a JOIN condition", "qualify": "QUALIFY"}.get(clause, clause.upper().rstrip("_"))
        raise fail(f"SMART_LLM in {where} is not supported",
                   "compute it in a subquery or CTE and join or filter on its result")

    inside_aggregate = any(_is_aggregate(n) for n in path[1:])
    row_level = (clause in ("where", "group") or inside_aggregate or not aggregates(scope)
                 or _in_group_keys(call, scope))
    branch = _branch_filter(path)
    key = (id(scope), row_level, branch.sql("duckdb") if branch is not None else None,
           call.expressions[0].sql("duckdb"), call.expressions[1].sql("duckdb"), options)
    return CallSite(call, ordinal, options, scope, clause, row_level, branch, key)


def _is_aggregate(node: exp.Expression) -> bool:
    return isinstance(node, exp.AggFunc) and not isinstance(node.parent, exp.Window)


def aggregates(select: exp.Select) -> bool:
    clauses = [*select.expressions, select.args.get("having")]
    return bool(select.args.get("group")) or any(_contains_aggregate(c, select) for c in clauses if c is not None)


def _contains_aggregate(node: exp.Expression, select: exp.Select) -> bool:
    return any(_is_aggregate(n) and n.find_ancestor(exp.Select) is select for n in node.find_all(exp.AggFunc))


def group_keys(select: exp.Select) -> list[exp.Expression]:
    """The GROUP BY expressions with ordinals, aliases and ALL spelled out (the nodes themselves)."""
    group = select.args.get("group")
    if not group:
        return []
    if group.args.get("all"):
        return [e.unalias() for e in select.expressions if not _contains_aggregate(e, select)]
    return [resolve_select_reference(key, select) for key in group.expressions]


def resolve_select_reference(key: exp.Expression, select: exp.Select) -> exp.Expression:
    """`1` or `alias` in GROUP BY / ORDER BY stands for that SELECT expression."""
    if isinstance(key, exp.Literal) and not key.is_string and key.this.isdigit():
        position = int(key.this)
        if 1 <= position <= len(select.expressions):
            return select.expressions[position - 1].unalias()
    if isinstance(key, exp.Column) and not key.table:
        for expression in select.expressions:
            if isinstance(expression, exp.Alias) and expression.alias == key.name:
                return expression.this
    return key


def _in_group_keys(call: exp.Anonymous, scope: exp.Select) -> bool:
    text = call.sql("duckdb")
    return any(node.sql("duckdb") == text for key in group_keys(scope)
               for node in key.find_all(exp.Anonymous) if is_smart_llm(node))


def _branch_filter(path: list[exp.Expression]) -> exp.Expression | None:
    """The conditions of the CASE / IF branches on the way from the call up to its clause, while
    they are evaluated at the call's level (no aggregate or window in between) and hold no call."""
    conditions: list[exp.Expression] = []
    for index in range(1, len(path)):
        parent = path[index]
        if _is_aggregate(parent) or isinstance(parent, exp.Window):
            break
        taken = _taken_when(path[index - 1], parent, path[index - 2] if index >= 2 else None)
        if taken is None:
            continue
        if any(is_smart_llm(n) for n in taken.walk()):
            break
        conditions.append(taken)
    return exp.and_(*conditions) if conditions else None


def _taken_when(child: exp.Expression, parent: exp.Expression,
                grandchild: exp.Expression | None) -> exp.Expression | None:
    """The condition for reaching `child` from `parent` when `parent` is a CASE or IF."""
    if isinstance(parent, exp.Case):
        operand = parent.this
        branches = parent.args.get("ifs") or []
        conditions = [b.this.copy() if operand is None else exp.EQ(this=operand.copy(), expression=b.this.copy())
                      for b in branches]
        if child.arg_key == "default":
            return _all_false(conditions)
        if child.arg_key == "ifs" and grandchild is not None and grandchild.arg_key == "true":
            index = branches.index(child)
            return exp.and_(*_earlier_false(conditions[:index]), conditions[index])
        return None
    if isinstance(parent, exp.If) and not isinstance(parent.parent, exp.Case):
        if child.arg_key == "true":
            return parent.this.copy()
        if child.arg_key == "false":
            return _all_false([parent.this.copy()])
    return None


def _earlier_false(conditions: list[exp.Expression]) -> list[exp.Expression]:
    return [exp.not_(exp.func("coalesce", exp.paren(c), exp.false())) for c in conditions]


def _all_false(conditions: list[exp.Expression]) -> exp.Expression | None:
    return exp.and_(*_earlier_false(conditions)) if conditions else None
