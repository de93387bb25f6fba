"""Hierarchy validation and waves: examples and properties over random forests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsusauto.config.hierarchy import Node, downstream_of, validate, waves
from wsusauto.errors import UsageError


def test_default_lab_shape():
    nodes = [
        Node("root"),
        Node("eu", "root"),
        Node("eu-1", "eu", True),
        Node("us", "root"),
        Node("us-1", "us", True),
    ]
    validate(nodes)
    assert waves(nodes) == [["root"], ["eu", "us"], ["eu-1", "us-1"]]
    assert downstream_of(nodes, "eu") == ["eu-1"]
    assert downstream_of(nodes, "root") == ["eu", "us", "eu-1", "us-1"]


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ([Node("a", "a")], "a names itself"),
        ([Node("a", "b"), Node("b", "a")], "upstream cycle: a -> b -> a"),
        ([Node("a", "c"), Node("b", "a"), Node("c", "b")], "upstream cycle: a -> c -> b -> a"),
        ([Node("a", "elsewhere")], "'elsewhere' is not in the inventory"),
        ([Node("a", None, replica=True)], "replica .* has no wsus_upstream"),
    ],
)
def test_bad_hierarchies(nodes, message):
    with pytest.raises(UsageError, match=message):
        validate(nodes, "inv.yml")


def test_external_upstream_is_allowed_when_declared():
    validate([Node("a", "corp-wsus.example", external_upstream=True)])
    assert waves([Node("a", "corp-wsus.example", external_upstream=True)]) == [["a"]]


@st.composite
def forests(draw):
    count = draw(st.integers(1, 40))
    names = [f"s{i}" for i in range(count)]
    nodes = []
    for i, name in enumerate(names):
        # an upstream among the earlier servers keeps it acyclic
        upstream = draw(st.one_of(st.none(), st.sampled_from(names[:i]))) if i else None
        nodes.append(Node(name, upstream, replica=upstream is not None and draw(st.booleans())))
    order = draw(st.permutations(nodes))
    return list(order)


@given(forests())
def test_waves_put_every_server_after_its_upstream(nodes):
    validate(nodes)
    result = waves(nodes)
    level = {name: i for i, wave in enumerate(result) for name in wave}
    assert sorted(level) == sorted(n.name for n in nodes)
    for node in nodes:
        if node.upstream is None:
            assert level[node.name] == 0
        else:
            assert level[node.name] == level[node.upstream] + 1


@given(forests(), st.data())
def test_any_back_edge_makes_a_cycle_that_is_refused(nodes, data):
    # Point some server at one of its own descendants (or itself): always refused.
    victim = data.draw(st.sampled_from(nodes))
    below = [victim.name, *downstream_of(nodes, victim.name)]
    target = data.draw(st.sampled_from(below))
    broken = [Node(n.name, target if n.name == victim.name else n.upstream, n.replica) for n in nodes]
    with pytest.raises(UsageError, match=r"cycle|itself"):
        validate(broken)
