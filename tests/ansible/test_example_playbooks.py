"""The collection's example playbooks (collection/playbooks/), run by their names with real
ansible-playbook and the built collection against a lab tree laid out as collection/docs/inventory.yml
is: a root, one regional server per region, replicas below them, the regions as groups.

- designate_hierarchy then sync_tree: the tiers go root first, each server only after its upstream
  synchronized in this run and, with serial 1, one at a time per tier; a regional server whose
  sync keeps failing (after the documented retries) does not stop the other region, its replica is
  skipped, and the run exits 2 with that server failed.
- stagger_schedules: each server's schedule is its slot of one plan, the plan wsusauto
  plan-schedule makes for the same fleet, window and K; a second run changes nothing.
- diagnose: a server with BITS disabled fails the playbook (exit 2); with -e wsus_fix=true the
  documented fix runs, and the next diagnosis passes.
(designate_hierarchy's --check --diff and second run: tests/ansible/test_collection_lab.py.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lab_fixtures import lab_inventory, run_cli
from wsusauto.client.session import Session
from wsusauto.state.facts import Facts, gather_facts

pytestmark = pytest.mark.slow

REGIONS = {"region_eu": ["wsus-eu", "wsus-eu-01", "wsus-eu-02"], "region_us": ["wsus-us", "wsus-us-01"]}
TREE = {
    "servers": [
        {"name": "wsus-root"},
        {"name": "wsus-eu", "upstream": "wsus-root"},
        {"name": "wsus-eu-01", "upstream": "wsus-eu", "replica": True},
        {"name": "wsus-eu-02", "upstream": "wsus-eu", "replica": True},
        {"name": "wsus-us", "upstream": "wsus-root"},
        {"name": "wsus-us-01", "upstream": "wsus-us", "replica": True},
    ]
}
FAST = ("-e", "sync_retry_interval=1s", "-e", "sync_poll_interval=0.2s")


def region_inventory(lab: Any, path: Path) -> Path:
    """The lab's inventory (ansible_connection: psrp, its connection vars) with the hosts in groups
    as collection/docs/inventory.yml has them: wsus_root, then each region's servers."""
    written = lab.inventory()
    hosts = written["all"]["children"]["wsus"]["hosts"]
    groups = {"wsus_root": {"hosts": {"wsus-root": hosts["wsus-root"]}}}
    groups.update({region: {"hosts": {h: hosts[h] for h in members}} for region, members in REGIONS.items()})
    written["all"]["children"] = {"wsus": {"children": groups}}
    path.write_text(yaml.safe_dump(written, sort_keys=False), encoding="utf-8")
    return path


def fleet_facts(lab: Any) -> dict[str, Facts]:
    inventory = lab_inventory(lab)
    found = {}
    for name, host in inventory.hosts.items():
        with Session(name, inventory.connection_options(host)) as session:
            found[name] = gather_facts(session)
    return found


def failed_result(stdout: str, host: str) -> dict[str, Any]:
    """The result Ansible prints for ``host``'s failed task: ``fatal: [host]: FAILED! => {...}``."""
    prefix = f"fatal: [{host}]: FAILED! => "
    lines = [line[len(prefix) :] for line in stdout.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, stdout
    return json.loads(lines[0])


def fast_syncs(lab: Any) -> None:
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=0.2)


def test_sync_tree_goes_tier_by_tier_one_at_a_time_and_a_failed_region_stops_only_itself(
    ansible, make_lab, tmp_path
):
    tree = {"servers": [dict(s) for s in TREE["servers"]]}
    # wsus-us's own syncs fail, every attempt: the documented retries, then it is failed
    tree["servers"][4]["faults"] = [{"name": "transient_sync_failure", "attempts": 9}]
    lab = make_lab(tree, time_scale=10)
    fast_syncs(lab)
    inventory = region_inventory(lab, tmp_path / "inventory.yml")

    designated = ansible.playbook(inventory, "wsusauto.wsus.designate_hierarchy")
    assert designated.rc == 0, designated
    run = ansible.playbook(inventory, "wsusauto.wsus.sync_tree", *FAST)
    assert run.rc == 2, run  # wsus-us failed
    assert run.recap["wsus-us"]["failed"] == 1 and run.recap["wsus-us"]["ignored"] == 1, run
    for host in ("wsus-root", "wsus-eu", "wsus-eu-01", "wsus-eu-02", "wsus-us-01"):
        assert run.recap[host]["failed"] == 0 and run.recap[host]["unreachable"] == 0, (host, run)
    plays = [line for line in run.stdout.splitlines() if line.startswith("PLAY [")]
    assert [p.split("]")[0] for p in plays] == [
        "PLAY [Sort the servers into tiers by their upstream",
        "PLAY [Synchronize the roots from Microsoft Update",
        *["PLAY [Synchronize tier 1 from the roots"] * 2,  # serial 1: a batch per server
        *["PLAY [Synchronize tier 2"] * 3,
        "PLAY [Synchronize tier 3",  # no hosts in it here
        "PLAY [Report the synchronizations that did not succeed",
    ], run.stdout

    facts = fleet_facts(lab)
    last = {host: f.last_synchronization_info for host, f in facts.items()}
    for host in ("wsus-root", "wsus-eu", "wsus-eu-01", "wsus-eu-02"):
        assert last[host] is not None and last[host].result == "Succeeded", (host, last[host])
    # the documented policy: the first attempt and two retries, all failed
    assert [s.result for s in facts["wsus-us"].synchronization_history[:3]] == ["Failed"] * 3
    # below the failed regional server: skipped, never synchronized
    assert last["wsus-us-01"] is None or last["wsus-us-01"].result == "NeverRun", last["wsus-us-01"]
    # each server only after its upstream's sync ended; one at a time per tier (serial 1)
    for host, upstream in (("wsus-eu", "wsus-root"), ("wsus-eu-01", "wsus-eu"), ("wsus-eu-02", "wsus-eu")):
        assert last[host].start_time >= last[upstream].end_time, (host, last[host], last[upstream])
    first, second = sorted((last["wsus-eu-01"], last["wsus-eu-02"]), key=lambda s: s.start_time)
    assert second.start_time >= first.end_time, (first, second)
    us_attempts = facts["wsus-us"].synchronization_history[:3]
    assert all(s.start_time >= last["wsus-root"].end_time for s in us_attempts)


