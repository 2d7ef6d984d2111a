"""What a dbt project may hold that smart-sql does not build: each is refused naming the file, never
skipped. Empty folders (as `dbt init` leaves them, with .gitkeep) are fine."""

from __future__ import annotations

import pytest

from smart_sql.errors import ConfigError
from smart_sql.project import load_project

SNAPSHOT = """\
{% snapshot orders_snapshot %}
{{ config(target_schema='snapshots', unique_key='id', strategy='check', check_cols='all') }}
select 1 as id
{% endsnapshot %}
"""


@pytest.mark.parametrize("relpath, text, message", [
    ("macros/orders_snapshot.sql", SNAPSHOT, "a {% snapshot %} block is read from the snapshot paths"),
    ("snapshots/open.sql", "{% snapshot s %}\nselect 1 as id\n", "must hold {% snapshot name %} ... {% endsnapshot %}"),
    ("analyses/revenue.sql", "select * from {{ ref('m') }}", "analyses are not supported yet"),
    ("functions/double_it.sql", "x * 2", "user-defined functions are not supported yet"),
    ("models/forecast.py", "def model(dbt, session):\n    return None\n", "Python models are not supported"),
    ("macros/mat.sql", "{% materialization fancy, default %}{% endmaterialization %}",
     "custom materializations are not supported"),
    ("packages.yml", "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n",
     "1 package(s) are listed in packages.yml, but only 0 are installed in dbt_packages/"),
    ("dependencies.yml", "projects:\n  - name: core_platform\n", "`projects:` lists dbt Mesh projects"),
    ("dbt_packages/dbt_utils/README.md", "no project file\n", "installed package 'dbt_utils' has no dbt_project.yml"),
    ("models/props.yml", "unit_tests:\n  - name: t\n    model: m\n    given: []\n    expect: {rows: []}\n    versions: {include: [2]}\n",
     "unit test 't': `versions:` given, but model 'm' is not versioned"),
    ("snapshots/snaps.yml", "snapshots:\n  - name: s\n    relation: ref('m')\n    config: {unique_key: x, strategy: check, "
                            "check_cols: all, snapshot_meta_column_names: {dbt_valid_to: to}}\n",
     "the snapshot config `snapshot_meta_column_names` is not supported"),
    ("snapshots/snaps.yml", "snapshots:\n  - name: s\n    relation: ref('m')\n    config: {unique_key: x, strategy: timestamp}\n",
     "snapshot 's': the timestamp strategy needs `updated_at: <column>`"),
    ("models/props.yml", "modles:\n  - name: m\n", "properties file: unknown key(s) modles"),
])
def test_what_is_not_built_is_refused_naming_the_file(make_dbt_project, relpath, text, message):
    root = make_dbt_project({"models/m.sql": "select 1 as x", relpath: text})
    with pytest.raises(ConfigError) as error:
        load_project(root)
    assert message in error.value.message
    assert error.value.path.endswith(relpath if "dbt_packages" not in relpath else "dbt_packages/dbt_utils")


def test_a_refused_file_in_a_configured_folder_names_that_folder_key(make_dbt_project):
    root = make_dbt_project({"dbt_project.yml": "name: shop\nprofile: shop\nanalysis-paths: [reports]\n",
                             "reports/r.sql": "select 1 as x", "analyses/ignored.txt": ""})
    with pytest.raises(ConfigError) as error:
        load_project(root)
    assert error.value.path.endswith("reports/r.sql") and "analysis-paths" in error.value.hint


def test_empty_resource_folders_and_documentation_are_fine(make_dbt_project):
    root = make_dbt_project({
        "models/m.sql": "select 1 as x", "tests/.gitkeep": "", "snapshots/.gitkeep": "", "analyses/.gitkeep": "",
        "macros/.gitkeep": "", "packages.yml": "packages: []\n", "dbt_packages/.gitkeep": "",
        "docs/overview.md": "{% docs __overview__ %}Shop{% enddocs %}",
        "models/docs.yml": "version: 2\nexposures:\n  - name: dashboard\n    type: dashboard\n"
                           "    owner: {name: Ana}\ngroups:\n  - name: finance\n    owner: {name: Ana}\n",
        "macros/macros.yml": "macros:\n  - name: cents\n    description: Cents to units.\n",
        "tests/tests.yml": "data_tests:\n  - name: assert_something\n    description: documented only\n",
    })
    assert list(load_project(root).models) == ["m"]
