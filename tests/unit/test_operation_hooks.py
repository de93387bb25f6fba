"""The hooks an operation answers around its hosts' runs, and the prepare phase that calls them.

The prepare phase (wsusauto.execution.prepare) names no operation: the play settings a task reads,
where a task puts its host in the hierarchy, the fleet step before any change and the diagnosis are
each operation's own answer. Pure: no server is contacted here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.unit.test_facts_parsing import sample
from wsusauto.config.inventory import inventory_from_dict
from wsusauto.config.playbook import Play, playbook_from_data
from wsusauto.diagnose import Diagnosis
from wsusauto.errors import UsageError
from wsusauto.execution.prepare import prepare_play, run_fleet_steps
from wsusauto.operations import OPERATIONS, Change, ChangePlan, Operation, OperationResult
from wsusauto.operations.base import simulate_changes
from wsusauto.operations.group import TaskGroup
from wsusauto.operations.stagger import SLOT
from wsusauto.operations.synchronize import UPSTREAM_STORAGE
from wsusauto.state.facts import Facts, parse_facts

INVENTORY = {
    "all": {
        "vars": {"ansible_user": "admin", "wsusauto_password_env": "WSUS_PW"},
        "hosts": {"wsus-root": {"ansible_host": "127.0.10.1"}},
        "children": {
            "regional": {
                "vars": {"wsus_upstream": "wsus-root"},
                "hosts": {
                    "wsus-eu": {"ansible_host": "127.0.10.2"},
                    "wsus-us": {"ansible_host": "127.0.10.3"},
                },
            },
            "branch": {
                "vars": {"wsus_upstream": "wsus-eu", "wsus_replica": True},
                "hosts": {"wsus-eu-01": {"ansible_host": "127.0.10.4"}},
            },
        },
    }
}


@pytest.fixture
def inventory(monkeypatch):
    monkeypatch.setenv("WSUS_PW", "from-env")
    return inventory_from_dict(INVENTORY, "inv.yml")


def _play(tasks: list[dict[str, Any]], **settings: Any) -> Play:
    return playbook_from_data([{"hosts": "all", "tasks": tasks, **settings}], "book.yml").plays[0]


def _facts(host: str, **fields: Any) -> Facts:
    return dataclasses.replace(parse_facts(host, sample()), host=host, **fields)


def _no_diagnosis(hosts, limit):
    raise AssertionError("no operation of this play reads the diagnosis")


class Bare(Operation):
    name = "bare"

    def plan(self, facts: Facts, args: Any) -> ChangePlan:
        return ChangePlan(())


def test_an_operation_that_overrides_no_hook_needs_nothing_of_the_play_or_the_fleet():
    bare = Bare()
    group = TaskGroup("task 1", "play 1", {"a": {"x": 1}}, {"a": None}, {})
    assert bare.play_settings == () and not bare.shapes_hierarchy
    assert bare.intended_node({"x": 1}, "wsus-root", True) == ("wsus-root", True)
    assert bare.prepare_fleet(group) == {"a": {"x": 1}}
    assert not bare.uses_diagnosis and bare.diagnosis_upstream_limit({}) == 1
    assert not bare.uses_upstream_slot
    facts = _facts("a")
    change = Change("IsReplicaServer", facts.is_replica_server, not facts.is_replica_server)
    result = OperationResult("bare", True, (change,), check_mode=True)
    assert bare.simulate(facts, result) == simulate_changes(facts, (change,))
    assert bare.simulate(facts, result).is_replica_server is not facts.is_replica_server


def test_every_play_setting_an_operation_reads_is_a_play_keyword():
    keywords = {f.name for f in dataclasses.fields(Play)}
    assert all(set(op.play_settings) <= keywords for op in OPERATIONS.values())
    assert OPERATIONS["proxy"].play_settings == ("allow_cleartext_proxy_password",)


def test_the_operations_that_synchronize_hold_a_slot_and_only_hierarchy_operations_move_hosts():
    # A fix of BITS or the Range header ends with a synchronization from the host's upstream
    # (operations/fixes.py): in hierarchy order the run starts it once a slot there is free, as a
    # synchronize task, instead of a worker blocking on the slot.
    holding = {n for n, op in OPERATIONS.items() if op.uses_upstream_slot}
    assert holding == {"synchronize", "bits_service", "bits_foreground"}
    assert {n for n, op in OPERATIONS.items() if op.shapes_hierarchy} == {"update_source", "replica"}


def test_a_plan_with_changes_names_the_snippet_that_makes_them():
    with pytest.raises(ValueError, match="names the snippet"):
        ChangePlan((Change("IsReplicaServer", False, True),))
    assert ChangePlan(()).snippet is None  # nothing to change needs no snippet


def test_resume_downloads_simulates_the_failed_downloads_resumed():
    facts = _facts("a")
    status = dataclasses.replace(facts.update_server_status, updates_with_server_errors_count=4)
    failed = dataclasses.replace(facts, update_server_status=status)
    operation = OPERATIONS["resume_downloads"]
    planned = operation.plan(failed, {})
    after = operation.simulate(
        failed, OperationResult(operation.name, True, planned.changes, check_mode=True)
    )
    assert after.update_server_status.updates_with_server_errors_count == 0
    assert operation.plan(after, {}).changes == ()  # a second resume in the same check run: nothing


def test_the_intended_hierarchy_is_the_inventory_moved_by_the_tasks(inventory):
    play = _play(
        [
            {
                "update_source": {"source": "upstream", "upstream": "wsus-us"},
                "when": "inventory_hostname == 'wsus-eu-01'",
            },
            {"replica": {"enabled": False}, "when": "inventory_hostname == 'wsus-eu-01'"},
        ],
        order="hierarchy",
    )
    prepared = prepare_play(inventory, play)
    assert prepared.upstream_of == {
        "wsus-root": None,
        "wsus-eu": "wsus-root",
        "wsus-us": "wsus-root",
        "wsus-eu-01": "wsus-us",
    }
    assert {n.name: n.replica for n in prepared.nodes}["wsus-eu-01"] is False
    assert prepared.hosts[0] == "wsus-root" and prepared.hosts[-1] == "wsus-eu-01"


def test_a_task_that_closes_a_loop_stops_the_play_before_any_server_is_contacted(inventory):
    play = _play(
        [
            {
                "update_source": {"source": "upstream", "upstream": "wsus-eu-01"},
                "when": "inventory_hostname == 'wsus-root'",
            }
        ]
    )
    with pytest.raises(UsageError, match="intended hierarchy"):
        prepare_play(inventory, play)


def test_a_play_setting_reaches_the_tasks_that_read_it(inventory):
    task = {"proxy": {"enabled": True, "name": "proxy.corp", "basic_auth_cleartext": True}}
    prepared = prepare_play(inventory, _play([task], allow_cleartext_proxy_password=True), limit="wsus-root")
    assert prepared.tasks["wsus-root"][0].args["allow_cleartext_proxy_password"] is True
    with pytest.raises(UsageError, match="allow_cleartext_proxy_password: true"):
        prepare_play(inventory, _play([task]))
    with pytest.raises(UsageError, match="is a play setting, not a task argument"):
        _play([{"proxy": {"enabled": False, "allow_cleartext_proxy_password": True}}])


def _facts_of(inventory, on_microsoft_update: frozenset[str] = frozenset()) -> dict[str, Facts]:
    """Every host's facts; the hosts in ``on_microsoft_update`` store updates on Microsoft Update."""
    return {
        host: _facts(host, host_binaries_on_microsoft_update=host in on_microsoft_update)
        for host in inventory.hosts
    }