def test_stagger_schedules_sets_the_plan_wsusauto_makes_and_a_second_run_changes_nothing(
    ansible, make_lab, tmp_path
):
    servers = [dict(s) for s in TREE["servers"]]
    for server in servers:  # already designated: the schedules are what changes
        if "upstream" in server:
            server["initial"] = {
                "SyncFromMicrosoftUpdate": False,
                "UpstreamWsusServerName": server["upstream"],
                "IsReplicaServer": server.get("replica", False),
            }
    lab = make_lab({"servers": servers})
    inventory = region_inventory(lab, tmp_path / "inventory.yml")
    window = ("-e", "stagger_window=20:00-08:00", "-e", "stagger_timezone=Europe/Berlin")

    first = ansible.playbook(inventory, "wsusauto.wsus.stagger_schedules", *window)
    assert first.rc == 0, first
    hosts = [s["name"] for s in servers]
    assert {h: c["changed"] for h, c in first.recap.items()} == dict.fromkeys(hosts, 1), first  # its slot
    planned = run_cli(
        "plan-schedule", "-i", str(inventory), "--window", "20:00-08:00", "--tz", "Europe/Berlin", "--json"
    )
    assert planned.returncode == 0, planned.stderr
    slots = {slot["host"]: slot for slot in json.loads(planned.stdout)}
    facts = fleet_facts(lab)
    assert set(slots) == set(facts)
    for host, server in facts.items():
        assert server.synchronize_automatically, host
        set_time = server.synchronize_automatically_time_of_day.strftime("%H:%M:%S")
        assert set_time == slots[host]["time_of_day_utc"], (host, set_time, slots[host])
    # the replicas of one regional server are staggered, not all at once
    assert len({facts[h].synchronize_automatically_time_of_day for h in ("wsus-eu-01", "wsus-eu-02")}) == 2

    second = ansible.playbook(inventory, "wsusauto.wsus.stagger_schedules", *window)
    assert second.rc == 0, second
    assert {h: c["changed"] for h, c in second.recap.items()} == dict.fromkeys(hosts, 0), second


def test_diagnose_fails_a_broken_server_and_wsus_fix_repairs_it(ansible, make_lab, tmp_path):
    servers = [dict(s) for s in TREE["servers"][:3]]  # the root, wsus-eu and its replica
    for server in servers[1:]:
        server["initial"] = {
            "SyncFromMicrosoftUpdate": False,
            "UpstreamWsusServerName": server["upstream"],
            "IsReplicaServer": server.get("replica", False),
        }
    servers[2]["faults"] = ["bits_disabled"]
    lab = make_lab({"servers": servers}, time_scale=10)
    fast_syncs(lab)
    inventory = tmp_path / "inventory.yml"
    lab.write_inventory(inventory)

    found = ansible.playbook(inventory, "wsusauto.wsus.diagnose")
    assert found.rc == 2, found
    assert found.recap["wsus-eu-01"]["failed"] == 1, found
    assert found.recap["wsus-root"]["failed"] == 0 and found.recap["wsus-eu"]["failed"] == 0, found
    assert "bits-service" in found.stdout, found

    checked = ansible.playbook(inventory, "wsusauto.wsus.diagnose", "-e", "wsus_fix=true", "--check", *FAST)
    assert checked.rc == 2 and checked.recap["wsus-eu-01"]["failed"] == 1, checked  # still broken
    result = failed_result(checked.stdout, "wsus-eu-01")
    assert [(f["operation"], f["status"]) for f in result["fixes"]] == [("bits_service", "would change")]
    fixed = ansible.playbook(inventory, "wsusauto.wsus.diagnose", "-e", "wsus_fix=true", *FAST)
    assert fixed.rc == 0, fixed
    assert fixed.recap["wsus-eu-01"]["changed"] == 1 and fixed.recap["wsus-eu-01"]["failed"] == 0, fixed
    assert all(fixed.recap[h]["changed"] == 0 for h in ("wsus-root", "wsus-eu")), fixed

    again = ansible.playbook(inventory, "wsusauto.wsus.diagnose")
    assert again.rc == 0, again
