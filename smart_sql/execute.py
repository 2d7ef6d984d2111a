"""Running a project: seeds, models and data tests in DAG order, each atomic, failures skipping what follows."""

from __future__ import annotations

import functools
import re
import threading
import time
import traceback
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Protocol

import duckdb

from . import connection, contracts, external, materialize, persist_docs, unit_tests, versions
from .datatests import DataTest, judged, limited, outcome_sql
from .relation_catalog import Catalog, LiveCatalog
from .failures import PREVIEW_ROWS, failures_relation, format_rows, store_failures
from .singular_tests import failing_rows_sql
from .errors import ConfigError, ModelError, SmartSqlError
from .graph import Graph
from .interrupts import Interrupted, StopRequest
from .positions import CompiledSQL
from .hooks import on_run_end_context, run_hooks, run_project_hooks
from .profiles import MEMORY
from .project import ModelNode, Project, Relation, SeedNode, SnapshotNode, resolve_ref, resolve_source
from .snapshot_run import run_snapshot
from .unit_tests import UnitTest
from .render import ModelFunctions
from .dbt.jinja.model_config import ModelConfig
from .artifacts import now, relation_name
from .report import FAILED, Reporter, RunResult, RunResults, write_manifest, write_run_results
from .schedule import Schedule
from .sql_errors import error_place, error_text, placed_error
from .workers import InlinePool, ThreadPool

CTE_PREFIX = "__smart_cte__"
FAIL_FAST = "--fail-fast:"
"""Marks, in a build's reasons to skip, the nodes skipped because --fail-fast stopped the run."""
_REWRITTEN = "the SQL with its SMART_LLM calls rewritten (`smart-sql compile` shows it)"
_LEADING_COMMENTS = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
_WITH = re.compile(r"with\s+(?:recursive\s+)?", re.I)


class SqlTransform(Protocol):
    """Called on a model's rendered SQL (ephemeral refs already inlined) inside its atomic unit, just
    before it is materialized; returns the SQL to run. If it raises, the model fails like a SQL error.
    The SQL is a CompiledSQL: a str that can also say where each of its positions is in the model file.

    A transform may also have a method `extras(node) -> dict`, called when the model has finished
    (successfully or not); what it returns goes into that model's RunResult.extras; and a method
    `stop()`, called from any thread when the build is interrupted, after which it raises
    KeyboardInterrupt soon. The optional `exclusive(sql)` and `finished(node)`: see
    `_Runner._transform_turn`."""

    def __call__(self, node: ModelNode, sql: str, conn: duckdb.DuckDBPyConnection) -> str: ...


class CompileHook(Protocol):
    """Called by `compile` for each model; returns extra text to show under it, or None."""

    def __call__(self, node: ModelNode, sql: str, conn: duckdb.DuckDBPyConnection) -> str | None: ...


def identity_transform(node: ModelNode, sql: str, conn: duckdb.DuckDBPyConnection) -> str:
    return sql


@dataclass
class CompiledModel:
    node: ModelNode
    sql: str
    path: Path
    extra: str | None = None


