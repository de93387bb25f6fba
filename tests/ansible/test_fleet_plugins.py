"""The fleet plugins through real ansible-playbook with the built collection, against the lab.

wsus_synchronize: a replica whose sync fails once (the lab's transient fault) succeeds on attempt 2,
every attempt in the registered result; one whose sync keeps failing is failed after the documented
two retries, at once when its upstream (read by wsus_facts) stores updates otherwise. wsus_diagnose:
a lab fault is found, fix: true in check mode changes nothing, then fixes it. wsus_stagger_plan
(run_once) + wsus_schedule: staggered schedules, and a second run changes nothing.
"""

from __future__ import annotations

import json

import pytest

from tests.lab_fixtures import inventory_file, lab_inventory
from wsusauto.client.session import Session
from wsusauto.state.facts import gather_facts

pytestmark = pytest.mark.slow

DOWNSTREAM = {
    "SyncFromMicrosoftUpdate": False,
    "UpstreamWsusServerName": "wsus-root",
    "IsReplicaServer": True,
}


def replica(name: str, *faults) -> dict:
    return {
        "name": name,
        "upstream": "wsus-root",
        "replica": True,
        "initial": DOWNSTREAM,
        "faults": list(faults),
    }


def shown(run) -> dict[str, dict]:
    """What the play's ``debug: msg="{{ {...} | to_json }}"`` tasks printed, by its 'host' key and 'name'."""
    found: dict[str, dict] = {}
    for line in run.stdout.splitlines():
        if line.strip().startswith('"msg": "{'):
            value = json.loads(json.loads(line.split(": ", 1)[1]))
            found.setdefault(value.pop("host"), {}).update(value)
    return found


def show(*names: str) -> dict:
    """A debug task printing the registered results ``names`` of each host as one JSON line."""
    fields = ", ".join(f"'{n}': {n}" for n in names)
    return {
        "name": "show",
        "ansible.builtin.debug": {"msg": f"{{{{ {{'host': inventory_hostname, {fields}}} | to_json }}}}"},
    }


def test_a_sync_that_fails_once_succeeds_on_attempt_2_and_one_that_keeps_failing_is_failed(ansible, make_lab):
    """Also: with the upstream's wsus_facts in the play, a storage option mismatch fails at once."""
    servers = [
        {"name": "wsus-root"},
        replica("flaky", {"name": "transient_sync_failure", "attempts": 1}),
        replica("down", {"name": "transient_sync_failure", "attempts": 9}),
        replica("mismatch", "storage_mismatch"),
    ]
    lab = make_lab({"servers": servers}, time_scale=10)
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=0.2)
    plays = [
        {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {"name": "facts", "wsusauto.wsus.wsus_facts": {}},
                {
                    "name": "synchronize",
                    "wsusauto.wsus.wsus_synchronize": {"retry_interval": "1s", "poll_interval": "0.2s"},
                    "register": "sync",
                    "ignore_errors": True,
                },
                show("sync"),
            ],
        }
    ]
    run = ansible.playbook(inventory_file(lab), plays)
    assert run.rc == 0, run  # the failure is ignored, so the run goes on
    assert run.recap["flaky"]["changed"] == 1 and run.recap["flaky"]["failed"] == 0, run
    assert run.recap["down"]["ignored"] == 1, run
    results = shown(run)
    flaky = results["flaky"]["sync"]
    assert [(a["attempt"], a["result"], a["error"]) for a in flaky["attempts"]] == [
        (1, "Failed", "UssNotFound"),
        (2, "Succeeded", "NotApplicable"),
    ], run
    assert flaky["changed"] is True and flaky["failed"] is False and "in 2 attempt(s)" in flaky["msg"]
    down = results["down"]["sync"]
    assert down["failed"] is True and [a["result"] for a in down["attempts"]] == ["Failed"] * 3, run
    # the explanation: why no more attempts, and when the server tries again (no schedule here)
    assert "tried 3 times" in down["msg"] and "will not try again by itself" in down["msg"], down["msg"]
    # wsus-root is in the play and wsus_facts read it: a storage option mismatch fails at once
    mismatch = results["mismatch"]["sync"]
    assert mismatch["failed"] is True and len(mismatch["attempts"]) == 1, run
    assert "does not use one update storage option" in mismatch["msg"], mismatch["msg"]
    assert "retrying cannot fix this" in mismatch["msg"], mismatch["msg"]


