"""dbt's selection syntax through `smart-sql ls`: graph operators with depths, @, methods, intersections,
space-separated words, YAML selectors (selectors.yml) and their default, and each refusal."""

from __future__ import annotations

import pytest

FILES = {
    "seeds/raw.csv": "id\n1\n",
    "models/staging/a.sql": "{{ config(tags=['nightly']) }} select * from {{ ref('raw') }}",
    "models/staging/b.sql": "select * from {{ ref('a') }}",
    "models/marts/c.sql": "{{ config(materialized='table') }} select * from {{ ref('b') }}",
    "models/marts/d.sql": "select * from {{ ref('raw') }} join {{ ref('b') }} using (id)",
    "models/schema.yml": """\
        models:
          - name: a
            columns:
              - name: id
                tests: [unique]
    """,
    "tests/assert_b_small.sql": "select * from {{ ref('b') }} where id > 100",
}
SMART_FILES = {relpath: text for relpath, text in FILES.items() if not relpath.startswith("tests/")}


@pytest.fixture
def listed(make_dbt_project, cli):
    root = make_dbt_project(FILES)

    def run(*args: str, files: dict[str, str] | None = None) -> list[str]:
        for relpath, text in (files or {}).items():
            (root / relpath).write_text(text)
        result = cli("ls", "--project-dir", root, "--profiles-dir", root, "--output", "name", *args)
        assert result.exit_code == 0, result.output
        return result.output.split()
    run.root = root
    return run


def test_graph_operators_with_depths_and_at(listed):
    assert listed("-s", "1+b", "--resource-type", "model") == ["a", "b"]
    assert listed("-s", "2+b", "--resource-type", "model", "--resource-type", "seed") == ["a", "b", "raw"]
    assert listed("-s", "a+1", "--resource-type", "model") == ["a", "b"]
    assert listed("-s", "a+", "--resource-type", "model") == ["a", "b", "c", "d"]
    # @b: b, its children c and d, and every parent of those (a, raw)
    assert listed("-s", "@b", "--resource-type", "model", "--resource-type", "seed") == ["a", "b", "c", "d", "raw"]


def test_space_separated_words_after_one_select_and_intersections(listed):
    assert listed("-s", "a", "c", "--resource-type", "model") == ["a", "c"]
    assert listed("--select", "+c", "d", "--exclude", "raw", "a", "--resource-type", "model",
                  "--resource-type", "seed") == ["b", "c", "d"]
    assert listed("-s", "+d,tag:nightly", "--resource-type", "model") == ["a"]
    assert listed("-s", "path:models/marts,config.materialized:table") == ["c"]


def test_methods(listed):
    assert listed("-s", "resource_type:seed") == ["raw"]
    assert listed("-s", "test_type:singular") == ["assert_b_small"]
    assert listed("-s", "test_type:generic") == ["unique_a_id"]
    assert listed("-s", "shop.staging.*", "--resource-type", "model") == ["a", "b"]  # fqn with a wildcard
    assert listed("-s", "staging", "--resource-type", "model") == ["a", "b"]  # a folder, as dbt ls does
    assert listed("-s", "?", "--resource-type", "model") == ["a", "b", "c", "d"]  # a name's wildcard
    assert listed("-s", "fqn:staging.b") == ["b", "assert_b_small"]  # a test follows the node it tests
    assert listed("-s", "tag:night*", "--resource-type", "model") == ["a"]
    assert listed("-s", "config.materialized:view", "--resource-type", "model") == ["a", "b", "d"]
    assert listed("-s", "file:c.sql") == ["c"]
    assert listed("-s", "package:shop", "--resource-type", "seed") == ["raw"]


def test_source_selector_and_source_listing(listed):
    files = {"models/sources.yml": "sources:\n  - name: ops\n    tables:\n      - name: events\n",
             "models/marts/e.sql": "select * from {{ source('ops', 'events') }}"}
    assert listed("-s", "source:ops+", files=files) == ["e", "ops.events"]
    assert listed("-s", "source:shop.ops.events") == ["ops.events"]
    assert listed("--resource-type", "source") == ["ops.events"]


