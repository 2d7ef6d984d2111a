"""Command-line options shared by many commands: dbt's space-separated selectors (`-s a b c`) and the
global flags (--fail-fast, --empty, --warn-error, --target-path, --state, --selector), which go to
the project as smart_sql.flags.RunFlags."""

from __future__ import annotations

from pathlib import Path

import click

from .flags import RunFlags

_META_KEY = "smart_sql.flags"


class MultiOption(click.Option):
    """A repeatable option that also takes the words after it up to the next option, as dbt's
    `--select a b c` (click's own options take one value each)."""

    def add_to_parser(self, parser, ctx):
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            option = parser._long_opt.get(name) or parser._short_opt.get(name)
            if option is not None:
                option.process = self._greedy(option.process, parser)

    @staticmethod
    def _greedy(process, parser):
        def take_following(value, state):
            values = [value]
            while state.rargs and not state.rargs[0].startswith("-"):
                values.append(state.rargs.pop(0))
            for each in values:
                process(each, state)
        return take_following


def selection_options(command):
    command = click.option("--selector", "selector", default=None, expose_value=False, callback=_store,
                           help="A YAML selector of selectors.yml, by name.")(command)
    command = click.option("--exclude", multiple=True, cls=MultiOption,
                           help="Selectors to leave out (space-separated or repeated).")(command)
    return click.option("--select", "-s", multiple=True, cls=MultiOption,
                        help="Selectors: name, 1+name, name+2, @name, tag:x, path:, source:, resource_type:, "
                             "test_type:, config.materialized:, state:modified, a,b (space-separated or "
                             "repeated).")(command)


def flag_options(command):
    """Options that any project command takes; their values are read by `project_flags`."""
    options = [
        click.option("--fail-fast", "-x", "fail_fast", is_flag=True, default=False, expose_value=False,
                     callback=_store, help="Stop at the first failure; the rest is skipped."),
        click.option("--empty", is_flag=True, default=False, expose_value=False, callback=_store,
                     help="Build models with no rows (every ref() and source() reads `limit 0`)."),
        click.option("--warn-error", "warn_error", is_flag=True, default=False, expose_value=False,
                     callback=_store, help="Treat warnings as errors."),
        click.option("--target-path", "target_path", default=None, expose_value=False, callback=_store,
                     envvar="DBT_TARGET_PATH", help="Folder for artifacts and compiled SQL (default: target-path)."),
        click.option("--state", "state_path", default=None, expose_value=False, callback=_store,
                     type=click.Path(file_okay=False), envvar="DBT_STATE",
                     help="Folder with the manifest.json of an earlier run, for state: selectors."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _store(ctx: click.Context, param: click.Parameter, value):
    ctx.meta.setdefault(_META_KEY, {})[param.name] = value
    return value


def given_flag(name: str):
    """A flag's value as given to the running command (None when not given)."""
    ctx = click.get_current_context(silent=True)
    return (ctx.meta.get(_META_KEY, {}) if ctx else {}).get(name)


def project_flags() -> RunFlags:
    """The flags given to the running command (their defaults outside a command)."""
    from .state import load_state

    ctx = click.get_current_context(silent=True)
    given = dict(ctx.meta.get(_META_KEY, {})) if ctx else {}
    flags = RunFlags(**{key: value for key, value in given.items() if key in RunFlags.__dataclass_fields__
                        and key != "state_path"})
    if given.get("state_path"):
        flags.state_path = Path(given["state_path"])
        flags.state = load_state(flags.state_path)
    if ctx is not None:
        flags.args = {"which": ctx.info_name, **_plain(ctx.params), **_plain(given)}
    return flags


def _plain(values: dict) -> dict:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in values.items()
            if key not in ("debug",)}