def build(project: Project, select: Iterable[str] = (), exclude: Iterable[str] = (), *, full_refresh: bool = False,
          sql_transform: SqlTransform = identity_transform, reporter: Reporter | None = None,
          resource_types: Iterable[str] = ("seed", "model", "snapshot", "test", "unit_test"), command: str = "build",
          debug: bool = False, stop: StopRequest | None = None, threads: int | None = None) -> RunResults:
    """Seeds, models, snapshots and tests in DAG order (as dbt's build); narrow with `resource_types`.

    `threads` (default: the target's) nodes run at once, each on its own connection, a node only once
    everything it depends on has succeeded; their lines and results come in the run's order.
    Once `stop` is requested the nodes running are stopped and rolled back, no other starts, and
    Interrupted is raised after run_results.json is written."""
    reporter = reporter or Reporter()
    stop = stop or StopRequest()
    _set_flags(project, command, full_refresh)
    graph = Graph(project)
    chosen = graph.select(select, exclude, resource_types)
    order = [uid for uid in graph.order(chosen) if graph.nodes[uid].materialized != "ephemeral"]
    threads = max(1, min(threads or project.target.threads, len(order)))
    write_manifest(project)
    reporter.info(run_header(project))
    if threads > 1:
        reporter.info(f"Concurrency: {threads} threads (target='{project.target.name}')")
    for warning in project.config.warnings:
        reporter.info(f"Warning: {warning}")
    fail_on_warnings(project)
    results = RunResults(command)
    started = time.perf_counter()
    if not order:
        reporter.info("Nothing to do: no node matches the selection.")
    catalog = Catalog()
    with connect(project) as conn, stop.calling(*_stoppers(conn, sql_transform)):
        try:
            materialize.ensure_schemas(conn, _built_relations(project, graph, order), catalog)
            results.results += run_project_hooks(conn, project, "on-run-start", reporter)
            if project.on_run_start:
                catalog.forget()
            schedule = Schedule(graph, order, fail_fast=FAIL_FAST if project.flags.fail_fast else None)
            if not results.success and not project.config.nodes_run_after_failed_start_hook:
                schedule.fail_all("on-run-start")
            runner = functools.partial(_Runner, project, graph, full_refresh=full_refresh, sql_transform=sql_transform,
                                       debug=debug, catalog=catalog, exclusive=threading.Lock(), stop=stop,
                                       selected=set(order))
            with _pool(project, conn, threads, runner, stop) as pool:
                _run_nodes(schedule, pool, stop, _Progress(project, order, reporter, results.results))
            results.results += run_project_hooks(conn, project, "on-run-end", reporter,
                                                 **on_run_end_context(project, results.results))
        except KeyboardInterrupt:
            finished = sum(result.resource_type != "operation" for result in results.results)
            reporter.info(f"Interrupted after {finished} of {len(order)} nodes; "
                          f"what finished is in {project.display(project.target_path / 'run_results.json')}. "
                          f"To resume, run the same command again: answers already received come from "
                          f"the response cache at no cost.")
            if stop.requested:
                raise Interrupted(stop.signum) from None
            raise
        finally:
            results.elapsed_time = time.perf_counter() - started
            write_run_results(project, results)
    reporter.summary(results)
    return results


def _set_flags(project: Project, command: str, full_refresh: bool) -> None:
    """dbt's `flags` in templates: the command and --full-refresh."""
    if project.renderer.dbt is not None:
        from .dbt.jinja.context import Flags

        project.renderer.dbt.flags = Flags(WHICH=command, FULL_REFRESH=full_refresh)


def _stoppers(conn: duckdb.DuckDBPyConnection, sql_transform: SqlTransform) -> list:
    """What to call when the build is interrupted: stop the transform and the running statement."""
    transform_stop = getattr(sql_transform, "stop", None)
    return [transform_stop, conn.interrupt] if transform_stop else [conn.interrupt]


def _built_relations(project: Project, graph: Graph, order: list[str]) -> list[Relation]:
    """Where the run's seeds, models, snapshots and stored test failures go."""
    nodes = [graph.nodes[uid] for uid in order]
    return ([node.relation for node in nodes if node.resource_type in ("seed", "model", "snapshot")]
            + [failures_relation(project, node) for node in nodes
               if isinstance(node, DataTest) and node.stores_failures])


@contextmanager
def _pool(project: Project, conn: duckdb.DuckDBPyConnection, threads: int, runner, stop: StopRequest):
    """One thread running on `conn`, or `threads` workers, each with a connection of its own to the
    same database, prepared as `conn` was (its settings are the connection's own), that a stop interrupts."""
    if threads == 1:
        yield InlinePool(_node_runner(runner(conn, thread_id="Thread-1 (worker)")))
        return
    with ExitStack() as stack:
        cursors = []
        for _ in range(threads):
            cursors.append(stack.enter_context(conn.cursor()))
            connection.prepare(cursors[-1], project.target)
        interrupts = [cursor.interrupt for cursor in cursors]
        stack.enter_context(stop.calling(*interrupts))

        def interrupt_again() -> None:
            """A stop's interrupt is lost by a statement that had not started yet: repeat it."""
            for interrupt in interrupts if stop.requested else ():
                interrupt()
        pool = ThreadPool(threads, lambda number: _node_runner(runner(cursors[number - 1],
                                                                      thread_id=f"Thread-{number} (worker)")),
                          while_waiting=interrupt_again)
        try:
            yield pool
        finally:
            pool.close()


