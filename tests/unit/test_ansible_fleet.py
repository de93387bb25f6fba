"""The collection's fleet plugins, plain-Python side: the play's hostvars as the library's fleet.

wsus_synchronize, wsus_diagnose and wsus_stagger_plan run the library's fleet functions unchanged on
an Inventory made from hostvars and on the facts a wsus_facts task left there; these tests pin that
translation (no server: what crosses the wire is in tests/lab/test_ansible_fleet_lab.py).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json

import pytest

from tests.unit.test_facts_parsing import sample
from wsusauto.ansible.diagnose import HostDiagnosis, configured_server, neighbours
from wsusauto.ansible.facts_vars import facts_from_vars
from wsusauto.ansible.fleet import intended_upstreams, known_facts, play_inventory
from wsusauto.ansible.stagger import plan_slots
from wsusauto.ansible.synchronize import synchronize_arguments, upstream_in_play
from wsusauto.errors import UsageError
from wsusauto.operations.group import TaskGroup
from wsusauto.operations.stagger import SLOT, Stagger
from wsusauto.operations.synchronize import UPSTREAM_STORAGE
from wsusauto.output.console import to_jsonable
from wsusauto.state.facts import Facts, SyncInfo, parse_facts


def facts(host: str = "wsus-eu", **changes) -> Facts:
    return dataclasses.replace(parse_facts(host, sample()), **changes)


def as_var(value: Facts) -> dict:
    """What a wsus_facts task leaves in hostvars: the facts as JSON values, through JSON."""
    return json.loads(json.dumps(to_jsonable(value)))


HOSTVARS = {
    "root": {"ansible_host": "10.0.0.5", "group_names": ["roots", "wsus"]},
    "eu": {
        "ansible_host": "10.0.1.5",
        "wsus_upstream": "root",
        "wsus_replica": True,
        "group_names": ["wsus"],
    },
    "us": {"ansible_host": "10.0.2.5", "wsus_upstream": "10.0.0.5", "group_names": ["wsus"]},
    "eu-branch": {"wsus_upstream": "eu.corp.example", "group_names": ["wsus"]},
}


def test_facts_come_back_from_the_values_wsus_facts_leaves_in_hostvars():
    original = facts()
    assert facts_from_vars("eu", as_var(original)) == original
    assert facts_from_vars("eu", original) is original


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.pop("host_binaries_on_microsoft_update"), "has no host_binaries_on_microsoft_update"),
        (lambda d: d.update(port_number="8530"), "wsus_facts.port_number is '8530', not a whole number"),
        (
            lambda d: d["synchronization_history"][0].update(start_time="yesterday"),
            "synchronization_history[0].start_time",
        ),
        (lambda d: d.update(synchronize_automatically_time_of_day=3), "not a time of day"),
    ],
)
def test_facts_of_another_shape_are_one_error_naming_the_host_and_the_field(change, named):
    value = as_var(facts())
    change(value)
    with pytest.raises(UsageError, match="hostvars of eu: wsus_facts") as raised:
        facts_from_vars("eu", value)
    assert named in str(raised.value) and "run wsus_facts again" in str(raised.value)


def test_the_play_inventory_resolves_upstreams_as_an_inventory_file_does():
    inventory = play_inventory(HOSTVARS, ["root", "eu", "us", "eu-branch"])
    assert list(inventory.hosts) == ["root", "eu", "us", "eu-branch"]
    assert inventory.groups["wsus"] == ("root", "eu", "us", "eu-branch")
    assert inventory.groups["roots"] == ("root",)
    # by host name, by ansible_host, by a domain name whose first label is the host
    assert intended_upstreams(inventory) == {"root": None, "eu": "root", "us": "root", "eu-branch": "eu"}
    assert inventory.hosts["eu"].replica is True
    with pytest.raises(UsageError, match="no variables for ghost"):
        play_inventory(HOSTVARS, ["root", "ghost"])


def test_known_facts_are_those_of_hosts_with_wsus_facts():
    hostvars = {**HOSTVARS, "root": {**HOSTVARS["root"], "wsus_facts": as_var(facts("root"))}}
    found = known_facts(hostvars, ["root", "eu", "nowhere"])
    assert set(found) == {"root"} and found["root"].host == "root"


def test_synchronize_gets_the_upstream_storage_option_when_the_play_read_the_upstream():
    stores_on_mu = as_var(facts("root", host_binaries_on_microsoft_update=True))
    hostvars = {**HOSTVARS, "root": {**HOSTVARS["root"], "wsus_facts": stores_on_mu}}
    args = {"retry_interval": "1s", "poll_interval": None}
    given = synchronize_arguments("eu", args, hostvars, list(HOSTVARS))
    assert given == {"retry_interval": "1s", UPSTREAM_STORAGE: True}
    # not when the upstream is outside the play (as wsusauto run), nor without its facts
    assert UPSTREAM_STORAGE not in synchronize_arguments("eu", args, hostvars, ["eu"])
    assert UPSTREAM_STORAGE not in synchronize_arguments("eu", args, HOSTVARS, list(HOSTVARS))
    # a root has no upstream to compare with
    assert UPSTREAM_STORAGE not in synchronize_arguments("root", args, hostvars, list(HOSTVARS))


def test_the_upstream_named_by_its_host_name_is_found_without_reading_other_hosts_vars():
    seen: list[str] = []

    class Watched(dict):
        def __getitem__(self, name):
            seen.append(name)
            return super().__getitem__(name)

    assert upstream_in_play("eu", Watched(HOSTVARS), list(HOSTVARS)) == "root" and seen == ["eu"]
    # other names are resolved over the play's hosts, as an inventory file's are
    assert upstream_in_play("us", HOSTVARS, list(HOSTVARS)) == "root"  # its ansible_host
    assert upstream_in_play("eu-branch", HOSTVARS, list(HOSTVARS)) == "eu"  # a domain name
    assert upstream_in_play("eu", HOSTVARS, ["eu", "us"]) is None  # not in the play
    assert upstream_in_play("root", HOSTVARS, list(HOSTVARS)) is None


def test_synchronize_arguments_are_checked_as_wsusauto_run_checks_them():
    with pytest.raises(UsageError, match="retry_interval: 'soon' is not a duration"):
        synchronize_arguments("eu", {"retry_interval": "soon"}, HOSTVARS, list(HOSTVARS))


def with_history(host: str, minutes: float) -> Facts:
    start = dt.datetime(2026, 11, 1, 3, tzinfo=dt.timezone.utc)
    run = SyncInfo("Succeeded", "NotApplicable", "", start, start + dt.timedelta(minutes=minutes), False, ())
    return facts(host, synchronization_history=(run,))


def test_the_stagger_plan_is_the_stagger_tasks_fleet_step_and_reads_only_missing_facts():
    hostvars = {
        "root": {"group_names": ["wsus"]},
        "a": {"wsus_upstream": "root", "wsus_facts": as_var(with_history("a", 20))},
        "b": {"wsus_upstream": "root"},
        "c": {"wsus_upstream": "root"},
    }
    hosts = list(hostvars)
    inventory = play_inventory(hostvars, hosts)
    asked: list[list[str]] = []

    def read_facts(names):
        asked.append(list(names))
        return {"root": with_history("root", 40), "b": with_history("b", 10), "c": "unreachable: no answer"}

    args = {"window": "20:00-08:00", "max_concurrent_per_upstream": 1, "offset": None}
    result = plan_slots(args, inventory, hosts, known_facts(hostvars, hosts), read_facts)
    assert asked == [["root", "b", "c"]]
    assert result.warnings == ["c: no facts (unreachable: no answer); planned with the default duration"]
    # the same slots as a wsusauto run stagger task over the same hosts, hierarchy and facts
    checked = Stagger().validate({"window": "20:00-08:00", "max_concurrent_per_upstream": 1}, "t")
    known = {"root": with_history("root", 40), "a": with_history("a", 20), "b": with_history("b", 10)}
    upstream_of = {"root": None, "a": "root", "b": "root", "c": "root"}
    expected = Stagger().prepare_fleet(TaskGroup("t", "t", dict.fromkeys(hosts, checked), upstream_of, known))
    for host in hosts:
        time_of_day, per_day = expected[host][SLOT]
        assert result.slots[host]["time"] == time_of_day and result.slots[host]["per_day"] == per_day
    assert {result.slots[h]["time"] for h in "abc"}.__len__() == 3  # staggered, one at a time
    assert [result.slots[h]["facts_from"] for h in hosts] == ["read", "wsus_facts", "read", "default"]
    assert [result.slots[h]["upstream"] for h in hosts] == [None, "root", "root", "root"]
    assert result.slots["a"]["duration_minutes"] == 20 and result.slots["c"]["duration_minutes"] == 30
    ansible = result.to_result()
    assert ansible["changed"] is False and set(ansible["slots"]) == set(hosts)


def test_a_window_too_small_for_the_fleet_is_one_usage_error_with_the_planners_advice():
    hostvars = {"root": {}, **{f"r{i}": {"wsus_upstream": "root"} for i in range(6)}}
    inventory = play_inventory(hostvars, list(hostvars))
    with pytest.raises(UsageError, match="nothing was changed"):
        plan_slots({"window": "01:00-02:00"}, inventory, list(hostvars), {}, lambda names: {})
    with pytest.raises(UsageError, match="window"):
        plan_slots({"window": "late"}, inventory, list(hostvars), {}, lambda names: {})


def test_a_hosts_neighbours_are_its_upstream_and_the_servers_synchronizing_from_it():
    hostvars = {
        "root": {},
        "eu": {"wsus_upstream": "root"},
        "eu-1": {"wsus_upstream": "eu"},
        "eu-2": {"wsus_upstream": "eu"},
        "us": {"wsus_upstream": "root"},
        "stray": {"wsus_upstream": "us"},
    }
    inventory = play_inventory(hostvars, list(hostvars))
    assert neighbours("eu", inventory, {}) == ["eu", "root", "eu-1", "eu-2"]
    assert neighbours("root", inventory, {}) == ["root", "eu", "us"]
    # configured against the inventory (as wsus_facts read it): stray syncs from eu, eu from us
    stray = facts("stray", sync_from_microsoft_update=False, upstream_wsus_server_name="eu.corp.example")
    eu = facts("eu", sync_from_microsoft_update=False, upstream_wsus_server_name="us")
    configured = {"stray": configured_server(as_var(stray)), "eu": configured_server(eu)}
    assert configured == {"stray": "eu.corp.example", "eu": "us"}
    assert neighbours("eu", inventory, configured) == ["eu", "root", "eu-1", "eu-2", "us", "stray"]
    on_mu = facts("eu-1", sync_from_microsoft_update=True, upstream_wsus_server_name="stale")
    assert configured_server(on_mu) is None and configured_server(as_var(on_mu)) is None
    assert neighbours("eu-1", inventory, {"eu-1": None}) == ["eu-1", "eu"]


def finding(severity: str, check: str = "bits-service", **extra) -> dict:
    return {"check": check, "severity": severity, "title": "t", "fix": None, **extra}


@pytest.mark.parametrize(
    ("verdict", "fixes", "expected"),
    [
        ("ok", [], {"changed": False}),
        ("failed", [], {"changed": False, "failed": True}),
        ("unreachable", [], {"changed": False, "unreachable": True}),
        ("changed", [{"status": "changed"}], {"changed": True}),
        ("changed", [{"status": "would change"}], {"changed": True}),
        ("failed", [{"status": "failed"}, {"status": "changed"}], {"changed": True, "failed": True}),
    ],
)
def test_the_diagnosis_result_says_changed_failed_unreachable_as_wsusauto_diagnose(verdict, fixes, expected):
    fixes = [{"operation": "bits_service", "checks": ["bits-service"], "message": "m", **f} for f in fixes]
    result = HostDiagnosis("eu", verdict, [finding("warning")], fixes, ["eu", "root"], []).to_result()
    assert {k: result[k] for k in ("changed", "failed", "unreachable") if k in result} == expected
    assert result["diagnosed_with"] == ["root"] and result["findings"] == [finding("warning")]


def test_the_diagnosis_message_names_each_finding_and_each_fix_that_did_not_work():
    found = [finding("warning", resolved=True), finding("info", "last-sync-error", new=True)]
    fixes = [
        {"operation": "bits_service", "checks": ["bits-service"], "status": "failed", "message": "denied"}
    ]
    message = HostDiagnosis("eu", "failed", found, fixes, ["eu"], []).message()
    assert message == (
        "warning bits-service: t (fixed); info last-sync-error: t (new); "
        "fix bits_service (bits-service): failed: denied"
    )
    assert HostDiagnosis("eu", "ok", [], [], ["eu"], []).message() == "no findings"
    assert copy.deepcopy(HostDiagnosis("eu", "ok", [], [], ["eu"], []).to_result())["msg"] == "no findings"
