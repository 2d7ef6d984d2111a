"""Turn the SMART_LLM calls of one statement into LLM tasks and the call sites into lookups.

A call's task reads the distinct (prompt, text) pairs, with their row counts, from exactly the
rows that reach the call: its SELECT's FROM and joins with the non-LLM filters applied first.
The call site becomes a scalar subquery into the task's result table, which DuckDB turns into a
hash join. Calls whose input depends on another call's answers come after it in the task list;
the same call written in several places of the statement shares one task.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from ..errors import ModelError
from ..llm.config import LLMConfig
from ..positions import CompiledSQL, offset_of
from ..sql_errors import placed_error, sql_error
from . import ANSWER, PROMPT, TEXT, mentions_smart_llm
from .options import CallErrors, CallOptions, call_position, is_smart_llm, parse_options, split_arguments
from .sites import CallSite, aggregates, group_keys, locate, resolve_select_reference


UNSEEDED = ("seed", "max_cost")
"""Options that do not enter a task's seed: the seed itself, and a spending limit (it decides no answer)."""


@dataclass(frozen=True)
class LLMTask:
    id: str
    table: str
    """The temporary table the answers land in: (__smart_prompt, __smart_text, __smart_answer, __smart_model)."""
    input_sql: str
    """Distinct inputs with row counts: SELECT prompt, text, n."""
    options: CallOptions
    calls: tuple[str, ...]
    """Where the calls that share this task stand, e.g. "SMART_LLM call #1 (line 3, column 5)"."""
    depends_on: tuple[str, ...]
    """Ids of the tasks whose answers the input query reads."""
    identity: str = ""
    """What the call is, wherever it stands: the model it builds, its prompt and text expressions."""

    @property
    def seed(self) -> int:
        """The SMART engine's seed: the user's seed (option `seed`, default 0) mixed with the task's
        identity and options, so that columns draw independently and a build stays reproducible."""
        options = {key: value for key, value in self.options.to_dict().items() if key not in UNSEEDED}
        key = json.dumps([self.options.seed, self.identity, options], sort_keys=True)
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")

    def to_dict(self) -> dict:
        return {"id": self.id, "table": self.table, "calls": list(self.calls), "depends_on": list(self.depends_on),
                "options": self.options.to_dict(), "seed": self.seed, "input_sql": self.input_sql}


@dataclass(frozen=True)
class RewrittenSQL:
    sql: str
    tasks: tuple[LLMTask, ...]
    source: CompiledSQL
    """The statement as given, with SMART_LLM calls; it can say where its positions are in the model file."""


def rewrite_sql(sql: str, config: LLMConfig, *, path: str | Path | None = None,
                table_prefix: str = "__smart_llm", model: str = "") -> RewrittenSQL:
    """Rewrite one SELECT statement. SQL without SMART_LLM calls comes back unchanged.

    When `sql` is a model's CompiledSQL, errors and the task list give positions in the model file;
    otherwise in `sql` itself. `model` names the model the statement builds; with the call's
    expressions it is each task's identity (see LLMTask.seed)."""
    source = sql if isinstance(sql, CompiledSQL) else CompiledSQL(sql)
    if not mentions_smart_llm(sql):
        return RewrittenSQL(sql, (), source)
    tree = _parse(source, path)
    _inline_call_aliases(tree)
    calls = [node for node in tree.find_all(exp.Anonymous) if is_smart_llm(node)]
    if not calls:
        return RewrittenSQL(sql, (), source)
    written = sorted({call.meta.get("start", 0) for call in calls})
    ordinals = {start: number for number, start in enumerate(written, start=1)}
    _set_positions(calls, source)
    sites = [_site(call, ordinals[call.meta.get("start", 0)], config, path)
             for call in sorted(calls, key=lambda c: c.meta.get("start", 0))]
    tasks = _Planner(table_prefix, path, model).plan(sites)
    return RewrittenSQL(tree.sql(dialect="duckdb", pretty=True), tuple(tasks), source)


def _inline_call_aliases(tree: exp.Expression) -> None:
    """A name that refers to the alias of a SMART_LLM expression in the same SELECT (from a later
    SELECT expression, WHERE, GROUP BY, HAVING, ORDER BY or QUALIFY) becomes that expression: DuckDB
    cannot read such an alias from the SELECT list once the call is a lookup, and a call named in a
    filter must be evaluated where the filter is. Qualified names (t.x) are left alone."""
    for select in list(tree.find_all(exp.Select)):
        definitions: dict[str, exp.Expression] = {}
        for expression in select.expressions:
            _replace_names(expression, select, definitions)
            if isinstance(expression, exp.Alias) and any(is_smart_llm(n) for n in expression.this.walk()):
                definitions[expression.alias] = expression.this
        for clause in ("where", "group", "having", "order", "qualify"):
            if definitions and select.args.get(clause):
                _replace_names(select.args[clause], select, definitions)


