"""wsusauto.ansible.task.run_task (what every action plugin of the collection calls) against the lab,
through the real pypsrp client: the host's vars as Ansible hands them, results as Ansible reads them."""

from __future__ import annotations

import json

import pytest

from tests.lab_fixtures import small_topology
from wsusauto.ansible.checkmode import CHECK_CHANGES
from wsusauto.ansible.connection import connection_var_names, host_from_vars
from wsusauto.ansible.task import run_task
from wsusauto.lab.wsman.endpoint import EndpointFaults


@pytest.fixture(scope="module")
def lab(make_module_lab):
    return make_module_lab(small_topology(3))


def host(lab, name, **more):
    hostvars = {**lab.inventory()["all"]["vars"], **lab.inventory()["all"]["children"]["wsus"]["hosts"][name]}
    hostvars.update(more, inventory_hostname=name, group_names=["wsus"])
    return host_from_vars(name, {n: hostvars[n] for n in connection_var_names(hostvars)})


def test_check_mode_plans_each_task_on_what_the_tasks_before_would_leave(lab):
    wsus01 = host(lab, "wsus-01")
    source = run_task(
        "update_source",
        {"source": "upstream", "upstream": "wsus-root"},
        wsus01,
        check=True,
        diff=True,
        scope="run/play",
    )
    assert source["changed"] is True and source["diff"]["after"]["UpstreamWsusServerName"] == "wsus-root"
    carried = json.loads(json.dumps(source["ansible_facts"][CHECK_CHANGES]))  # as Ansible keeps a fact
    # planned on the server as it is (still on Microsoft Update), becoming a replica is refused...
    alone = run_task("replica", {"enabled": True}, wsus01, check=True, scope="run/play")
    assert alone["failed"] is True and "Microsoft Update" in alone["msg"]
    # a task delegated to this server (no scope): nothing carried in or out
    delegated = run_task(
        "update_source",
        {"source": "upstream", "upstream": "wsus-root"},
        wsus01,
        check=True,
        carried=source["ansible_facts"][CHECK_CHANGES],
    )
    assert delegated["changed"] is True and "ansible_facts" not in delegated
    # ...and on what the previous check-mode task of the same run and play would leave, it is planned
    replica = run_task(
        "replica", {"enabled": True}, wsus01, check=True, diff=True, carried=carried, scope=carried["scope"]
    )
    assert replica["changed"] is True, replica
    assert replica["diff"] == {"before": {"IsReplicaServer": False}, "after": {"IsReplicaServer": True}}
    assert [c["member"] for c in replica["ansible_facts"][CHECK_CHANGES]["changes"]] == [
        "SyncFromMicrosoftUpdate",
        "UpstreamWsusServerName",
        "IsReplicaServer",
    ]
    # another run's changes are not this run's
    other = run_task("replica", {"enabled": True}, wsus01, check=True, carried=carried, scope="another run")
    assert other["failed"] is True


def test_a_real_run_changes_then_changes_nothing_and_drops_what_check_mode_planned(lab):
    wsus02 = host(lab, "wsus-02")
    first = run_task("update_source", {"source": "upstream", "upstream": "wsus-root", "port": 8530}, wsus02)
    assert first["changed"] is True and "diff" not in first, first
    assert "ansible_facts" not in first
    again = run_task(
        "update_source",
        {"source": "upstream", "upstream": "wsus-root", "port": 8530},
        wsus02,
        carried={"scope": "s", "changes": []},
        scope="s",
    )
    assert again["changed"] is False and again["msg"] == "already as wanted"
    assert again["ansible_facts"] == {CHECK_CHANGES: None}


def test_facts_come_back_as_plain_values(lab):
    result = run_task("status", {}, host(lab, "wsus-root"), with_facts=True)
    assert result["changed"] is False
    facts = result["ansible_facts"]["wsus_facts"]
    assert facts["host"] == "wsus-root" and json.loads(json.dumps(facts)) == facts


def test_a_host_down_and_refused_credentials_are_unreachable_a_bad_var_is_failed(lab):
    lab.set_faults("wsus-02", EndpointFaults(down=True))
    try:
        down = run_task("status", {}, host(lab, "wsus-02"))
    finally:
        lab.set_faults("wsus-02", EndpointFaults())
    assert down["unreachable"] is True and "failed" not in down, down
    refused = run_task("status", {}, host(lab, "wsus-root", ansible_password="not-the-password"))
    assert refused["unreachable"] is True, refused
    assert "not-the-password" not in json.dumps(refused)
    bad = run_task("status", {}, host(lab, "wsus-root", ansible_psrp_auth="telepathy"))
    assert bad["failed"] is True and "unreachable" not in bad
    assert "ansible_psrp_auth" in bad["msg"]
    wrong_args = run_task("replica", {"enabled": "perhaps"}, host(lab, "wsus-root"))
    assert wrong_args["failed"] is True and "enabled" in wrong_args["msg"]
