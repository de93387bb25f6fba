"""The collection's fleet plugins' plain-Python side against the lab (real pypsrp, WS-Management, NTLM).

What wsus_diagnose, wsus_stagger_plan and wsus_synchronize do on the controller, given the play's
hostvars as Ansible hands them over: a host diagnosed with its neighbours only finds what a
diagnosis of the whole fleet finds for it; its fixes repair it (check mode changes nothing); the
stagger plan reads the facts it lacks; the upstream's facts from wsus_facts make a storage option
mismatch fail at once.
"""

from __future__ import annotations

import json

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.ansible.diagnose import diagnose_host
from wsusauto.ansible.fleet import facts_reader, known_facts, play_inventory
from wsusauto.ansible.stagger import plan_slots
from wsusauto.ansible.synchronize import synchronize, synchronize_arguments
from wsusauto.client.session import Session
from wsusauto.output.console import to_jsonable
from wsusauto.state.facts import gather_facts

DOWNSTREAM = {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"}


def designated(name: str, upstream: str = "wsus-root", **more) -> dict:
    """A downstream replica configured as the inventory intends (a healthy hierarchy)."""
    initial = {**DOWNSTREAM, "UpstreamWsusServerName": upstream, "IsReplicaServer": True}
    return {"name": name, "upstream": upstream, "replica": True, "initial": initial, **more}


def hostvars_of(lab) -> dict[str, dict]:
    """Each host's variables as Ansible's hostvars give them to a task (templated, plain values)."""
    return {name: dict(host.vars) for name, host in lab_inventory(lab).hosts.items()}


def play(lab):
    hostvars = hostvars_of(lab)
    return hostvars, play_inventory(hostvars, list(hostvars))


def checks(diagnosed) -> set[str]:
    return {f["check"] for f in diagnosed.findings}


@pytest.fixture(scope="module")
def parent_changed_languages(make_module_lab):
    servers = [
        {"name": "wsus-root", "faults": ["language_changed_on_parent"]},
        designated("wsus-01"),
        designated("wsus-02"),
        designated("wsus-01-branch", upstream="wsus-01"),
    ]
    return make_module_lab({"servers": servers})


def test_a_host_diagnosed_with_its_neighbours_finds_what_the_whole_fleet_finds_for_it(
    parent_changed_languages,
):
    hostvars, inventory = play(parent_changed_languages)
    alone = diagnose_host("wsus-01", inventory)
    # its parent and the server below it, not its sibling
    assert alone.diagnosed == ["wsus-01", "wsus-root", "wsus-01-branch"]
    assert checks(alone) == {"approvals-mismatch"}  # compares wsus-01 with its parent
    (mismatch,) = alone.findings
    assert (
        mismatch["evidence"]["parent"] == "wsus-root"
        and "inactive_approvals_on_parent" in mismatch["evidence"]
    )
    assert alone.verdict == "failed" and alone.to_result()["failed"] is True
    whole = diagnose_host("wsus-01", inventory, scope="play")
    assert whole.diagnosed == list(hostvars) and whole.findings == alone.findings
    root = diagnose_host("wsus-root", inventory)
    assert root.diagnosed == ["wsus-root", "wsus-01", "wsus-02"] and root.verdict == "ok"
    assert root.to_result() == {
        "changed": False,
        "findings": [],
        "diagnosed_with": ["wsus-01", "wsus-02"],
        "msg": "no findings",
    }


def test_the_stagger_plan_reads_the_facts_it_lacks_over_each_hosts_session(parent_changed_languages):
    hostvars, inventory = play(parent_changed_languages)
    hosts = list(hostvars)
    with Session("wsus-root", inventory.connection_options(inventory.hosts["wsus-root"])) as session:
        hostvars["wsus-root"]["wsus_facts"] = json.loads(json.dumps(to_jsonable(gather_facts(session))))
    read: list[list[str]] = []
    reader = facts_reader(inventory, forks=4)

    def read_facts(names):
        read.append(list(names))
        return reader(names)

    result = plan_slots({"window": "20:00-08:00"}, inventory, hosts, known_facts(hostvars, hosts), read_facts)
    assert read == [["wsus-01", "wsus-02", "wsus-01-branch"]] and not result.warnings
    assert [result.slots[h]["facts_from"] for h in hosts] == ["wsus_facts", "read", "read", "read"]
    # one at a time at wsus-root; the branch after its own upstream's reservation
    assert result.slots["wsus-01"]["time"] != result.slots["wsus-02"]["time"]
    assert result.slots["wsus-01-branch"]["upstream"] == "wsus-01"


def test_fix_repairs_this_host_only_and_check_mode_changes_nothing(make_lab):
    servers = [
        {"name": "wsus-root"},
        designated("wsus-01", faults=["bits_disabled"]),
        designated("wsus-02", faults=["bits_disabled"]),
    ]
    lab = make_lab({"servers": servers}, time_scale=10)
    _, inventory = play(lab)
    arguments = {"poll_interval": "0.2s"}

    checked = diagnose_host("wsus-01", inventory, fix=True, check=True, arguments=arguments)
    assert checks(checked) == {"bits-service"} and checked.findings[0]["resolved"] is None
    assert [(f["operation"], f["status"]) for f in checked.fixes] == [("bits_service", "would change")]
    assert checked.verdict == "failed"  # the finding stands: nothing was changed
    assert checks(diagnose_host("wsus-01", inventory)) == {"bits-service"}

    fixed = diagnose_host("wsus-01", inventory, fix=True, arguments=arguments)
    assert [(f["operation"], f["status"]) for f in fixed.fixes] == [("bits_service", "changed")]
    assert [(f["check"], f["resolved"]) for f in fixed.findings] == [("bits-service", True)]
    assert fixed.verdict == "changed"
    result = fixed.to_result()
    assert result["changed"] is True and "failed" not in result
    assert diagnose_host("wsus-01", inventory).findings == []
    assert checks(diagnose_host("wsus-02", inventory)) == {"bits-service"}  # not this host's fix


def test_an_unreachable_host_is_unreachable_and_an_unreachable_neighbour_a_warning(make_lab):
    servers = [{"name": "wsus-root", "faults": ["endpoint_down"]}, designated("wsus-01")]
    lab = make_lab({"servers": servers})
    _, inventory = play(lab)
    root = diagnose_host("wsus-root", inventory).to_result()
    assert root["unreachable"] is True and root["findings"][0]["check"] == "connection"
    replica = diagnose_host("wsus-01", inventory)
    assert replica.warnings and replica.warnings[0].startswith("wsus-root could not be read")
    assert "failed" not in replica.to_result() and "unreachable" not in replica.to_result()


def test_the_upstreams_facts_from_wsus_facts_make_a_storage_mismatch_fail_at_once(make_lab):
    servers = [{"name": "wsus-root"}, designated("mismatch", faults=["storage_mismatch"])]
    lab = make_lab({"servers": servers}, time_scale=10)
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=0.2)
    hostvars, inventory = play(lab)
    hosts = list(hostvars)
    args = {"poll_interval": "0.1s", "retry_interval": "1s"}
    options = inventory.connection_options(inventory.hosts["mismatch"])

    # without the upstream's facts: retried as any upstream error (three attempts)
    given = synchronize_arguments("mismatch", args, hostvars, hosts)
    with Session("mismatch", options) as session:
        retried = synchronize(session, given)
    assert retried.failed and len(retried.details["attempts"]) == 3

    with Session("wsus-root", inventory.connection_options(inventory.hosts["wsus-root"])) as session:
        hostvars["wsus-root"]["wsus_facts"] = json.loads(json.dumps(to_jsonable(gather_facts(session))))
    given = synchronize_arguments("mismatch", args, hostvars, hosts)
    with Session("mismatch", options) as session:
        at_once = synchronize(session, given)
    assert at_once.failed and len(at_once.details["attempts"]) == 1
    assert "does not use one update storage option" in at_once.message
    assert "retrying cannot fix this" in at_once.message
