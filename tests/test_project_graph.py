"""The DAG: build order, test placement, selection."""

from __future__ import annotations

import re

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


def _names(graph: Graph, ids) -> set[str]:
    return {graph.nodes[uid].name for uid in ids}


def _id(graph: Graph, name: str) -> str:
    return next(uid for uid, node in graph.nodes.items() if node.name == name)


def test_node_ids_are_dbts(graph):
    assert {"seed.demo.raw", "model.demo.stg", "model.demo.wide"} <= set(graph.nodes)
    assert re.fullmatch(r"test\.demo\.unique_stg_id\.[0-9a-f]{10}", _id(graph, "unique_stg_id"))


def test_order_puts_parents_first_and_tests_right_after_their_model(graph):
    order = [graph.nodes[uid].name for uid in graph.order()]
    assert order[0] == "raw"
    assert order.index("stg") < order.index("unique_stg_id") < order.index("wide")
    relationships = "relationships_wide_id__id__ref_other_"  # dbt's name for it
    assert order.index(relationships) > max(order.index("wide"), order.index("other"))


def test_a_models_children_wait_for_its_tests(graph):
    assert _id(graph, "unique_stg_id") in graph.parents[_id(graph, "wide")]
    assert _id(graph, "wide") in graph.descendants(_id(graph, "unique_stg_id"))


def test_select_by_name_tag_path_with_tests_following(graph):
    assert _names(graph, graph.select(["stg"])) == {"stg", "unique_stg_id"}
    assert _names(graph, graph.select(["tag:daily"], resource_types=["model"])) == {"stg"}
    assert _names(graph, graph.select(["path:models/marts/other.sql"])) == {"other"}
    assert _names(graph, graph.select(["path:models/marts"], resource_types=["model"])) == {"wide", "other"}
    assert _names(graph, graph.select(["+wide"], resource_types=["model", "seed"])) == {"raw", "stg", "wide"}
    assert _names(graph, graph.select(["raw+"], ["stg+"], resource_types=["model", "seed"])) == {"raw", "other"}


def test_select_nothing_means_everything(graph):
    assert graph.select() == set(graph.nodes)


def test_cycle_error_lists_the_chain(make_project):
    root = make_project({"models/a.sql": "select * from {{ ref('b') }}", "models/b.sql": "select * from {{ ref('a') }}"})
    with pytest.raises(ConfigError, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        load_project(root)