def test_a_hierarchy_task_refuses_a_play_whose_hierarchy_mixes_storage_options(inventory):
    facts = _facts_of(inventory, frozenset({"wsus-eu-01"}))
    replica = {"replica": {"enabled": True}, "when": "inventory_hostname == 'wsus-eu-01'"}
    moving = prepare_play(inventory, _play([replica]))
    with pytest.raises(
        UsageError, match=r"book.yml: play 1: the hierarchy under wsus-root mixes .*nothing was changed"
    ):
        run_fleet_steps(moving, facts, _no_diagnosis)
    # A play that moves no host in the hierarchy is not this check's business.
    staying = prepare_play(inventory, _play([{"schedule": {"automatic": False}}]))
    assert run_fleet_steps(staying, facts, _no_diagnosis) == staying.tasks
    # Facts that could not be read are left out, as hosts that are not in the play.
    assert run_fleet_steps(moving, {**facts, "wsus-eu-01": "unreachable"}, _no_diagnosis)


def test_servers_below_one_upstream_outside_the_inventory_are_one_hierarchy(monkeypatch):
    """Two inventory servers that both synchronize from one server outside the inventory are one
    hierarchy ("the entire hierarchy must use the same update storage option": "Synchronization
    issues"), however the name of that upstream is capitalized (host names are case-insensitive)."""
    monkeypatch.setenv("WSUS_PW", "from-env")
    outside = {"wsus_upstream_external": True}
    inventory = inventory_from_dict(
        {
            "all": {
                "vars": {"ansible_user": "admin", "wsusauto_password_env": "WSUS_PW"},
                "hosts": {
                    "wsus-a": {"ansible_host": "127.0.10.1", "wsus_upstream": "hq-wsus.corp", **outside},
                    "wsus-b": {"ansible_host": "127.0.10.2", "wsus_upstream": "HQ-WSUS.corp", **outside},
                    "wsus-c": {"ansible_host": "127.0.10.3", "wsus_upstream": "other.corp", **outside},
                },
            }
        },
        "inv.yml",
    )
    play = prepare_play(inventory, _play([{"replica": {"enabled": True}}]))
    mixed = {"wsus-a": _facts("wsus-a"), "wsus-b": _facts("wsus-b", host_binaries_on_microsoft_update=True)}
    with pytest.raises(UsageError, match=r"hierarchy under hq-wsus.corp mixes .*wsus-a.*wsus-b") as refused:
        run_fleet_steps(play, mixed, _no_diagnosis)
    # what to do about it: the storage_option task, naming the option as the root is not in the inventory
    assert "playbooks/storage-option.yml" in str(refused.value) and "name the option" in str(refused.value)
    # a server below another upstream is another hierarchy
    apart = {"wsus-a": _facts("wsus-a"), "wsus-c": _facts("wsus-c", host_binaries_on_microsoft_update=True)}
    assert run_fleet_steps(play, apart, _no_diagnosis)


