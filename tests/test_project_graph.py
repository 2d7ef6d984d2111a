"""The DAG: build order, test placement, selection."""

from __future__ import annotations

import pytest

from smart_sql.errors import ConfigError
from smart_sql.graph import Graph
from smart_sql.project import load_project


@pytest.fixture
def graph(make_project) -> Graph:
    root = make_project({
        "seeds/raw.csv": "id\n1\n",
        "models/staging/stg.sql": "{{ config(tags=['daily']) }} select * from {{ ref('raw') }}",
        "models/marts/wide.sql": "select * from {{ ref('stg') }}",
        "models/marts/other.sql": "select * from {{ ref('raw') }}",
        "models/schema.yml": """\
            models:
              - name: stg
                columns:
                  - name: id
                    tests: [unique]
              - name: wide
                columns:
                  - name: id
                    tests:
                      - relationships: {to: ref('other'), field: id}
        """,
    })
    return Graph(load_project(root))


def test_order_puts_parents_first_and_tests_right_after_their_model(graph):
    order = graph.order()
    assert order[0] == "seed.raw"
    assert order.index("model.stg") < order.index("test.unique_stg_id") < order.index("model.wide")
    relationships = "test.relationships_wide_id__id__ref_other_"  # dbt's name for it
    assert order.index(relationships) > max(order.index("model.wide"), order.index("model.other"))


def test_a_models_children_wait_for_its_tests(graph):
    assert "test.unique_stg_id" in graph.parents["model.wide"]
    assert "model.wide" in graph.descendants("test.unique_stg_id")


def test_select_by_name_tag_path_with_tests_following(graph):
    assert graph.select(["stg"]) == {"model.stg", "test.unique_stg_id"}
    assert graph.select(["tag:daily"], resource_types=["model"]) == {"model.stg"}
    assert graph.select(["path:models/marts/other.sql"]) == {"model.other"}
    assert graph.select(["path:models/marts"], resource_types=["model"]) == {"model.wide", "model.other"}
    assert graph.select(["+wide"], resource_types=["model", "seed"]) == {"seed.raw", "model.stg", "model.wide"}
    assert graph.select(["raw+"], ["stg+"], resource_types=["model", "seed"]) == {"seed.raw", "model.other"}


def test_select_nothing_means_everything(graph):
    assert graph.select() == set(graph.nodes)


def test_cycle_error_lists_the_chain(make_project):
    root = make_project({"models/a.sql": "select * from {{ ref('b') }}", "models/b.sql": "select * from {{ ref('a') }}"})
    with pytest.raises(ConfigError, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        load_project(root)
