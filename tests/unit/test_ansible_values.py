"""wsusauto.ansible.values.native and wsusauto.ansible.checkmode: pure parts of the collection's side."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_facts_parsing import sample
from wsusauto.ansible.checkmode import CHECK_CHANGES, carried_changes, replay, with_planned
from wsusauto.ansible.values import native
from wsusauto.config.secrets import Secret
from wsusauto.operations import OPERATIONS, Change, OperationResult
from wsusauto.state.facts import parse_facts


class TaggedStr(str):  # what ansible-core 2.19's data tagging hands a plugin: subclasses
    def __str__(self) -> str:
        return "tagged!"


class TaggedInt(int):
    pass


class TaggedFloat(float):
    pass


def test_tagged_values_become_exact_builtin_types():
    value = native({TaggedStr("port"): TaggedInt(8531), "names": [TaggedStr("a"), (TaggedFloat(1.5),)]})
    assert value == {"port": 8531, "names": ["a", (1.5,)]}
    key = next(iter(value))
    assert type(key) is str and key == "port"  # the value, never the subclass's own __str__
    assert type(value["port"]) is int
    assert type(value["names"][0]) is str and type(value["names"][1][0]) is float


def test_what_is_not_a_tagged_builtin_is_kept_as_it_is():
    secret = Secret("Kept-As-Secret")
    assert native(secret) is secret
    assert native(None) is None and native(True) is True


_plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=15,
)


@given(_plain)
def test_native_keeps_every_plain_value_equal(value):
    assert native(value) == value


def facts(**changes):
    return dataclasses.replace(parse_facts("wsus-eu", sample()), **changes)


def test_planned_changes_replay_to_what_the_operations_simulate():
    start = facts(sync_from_microsoft_update=True, is_replica_server=False, upstream_wsus_server_name="")
    source = OperationResult(
        "update_source",
        True,
        (
            Change("SyncFromMicrosoftUpdate", True, False),
            Change("UpstreamWsusServerName", "", "wsus-root"),
        ),
        check_mode=True,
    )
    schedule = OperationResult(
        "schedule", True, (Change("SynchronizeAutomaticallyTimeOfDay", dt.time(1), dt.time(3, 30)),)
    )
    state = with_planned(carried_changes(None, "run/1"), source, "run/1")
    state = with_planned(carried_changes(state, "run/1"), schedule, "run/1")
    through_json = json.loads(json.dumps(state))  # as a fact travels between Ansible's processes
    expected = OPERATIONS["schedule"].simulate(OPERATIONS["update_source"].simulate(start, source), schedule)
    replayed = replay(start, carried_changes(through_json, "run/1"))
    assert replayed == expected
    assert replayed.synchronize_automatically_time_of_day == dt.time(3, 30)
    # a plan made on the replayed facts: the replica may now be designated
    assert OPERATIONS["replica"].plan(replayed, {"enabled": True}).changes


def test_group_membership_replays_as_tuples():
    start = facts(computer_target_groups={"Pilot": ("pc-1",)})
    joined = OperationResult(
        "computer_groups", True, (Change("ComputerTargetGroups[Pilot]", ("pc-1",), ("pc-1", "pc-2")),)
    )
    state = json.loads(json.dumps(with_planned([], joined, "s")))
    assert replay(start, carried_changes(state, "s")).computer_target_groups["Pilot"] == ("pc-1", "pc-2")


def test_changes_of_another_run_or_play_or_of_another_shape_are_ignored():
    state = with_planned(
        [], OperationResult("replica", True, (Change("IsReplicaServer", False, True),)), "1234/play-a"
    )
    assert carried_changes(state, "1234/play-a")
    assert carried_changes(state, "1234/play-b") == []
    assert carried_changes(state, "9999/play-a") == []
    assert carried_changes(None, "1234/play-a") == []
    assert carried_changes({"scope": "s", "changes": "nonsense"}, "s") == []
    assert carried_changes({"scope": "s", "changes": [{"member": "x"}]}, "s") == []
    assert CHECK_CHANGES == "wsusauto_check_changes"
