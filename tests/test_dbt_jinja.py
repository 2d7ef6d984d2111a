"""dbt's Jinja context in smart-sql: what runs when (execute), return, dispatch's search order, packages,
deps and run-operation, and the messages of what is refused (each naming the file)."""

from __future__ import annotations

import duckdb
import pytest

from smart_sql.errors import ConfigError, SmartSqlError
from smart_sql.project import load_project

PACKAGE = {
    "dbt_packages/kit/dbt_project.yml": "name: kit\nversion: '1.0'\nconfig-version: 2\n",
    "dbt_packages/kit/macros/greet.sql": (
        "{% macro greet(who) %}{{ return(adapter.dispatch('greet', 'kit')(who)) }}{% endmacro %}\n"
        "{% macro default__greet(who) %}'hello ' || {{ who }}{% endmacro %}\n"),
    "packages.yml": "packages:\n  - package: acme/kit\n    version: 1.0.0\n",
}


def _scalar(root, sql):
    with duckdb.connect(str(root / "target/dev.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_queries_run_when_the_model_is_built_not_when_the_project_is_read(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({"models/m.sql": (
        "{% do run_query('create table if not exists main.side_effect as select 1 as x') %}\n"
        "{% set found = run_query('select count(*) from main.side_effect') %}\n"
        "select {{ execute }} as executed, {{ found.rows[0][0] if execute else -1 }} as n")})
    monkeypatch.chdir(root)
    load_project(root)
    assert not (root / "target/dev.duckdb").exists()
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert _scalar(root, "select * from main.m") == [(True, 1)]