def _replace_names(node: exp.Expression, select: exp.Select, definitions: dict[str, exp.Expression]) -> None:
    for column in list(node.find_all(exp.Column)):
        if not column.table and column.name in definitions and column.find_ancestor(exp.Select) is select:
            column.replace(exp.paren(definitions[column.name].copy()))


def _set_positions(calls: list[exp.Anonymous], sql: CompiledSQL) -> None:
    """Line and column (1-based, where the name starts) of each call as written (a call copied in
    for an alias keeps its original's): in the model file where certain, else in the compiled SQL."""
    for call in calls:
        if "start" in call.meta:
            place = sql.place(call.meta["start"])
            call.meta.update(line=place.line, col=place.column, in_file=place.within is None)


def _parse(sql: CompiledSQL, path) -> exp.Expression:
    """The statement's tree. DuckDB's parser must accept the SQL first: sqlglot reads some SQL that
    DuckDB rejects (a doubled comma, for one), and the model must fail as it would without SMART_LLM."""
    try:
        count = len(duckdb.extract_statements(str(sql)))
    except duckdb.Error as error:
        raise sql_error("cannot parse the SQL", error, sql, path=path) from None
    if count != 1:
        raise ModelError(f"a model with SMART_LLM must hold exactly one statement, found {count}", path=path)
    try:
        return sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as error:
        first = error.errors[0] if error.errors else {}
        place = sql.place(offset_of(sql, first["line"], first["col"])) if first.get("line") else None
        raise placed_error(f"cannot parse the SQL: {first.get('description', error)}", place, path=path,
                           hint="DuckDB accepts this SQL but the SMART_LLM rewrite (sqlglot) cannot read it; "
                                "write this part another way or compute it in an upstream model") from None


def _site(call: exp.Anonymous, ordinal: int, config: LLMConfig, path) -> CallSite:
    fail = CallErrors(call, ordinal, path)
    _, _, named = split_arguments(call, fail)
    options = parse_options(named, config, fail)
    return locate(call, ordinal, options, fail)