def test_diagnose_finds_a_lab_fault_and_fix_true_fixes_it_after_check_mode_changed_nothing(ansible, make_lab):
    servers = [{"name": "wsus-root"}, replica("wsus-01", "bits_disabled"), replica("wsus-02")]
    lab = make_lab({"servers": servers}, time_scale=10)
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=0.2)
    diagnose = {"wsusauto.wsus.wsus_diagnose": {}, "ignore_errors": True}
    fix = {"wsusauto.wsus.wsus_diagnose": {"fix": True, "poll_interval": "0.2s"}, "ignore_errors": True}
    plays = [
        {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {"name": "diagnose", **diagnose, "register": "before"},
                {"name": "fix, check mode", **fix, "check_mode": True, "register": "checked"},
                {"name": "diagnose again", **diagnose, "register": "unchanged"},
                {"name": "fix", **fix, "register": "fixed"},
                {"name": "diagnose after", **diagnose, "register": "after"},
                show("before", "checked", "unchanged", "fixed", "after"),
            ],
        }
    ]
    run = ansible.playbook(inventory_file(lab), plays)
    assert run.rc == 0, run
    results = shown(run)
    one = results["wsus-01"]
    assert one["before"]["failed"] is True and [f["check"] for f in one["before"]["findings"]] == [
        "bits-service"
    ]
    assert one["before"]["findings"][0]["fix"] == "bits_service"
    assert one["before"]["diagnosed_with"] == ["wsus-root"]
    # check mode: the fix would change the server, and nothing changed
    assert one["checked"]["changed"] is True and one["checked"]["failed"] is True
    assert [(f["operation"], f["status"]) for f in one["checked"]["fixes"]] == [
        ("bits_service", "would change")
    ]
    assert [f["check"] for f in one["unchanged"]["findings"]] == ["bits-service"]
    # the fix: changed, the finding resolved, and the next diagnosis is clean
    assert one["fixed"]["changed"] is True and one["fixed"]["failed"] is False, one["fixed"]
    assert [(f["check"], f["resolved"]) for f in one["fixed"]["findings"]] == [("bits-service", True)]
    assert (
        one["after"]["failed"] is False
        and one["after"]["findings"] == []
        and one["after"]["msg"] == "no findings"
    )
    for host in ("wsus-root", "wsus-02"):  # healthy: ok, nothing to fix
        assert all(results[host][r]["findings"] == [] for r in ("before", "fixed", "after")), results[host]
        assert all(results[host][r]["changed"] is False for r in ("checked", "fixed")), results[host]
    assert run.recap["wsus-01"]["changed"] == 2 and run.recap["wsus-01"]["ignored"] == 3, run
    assert run.recap["wsus-02"]["changed"] == 0 and run.recap["wsus-02"]["ignored"] == 0, run


def test_stagger_plan_and_wsus_schedule_stagger_the_replicas_and_a_second_run_changes_nothing(
    ansible, make_lab
):
    servers = [{"name": "wsus-root"}, replica("wsus-01"), replica("wsus-02"), replica("wsus-03")]
    lab = make_lab({"servers": servers})
    plays = [
        {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {"name": "facts", "wsusauto.wsus.wsus_facts": {}, "when": "inventory_hostname != 'wsus-03'"},
                {
                    "name": "plan",
                    "wsusauto.wsus.wsus_stagger_plan": {"window": "20:00-08:00"},
                    "run_once": True,
                    "register": "plan",
                },
                {
                    "name": "schedule",
                    "wsusauto.wsus.wsus_schedule": {
                        "automatic": True,
                        "time": "{{ plan.slots[inventory_hostname].time }}",
                        "per_day": "{{ plan.slots[inventory_hostname].per_day }}",
                    },
                },
                show("plan"),
            ],
        }
    ]
    inventory = inventory_file(lab)
    first = ansible.playbook(inventory, plays)
    assert first.rc == 0, first
    slots = shown(first)["wsus-root"]["plan"]["slots"]
    assert set(slots) == {"wsus-root", "wsus-01", "wsus-02", "wsus-03"}, first
    # wsus-03 had no wsus_facts: the plan read its facts itself
    assert [slots[h]["facts_from"] for h in sorted(slots)] == [
        "wsus_facts",
        "wsus_facts",
        "read",
        "wsus_facts",
    ]
    replicas = [slots[h]["time"] for h in ("wsus-01", "wsus-02", "wsus-03")]
    assert len(set(replicas)) == 3, slots  # one at a time at wsus-root
    assert all(first.recap[h]["changed"] == 1 for h in slots), first
    read = lab_inventory(lab)
    for host, slot in slots.items():
        with Session(host, read.connection_options(read.hosts[host])) as session:
            facts = gather_facts(session)
        assert facts.synchronize_automatically, host
        assert facts.synchronize_automatically_time_of_day.strftime("%H:%M:%S") == slot["time"], host
        assert facts.number_of_synchronizations_per_day == slot["per_day"], host

    second = ansible.playbook(inventory, plays)
    assert second.rc == 0, second
    assert all(second.recap[h]["changed"] == 0 for h in slots), second
    assert shown(second)["wsus-root"]["plan"]["slots"] == slots  # the same plan

    # A limited run (as a sliced job) plans the fleet it is given: `hosts` names the whole inventory.
    plays[0]["tasks"][1]["wsusauto.wsus.wsus_stagger_plan"]["hosts"] = "{{ groups['all'] }}"
    limited = ansible.playbook(inventory, plays, "--limit", "wsus-02")
    assert limited.rc == 0, limited
    planned = shown(limited)["wsus-02"]["plan"]["slots"]
    assert {h: (s["time"], s["per_day"]) for h, s in planned.items()} == {
        h: (s["time"], s["per_day"]) for h, s in slots.items()
    }, limited
    assert planned["wsus-01"]["facts_from"] == "read"  # outside the limit: no wsus_facts there
    assert limited.recap["wsus-02"]["changed"] == 0 and set(limited.recap) == {"wsus-02"}, limited