def test_return_gives_objects_through_nested_macros(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({
        "macros/lists.sql": ("{% macro inner() %}{{ return([1, 2, 3]) }}{% endmacro %}\n"
                             "{% macro outer() %}{% set values = inner() %}{{ return(values | sum) }}{% endmacro %}\n"),
        "macros/other.sql": "{% macro twice() %}{% do return(outer() * 2) %}{% endmacro %}\n",
        "models/m.sql": "select {{ outer() }} as total, {{ twice() }} as doubled"})
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    assert _scalar(root, "select * from main.m") == [(6, 12)]


def test_project_macros_replace_dbts_as_dispatch_searches(make_dbt_project, cli, monkeypatch):
    """Checked with dbt 1.11: the project's duckdb__datediff and default__dateadd both win over
    dbt-duckdb's own, qualified (dbt.x) and not."""
    root = make_dbt_project({
        "macros/overrides.sql": ("{% macro duckdb__datediff(a, b, part) %}42{% endmacro %}\n"
                                 "{% macro default__dateadd(a, b, c) %}43{% endmacro %}\n"),
        "models/m.sql": ("select {{ dbt.datediff('a', 'b', 'day') }} as d, {{ datediff('a', 'b', 'day') }} as d2, "
                         "{{ dbt.dateadd('day', 1, 'x') }} as e, {{ dbt.date_trunc('day', \"date '2024-05-06'\") }} as t")})
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    assert _scalar(root, "select d, d2, e, t::date::varchar from main.m") == [(42, 42, 43, "2024-05-06")]


def test_dbts_jinja_macros_are_callable_unqualified_too(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({"models/m.sql": (
        "select count(*) as days from ({{ date_spine('day', \"date '2024-01-01'\", \"date '2024-01-04'\") }})")})
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    assert _scalar(root, "select days from main.m") == [(3,)]


def test_a_package_macro_dispatches_to_the_projects_override_first(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({**PACKAGE, "models/m.sql": "select {{ kit.greet(\"'ana'\") }} as g"})
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    assert _scalar(root, "select g from main.m") == [("hello ana",)]
    (root / "macros").mkdir()
    (root / "macros/mine.sql").write_text("{% macro default__greet(who) %}'hi ' || {{ who }}{% endmacro %}")
    assert cli("build").exit_code == 0
    assert _scalar(root, "select g from main.m") == [("hi ana",)]


def test_the_dispatch_search_order_of_the_project_file_is_followed(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({
        **PACKAGE,
        "dbt_project.yml": ("name: shop\nconfig-version: 2\nprofile: shop\n"
                            "dispatch:\n  - macro_namespace: kit\n    search_order: [kit]\n"),
        "macros/mine.sql": "{% macro default__greet(who) %}'hi ' || {{ who }}{% endmacro %}",
        "models/m.sql": "select {{ kit.greet(\"'ana'\") }} as g"})
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    assert _scalar(root, "select g from main.m") == [("hello ana",)]


@pytest.mark.parametrize("files, message, where", [
    ({"models/m.sql": "select {{ adapter.dispatch('nothing_here')() }}"},
     "In dispatch: No macro named 'nothing_here' found within namespace: None; searched for: duckdb__nothing_here, "
     "default__nothing_here", "models/m.sql:1"),
    ({"models/m.sql": "select {{ adapter.dispatch('kit.greet')() }}"},
     "\"kit.greet\", but \".\" is not a valid macro name component", "models/m.sql:1"),
    ({"models/m.sql": "select 1\n{{ exceptions.raise_compiler_error('orders need an id') }}"},
     "Compilation Error: orders need an id", "models/m.sql:2"),
    ({"models/m.sql": "select {{ config.require('owner') }}"},
     "model 'm': config('owner') is required, but it is not set", "models/m.sql:1"),
    ({**PACKAGE, "models/m.sql": "select {{ kit.wave() }}"}, "package 'kit' has no macro 'wave'", "models/m.sql:1"),
    ({**PACKAGE, "dbt_packages/kit/macros/bad.sql": "{% macro broken() %}\n{{ nope.x }}\n{% endmacro %}",
      "models/m.sql": "select {{ kit.broken() }}"},
     "'nope' is undefined", "dbt_packages/kit/macros/bad.sql:2"),
    ({"models/m.sql": "{% call statement('s', language='python') %}x{% endcall %}select 1"},
     "statement('s'): language 'python' is not supported", "models/m.sql:1"),
])
def test_jinja_errors_name_the_file_and_line(make_dbt_project, files, message, where):
    root = make_dbt_project(files)
    with pytest.raises(SmartSqlError) as error:
        load_project(root)
    assert message in str(error.value)
    assert where in str(error.value)


@pytest.mark.parametrize("files, message, path", [
    ({"packages.yml": "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n", "models/m.sql": "select 1"},
     "1 package(s) are listed in packages.yml, but only 0 are installed in dbt_packages/", "packages.yml"),
    ({**PACKAGE, "dependencies.yml": "packages:\n  - package: acme/kit\n"},
     "packages are listed in both packages.yml and dependencies.yml", "dependencies.yml"),
    ({**PACKAGE, "dbt_packages/kit/snapshots/codes.sql": "{% snapshot codes %}select 1{% endsnapshot %}"},
     "package 'kit' has snapshots", "dbt_packages/kit/snapshots/codes.sql"),
    ({**PACKAGE, "dbt_packages/kit/tests/generic/positive.sql": "{% test positive(model, column_name) %}"
                                                               "select 1 where false{% endtest %}",
      "models/m.sql": "select 1 as x", "models/m.yml": "models:\n  - name: m\n    columns:\n      - name: x\n"
                                                       "        data_tests: [positive]\n"},
     "test 'positive' on m is defined in a package; dbt finds a package's test by its package name only",
     "models/m.yml"),
    ({"models/m.sql": "select 1", "models/m.yml": "models:\n  - name: m\n    description: '{{ doc(\"gone\") }}'\n"},
     "doc('gone'): no such doc block", "models/m.sql"),
    ({"dbt_project.yml": "name: shop\nprofile: shop\ndispatch:\n  - macro_namespace: kit\n", "models/m.sql": "select 1"},
     "needs `macro_namespace:` (a name) and `search_order:`", "dbt_project.yml"),
])
def test_what_packages_and_docs_cannot_do_is_refused_naming_the_file(make_dbt_project, files, message, path):
    root = make_dbt_project(files)
    with pytest.raises(ConfigError) as error:
        load_project(root)
    assert message in error.value.message
    assert error.value.path.endswith(path)


def test_a_package_generic_test_runs_by_its_namespace(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({
        **PACKAGE, "dbt_packages/kit/tests/generic/positive.sql":
            "{% test positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}",
        "models/m.sql": "select -1 as x", "models/m.yml": "models:\n  - name: m\n    columns:\n      - name: x\n"
                                                          "        data_tests: [kit.positive]\n"})
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 1
    assert "FAIL kit_positive_m_x" in result.output


def test_deps_links_local_packages_and_refuses_what_needs_the_network(make_dbt_project, cli, tmp_path, monkeypatch):
    kit = tmp_path / "shared/kit"
    (kit / "macros").mkdir(parents=True)
    (kit / "dbt_project.yml").write_text("name: kit\n")
    (kit / "macros/greet.sql").write_text("{% macro greet() %}'hello'{% endmacro %}")
    root = make_dbt_project({"packages.yml": "packages:\n  - local: ../shared/kit\n",
                             "models/m.sql": "select {{ kit.greet() }} as g"})
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 2
    result = cli("deps")
    assert result.exit_code == 0, result.output
    assert "local: ../shared/kit: linked into" in result.output
    assert (root / "dbt_packages/kit/macros/greet.sql").is_file()
    assert cli("build").exit_code == 0
    assert _scalar(root, "select g from main.m") == [("hello",)]

    (root / "packages.yml").write_text("packages:\n  - local: ../shared/kit\n  - package: dbt-labs/dbt_utils\n"
                                       "    version: 1.3.0\n")
    result = cli("deps")
    assert result.exit_code == 2
    assert ("cannot install package: dbt-labs/dbt_utils (version 1.3.0): hub, git and tarball packages are "
            "downloaded from the network") in result.output
    assert "run `dbt deps` to install them" in result.output


def test_run_operation_runs_in_one_transaction(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({
        "models/m.sql": "select 1 as x",
        "macros/ops.sql": (
            "{% macro grow(table, rows, fail=false) %}\n"
            "{% do run_query('create table if not exists main.' ~ table ~ ' (n integer)') %}\n"
            "{% for n in range(rows) %}{% call statement() %}insert into main.{{ table }} values ({{ n }})"
            "{% endcall %}{% endfor %}\n"
            "{% if fail %}{{ exceptions.raise_compiler_error('stop after ' ~ rows) }}{% endif %}\n"
            "{% endmacro %}\n")})
    monkeypatch.chdir(root)
    result = cli("run-operation", "grow", "--args", "{table: counts, rows: 3}")
    assert result.exit_code == 0, result.output
    failed = cli("run-operation", "grow", "--args", "{table: counts, rows: 2, fail: true}")
    assert failed.exit_code == 1
    assert "macros/ops.sql:4: Compilation Error: stop after 2" in failed.output
    assert _scalar(root, "select count(*) from main.counts") == [(3,)]
    unknown = cli("run-operation", "grwo")
    assert unknown.exit_code == 2 and "no macro named 'grwo'" in unknown.output and "did you mean: grow?" in unknown.output


def test_printing_warning_flags_yaml_and_table_iteration(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({
        "macros/notes.sql": (
            "{% macro noted() %}\n"
            "{% do print('printed ' ~ flags.WHICH) %}{% do log('logged', info=True) %}{% do log('debug only') %}\n"
            "{% do exceptions.warn('careful') %}\n"
            "{% set table = run_query('select 1 as a, 2 as b union all select 3, 4 order by a') %}\n"
            "{% set total = [] %}{% for row in (table if execute else []) %}{% do total.append(row['a'] + row[1]) %}"
            "{% endfor %}\n"
            "{{ return(total | sum if execute else 0) }}\n"
            "{% endmacro %}\n"),
        "models/m.sql": ("{% set parsed = fromyaml('limit: 2\\nnames: [x, y]') %}\n"
                         "select {{ noted() }} as total, {{ parsed['limit'] }} as lim, "
                         "'{{ toyaml({'k': 1}) | trim }}' as dumped, {{ flags.FULL_REFRESH }} as refreshed")})
    monkeypatch.chdir(root)
    result = cli("build", "--full-refresh")
    assert result.exit_code == 0, result.output
    assert "printed build" in result.output and "logged" in result.output and "debug only" not in result.output
    assert "Warning: careful" in result.output
    assert _scalar(root, "select * from main.m") == [(10, 2, "k: 1", True)]


def test_a_package_can_replace_dbts_own_macros_through_the_dispatch_order(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({
        **PACKAGE,
        "dbt_packages/kit/macros/shims.sql": "{% macro default__hash(field) %}'kit:' || {{ field }}{% endmacro %}",
        "dbt_project.yml": ("name: shop\nconfig-version: 2\nprofile: shop\n"
                            "dispatch:\n  - macro_namespace: dbt\n    search_order: [shop, kit, dbt]\n"),
        "models/m.sql": "select {{ dbt.hash(\"'a'\") }} as h, {{ dbt.length(\"'abc'\") }} as n"})
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    assert _scalar(root, "select * from main.m") == [("kit:a", 3)]


def test_get_relation_finds_what_is_built_with_its_type(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({
        "models/v.sql": "{{ config(materialized='view') }}select 1 as x",
        "models/m.sql": ("-- depends_on: {{ ref('v') }}\n"
                         "{% set found = adapter.get_relation(target.database, target.schema, 'v') %}\n"
                         "{% set missing = adapter.get_relation(target.database, target.schema, 'nowhere') %}\n"
                         "select '{{ found.type if execute }}' as kind, {{ (found.is_view if execute) | lower }} as is_view,"
                         " {{ (missing is none) | lower }} as missing, '{{ found.identifier if execute }}' as name")})
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    assert _scalar(root, "select * from main.m") == [("view", True, True, "v")]


def test_a_ref_seen_only_when_executing_is_refused_as_dbt_refuses_it(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({
        "models/a.sql": "select 1 as x",
        "models/b.sql": "select {% if execute %}x from {{ ref('a') }}{% else %}1 as x{% endif %}"})
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 1
    assert ("models/b.sql:1: unable to infer all dependencies of model 'b': it reads 'a' only when it runs"
            in result.output)
    assert "hint: add this line at the top of the file: -- depends_on: {{ ref('a') }}" in result.output
    (root / "models/b.sql").write_text("-- depends_on: {{ ref('a') }}\n" + (root / "models/b.sql").read_text())
    assert cli("build").exit_code == 0


@pytest.mark.parametrize("files, message", [
    ({"dbt_packages/shop/dbt_project.yml": "name: shop\n", "models/m.sql": "select 1"},
     "the installed package 'shop' has the project's own name"),
    ({"models/m.sql": "select {{ adapter.dispatch('x', packages=['kit'])() }}"},
     "adapter.dispatch's `packages` argument was removed in dbt 1.0"),
])
def test_package_names_and_dispatch_arguments_dbt_refuses_are_refused(make_dbt_project, files, message):
    root = make_dbt_project(files)
    with pytest.raises(SmartSqlError) as error:
        load_project(root)
    assert message in str(error.value)


def test_a_thread_that_sets_its_own_connection_runs_queries_on_it(make_dbt_project):
    """Parallel builds give each worker its own cursor; others use the main thread's connection."""
    import threading

    project = load_project(make_dbt_project({"models/m.sql": "select 1 as x"}))
    main, other = duckdb.connect(), duckdb.connect()
    main.execute("create table t as select 'main' as who")
    other.execute("create table t as select 'other' as who")
    project.renderer.connection = main
    seen = {}

    def worker(name, conn):
        if conn is not None:
            project.renderer.connection = conn
        seen[name] = project.renderer.render_text("{{ run_query('select who from t').rows[0][0] }}",
                                                  project.root / "models/m.sql", "m")

    threads = [threading.Thread(target=worker, args=("own", other)), threading.Thread(target=worker, args=("none", None))]
    for thread in threads:
        thread.start()
        thread.join()
    assert seen == {"own": "other", "none": "main"}


def test_loop_controls_work_as_in_dbt(make_dbt_project, cli, monkeypatch):
    root = make_dbt_project({"models/m.sql": (
        "select {% for n in range(10) %}{% if n == 1 %}{% continue %}{% endif %}{% if n == 4 %}{% break %}{% endif %}"
        "{{ n }}{{ ' + ' if n < 3 }}{% endfor %} as total")})
    monkeypatch.chdir(root)
    assert cli("build").exit_code == 0
    assert _scalar(root, "select total from main.m") == [(5,)]


def test_a_package_materialization_is_refused_naming_the_file_and_line(make_dbt_project):
    root = make_dbt_project({**PACKAGE, "models/m.sql": "select 1",
                             "dbt_packages/kit/macros/mat.sql": "\n{% materialization fancy, default %}{% endmaterialization %}"})
    with pytest.raises(ConfigError) as error:
        load_project(root)
    assert error.value.message == "package 'kit' defines a custom materialization, which smart-sql does not support"
    assert error.value.path.endswith("dbt_packages/kit/macros/mat.sql") and error.value.line == 2