def test_yaml_selectors_with_union_intersection_exclude_and_nesting(listed):
    selectors = """\
selectors:
  - name: staging_no_b
    definition:
      union:
        - method: path
          value: models/staging
        - exclude:
            - b
  - name: downstream_of_a
    definition:
      intersection:
        - {method: fqn, value: a, children: true, children_depth: 1}
        - {method: resource_type, value: model}
  - name: both
    definition:
      union:
        - {method: selector, value: staging_no_b}
        - {method: selector, value: downstream_of_a}
  - name: marts_string
    definition: 'path:models/marts'
"""
    assert listed("--selector", "staging_no_b", files={"selectors.yml": selectors}) == ["a", "unique_a_id"]
    assert listed("--selector", "downstream_of_a") == ["a", "b", "assert_b_small", "unique_a_id"]
    assert listed("--selector", "both", "--resource-type", "model") == ["a", "b"]
    assert listed("--selector", "marts_string") == ["c", "d"]


def test_the_default_selector_applies_when_nothing_is_selected(listed, make_dbt_project, cli):
    selectors = ("selectors:\n  - name: nightly\n    default: true\n    definition: {method: tag, value: nightly}\n"
                 "  - name: marts\n    definition: 'path:models/marts'\n")
    assert listed(files={"selectors.yml": selectors}) == ["a", "unique_a_id"]
    assert listed("-s", "d") == ["d"]  # --select wins over the default, as in dbt
    assert listed("--selector", "marts") == ["c", "d"]
    result = cli("build", "--project-dir", listed.root, "--profiles-dir", listed.root)
    assert result.exit_code == 1  # a is built without its parent raw: the default selected only a
    assert "TOTAL=2" in result.output


def test_our_own_projects_take_the_same_syntax(make_project, cli):
    root = make_project(SMART_FILES)
    result = cli("ls", "--project-dir", root, "-s", "1+b,resource_type:model", "--output", "name")
    assert result.output.split() == ["a", "b", "unique_a_id"]  # tests follow what they test


@pytest.mark.parametrize("args, message", [
    (["-s", "nosuch"], "selector 'nosuch' matches nothing"),
    (["-s", "bogus:x"], "unknown selection method 'bogus'"),
    (["-s", "@+a"], "uses both @ and +name"),
    (["-s", "resource_type:widget"], "resource_type:widget: no such resource type"),
    (["-s", "test_type:unit"], "test_type:unit: unit tests are not supported yet"),
    (["-s", "state:modified"], "state:modified needs --state PATH"),
    (["--selector", "nosuch"], "no selector named 'nosuch'"),
    (["--selector", "loop"], "selector 'loop' refers to itself: loop -> loop"),
    (["--selector", "lazy"], "indirect_selection 'cautious' is not supported"),
    (["--selector", "loop", "-s", "a"], "--select and --selector cannot be used together"),
])
def test_refusals_name_what_is_wrong(make_dbt_project, cli, args, message):
    selectors = ("selectors:\n  - name: loop\n    definition: {method: selector, value: loop}\n"
                 "  - name: lazy\n    definition: {method: tag, value: nightly, indirect_selection: cautious}\n")
    root = make_dbt_project({**FILES, "selectors.yml": selectors})
    result = cli("ls", "--project-dir", root, "--profiles-dir", root, *args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_two_default_selectors_are_refused(make_dbt_project, cli):
    selectors = ("selectors:\n  - name: one\n    default: true\n    definition: a\n"
                 "  - name: two\n    default: true\n    definition: b\n")
    root = make_dbt_project({**FILES, "selectors.yml": selectors})
    result = cli("ls", "--project-dir", root, "--profiles-dir", root)
    assert result.exit_code == 2 and "more than one selector has `default: true`: one, two" in result.output
