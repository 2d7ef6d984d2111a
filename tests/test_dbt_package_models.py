"""An installed package's models, seeds, sources and YAML tests, built with the project's as dbt builds
them. The fixture tests/fixtures/dbt_package_models_project was built by dbt-core 1.11.16 with
dbt-duckdb 1.11.1 (`dbt build`, `dbt ls`, target/manifest.json, run by hand); the values below are dbt's."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import relations
from smart_sql.errors import ConfigError
from smart_sql.project import load_project

FIXTURE = Path(__file__).parent / "fixtures" / "dbt_package_models_project"
CUSTOMERS = [(1, "ana", "pt"), (2, "ben", "de"), (3, "cleo", "fr")]
ORDERS = [(10, 1, Decimal("12.50")), (11, 1, Decimal("3.00")), (12, 2, Decimal("40.25")), (13, 3, Decimal("7.75"))]
ORDER_COLUMNS = [("order_id", "INTEGER"), ("customer_id", "INTEGER"), ("amount", "DECIMAL(10,2)")]
SHOP = {
    "shop.main.crm_customers": ("BASE TABLE", [("customer_id", "INTEGER"), ("name", "VARCHAR"),
                                               ("country", "VARCHAR")], CUSTOMERS),
    "shop.main.customer_revenue": (
        "BASE TABLE", [("customer_id", "INTEGER"), ("customer_name", "VARCHAR"), ("revenue", "DECIMAL(38,2)"),
                       ("currency", "VARCHAR")],
        [(1, "ana", Decimal("15.50"), "EUR"), (2, "ben", Decimal("40.25"), "EUR"),
         (3, "cleo", Decimal("7.75"), "EUR")]),
    "shop.main.pkg_customers": ("VIEW", [("customer_id", "INTEGER"), ("customer_name", "VARCHAR"),
                                         ("country", "VARCHAR")],
                                [(key, name, country.upper()) for key, name, country in CUSTOMERS]),
    "shop.raw.pkg_raw_orders": ("BASE TABLE", ORDER_COLUMNS, ORDERS),
    "shop.staging.pkg_orders": ("BASE TABLE", [*ORDER_COLUMNS, ("currency", "VARCHAR"), ("counts", "BOOLEAN")],
                                [(*row, "EUR", row[2] >= 5) for row in ORDERS]),
}
DBT_LS = """shop.customer_revenue
shop_pkg.pkg_customers
shop_pkg.staging.pkg_orders
shop_pkg.pkg_raw_orders
source:shop_pkg.shop_raw.crm_customers
shop.not_null_customer_revenue_customer_id
shop.shop_pkg_positive_customer_revenue_revenue
shop.unique_customer_revenue_customer_id
shop_pkg.not_null_pkg_orders_order_id
shop_pkg.positive_pkg_orders_amount
shop_pkg.unique_pkg_orders_order_id""".splitlines()
DBT_MANIFEST = {  # unique_id: (package_name, fqn, original_file_path, schema, materialized, tags)
    "model.shop.customer_revenue": ("shop", ["shop", "customer_revenue"], "models/customer_revenue.sql", "main",
                                    "table", []),
    "model.shop_pkg.pkg_customers": ("shop_pkg", ["shop_pkg", "pkg_customers"], "models/pkg_customers.sql", "main",
                                     "view", []),
    "model.shop_pkg.pkg_orders": ("shop_pkg", ["shop_pkg", "staging", "pkg_orders"], "models/staging/pkg_orders.sql",
                                  "staging", "table", ["from_root"]),
    "seed.shop_pkg.pkg_raw_orders": ("shop_pkg", ["shop_pkg", "pkg_raw_orders"], "seeds/pkg_raw_orders.csv", "raw",
                                     "seed", []),
    "test.shop_pkg.positive_pkg_orders_amount.88f37750b2": (
        "shop_pkg", ["shop_pkg", "positive_pkg_orders_amount"], "models/schema.yml", None, "test", []),
    "test.shop.shop_pkg_positive_customer_revenue_revenue.61092ee0b1": (
        "shop", ["shop", "shop_pkg_positive_customer_revenue_revenue"], "models/schema.yml", None, "test", []),
}


@pytest.fixture
def shop(tmp_path, monkeypatch) -> Path:
    root = Path(shutil.copytree(FIXTURE, tmp_path / "shop"))
    monkeypatch.chdir(root)
    return root


def test_package_models_seeds_and_tests_build_what_dbt_builds(shop, cli):
    """The package's seed (column_types from its project file, schema from the root's `seeds: shop_pkg:`
    through the root's generate_schema_name), its models (a view by its own config, a table by the root's
    override, tagged by the root), its source, its var under the root's `vars: {shop_pkg: ...}`, its
    macro, its YAML tests (its generic test by its bare name); the root refs it by one and two arguments."""
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert "Done. PASS=11 WARN=0 ERROR=0 SKIP=0 TOTAL=11" in result.output
    for name in ("positive_pkg_orders_amount", "unique_pkg_orders_order_id", "shop_pkg_positive_customer_revenue_revenue"):
        assert f"PASS {name}" in result.output
    assert "matches no" not in result.output and "apply to nothing" not in result.output
    assert relations(shop / "target/shop.duckdb") == SHOP
    assert (shop / "target/compiled/shop_pkg/models/staging/pkg_orders.sql").is_file()


def test_ls_selection_and_manifest_name_the_package(shop, cli):
    listed = cli("ls")
    assert listed.exit_code == 0, listed.output
    assert listed.output.split() == DBT_LS
    assert cli("ls", "--select", "source:shop_pkg.shop_raw").output.split() == [DBT_LS[4]]
    in_package = cli("ls", "--select", "package:shop_pkg")
    assert in_package.output.split() == [line for line in DBT_LS if line.removeprefix("source:").startswith("shop_pkg.")]
    assert cli("parse").exit_code == 0
    manifest = json.loads((shop / "target/manifest.json").read_text())
    for uid, (package, fqn, path, schema, materialized, tags) in DBT_MANIFEST.items():
        node = manifest["nodes"][uid]
        assert (node["package_name"], node["fqn"], node["original_file_path"], node["schema"],
                node["config"]["materialized"], node["config"].get("tags") or []) == \
            (package, fqn, path, schema, materialized, tags), uid
    source = manifest["sources"]["source.shop_pkg.shop_raw.crm_customers"]
    assert (source["package_name"], source["fqn"], source["original_file_path"]) == \
        ("shop_pkg", ["shop_pkg", "shop_raw", "crm_customers"], "models/schema.yml")
    assert manifest["nodes"]["model.shop_pkg.pkg_orders"]["description"] == "One row per order."
    assert manifest["nodes"]["model.shop_pkg.pkg_customers"]["description"] == \
        "One row per **customer**, from the CRM."  # a doc() block of the package


def test_graph_has_dbt_ids_and_package_names(shop):
    from smart_sql.dbt.jinja import nodes

    graph = nodes.graph(load_project(shop))
    assert set(graph["nodes"]) >= {"model.shop.customer_revenue", "model.shop_pkg.pkg_orders",
                                   "seed.shop_pkg.pkg_raw_orders"}
    assert graph["nodes"]["model.shop_pkg.pkg_orders"]["package_name"] == "shop_pkg"
    assert graph["nodes"]["model.shop_pkg.pkg_orders"]["depends_on"]["nodes"] == ["seed.shop_pkg.pkg_raw_orders"]
    assert list(graph["sources"]) == ["source.shop_pkg.shop_raw.crm_customers"]
    assert graph["sources"]["source.shop_pkg.shop_raw.crm_customers"]["package_name"] == "shop_pkg"


KIT = {"dbt_packages/kit/dbt_project.yml": "name: kit\nvars:\n  greeting: kit-own\n  other: kit-other\n",
       "dbt_packages/kit/macros/m.sql": "{% macro shout(x) %}'kit-{{ x }}'{% endmacro %}\n",
       "macros/m.sql": "{% macro shout(x) %}'root-{{ x }}'{% endmacro %}\n",
       "dbt_packages/kit/models/k1.sql": "{{ config(materialized='view') }}\n"
                                         "select '{{ var(\"greeting\") }}' as g, '{{ var(\"other\") }}' as o, "
                                         "{{ shout('a') }} as s\n",
       "dbt_packages/kit/models/k2.sql": "select 2 as id\n",
       "dbt_packages/kit/models/k.yml": "models:\n  - name: k2\n    config:\n      materialized: view\n",
       "models/r.sql": "select * from {{ ref('kit', 'k2') }}\n"}
ROOT_OVER_KIT = "name: shop\nprofile: shop\nmodels:\n  kit:\n    +materialized: table\nvars:\n  greeting: root-global\n"


def test_the_roots_configs_vars_and_macros_come_as_dbt_orders_them(make_dbt_project, cli, monkeypatch):
    """Checked with dbt on the same files: the root's `models: kit:` wins over the package's config()
    call and YAML config; the root's global var over the package's own; the package's macro over the
    root's of the same name, in the package's model."""
    root = make_dbt_project({**KIT, "dbt_project.yml": ROOT_OVER_KIT})
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(root / "target/dev.duckdb"), read_only=True) as conn:
        assert conn.sql("select * from main.k1").fetchall() == [("root-global", "kit-other", "kit-a")]
        kinds = conn.sql("select table_name, table_type from information_schema.tables order by 1").fetchall()
    assert kinds == [("k1", "BASE TABLE"), ("k2", "BASE TABLE"), ("r", "VIEW")]


def test_the_roots_top_level_configs_apply_to_package_nodes_last(make_dbt_project):
    """dbt (checked on the same files) applies the root's `models: +...` over the package's own
    `models: kit: +materialized: view`, its YAML config and its config() call."""
    files = {**KIT, "dbt_packages/kit/dbt_project.yml": "name: kit\nmodels:\n  kit:\n    +materialized: view\n"
                                                         "vars:\n  greeting: g\n  other: o\n",
             "dbt_project.yml": "name: shop\nprofile: shop\nmodels:\n  +tags: [everywhere]\n  +materialized: table\n"
                                "  shop:\n    +tags: [root_only]\n"}
    project = load_project(make_dbt_project(files))
    assert {name: (model.materialized, model.tags) for name, model in project.models.items()} == {
        "k1": ("table", ["everywhere"]), "k2": ("table", ["everywhere"]), "r": ("table", ["everywhere", "root_only"])}


TWO_DUPS = {**KIT, "dbt_packages/kit/models/dup.sql": "select 'kit' as who",
            "dbt_packages/kit2/dbt_project.yml": "name: kit2\nmodels:\n  kit2:\n    +schema: two\n",
            "dbt_packages/kit2/models/dup.sql": "select 'kit2' as who"}


@pytest.mark.parametrize("own, ref, who", [
    ("", "ref('kit2', 'dup')", "kit2"), ("", "ref('kit', 'dup')", "kit"),
    ("select 'root' as who", "ref('dup')", "root")])
def test_a_name_in_several_packages_is_told_apart_as_dbt_does(make_dbt_project, cli, monkeypatch, own, ref, who):
    """Checked with dbt: names are unique within a package only; ref() with the package name picks one,
    and the project's own node comes first for ref('name')."""
    files = {**TWO_DUPS, "models/r.sql": f"select * from {{{{ {ref} }}}}",
             "dbt_project.yml": "name: shop\nprofile: shop\nmodels:\n  +materialized: table\n  shop:\n"
                                "    dup:\n      +schema: mine\n"}
    root = make_dbt_project({**files, **({"models/dup.sql": own} if own else {})})
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(root / "target/dev.duckdb"), read_only=True) as conn:
        assert conn.sql("select * from main.r").fetchall() == [(who,)]
    listed = cli("ls", "--select", "dup").output.split()
    assert listed == ["kit.dup", "kit2.dup"] + (["shop.dup"] if own else [])  # dbt ls, in its order