def test_with_serial_each_batchs_run_once_plan_covers_every_host_of_the_play(ansible, make_lab):
    """ansible_play_hosts is the play's hosts, not the batch's: every batch plans the whole play."""
    lab = make_lab(
        {"servers": [{"name": "wsus-root"}, replica("wsus-01"), replica("wsus-02"), replica("wsus-03")]}
    )
    plan = {
        "wsusauto.wsus.wsus_stagger_plan": {"window": "20:00-08:00"},
        "run_once": True,
        "register": "plan",
    }
    plays = [
        {
            "hosts": "all",
            "serial": 2,
            "gather_facts": False,
            "tasks": [{"name": "plan", **plan}, show("plan")],
        }
    ]
    run = ansible.playbook(inventory_file(lab), plays)
    assert run.rc == 0, run
    assert run.stdout.count("TASK [plan]") == 2, run  # two batches, each its own run_once task
    plans = shown(run)
    everyone = {"wsus-root", "wsus-01", "wsus-02", "wsus-03"}
    assert set(plans) == everyone, run
    first, last = plans["wsus-root"]["plan"]["slots"], plans["wsus-03"]["plan"]["slots"]
    assert set(first) == set(last) == everyone, run
    assert {h: s["time"] for h, s in first.items()} == {h: s["time"] for h, s in last.items()}, run


def test_a_hosts_own_password_never_logs_in_to_the_other_hosts_k_does(ansible, make_lab, tmp_path):
    lab = make_lab({"servers": [{"name": "wsus-root"}, replica("wsus-01"), replica("wsus-02")]})
    password = lab.inventory()["all"]["vars"]["ansible_password"]
    # wsus-root's password is a var of its own; the others name none (the same one here, as in the
    # lab, so a leak would log in and read their facts)
    only_root = inventory_file(lab, "only-root.yml", password=False)
    text = only_root.read_text()
    only_root.write_text(
        text.replace("wsus-root:\n", f"wsus-root:\n          ansible_password: {password}\n", 1)
    )
    plays = [
        {
            "hosts": "all",
            "gather_facts": False,
            "order": "reverse_sorted",  # wsus-root runs the run_once task
            "tasks": [
                {
                    "wsusauto.wsus.wsus_stagger_plan": {"window": "20:00-08:00"},
                    "run_once": True,
                    "register": "plan",
                },
                show("plan"),
            ],
        }
    ]
    run = ansible.playbook(only_root, plays)
    assert run.rc == 0, run
    plan = shown(run)["wsus-root"]["plan"]
    assert {h: s["facts_from"] for h, s in plan["slots"].items()} == {
        "wsus-root": "read",
        "wsus-01": "default",
        "wsus-02": "default",
    }, run
    assert all("no password" in w for w in plan["warnings"]), run
    # -k's password is every host's fallback
    no_password = inventory_file(lab, "no-password.yml", password=False)
    prompted = ansible.playbook(no_password, plays, "-k", stdin=password + "\n")
    assert prompted.rc == 0, prompted
    assert {s["facts_from"] for s in shown(prompted)["wsus-root"]["plan"]["slots"].values()} == {"read"}, (
        prompted
    )


def test_a_sync_delegated_from_the_upstreams_play_reads_the_delegated_servers_place_in_the_tree(
    ansible, make_lab
):
    # Syncing the replicas one by one from their upstream's play (delegate_to: each replica): each
    # sync is of the replica, with the replica's wsus_upstream and the upstream's facts, so a storage
    # option mismatch fails at once as in the replica's own play (it took wsus-root's vars: no
    # upstream, three attempts).
    lab = make_lab(
        {"servers": [{"name": "wsus-root"}, replica("mismatch", "storage_mismatch")]}, time_scale=10
    )
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=0.2)
    plays = [
        {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {"name": "facts", "wsusauto.wsus.wsus_facts": {}},
                {
                    "name": "synchronize",
                    "wsusauto.wsus.wsus_synchronize": {"retry_interval": "1s", "poll_interval": "0.2s"},
                    "delegate_to": "mismatch",
                    "when": "inventory_hostname == 'wsus-root'",
                    "register": "sync",
                    "ignore_errors": True,
                },
                {**show("sync"), "when": "inventory_hostname == 'wsus-root'"},
            ],
        }
    ]
    run = ansible.playbook(inventory_file(lab), plays)
    assert run.rc == 0, run
    sync = shown(run)["wsus-root"]["sync"]
    assert sync["failed"] is True and len(sync["attempts"]) == 1, run
    assert "does not use one update storage option" in sync["msg"], sync["msg"]