def _node_runner(runner: _Runner):
    return lambda uid: runner.run(runner.graph.nodes[uid])


def _run_nodes(schedule: Schedule, pool, stop: StopRequest, progress: _Progress) -> None:
    """Start every node whose upstream nodes have finished, up to the pool's size at once, until none is
    left. On a stop (or Ctrl-C here) nothing more starts and the running nodes are waited for; a node
    that fails then was interrupted and rolled back, so it has no result."""
    running = 0
    failure: BaseException | None = None
    while True:
        try:
            while not stop.requested and failure is None and running < pool.size:
                uid = schedule.next_ready()
                if uid is None:
                    break
                upstream = schedule.failed_upstream(uid)
                if upstream is not None:
                    progress.add(uid, _skipped(schedule.graph.nodes[uid], upstream, progress.project))
                    schedule.done(uid, failed=False)
                    continue
                pool.submit(uid)
                running += 1
            if not running:
                break
            uid, result, error = pool.wait()
            running -= 1
            if isinstance(error, KeyboardInterrupt):
                stop.request()
            elif error is not None:
                failure = failure or error
            elif not (result.status in FAILED and stop.requested):
                progress.add(uid, result)
                schedule.done(uid, failed=result.status in FAILED)
        except KeyboardInterrupt:
            stop.request()
    progress.flush()
    if failure is not None:
        raise failure
    stop.check()


class _Progress:
    """Results in the run's order: a node's line is printed once every node before it has finished."""

    def __init__(self, project: Project, order: list[str], reporter: Reporter, results: list[RunResult]):
        self.project = project
        self.position = {uid: index for index, uid in enumerate(order)}
        self.reporter = reporter
        self.results = results
        self._finished: dict[int, RunResult] = {}
        self._next = 0

    def add(self, uid: str, result: RunResult) -> None:
        self._finished[self.position[uid]] = result
        while self._next in self._finished:
            self._emit(self._next)
            self._next += 1

    def flush(self) -> None:
        """What finished after a node that never will (an interrupted run)."""
        for index in sorted(self._finished):
            self._emit(index)

    def _emit(self, index: int) -> None:
        result = self._finished.pop(index)
        self.results.append(result)
        self.reporter.node_finished(index + 1, len(self.position), result)


def run(project: Project, select: Iterable[str] = (), exclude: Iterable[str] = (), **options) -> RunResults:
    return build(project, select, exclude, resource_types=("model",), command="run", **options)


def seed(project: Project, select: Iterable[str] = (), exclude: Iterable[str] = (), **options) -> RunResults:
    return build(project, select, exclude, resource_types=("seed",), command="seed", **options)


def snapshot(project: Project, select: Iterable[str] = (), exclude: Iterable[str] = (), **options) -> RunResults:
    return build(project, select, exclude, resource_types=("snapshot",), command="snapshot", **options)


def run_tests(project: Project, select: Iterable[str] = (), exclude: Iterable[str] = (), **options) -> RunResults:
    return build(project, select, exclude, resource_types=("test", "unit_test"), command="test", **options)