def test_a_package_model_disabled_by_the_root_gives_way_to_the_roots_own(make_dbt_project, cli, monkeypatch):
    """dbt's way to replace a package's model (checked with dbt): disable it from the root's project file
    and write one of the same name; ref() then finds the root's."""
    root = make_dbt_project({**KIT, "models/k2.sql": "select 'root' as who",
                             "models/r.sql": "select * from {{ ref('k2') }}",
                             "dbt_project.yml": "name: shop\nprofile: shop\nmodels:\n  kit:\n    k2:\n"
                                                "      +enabled: false\n"})
    monkeypatch.chdir(root)
    result = cli("build")
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(root / "target/dev.duckdb"), read_only=True) as conn:
        assert conn.sql("select * from main.r").fetchall() == [("root",)]


@pytest.mark.parametrize("files, message, path", [
    ({**KIT, "models/r.sql": "select * from {{ ref('kit', 'nope') }}"},
     "refers to ref('kit', 'nope'), but 'kit' has no model, seed or snapshot 'nope'", "models/r.sql"),
    ({**KIT, "models/r.sql": "select * from {{ ref('shop', 'k2') }}"},
     "refers to 'k2', which is neither a model, a seed nor a snapshot of 'shop'", "models/r.sql"),
    ({**KIT, "models/k2.sql": "select 1"}, "are both built as main.k2", "dbt_packages/kit/models/k2.sql"),
    ({**TWO_DUPS, "models/r.sql": "select * from {{ ref('dup') }}"},
     "refers to 'dup', which is in several packages: model.kit.dup, model.kit2.dup", "models/r.sql"),
    ({**KIT, "dbt_packages/kit/snapshots/snap.sql": "{% snapshot snap %}select 1{% endsnapshot %}"},
     "package 'kit' has snapshots, and smart-sql does not build the snapshots of packages yet",
     "dbt_packages/kit/snapshots/snap.sql"),
    ({**KIT, "dbt_packages/kit/tests/one.sql": "select 1 where false"},
     "package 'kit' has singular tests", "dbt_packages/kit/tests/one.sql"),
    ({**KIT, "dbt_packages/kit/models/e.yml": "exposures:\n  - name: e\n    type: dashboard\n    owner: {name: x}\n"},
     "package 'kit' declares exposures in YAML", "dbt_packages/kit/models/e.yml"),
    ({**KIT, "dbt_project.yml": "name: shop\nprofile: shop\ndata_tests:\n  kit:\n    +severity: warn\n"},
     "`data_tests: kit:` configures the data_tests of an installed package", "dbt_project.yml"),
    ({**KIT, "dbt_packages/kit/dbt_project.yml": "name: kit\ndata_tests:\n  +severity: warn\n"},
     "package 'kit' configures its tests in `data_tests:`", "dbt_packages/kit/dbt_project.yml"),
])
def test_what_package_nodes_cannot_do_is_refused_naming_the_file(make_dbt_project, files, message, path):
    root = make_dbt_project(files)
    with pytest.raises(ConfigError) as error:
        load_project(root)
    assert message in error.value.message
    assert error.value.path.endswith(path)