class _Planner:
    def __init__(self, table_prefix: str, path, model: str):
        self.table_prefix = table_prefix
        self.model = model
        self.path = path
        self.tasks: list[LLMTask] = []
        self.parts: list[list[exp.Select]] = []
        """Per task, the input queries of the calls it serves, read together."""
        self.by_key: dict[tuple, int] = {}
        self.by_call: dict[tuple, int] = {}

    @property
    def tables(self) -> dict[str, str]:
        return {task.table: task.id for task in self.tasks}

    def plan(self, sites: list[CallSite]) -> list[LLMTask]:
        pending = list(sites)
        while pending:
            ready = [site for site in pending if self._try(site)]
            if not ready:
                where = ", ".join(call_position(s.call, s.ordinal) for s in pending)
                raise ModelError("cannot order the SMART_LLM calls: each one's input needs another's "
                                 f"answers ({where})", path=self.path, hint="compute one of them in a CTE first")
            pending = [site for site in pending if site not in ready]
        return self.tasks

    def _try(self, site: CallSite) -> bool:
        """Rewrite the call if every call its input depends on is rewritten already."""
        if self._has_call(site.call.expressions[0]) or self._has_call(site.call.expressions[1]):
            return False
        index = self.by_key.get(site.key)
        if index is None:
            query = self._input_query(site)
            if query is None:
                return False
            index = self._place(site, query)
        else:
            self._update(index, calls=_with_call(self.tasks[index].calls, site))
        site.call.replace(_lookup(self.tasks[index].table, site.call))
        return True

    def _place(self, site: CallSite, query: exp.Select) -> int:
        """The same call (prompt, text, options) elsewhere in the statement joins the first one's task,
        whose input grows by this call's rows, when that task may run after everything this input reads;
        so a model gives one answer per input and call. Otherwise the call gets a task of its own."""
        tables = self.tables
        depends_on = tuple(dict.fromkeys(tables[t.name] for t in query.find_all(exp.Table) if t.name in tables))
        call = (*site.key[3:],)
        index = self.by_call.get(call)
        if index is not None and all(int(d[1:]) - 1 < index for d in depends_on):
            self.parts[index].append(query)
            task = self.tasks[index]
            self._update(index, input_sql=_read_together(self.parts[index]),
                         calls=_with_call(task.calls, site),
                         depends_on=tuple(dict.fromkeys((*task.depends_on, *depends_on))))
        else:
            index = len(self.tasks)
            identity = json.dumps([self.model, *site.key[3:5]])
            self.tasks.append(LLMTask(f"t{index + 1}", f"{self.table_prefix}_t{index + 1}",
                                      query.sql(dialect="duckdb", pretty=True), site.options,
                                      (call_position(site.call, site.ordinal),), depends_on, identity))
            self.parts.append([query])
            self.by_call.setdefault(call, index)
        self.by_key[site.key] = index
        return index

    def _update(self, index: int, **changes) -> None:
        self.tasks[index] = replace(self.tasks[index], **changes)

    def _has_call(self, node: exp.Expression | None) -> bool:
        return node is not None and any(is_smart_llm(n) for n in node.walk())

    def _uses_answers(self, node: exp.Expression) -> bool:
        tables = self.tables
        return any(is_smart_llm(n) or (isinstance(n, exp.Table) and n.name in tables) for n in node.walk())

    def _input_query(self, site: CallSite) -> exp.Select | None:
        scope = site.scope
        _check_not_correlated(site, self.path)
        _check_deterministic(site, self.path)
        query = exp.Select()
        for arg in ("from_", "joins"):
            if scope.args.get(arg):
                query.set(arg, _copy(scope.args[arg]))
        prompt, text = (exp.cast(e.copy(), "VARCHAR") for e in site.call.expressions[:2])
        query.select(prompt.as_("__prompt"), text.as_("__text"), copy=False)

        filters = self._conjuncts(scope.args.get("where"), own=site.clause == "where", site=site)
        if site.branch_filter is not None and site.row_level:
            filters.append(site.branch_filter.copy())
        if filters:
            query.where(*filters, copy=False)

        if not site.row_level:
            keys = [k.copy() for k in group_keys(scope)]
            if keys:
                query.group_by(*keys, copy=False)
            having = self._conjuncts(scope.args.get("having"), own=site.clause == "having", site=site)
            if site.branch_filter is not None:
                having.append(site.branch_filter.copy())
            if having:
                query.having(*having, copy=False)
        self._carry_limit(site, query)
        _carry_aliases(query, scope)

        wrapper = (exp.select(exp.column("__prompt").as_("prompt"), exp.column("__text").as_("text"),
                              exp.Count(this=exp.Star()).as_("n"))
                   .from_(query.subquery("__input"))
                   .where(*_sent(site.options))
                   .group_by("__prompt", "__text"))
        ctes = _visible_ctes(scope, wrapper)
        if ctes:
            wrapper.set("with_", exp.With(expressions=ctes))
        return None if self._has_call(wrapper) else wrapper

    def _conjuncts(self, clause: exp.Expression | None, *, own: bool, site: CallSite) -> list[exp.Expression]:
        """A WHERE / HAVING clause's conjuncts that the call's rows passed: all of them for a call
        elsewhere; for a call in this clause, the cheap ones and the LLM ones written before its own."""
        if clause is None:
            return []
        conjuncts = list(clause.this.flatten()) if isinstance(clause.this, exp.And) else [clause.this]
        if not own:
            return [c.copy() for c in conjuncts]
        index = next(i for i, c in enumerate(conjuncts) if any(n is site.call for n in c.walk()))
        return [c.copy() for i, c in enumerate(conjuncts) if i < index or (i > index and not self._uses_answers(c))]

    def _carry_limit(self, site: CallSite, query: exp.Select) -> None:
        """A SELECT-list call under LIMIT only needs the rows the LIMIT keeps, when the order that
        picks them needs no LLM answer."""
        scope = site.scope
        if site.clause != "expressions" or not (scope.args.get("limit") or scope.args.get("offset")):
            return
        if scope.args.get("distinct") or scope.args.get("qualify") or (site.row_level and aggregates(scope)):
            return
        order = scope.args.get("order")
        if not order and not _scans_one_table(scope):
            return
        keys = [exp.Ordered(this=key.copy(), desc=o.args.get("desc"), nulls_first=o.args.get("nulls_first"))
                for o in (order.expressions if order else []) for key in _order_keys(o.this, scope)]
        if any(self._uses_answers(k) for k in keys) or any(_has_window(k) for k in keys):
            return
        if keys:
            query.order_by(*keys, copy=False)
        for arg in ("limit", "offset"):
            if scope.args.get(arg):
                query.set(arg, scope.args[arg].copy())


def _sent(options: CallOptions) -> list[str | exp.Expression]:
    """Which inputs the model is asked about: prompt and text not NULL and, unless the call says
    `empty_text => 'send'`, a text that is more than blank space."""
    conditions: list[str | exp.Expression] = ["__prompt IS NOT NULL AND __text IS NOT NULL"]
    if options.empty_text != "send":
        blank = exp.func("regexp_full_match", exp.column("__text"), exp.Literal.string(r"[\s\v\p{Z}]*"))
        conditions.append(exp.not_(blank))
    return conditions


def _with_call(calls: tuple[str, ...], site: CallSite) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*calls, call_position(site.call, site.ordinal))))


