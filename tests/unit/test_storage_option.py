"""storage_option's pure part: the root of a host's intended hierarchy."""

from __future__ import annotations

import pytest

from wsusauto.errors import UsageError
from wsusauto.operations import get_operation
from wsusauto.operations.group import TaskGroup, root_of

HIERARCHY = {"root": None, "region": "root", "branch": "region", "other": None, "outside": "external-wsus"}


@pytest.mark.parametrize(
    "host, expected",
    [
        ("root", ("root", True)),
        ("region", ("root", True)),
        ("branch", ("root", True)),  # two levels up
        ("other", ("other", True)),
        ("outside", ("external-wsus", False)),  # the chain leaves the inventory: its option is unknown
    ],
)
def test_root_of(host, expected):
    assert root_of(host, HIERARCHY) == expected


def test_a_loop_has_no_root():
    assert root_of("a", {"a": "b", "b": "a"}) == ("a", False)


def test_the_fleet_step_gives_the_roots_option_or_none_when_unknown():
    operation = get_operation("storage_option")

    class Known:
        host_binaries_on_microsoft_update = True

    def step(args, facts):
        group = TaskGroup("task 1", "play 1", args, HIERARCHY, facts)
        return operation.prepare_fleet(group)

    assert step({"branch": {}}, {"root": Known()}) == {"branch": {"_root": ("root", True)}}
    assert step({"branch": {}}, {}) == {"branch": {"_root": ("root", None)}}
    assert step({"outside": {}}, {}) == {"outside": {"_root": ("external-wsus", None)}}
    named = {"storage": "local"}
    assert step({"branch": named}, {"root": Known()})["branch"] is named


def test_storage_must_be_one_of_the_two_options():
    with pytest.raises(UsageError, match="must be one of local, microsoft_update"):
        get_operation("storage_option").validate({"storage": "cloud"}, "task")