def test_the_stagger_step_plans_every_host_and_synchronize_learns_its_upstreams_storage(inventory):
    facts = _facts_of(inventory, frozenset(inventory.hosts))
    play = _play([{"stagger": {"window": "01:00-09:00"}}, {"synchronize": {}}])
    prepared = prepare_play(inventory, play)
    tasks = run_fleet_steps(prepared, {h: f for h, f in facts.items() if h != "wsus-eu"}, _no_diagnosis)
    assert all(len(tasks[h][0].args[SLOT]) == 2 for h in inventory.hosts)
    assert UPSTREAM_STORAGE not in tasks["wsus-root"][1].args  # a root has no upstream
    assert tasks["wsus-us"][1].args[UPSTREAM_STORAGE] is True
    assert UPSTREAM_STORAGE not in tasks["wsus-eu-01"][1].args  # its upstream's facts were not read
    assert prepared.tasks["wsus-us"][1].args == {}  # the prepared play itself is left as it was


def test_the_stagger_step_refuses_a_window_too_small_and_nothing_changes(inventory):
    facts = _facts_of(inventory)
    play = _play([{"stagger": {"window": "01:00-01:01", "default_duration": 600}}])
    with pytest.raises(UsageError, match=r"task 1.*nothing was changed"):
        run_fleet_steps(prepare_play(inventory, play), facts, _no_diagnosis)


def test_the_play_is_diagnosed_once_with_the_largest_limit_for_the_tasks_that_read_it(inventory):
    calls = []

    def diagnose(hosts, limit):
        calls.append((list(hosts), limit))
        return Diagnosis(order=list(hosts))

    play = _play(
        [
            {"diagnose": {"max_concurrent_per_upstream": 3}},
            {"diagnose": {}},
            {"schedule": {"automatic": False}},
        ]
    )
    tasks = run_fleet_steps(prepare_play(inventory, play), _facts_of(inventory), diagnose)
    assert calls == [(list(inventory.hosts), 3)]
    assert all(
        tasks[h][0].args["_findings"] == [] and "_findings" not in tasks[h][2].args for h in inventory.hosts
    )


@pytest.mark.parametrize(
    ("operation", "args", "hidden"),
    [
        ("stagger", {"window": "01:00-05:00"}, SLOT),
        ("synchronize", {}, UPSTREAM_STORAGE),
        ("storage_option", {}, "_root"),
        ("diagnose", {}, "_findings"),
        ("decline_missing_updates", {"all_missing": True}, "_missing_upstream"),
    ],
)
def test_what_a_fleet_step_adds_is_never_a_tasks_argument(operation, args, hidden):
    # Added after the arguments are checked, so a playbook cannot set it (and skip the fleet step's say).
    with pytest.raises(UsageError, match=f"has no argument {hidden}"):
        OPERATIONS[operation].validate({**args, hidden: True}, "task 1")
