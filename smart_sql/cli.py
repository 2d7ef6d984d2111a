"""The `smart-sql` command line: argument handling over the Python API, nothing more."""

from __future__ import annotations

import functools
import os
import signal
import sys
import traceback
from pathlib import Path

import click
import yaml

import smart_sql

from .errors import ConfigError, SmartSqlError


def _common_options(command):
    options = [
        click.option("--project-dir", default=".", show_default=True, type=click.Path(file_okay=False),
                     help="Folder holding smart_sql_project.yml (or dbt_project.yml)."),
        click.option("--profiles-dir", default=None, type=click.Path(file_okay=False),
                     help="Folder holding profiles.yml (default: project dir, ~/.smart_sql, $DBT_PROFILES_DIR, ~/.dbt)."),
        click.option("--target", "-t", default=None, help="Output of the profile to use (default: its `target`)."),
        click.option("--vars", "vars_text", default=None, help="YAML mapping overriding project vars, e.g. '{days: 7}'."),
        click.option("--debug", is_flag=True, default=False, help="Show tracebacks."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _selection_options(command):
    from .cli_options import selection_options

    return _flag_options(selection_options(command))


def _flag_options(command):
    from .cli_options import flag_options

    return flag_options(command)


def _handles_errors(command):
    """Errors become one clear message and exit code 2 (configuration, files) or 1 (run failure)."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        debug = kwargs.get("debug") or (click.get_current_context().find_root().params.get("debug"))
        try:
            return command(*args, **kwargs)
        except BrokenPipeError:
            _end_on_closed_pipe()
        except (SmartSqlError, OSError) as error:
            if debug:
                traceback.print_exc()
            click.secho(f"Error: {error}", fg="red", err=True)
            sys.exit(error.exit_code if isinstance(error, SmartSqlError) else ConfigError.exit_code)
        except KeyboardInterrupt as error:
            click.secho(f"Interrupted ({error})." if str(error) else "Interrupted.", fg="red", err=True)
            sys.exit(getattr(error, "exit_code", 130))
    return wrapper


def _end_on_closed_pipe():
    """The reader of the output has gone (`smart-sql compile | head`): end quietly, with the exit code
    of a process that SIGPIPE ended, and keep the interpreter's last flush from failing again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(128 + signal.SIGPIPE)


def _load(project_dir, profiles_dir, target, vars_text, threads=None):
    from .cli_options import project_flags
    from .project import load_project

    project = load_project(project_dir, profiles_dir=profiles_dir, target=target, vars=_parse_vars(vars_text))
    project.flags = project_flags()
    if threads is not None:
        from .threads import with_threads

        with_threads(project, threads)
    return project


def _parse_vars(text: str | None) -> dict:
    return _parse_mapping(text, "--vars")


def _parse_mapping(text: str | None, option: str) -> dict:
    if not text:
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{option} is not valid YAML: {error}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{option} must be a mapping, got {text!r}", hint=f"e.g. {option} '{{start_date: 2024-01-01}}'")
    return value


def sql_transform_for(project, reporter, use_cache=True, monitor=None, max_cost=None):
    """The step between rendering and materializing each model: fills its SMART_LLM columns."""
    from .llm_transform import LazyLLMRunner

    return LazyLLMRunner(llm_runner_for(project, reporter, use_cache, monitor, max_cost))


def llm_runner_for(project, reporter, use_cache=True, monitor=None, max_cost=None, kind=None):
    """What makes the build's SMART_LLM runner (an LLMRunner, or `kind`), with the CLI's options."""
    def runner():
        from dataclasses import replace

        from .llm_sql import LLMRunner

        config, source = project.target.llm, "llm.max_cost in profiles.yml"
        if max_cost is not None:
            config, source = replace(config, max_cost=max_cost), "--max-cost"
        return (kind or LLMRunner)(config, cache_path=project.llm_cache_path, use_cache=use_cache,
                                   progress=reporter.info, monitor=monitor, budget_source=source)
    return runner


def _build_on_adapter(project, select, exclude, full_refresh, reporter, monitor, use_cache, max_cost,
                      resource_types, name, debug, stop):
    """A build on a target other than DuckDB (`type: spark`), through its engine adapter."""
    from .adapters.build import build
    from .adapters.llm import AdapterLLMRunner

    return build(project, select, exclude, full_refresh=full_refresh, reporter=reporter,
                 resource_types=resource_types, command=name, debug=debug, stop=stop,
                 llm_runner=llm_runner_for(project, reporter, use_cache, monitor, max_cost, AdapterLLMRunner))


def _output_options(command):
    command = click.option("--quiet", "-q", is_flag=True, default=False,
                           help="Print only errors and the closing count.")(command)
    return click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
                        help="text: a live display on a terminal, plain lines elsewhere; json: one object a line.")(command)


def compile_hook_for(project, explain=False):
    """Extra per-model output of `compile`: the LLM tasks and the rewritten SQL."""
    from .llm_explain import CompileHook

    return CompileHook(project.target.llm, project.target_path, explain=explain)


@click.group()
@click.version_option(smart_sql.__version__, prog_name="smart-sql")
@click.option("--debug", is_flag=True, default=False, help="Show tracebacks.")
def main(debug):
    """smart-sql: build SQL models into DuckDB, dbt-style."""


def _run_command(name: str, help_text: str, resource_types: tuple[str, ...], refresh: bool = True):
    @_common_options
    @_selection_options
    @click.option("--full-refresh", is_flag=True, default=False,
                  help="Rebuild incremental models from scratch.", hidden=not refresh)
    @click.option("--no-cache", is_flag=True, default=False, hidden=not refresh,
                  help="Neither read nor write the LLM response cache: every SMART_LLM answer is paid again.")
    @_output_options
    @click.option("--threads", type=click.IntRange(min=1), default=None,
                  help="Nodes to run at once (default: the profile's `threads`, else 1).")
    @click.option("--max-cost", type=click.FloatRange(min=0), default=None, hidden=not refresh,
                  help="Dollars the LLM requests of this build may cost at most (overrides llm.max_cost).")
    @click.option("--dry-run", is_flag=True, default=False, hidden=name not in ("build", "run"),
                  help="Print the plan (`smart-sql plan`) instead of building: no model is called.")
    @click.option("--json", "as_json", is_flag=True, default=False, hidden=name not in ("build", "run"),
                  help="With --dry-run: the plan as one JSON document.")
    @_handles_errors
    def command(project_dir, profiles_dir, target, vars_text, debug, select, exclude, full_refresh, no_cache,
                quiet, log_format, threads, max_cost, dry_run, as_json):
        from .execute import build
        from .interrupts import stop_on_signals
        from .llm_report.history import record_run
        from .progress import make_output
        from .progress.preflight import check_before_build

        project = _load(project_dir, profiles_dir, target, vars_text, threads)
        if (dry_run or as_json) and name not in ("build", "run"):
            raise click.UsageError(f"--dry-run and --json are options of build and run, not of {name}")
        if dry_run:
            _print_plan(project, select, exclude, full_refresh, max_cost, as_json)
            return
        reporter, monitor = make_output(quiet=quiet, log_format=log_format)
        debug = debug or click.get_current_context().find_root().params.get("debug")
        check_before_build(project, reporter, select, exclude, resource_types)
        try:
            with stop_on_signals() as stop:
                if project.target.type != "duckdb":
                    results = _build_on_adapter(project, select, exclude, full_refresh, reporter, monitor,
                                                not no_cache, max_cost, resource_types, name, debug, stop)
                    sys.exit(results.exit_code)
                results = build(project, select, exclude, full_refresh=full_refresh,
                                sql_transform=sql_transform_for(project, reporter, not no_cache, monitor, max_cost),
                                reporter=reporter,
                                resource_types=resource_types, command=name, debug=debug, stop=stop,
                                threads=project.target.threads)
        finally:
            record_run(project)
        sys.exit(results.exit_code)

    command.__doc__ = help_text
    return main.command(name)(command)


_run_command("build", "Seed, run, snapshot and test the selected nodes in DAG order.",
             ("seed", "model", "snapshot", "test", "unit_test"))
_run_command("run", "Build the selected models.", ("model",))
_run_command("seed", "Load seeds/*.csv as tables.", ("seed",), refresh=False)
_run_command("test", "Run the data tests and unit tests of the selected nodes.", ("test", "unit_test"),
             refresh=False)
_run_command("snapshot", "Run the selected snapshots (dbt's type-2 history tables).", ("snapshot",), refresh=False)


@main.command("plan")
@_common_options
@_selection_options
@click.option("--full-refresh", is_flag=True, default=False, help="Plan incremental models as rebuilt from scratch.")
@click.option("--max-cost", type=click.FloatRange(min=0), default=None,
              help="Check the plan against this spending limit (overrides llm.max_cost).")
@click.option("--json", "as_json", is_flag=True, default=False, help="Print the plan as one JSON document.")
@_handles_errors
def plan_command(project_dir, profiles_dir, target, vars_text, debug, select, exclude, full_refresh, max_cost,
                 as_json):
    """What the selected models' LLM tasks would read and cost, without calling a model or changing
    the database."""
    project = _load(project_dir, profiles_dir, target, vars_text)
    _print_plan(project, select, exclude, full_refresh, max_cost, as_json)


def _print_plan(project, select, exclude, full_refresh, max_cost, as_json):
    import json

    from .plan.build import plan_build
    from .plan.output import plan_lines

    plan = plan_build(project, select, exclude, full_refresh=full_refresh, max_cost=max_cost)
    if as_json:
        click.echo(json.dumps(plan.to_dict(), indent=2))
    else:
        for line in plan_lines(plan):
            click.echo(line)


@main.command("compile")
@_common_options
@_selection_options
@click.option("--explain", is_flag=True, default=False,
              help="Count each LLM task's distinct inputs by running its input query (no model is called).")
@_handles_errors
def compile_command(project_dir, profiles_dir, target, vars_text, debug, select, exclude, explain):
    """Render the selected models into target/compiled/ without running them."""
    from .execute import compile_models

    project = _load(project_dir, profiles_dir, target, vars_text)
    compiled = compile_models(project, select, exclude, explain=compile_hook_for(project, explain))
    for item in compiled:
        click.echo(f"compiled {item.node.relpath} -> {project.display(item.path)}")
        if len(compiled) == 1:
            click.echo(item.sql)
        if item.extra:
            click.echo(item.extra)


@main.command("run-operation")
@click.argument("macro")
@_common_options
@click.option("--args", "args_text", default=None, help="YAML mapping of the macro's arguments, e.g. '{days: 7}'.")
@_handles_errors
def run_operation_command(macro, project_dir, profiles_dir, target, vars_text, debug, args_text):
    """Run MACRO (or package.MACRO) once, its queries in one transaction, as dbt's run-operation."""
    from .operations import run_operation

    project = _load(project_dir, profiles_dir, target, vars_text)
    run_operation(project, macro, _parse_mapping(args_text, "--args"))
    click.echo(f"ran operation {macro}")


@main.command("deps")
@_common_options
@_handles_errors
def deps_command(project_dir, profiles_dir, target, vars_text, debug):
    """Install the `local:` packages of packages.yml into dbt_packages/ (hub and git packages need
    the network: install them with `dbt deps`)."""
    from .dbt.packages import install
    from .project import read_project_config

    root = Path(project_dir).resolve()
    for line in install(root, read_project_config(root).packages_install_path):
        click.echo(line)


@click.command("ls")
@click.option("--output", "-o", "output", default="selector", show_default=True,
              type=click.Choice(["selector", "name", "path", "json"]), help="How each node is printed (as dbt ls).")
@click.option("--resource-type", "resource_types", multiple=True,
              type=click.Choice(["model", "seed", "snapshot", "test", "source", "unit_test", "exposure"]),
              help="Only these kinds of node.")
@_selection_options
@_common_options
@_handles_errors
def ls_command(project_dir, profiles_dir, target, vars_text, debug, select, exclude, resource_types, output):
    """List the selected nodes and sources, as dbt ls (`list` is the same command)."""
    from .listing import listed

    project = _load(project_dir, profiles_dir, target, vars_text)
    for line in listed(project, select, exclude, resource_types, output):
        click.echo(line)


main.add_command(ls_command, "ls")
main.add_command(ls_command, "list")


@main.command("parse")
@_common_options
@_flag_options
@_handles_errors
def parse_command(project_dir, profiles_dir, target, vars_text, debug):
    """Read and check the whole project, and write target/manifest.json; nothing touches the database."""
    from .execute import fail_on_warnings
    from .report import write_manifest

    project = _load(project_dir, profiles_dir, target, vars_text)
    for warning in project.config.warnings:
        click.echo(f"Warning: {warning}")
    fail_on_warnings(project)
    path = write_manifest(project)
    click.echo(f"parsed {len(project.nodes())} nodes and {len(project.sources)} sources; "
               f"wrote {project.display(path)}")


@main.command("show")
@_common_options
@_selection_options
@click.option("--inline", default=None, help="A SELECT to preview instead of a node; ref() and source() work.")
@click.option("--limit", default=5, show_default=True, type=int, help="Rows to show (-1: all).")
@_handles_errors
def show_command(project_dir, profiles_dir, target, vars_text, debug, select, exclude, inline, limit):
    """Run a model's SQL (or --inline SQL) and print its first rows, building nothing (as dbt show)."""
    from .show import show

    project = _load(project_dir, profiles_dir, target, vars_text)
    for line in show(project, select, exclude, inline, limit):
        click.echo(line)


@main.command("retry")
@_common_options
@_flag_options
@_handles_errors
def retry_command(project_dir, profiles_dir, target, vars_text, debug):
    """Run again what failed, errored or was skipped in the last run (from target/run_results.json),
    with that run's command, --vars, --target and flags."""
    from .cli_options import given_flag
    from .retry import previous_run, retry

    previous = previous_run(project_dir, given_flag("target_path"))
    args = previous["args"]
    project = _load(project_dir, profiles_dir, target or args.get("target"), vars_text or args.get("vars_text"))
    debug = debug or click.get_current_context().find_root().params.get("debug")
    results = retry(project, previous, sql_transform_for, debug=debug)
    sys.exit(results.exit_code if results else 0)


@main.group("source")
def source_group():
    """Commands about sources."""


@source_group.command("freshness")
@_common_options
@_selection_options
@click.option("--output", "-o", "output_path", default=None, type=click.Path(dir_okay=False),
              help="Where to write the results (default: target/sources.json).")
@_handles_errors
def source_freshness_command(project_dir, profiles_dir, target, vars_text, debug, select, exclude, output_path):
    """Check how recent each source's data is against its `freshness:` (warn_after, error_after)."""
    from .freshness import check_freshness

    project = _load(project_dir, profiles_dir, target, vars_text)
    sys.exit(check_freshness(project, select, exclude, output_path, click.echo))


@main.group("docs")
def docs_group():
    """Documentation artifacts."""


@docs_group.command("generate")
@_common_options
@_selection_options
@_handles_errors
def docs_generate_command(project_dir, profiles_dir, target, vars_text, debug, select, exclude):
    """Write manifest.json and catalog.json (each relation's columns, types and stats), as dbt docs generate."""
    from .catalog import write_catalog
    from .report import write_manifest

    project = _load(project_dir, profiles_dir, target, vars_text)
    manifest = write_manifest(project)
    catalog = write_catalog(project)
    click.echo(f"wrote {project.display(manifest)} and {project.display(catalog)}")


@main.command("debug")
@_common_options
@_handles_errors
def debug_command(project_dir, profiles_dir, target, vars_text, debug):
    """Check the project, the profile, the connection and the llm settings."""
    from .execute import connect

    project = _load(project_dir, profiles_dir, target, vars_text)
    chosen, llm = project.target, project.target.llm
    lines = [
        f"smart-sql {smart_sql.__version__}, python {sys.version.split()[0]}",
        f"project: {project.name} ({project.display(project.root)})",
        f"profiles.yml: {project.display(chosen.profiles_path)}",
        f"profile: {chosen.profile_name}, target: {chosen.name}",
        f"database: {chosen.database} (schema {chosen.schema})",
        f"models: {len(project.models)}, seeds: {len(project.seeds)}, data tests: {len(project.tests)}",
        f"llm provider: {llm.provider}" + (" (simulated: answers are not from a real model)"
                                           if llm.provider == "simulated" else ""),
        f"llm models: {', '.join(m.name + (' (reference)' if m.reference else '') for m in llm.models)}",
        f"llm base_url: {llm.base_url or 'default'}",
        f"llm api_key: {'set' if llm.api_key else 'not set'}",
        f"llm cache: {project.display(project.llm_cache_path) if llm.cache else 'off'}",
    ]
    for line in lines:
        click.echo(line)
    with connect(project) as conn:
        conn.execute("select 1").fetchone()
    click.echo("connection: OK")
    if llm.provider == "openai" and not llm.api_key:
        raise ConfigError("the openai provider has no api_key", path=chosen.profiles_path,
                          hint="set api_key: \"{{ env_var('OPENAI_API_KEY') }}\" and export the variable")
    if llm.provider == "openai":
        from .llm.endpoint import check_endpoint

        check = check_endpoint(llm)
        for line in check.lines():
            click.echo(line)
        if not check.ok:
            click.secho("Some checks failed (see above): no LLM answer can be had from this endpoint as configured.",
                        fg="red", err=True)
            sys.exit(1)
    click.echo("All checks passed.")


@main.command("clean")
@_common_options
@_handles_errors
def clean_command(project_dir, profiles_dir, target, vars_text, debug):
    """Empty the target folder (or the project's clean-targets), keeping the LLM response cache:
    answers already paid for stay free (`smart-sql cache clear` empties it)."""
    from .clean import clean

    for line in clean(Path(project_dir)):
        click.echo(line)


@main.command("init")
@click.argument("name")
@click.option("--debug", is_flag=True, default=False, help="Show tracebacks.")
@_handles_errors
def init_command(name, debug):
    """Create a new project folder NAME with a profile, a seed, models and a test."""
    from .scaffold import create_project

    path = create_project(Path(name))
    click.echo(f"created project {path.name} in {path}")
    click.echo(f"next: cd {name} && smart-sql build")


@main.group("cache")
def cache_group():
    """The response cache: answers already received, reused at no cost by every rebuild."""


@cache_group.command("stats")
@_common_options
@_handles_errors
def cache_stats_command(project_dir, profiles_dir, target, vars_text, debug):
    """Show how many answers the response cache holds, per model."""
    from .llm.cache import cache_stats

    project = _load(project_dir, profiles_dir, target, vars_text)
    stats = cache_stats(project.llm_cache_path)
    click.echo(f"cache: {project.display(project.llm_cache_path)}")
    click.echo(f"answers: {stats['entries']}")
    for model, row in stats["models"].items():
        click.echo(f"  {model}: {row['entries']} answers, "
                   f"{row['input_tokens']} input and {row['output_tokens']} output tokens")


@cache_group.command("clear")
@_common_options
@click.confirmation_option(prompt="Delete every cached answer? A rebuild will pay for them again.")
@_handles_errors
def cache_clear_command(project_dir, profiles_dir, target, vars_text, debug):
    """Delete every cached answer."""
    from .llm.cache import clear_cache

    project = _load(project_dir, profiles_dir, target, vars_text)
    removed = clear_cache(project.llm_cache_path)
    click.echo(f"removed {removed} answers from {project.display(project.llm_cache_path)}")


@main.command("report")
@_common_options
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
              help="Where to write the page (default: target/llm_report.html).")
@_handles_errors
def report_command(project_dir, profiles_dir, target, vars_text, debug, output):
    """Write an HTML page (self-contained, no network) on the last run's LLM spend and its history."""
    from .llm_report.commands import write_html_report

    project = _load(project_dir, profiles_dir, target, vars_text)
    click.echo(f"wrote {project.display(write_html_report(project, output))}")