def compile_models(project: Project, select: Iterable[str] = (), exclude: Iterable[str] = (), *,
                   explain: CompileHook | None = None) -> list[CompiledModel]:
    """Render the selected models into target/compiled/<model path>, without running them."""
    graph = Graph(project)
    chosen = graph.select(select, exclude, ("model",))
    write_manifest(project)
    compiled = []
    with connect(project) as conn:
        for uid in graph.order(chosen):
            node = graph.nodes[uid]
            sql = render_model(project, node, incremental=is_incremental_run(conn, node, False))
            path = write_compiled(project, node.relpath, sql, node.fqn[0])
            sql = sql.written_to(project.display(path))
            compiled.append(CompiledModel(node, sql, path, explain(node, sql, conn) if explain else None))
    return compiled


def fail_on_warnings(project: Project) -> None:
    """With --warn-error, a project warning stops the command before anything runs (as dbt)."""
    if project.flags.warn_error and project.config.warnings:
        raise ConfigError(f"--warn-error: {project.config.warnings[0]}",
                          hint="fix the warning, or run without --warn-error")


def run_header(project: Project) -> str:
    llm = project.target.llm
    label = " (simulated: answers are not from a real model)" if llm.provider == "simulated" else ""
    return (f"smart-sql: project {project.name}, target {project.target.name} "
            f"({project.display(Path(project.database)) if project.database != MEMORY else MEMORY}), "
            f"llm provider {llm.provider}{label}")


def connect(project: Project) -> duckdb.DuckDBPyConnection:
    """The target's database, with its extensions, attached databases and settings (smart_sql.connection)."""
    if project.target.type != "duckdb":
        raise ConfigError(f"target {project.target.name!r} is `type: {project.target.type}`, and this command runs "
                          f"on DuckDB targets only", path=project.target.profiles_path,
                          hint="build, run, seed and test run on Spark targets; use a DuckDB target for the others")
    database = project.database
    if database != MEMORY:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = duckdb.connect(database)
    except duckdb.Error as error:
        raise ConfigError(f"cannot open the DuckDB database {database}: {error}", path=project.target.profiles_path,
                          hint="check `path:` of the target; another process may have the file open") from None
    try:
        connection.prepare(conn, project.target)
    except BaseException:
        conn.close()
        raise
    project.renderer.connection = conn
    return conn


def is_incremental_run(conn: duckdb.DuckDBPyConnection, model: ModelNode, full_refresh: bool,
                       catalog: LiveCatalog = materialize.LIVE) -> bool:
    """True when an incremental model's table exists and is to be added to, not rebuilt (a model's
    `full_refresh` config, when set, overrides --full-refresh, as in dbt)."""
    refresh = model.config.get("full_refresh")
    return (model.materialized == "incremental" and not (full_refresh if refresh is None else refresh)
            and materialize.relation_type(conn, model.relation, catalog) == "table")


def render_model(project: Project, model: ModelNode, *, incremental: bool = False) -> CompiledSQL:
    """The model's SQL as it will run: Jinja rendered, ephemeral models inlined as CTEs; it can say
    where each of its positions is in the model file."""
    ctes: dict[str, str] = {}
    rendered = _render(project, model, incremental, ctes)
    body = _trimmed(rendered)
    at, inserted = cte_insertion(body, ctes)
    return CompiledSQL(body[:at] + inserted + body[at:], source=model.raw_sql, rendered=rendered,
                       start=len(rendered) - len(rendered.lstrip()), inserted=(at, len(inserted)))


def render_inline(project: Project, sql: str) -> str:
    """An inline SELECT (`show --inline`) through Jinja, with ref() and source() of the project."""
    ctes: dict[str, str] = {}
    inline = ModelNode(name="inline", path=project.root / "inline.sql", relpath="inline.sql", raw_sql=sql,
                       relation=Relation(project.target.schema, "inline"), fqn=[project.name, "inline"])
    rendered = project.renderer.render_text(sql, inline.path, inline.name, _functions(project, inline, False, ctes))
    return with_ctes(_trimmed(rendered), ctes)


def with_ctes(sql: str, ctes: dict[str, str]) -> str:
    at, inserted = cte_insertion(sql, ctes)
    return sql[:at] + inserted + sql[at:]