def _carry_aliases(query: exp.Select, scope: exp.Select) -> None:
    """DuckDB lets WHERE, GROUP BY, HAVING, ORDER BY and later SELECT expressions name a SELECT
    alias; the input query keeps the definitions its clauses name, so that each name binds as it
    does in the model."""
    aliases = {e.alias: e for e in scope.expressions if isinstance(e, exp.Alias)}
    named = {c.name for c in query.find_all(exp.Column) if not c.table and c.find_ancestor(exp.Select) is query}
    carried = [aliases[name].copy() for name in aliases if name in named]
    if carried:
        query.set("expressions", [*carried, *query.expressions])


def _order_keys(key: exp.Expression, scope: exp.Select) -> list[exp.Expression]:
    if isinstance(key, exp.Var) and key.name.upper() == "ALL":
        return [e.unalias() for e in scope.expressions]
    return [resolve_select_reference(key, scope)]


def _read_together(parts: list[exp.Select]) -> str:
    union = exp.union(*[exp.select("*").from_(part.subquery(f"part{number}"))
                        for number, part in enumerate(parts, start=1)], distinct=False)
    merged = (exp.select("prompt", "text", "CAST(sum(n) AS BIGINT) AS n").from_(union.subquery("parts"))
              .group_by("prompt", "text"))
    return merged.sql(dialect="duckdb", pretty=True)


def _scans_one_table(select: exp.Select) -> bool:
    """Without ORDER BY, LIMIT keeps the same rows on every run only over one table's scan order."""
    source = select.args.get("from_")
    return (source is not None and isinstance(source.this, exp.Table) and not select.args.get("joins")
            and not aggregates(select))


def _check_deterministic(site: CallSite, path) -> None:
    scope = site.scope
    sources = [scope.args.get("from_"), *(scope.args.get("joins") or [])]
    if scope.args.get("sample") or any(s is not None and s.find(exp.TableSample) for s in sources):
        raise CallErrors(site.call, site.ordinal, path)(
            "SMART_LLM in a SELECT that samples its rows is not supported: the sample would differ between "
            "the call's input and the result", "take the sample in an upstream model and read that table")


def _copy(value):
    return [v.copy() for v in value] if isinstance(value, list) else value.copy()


def _has_window(node: exp.Expression) -> bool:
    return node.find(exp.Window) is not None


def _lookup(table: str, call: exp.Anonymous) -> exp.Subquery:
    prompt, text = (exp.cast(e.copy(), "VARCHAR") for e in call.expressions[:2])
    result = exp.to_identifier("__smart_r")
    condition = exp.and_(exp.EQ(this=exp.column(PROMPT, result), expression=prompt),
                         exp.EQ(this=exp.column(TEXT, result), expression=text))
    return exp.select(exp.column(ANSWER, result)).from_(exp.to_table(table).as_(result)).where(condition).subquery()


def _visible_ctes(scope: exp.Select, query: exp.Select) -> list[exp.CTE]:
    """The CTEs (from the scope's own WITH and every enclosing one) that the query reads, in order."""
    defined: dict[str, exp.CTE] = {}
    holders = [scope, *[a for a in _ancestors(scope) if a.args.get("with_")]]
    for holder in reversed(holders):
        with_ = holder.args.get("with_")
        for cte in with_.expressions if with_ else []:
            if holder is not scope and any(n is scope for n in cte.walk()):
                break
            defined[cte.alias_or_name] = cte
    needed: list[str] = []
    frontier = [query]
    while frontier:
        node = frontier.pop()
        for table in node.find_all(exp.Table):
            name = table.name
            if not table.args.get("db") and name in defined and name not in needed:
                needed.append(name)
                frontier.append(defined[name].this)
    return [defined[name].copy() for name in defined if name in needed]


def _ancestors(node: exp.Expression):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def _source_names(select: exp.Select) -> set[str]:
    sources = []
    if select.args.get("from_"):
        sources.append(select.args["from_"].this)
    sources.extend(join.this for join in select.args.get("joins") or [])
    return {s.alias_or_name for s in sources}


def _check_not_correlated(site: CallSite, path) -> None:
    scope = site.scope
    own = _source_names(scope)
    outer = set().union(*[_source_names(a) for a in _ancestors(scope) if isinstance(a, exp.Select)]) - own
    parts = [*site.call.expressions[:2], *[scope.args.get(k) for k in ("where", "group", "having")],
             *(scope.args.get("joins") or [])]
    columns = (c for part in parts if part is not None for c in part.find_all(exp.Column))
    for column in columns:
        if column.table and column.table in outer and column.find_ancestor(exp.Select) is scope:
            raise CallErrors(site.call, site.ordinal, path)(
                f"the call reads {column.sql('duckdb')} from an enclosing query; "
                "calls in correlated subqueries are not supported",
                "compute the call in the outer query, or join the tables inside the subquery")
