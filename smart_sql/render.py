"""The Jinja environment of models: ref, source, config, var, env_var, is_incremental, this, macros."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import jinja2

from .dbt.jinja import returns
from .errors import ModelError, SmartSqlError

_MISSING = object()
_TEST_BLOCK = re.compile(r"{%(-?)\s*test\s+(\w+)\s*\(")
_END_TEST = re.compile(r"{%(-?)\s*endtest\s*(-?)%}")


@dataclass
class ModelFunctions:
    """What a model's template can call that depends on the model and the run."""

    ref: Callable[..., Any]
    source: Callable[[str, str], Any]
    config: Callable[..., str]
    this: Any
    is_incremental: bool = False
    node: Any = None
    """The node rendered (dbt's `model`), when there is one."""


@dataclass(frozen=True)
class TargetInfo:
    """`target` in templates: never the llm block (it may hold a key)."""

    name: str
    profile_name: str
    schema: str
    type: str = "duckdb"
    database: str = "memory"
    """The catalog models are built in by default (dbt's `target.database`)."""
    threads: int = 1
    path: str = ":memory:"


class Renderer:
    """Renders model files with every macro of the project in scope."""

    def __init__(self, macro_files: list[Path], *, vars: Mapping[str, Any], target: TargetInfo,
                 display: Callable[[Path], str] = str, builtins: Mapping[str, Callable[..., Any]] | None = None,
                 packages: Mapping[str, list[Path]] | None = None, dbt: Any = None, compiled_dir: Path | None = None):
        """`builtins`: functions every template and macro may call, which the project's macros may replace;
        `packages`: the macro files of each installed package (`name.macro` in templates); `dbt`: a
        smart_sql.dbt.jinja.provider.DbtContext that adds dbt's context; `compiled_dir`: where compiled
        templates are kept between runs (smart_sql.jinja_cache)."""
        self.vars = dict(vars)
        self.target = target
        self.display = display
        self.dbt = dbt
        self._connections = _Connections()
        extensions = ["jinja2.ext.do", "jinja2.ext.loopcontrols"]
        self.env = jinja2.Environment(loader=jinja2.FunctionLoader(_load_file), undefined=jinja2.StrictUndefined,
                                      keep_trailing_newline=True, extensions=extensions,
                                      bytecode_cache=_compiled_templates(compiled_dir, extensions))
        self.env.context_class = returns.ReturningContext
        self.env.globals.update(builtins or {})
        self._strings: dict[str, jinja2.Template] = {}
        self.internal_templates: list[jinja2.Template] = []
        if dbt is not None:
            from .dbt.jinja.context import static_globals
            from .dbt.jinja.provider import MACRO_FILES

            self.env.globals.update(static_globals())
            self.internal_templates = [self._template(path) for path in MACRO_FILES]
        self.macro_templates = [self._template(path) for path in macro_files]
        self.macro_names = self._names(macro_files, self.macro_templates)
        self.overrides: dict[str, Callable[..., Any]] = {}
        """Functions that replace macros of the same name (a unit test's `overrides: macros:`)."""
        self.package_templates = {name: [self._template(path) for path in files]
                                  for name, files in (packages or {}).items()}
        self.package_macro_names = {name: self._names(packages[name], templates)
                                    for name, templates in self.package_templates.items()}
        self.scopes: list[tuple[Path, str, Mapping[str, Any]]] = []
        """(folder, package, vars) of each installed package whose files render with its own vars and
        macros (smart_sql.dbt.package_nodes)."""

    def scope(self, path: Path) -> tuple[str | None, Mapping[str, Any]]:
        """The package whose folder holds `path` (None: the project) and the vars its files see."""
        for folder, package, vars in self.scopes:
            if folder in Path(path).parents:
                return package, vars
        return None, self.vars

    @property
    def connection(self) -> Any:
        """The build's DuckDB connection while nodes are built (dbt's `execute` is true), else None: the
        one set in this thread, else the one set in the main thread."""
        return self._connections.get()

    @connection.setter
    def connection(self, value: Any) -> None:
        self._connections.set(value)

    def _names(self, files: list[Path], templates: list[jinja2.Template]) -> set[str]:
        names: set[str] = set()
        for path, template in zip(files, templates):
            with self._errors_located(path):
                names |= {name for name, value in template.module.__dict__.items()
                          if isinstance(value, jinja2.runtime.Macro)}
        return names

    def render(self, path: Path, model_name: str, functions: ModelFunctions) -> str:
        with self._errors_located(path):
            return self._template(path).render(self._context(path, model_name, functions))

    def render_text(self, text: str, path: Path, model_name: str, functions: ModelFunctions | None = None,
                    **extra: Any) -> str:
        """A Jinja string (a hook) declared in `path`, with the macros and, if given, the model's functions."""
        with self._errors_located(path):
            return self._from_string(text).render(self._context(path, model_name, functions, **extra))

    def render_part(self, text: str, path: Path, model_name: str, functions: ModelFunctions) -> str:
        """A part of the file `path` (a snapshot block, padded so that its lines are the file's lines), so
        that an error names the file's line."""
        with self._errors_located(path):
            code = self.env.compile(text, name=str(path), filename=str(path))
            template = self.env.template_class.from_code(self.env, code, self.env.make_globals(None), None)
            return template.render(self._context(path, model_name, functions))

    def call_macro(self, name: str, path: Path, model_name: str, *args: Any) -> str | None:
        """The project's macro `name` called with `args` (None when the project defines no such macro)."""
        if name not in self.macro_names:
            return None
        with self._errors_located(path):
            return str(returns.call(self._context(path, model_name, None)[name], *args))

    @staticmethod
    def test_macro(kind: str) -> str:
        """The macro of the generic test `kind`: `test_name`, or `package.test_name` for `package.name`."""
        package, _, name = kind.rpartition(".")
        return f"{package}.test_{name}" if package else f"test_{name}"

    def render_value(self, value: Any, path: Path, **extra: Any) -> Any:
        """Every string of a YAML value rendered with var, env_var and target (as dbt renders properties),
        and `extra` (e.g. doc)."""
        if isinstance(value, str):
            return self._render_yaml_string(value, path, extra) if "{" in value else value
        if isinstance(value, Mapping):
            return {key: self.render_value(item, path, **extra) for key, item in value.items()}
        if isinstance(value, list):
            return [self.render_value(item, path, **extra) for item in value]
        return value

    def _render_yaml_string(self, text: str, path: Path, extra: Mapping[str, Any]) -> str:
        context = {"var": self._var_function(path, None), "env_var": self._env_var_function(path),
                   "target": self.target, **extra}
        with self._errors_located(path):
            return self._from_string(text).render(context)

    def _context(self, path: Path, model_name: str | None, functions: ModelFunctions | None,
                 **extra: Any) -> dict[str, Any]:
        """What a template and the macros it calls see; `extra` too (e.g. a test's should_store_failures)."""
        context: dict[str, Any] = {
            **self.env.globals,
            "var": self._var_function(path, model_name),
            "env_var": self._env_var_function(path),
            "target": self.target,
            **extra,
        }
        if functions is not None:
            context.update(ref=functions.ref, source=functions.source, config=functions.config, this=functions.this,
                           is_incremental=lambda: functions.is_incremental)
        internal = _macros(self.internal_templates, context)
        context.update(internal)
        own = _macros(self.macro_templates, context)
        context.update(own)
        context.update(self.overrides)
        if self.dbt is None:
            return context
        by_package = {self.dbt.root: own}
        for name, templates in self.package_templates.items():
            by_package[name] = _macros(templates, context)
        from .dbt.jinja.context import Namespace

        for name, macros in by_package.items():
            context.setdefault(name, Namespace(name, macros))
        local = self.scope(path)[0]
        if local is not None:
            context.update(by_package[local])
        self.dbt.add(context, by_package, internal, functions.node if functions else None, self.connection)
        return context

    def _from_string(self, text: str) -> jinja2.Template:
        """A template compiled once per text: every data test of a kind renders the same call."""
        template = self._strings.get(text)
        if template is None:
            template = self._strings[text] = self.env.from_string(text)
        return template

    def _template(self, path: Path) -> jinja2.Template:
        with self._errors_located(path):
            return self.env.get_template(str(path))

    def _var_function(self, path: Path, model_name: str | None):
        vars = self.scope(path)[1]

        def var(name: str, default: Any = _MISSING) -> Any:
            if name in vars:
                return vars[name]
            if default is not _MISSING:
                return default
            subject = f" for model {model_name!r}" if model_name else ""
            raise ModelError(f"var({name!r}) is not defined{subject}", path=self.display(path),
                             hint=f"add it under `vars:` in the project file, pass --vars '{{{name}: ...}}', "
                                  f"or give a default: var('{name}', ...)")
        return var

    def _env_var_function(self, path: Path):
        def env_var(name: str, default: Any = _MISSING) -> str:
            if name in os.environ:
                return os.environ[name]
            if default is not _MISSING:
                return default
            raise ModelError(f"environment variable {name!r} is not set", path=self.display(path),
                             hint=f"export {name}=..., or give a default: env_var('{name}', 'value')")
        return env_var

    def _errors_located(self, path: Path):
        return _LocatedErrors(path, self.display)