def cte_insertion(sql: str, ctes: dict[str, str]) -> tuple[int, str]:
    """Where in `sql` the definitions of `ctes` go, and the text that goes there: a WITH of its own,
    or the first definitions of the WITH that `sql` starts with."""
    if not ctes:
        return 0, ""
    definitions = ",\n".join(f"{name} as (\n{body}\n)" for name, body in ctes.items())
    start = _LEADING_COMMENTS.match(sql).end()
    existing = _WITH.match(sql, start)
    if existing:
        return existing.end(), f"{definitions},\n"
    return start, f"with {definitions}\n"


def write_compiled(project: Project, relpath: str, sql: str, package: str | None = None) -> Path:
    path = project.target_path / "compiled" / (package or project.name) / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sql + "\n", encoding="utf-8")
    return path


def _render(project: Project, model: ModelNode, incremental: bool, ctes: dict[str, str]) -> str:
    """The model file through Jinja; the ephemeral models it reads go into `ctes`."""
    functions = _functions(project, model, incremental, ctes, known_refs_only=True)
    if isinstance(model, SnapshotNode):
        return project.renderer.render_part(model.raw_sql, model.path, model.name, functions)
    return project.renderer.render(model.path, model.name, functions)


def compile_test(project: Project, test: DataTest) -> tuple[str, Path]:
    """A data test's failing-rows query, rendered with its ephemeral CTEs, and where it was written."""
    ctes: dict[str, str] = {}
    rendered = failing_rows_sql(project, test, _functions(project, test, False, ctes))
    sql = with_ctes(_trimmed(rendered), ctes)
    return sql, write_compiled(project, f"tests/{test.alias}.sql", sql)


def _trimmed(rendered: str) -> str:
    return rendered.strip().rstrip(";").rstrip()


def _functions(project: Project, model: ModelNode | SeedNode, incremental: bool,
               ctes: dict[str, str], known_refs_only: bool = False) -> ModelFunctions:
    """`known_refs_only`: a ref() that reading the project did not see (in a branch taken only when
    `execute` is true) is an error, as in dbt: the node would be built before what it reads."""
    def ref(*args: str, **version: object) -> Relation | str:
        node = resolve_ref(project, model, *args, version=versions.requested(version))
        if known_refs_only and node.unique_id not in model.depends_on:
            raise ModelError(f"unable to infer all dependencies of {model.resource_type} {model.name!r}: it reads "
                             f"{node.name!r} only when it runs (ref() inside a condition such as `if execute`)",
                             hint=f"add this line at the top of the file: -- depends_on: {{{{ ref('{node.name}') }}}}")
        if isinstance(node, ModelNode) and node.materialized == "ephemeral":
            name = CTE_PREFIX + node.name
            if name not in ctes:
                ctes[name] = _trimmed(_render(project, node, False, ctes))
            return name
        return _limited(project, node.relation)

    def source(source_name: str, table_name: str) -> Relation | str:
        return _limited(project, resolve_source(project, model, source_name, table_name).relation)

    config = ModelConfig(lambda *a, **k: "", lambda: model.config, f"{model.resource_type} {model.name!r}")
    return ModelFunctions(ref=ref, source=source, config=config, this=model.relation, is_incremental=incremental,
                          node=model)


def _limited(project: Project, relation: Relation) -> Relation | str:
    """With --empty, what ref() and source() give: the relation read with no rows (dbt's `limit 0`)."""
    return f"(select * from {relation} where false limit 0)" if project.flags.empty else relation


class _Runner:
    """Runs nodes on one connection. A node with hooks looks relations up in the database itself (its
    hooks may change any), and makes the shared catalog read it again afterwards."""

    def __init__(self, project: Project, graph: Graph, conn: duckdb.DuckDBPyConnection, *, full_refresh: bool,
                 sql_transform: SqlTransform, debug: bool, catalog: Catalog, exclusive: threading.Lock,
                 stop: StopRequest, thread_id: str, selected: set[str]):
        self.project = project
        self.graph = graph
        self.conn = conn
        self.full_refresh = full_refresh
        self.sql_transform = sql_transform
        self.debug = debug
        self.shared_catalog = catalog
        self.catalog: LiveCatalog = catalog
        self.exclusive = exclusive
        self.stop = stop
        self.thread_id = thread_id
        self.selected = selected
        """The nodes this run builds."""

    def run(self, node: ModelNode | SeedNode | DataTest | UnitTest) -> RunResult:
        started, started_at = time.perf_counter(), now()
        self.project.renderer.connection = self.conn  # run_query in this thread's templates runs here
        live = _changes_unrecorded_relations(node)
        self.catalog = materialize.LIVE if live else self.shared_catalog
        try:
            if isinstance(node, DataTest):
                result = self._test(node)
            elif isinstance(node, UnitTest):
                result = self._unit_test(node)
            elif isinstance(node, SnapshotNode):
                result = self._snapshot(node)
            elif isinstance(node, SeedNode):
                result = self._seed(node)
            else:
                result = self._model(node)
        finally:
            if live:
                self.shared_catalog.forget()
        result.execution_time = time.perf_counter() - started
        result.thread_id = self.thread_id
        result.timing = [{"name": "execute", "started_at": started_at, "completed_at": now()}]
        return result

    def _atomic(self):
        """A node's transaction, which a stop requested before its commit rolls back (DuckDB forgets an
        interrupt that comes between two statements)."""
        return materialize.atomic(self.conn, self.catalog, before_commit=self.stop.check)

    @contextmanager
    def _transform_turn(self, model: ModelNode, sql: str) -> Iterator[None]:
        """Around a model's transaction. A transform that must have the model to itself (one without an
        `exclusive` method, or whose `exclusive(sql)` is true, as the SMART_LLM runner's for a model with
        LLM calls) has one model at a time, until the model is materialized or has failed; then its
        `finished(model)`, if it has one, is called (the SMART_LLM runner drops the model's result tables)."""
        exclusive = getattr(self.sql_transform, "exclusive", None)
        if self.sql_transform is identity_transform or exclusive is not None and not exclusive(sql):
            yield
            return
        with self.exclusive:
            try:
                yield
            finally:
                finished = getattr(self.sql_transform, "finished", None)
                if finished is not None:
                    finished(model)

    def _seed(self, seed: SeedNode) -> RunResult:
        result = _result(seed, f"loaded seed {seed.relation.display}", self.project)
        try:
            materialize.ensure_schema(self.conn, seed.relation, self.catalog)
            self._hooks(seed, "pre", inside_transaction=False)
            with self._atomic():
                self._hooks(seed, "pre", inside_transaction=True)
                result.rows_affected = materialize.load_seed(self.conn, seed, self.catalog,
                                                             in_place=self._reload_in_place(seed))
                persist_docs.apply(self.conn, seed, "table")
                self._hooks(seed, "post", inside_transaction=True)
            self._hooks(seed, "post", inside_transaction=False)
        except Exception as error:
            return self._failed(result, seed, error, f"loading seed {seed.relation.display}", seed.path)
        return result

    def _reload_in_place(self, seed: SeedNode) -> bool:
        refresh = seed.config.get("full_refresh")
        return self.project.config.seeds_reload_in_place and not (self.full_refresh if refresh is None else refresh)

    def _model(self, model: ModelNode) -> RunResult:
        kind = model.materialized
        result = _result(model, f"created {kind} {model.relation.display}", self.project)
        compiled_path = sql = None
        try:
            incremental = is_incremental_run(self.conn, model, self.full_refresh, self.catalog)
            compiled = render_model(self.project, model, incremental=incremental)
            compiled_path = write_compiled(self.project, model.relpath, compiled, model.fqn[0])
            compiled = compiled.written_to(self.project.display(compiled_path))
            result.compiled_code = str(compiled)
            materialize.ensure_schema(self.conn, model.relation, self.catalog)
            self._hooks(model, "pre", inside_transaction=False)
            with self._transform_turn(model, compiled), self._atomic():
                self._hooks(model, "pre", inside_transaction=True)
                sql = self.sql_transform(model, compiled, self.conn)
                if model.contract:
                    contracts.check(self.conn, model, model.contract, sql)
                if kind == "view":
                    materialize.create_view(self.conn, model.relation, sql, self.catalog)
                elif kind == "external":
                    result.rows_affected = external.build(self.conn, self.project, model, sql)
                elif incremental:
                    result.rows_affected = materialize.insert_incremental(self.conn, model, sql,
                                                                          self.project.config.on_schema_change,
                                                                          self.catalog)
                    result.description = f"inserted into incremental {model.relation.display}"
                elif model.contract:
                    result.rows_affected = contracts.build_table(self.conn, self.project, model, sql, self.selected)
                else:
                    result.rows_affected = materialize.create_table(self.conn, model.relation, sql, self.catalog)
                persist_docs.apply(self.conn, model, "view" if kind in ("view", "external") else "table")
                self._hooks(model, "post", inside_transaction=True)
            self._hooks(model, "post", inside_transaction=False)
        except Exception as error:
            hint = f"the SQL that ran is in {self.project.display(compiled_path)}" if compiled_path else None
            self._failed(result, model, error, f"creating {kind} {model.relation.display}", model.path, hint, sql)
        finally:
            result.extras.update(self._transform_extras(model))
        return result

    def _hooks(self, node: ModelNode | SeedNode, when: str, *, inside_transaction: bool) -> None:
        functions = _functions(self.project, node, False, {})
        run_hooks(self.conn, node.pre_hooks if when == "pre" else node.post_hooks,
                  lambda sql: self.project.renderer.render_text(sql, node.path, node.name, functions),
                  inside_transaction=inside_transaction, label=f"{when}-hook of {node.resource_type} {node.name!r}",
                  path=node.path)

    def _transform_extras(self, model: ModelNode) -> dict:
        extras = getattr(self.sql_transform, "extras", None)
        return dict(extras(model)) if extras else {}

    def _snapshot(self, snapshot: SnapshotNode) -> RunResult:
        result = _result(snapshot, f"snapshotted {snapshot.relation.display}", self.project)
        sql = None
        try:
            compiled = render_model(self.project, snapshot)
            compiled_path = write_compiled(self.project, f"snapshots/{snapshot.name}.sql", compiled)
            sql = compiled.written_to(self.project.display(compiled_path))
            result.compiled_code = str(sql)
            materialize.ensure_schema(self.conn, snapshot.relation, self.catalog)
            self._hooks(snapshot, "pre", inside_transaction=False)
            with self._atomic():
                self._hooks(snapshot, "pre", inside_transaction=True)
                result.rows_affected, created = run_snapshot(self.conn, snapshot, sql, self.catalog)
                self._hooks(snapshot, "post", inside_transaction=True)
            self._hooks(snapshot, "post", inside_transaction=False)
        except Exception as error:
            return self._failed(result, snapshot, error, f"snapshot {snapshot.relation.display}", snapshot.path)
        if not created:
            result.description = f"snapshotted {snapshot.relation.display} (new versions inserted)"
        return result

    def _test(self, test: DataTest) -> RunResult:
        result = _result(test, test.name, self.project)
        try:
            sql, compiled = compile_test(self.project, test)
            result.compiled_code = sql
            failing = sql
            if test.stores_failures:
                with self._atomic():
                    stored = store_failures(self.conn, self.project, test, limited(test, sql), self.catalog)
                failing = f"select * from {stored}"
                result.relation = stored.display
            result.status, result.failures = judged(test, self.conn.execute(outcome_sql(test, failing)).fetchone(),
                                                    self.project.flags.warn_error, self.project.display(test.path))
            if result.status != "pass":
                result.message = self._failure_message(test, result, failing, compiled)
        except Exception as error:
            return self._failed(result, test, error, test.name, test.path)
        return result

    def _unit_test(self, test: UnitTest) -> RunResult:
        result = _result(test, f"unit_test {test.model}::{test.name}", self.project)
        try:
            result.status, result.failures, result.message, sql = unit_tests.run(self.conn, self.project, test)
            compiled = write_compiled(self.project, f"unit_tests/{test.model}/{test.name}.sql", sql)
            if result.message:
                result.message += f"\n(declared in {self.project.display(test.path)}; query: " \
                                  f"{self.project.display(compiled)})"
        except Exception as error:
            return self._failed(result, test, error, f"unit_test {test.model}::{test.name}", test.path)
        return result

    def _failure_message(self, test: DataTest, result: RunResult, failing: str, compiled: Path) -> str:
        """dbt's 'Got N results, configured to fail if != 0', with the first failing rows, so the user sees
        what is wrong."""
        condition = test.config.get("error_if" if result.status == "fail" else "warn_if", "!= 0")
        verb = "fail" if result.status == "fail" else "warn"
        head = (f"Got {result.failures} result{'s' * (result.failures != 1)}, configured to {verb} if "
                f"{str(condition).strip()}")
        cursor = self.conn.execute(f"select * from (\n{limited(test, failing)}\n) limit {PREVIEW_ROWS}")
        rows = cursor.fetchall()
        table = format_rows([column[0] for column in cursor.description], rows)
        where = (f"declared in {self.project.display(test.path)}; query: {self.project.display(compiled)}"
                 + (f"; failing rows stored in {result.relation}" if result.relation else ""))
        return f"{head}; first failing rows:\n{table}\n({where})"

    def _failed(self, result: RunResult, node, error: Exception, description: str, path: Path,
                hint: str | None = None, sql: str | None = None) -> RunResult:
        """`sql` is the model's SQL as materialized, when the error may be about a position in it."""
        result.status = "error"
        result.description = description
        if isinstance(error, SmartSqlError):
            result.message = str(error)
        else:
            detail = f"{type(error).__name__}: {error}" if not isinstance(error, duckdb.Error) else error_text(error)
            place = (error_place(error, sql, first_line=materialize.SQL_LINE, within=_REWRITTEN)
                     if sql is not None and isinstance(error, duckdb.Error) else None)
            result.message = str(placed_error(f"{node.resource_type} {node.name!r} failed: {detail}", place,
                                              path=self.project.display(path), hint=hint))
        if self.debug:
            result.message += "\n" + "".join(traceback.format_exception(error))
        return result