class _Connections:
    """A connection per thread; threads that set none use the main thread's."""

    def __init__(self):
        self.main: Any = None
        self.local = threading.local()

    def get(self) -> Any:
        return getattr(self.local, "value", self.main)

    def set(self, value: Any) -> None:
        self.local.value = value
        if threading.current_thread() is threading.main_thread():
            self.main = value


class _LocatedErrors:
    """Turns Jinja failures into a ModelError naming the template file and line."""

    def __init__(self, path: Path, display: Callable[[Path], str]):
        self.path = path
        self.display = display

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None:
            return False
        if isinstance(error, SmartSqlError):
            if error.line is None:
                error.path, error.line = self._location(error, traceback)
                error.args = (str(error),)
            return False
        if isinstance(error, jinja2.TemplateSyntaxError):
            file = Path(error.filename) if error.filename else self.path
            raise ModelError(f"Jinja syntax error: {error.message}", path=self.display(file),
                             line=error.lineno) from None
        if isinstance(error, jinja2.TemplateNotFound):
            raise ModelError(f"template not found: {error.name}", path=self.display(self.path)) from None
        if isinstance(error, Exception):
            path, line = self._location(error, traceback)
            message = error.message if isinstance(error, jinja2.TemplateError) else f"{kind.__name__}: {error}"
            raise ModelError(f"Jinja error: {message}", path=path, line=line) from None
        return False

    def _location(self, error: BaseException, traceback) -> tuple[str, int | None]:
        """The innermost frame that is a template (model or macro file)."""
        location = (error.path if isinstance(error, SmartSqlError) and error.path else self.display(self.path), None)
        tb = error.__traceback__ or traceback
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename.endswith(".sql") and Path(filename).is_file():
                location = (self.display(Path(filename)), tb.tb_lineno)
            tb = tb.tb_next
        return location


def _macros(templates: list[jinja2.Template], context: Mapping[str, Any]) -> dict[str, Any]:
    """The macros of `templates`, each seeing `context` (which may grow after)."""
    macros: dict[str, Any] = {}
    for template in templates:
        module = template.make_module(vars=context, shared=True)
        macros.update({name: value for name, value in module.__dict__.items()
                       if isinstance(value, jinja2.runtime.Macro)})
    return macros


def _compiled_templates(directory: Path | None, extensions: list[str]) -> jinja2.BytecodeCache | None:
    if directory is None:
        return None
    from .jinja_cache import CompiledTemplates

    return CompiledTemplates(directory, extensions)


def _load_file(name: str):
    path = Path(name)
    source = generic_tests_as_macros(path.read_text(encoding="utf-8"))
    mtime = path.stat().st_mtime
    return source, str(path), lambda: path.is_file() and path.stat().st_mtime == mtime


def generic_tests_as_macros(text: str) -> str:
    """dbt's `{% test name(...) %}...{% endtest %}` is the macro `test_name`, as dbt compiles it."""
    return _END_TEST.sub(r"{%\1 endmacro \2%}", _TEST_BLOCK.sub(r"{%\1 macro test_\2(", text))