def _changes_unrecorded_relations(node) -> bool:
    """Whether building `node` may create or change relations without telling the shared catalog: its
    hooks, unit tests, contracts, external files and incremental strategies run SQL of their own."""
    hooked = bool(getattr(node, "pre_hooks", None) or getattr(node, "post_hooks", None))
    return hooked or isinstance(node, UnitTest) or bool(getattr(node, "contract", None)) \
        or getattr(node, "materialized", None) in ("external", "incremental")


def _result(node, description: str, project: Project) -> RunResult:
    relation = getattr(node, "relation", None)
    path = node.relpath if hasattr(node, "relpath") else node.path.relative_to(project.root).as_posix()
    return RunResult(unique_id=node.unique_id, name=node.name, resource_type=node.resource_type, status="success",
                     description=description, relation=relation.display if isinstance(relation, Relation) else None,
                     path=path, relation_name=relation_name(project, relation if isinstance(relation, Relation) else None))


def _skipped(node, failed_upstream: str, project: Project) -> RunResult:
    if failed_upstream.startswith(FAIL_FAST):
        failed = failed_upstream.removeprefix(FAIL_FAST)
        result = _result(node, f"{node.resource_type} {node.name} (--fail-fast: {failed} failed)", project)
        result.status, result.message = "skipped", f"skipped because {failed} failed and --fail-fast stops the run"
        return result
    result = _result(node, f"{node.resource_type} {node.name} (upstream {failed_upstream} failed)", project)
    result.status = "skipped"
    result.message = f"skipped because {failed_upstream} failed"
    return result
