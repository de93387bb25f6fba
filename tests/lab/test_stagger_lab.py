"""The stagger plan applied to the lab by the playbook, then a simulated day by the lab's scheduler."""

from __future__ import annotations

import json
from pathlib import Path

from tests.lab_fixtures import inventory_file
from tests.lab_fixtures import run_cli as wsusauto
from wsusauto.lab.scheduler import peak_load, simulate_day
from wsusauto.lab.topology import load_topology

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "stagger-schedules.yml"


def test_applied_plan_keeps_every_upstream_within_k_through_a_simulated_day(make_lab):
    lab = make_lab(load_topology(None))
    inventory = inventory_file(lab)
    servers = lab.handlers.servers
    # Before: everyone on the same default schedule, turned on: the lab shows the pile-up.
    for server in servers.values():
        server.set(SynchronizeAutomatically=True, SynchronizeAutomaticallyTimeOfDay="03:00:00")
    for name, server in servers.items():
        spec = load_topology(None).server(name)
        if spec.upstream:
            server.set(SyncFromMicrosoftUpdate=False, UpstreamWsusServerName=spec.upstream)
    before = peak_load(simulate_day(servers, seed=1))
    assert max(before.values()) == 4  # four replicas hit each region at once

    args = [
        "run",
        str(PLAYBOOK),
        "-i",
        str(inventory),
        "-e",
        "stagger_window=18:00-12:00",
        "-e",
        "stagger_max_concurrent=2",
        "-e",
        "stagger_syncs_per_day=1",
    ]
    check = wsusauto(*args, "--check", "--json")
    assert check.returncode == 0, check.stderr
    applied = wsusauto(*args, "--json")
    assert applied.returncode == 0, applied.stderr
    planned = {
        h: [r["diff"] for r in rs if r["changed"]] for h, rs in json.loads(check.stdout)["hosts"].items()
    }
    done = {
        h: [r["diff"] for r in rs if r["changed"]] for h, rs in json.loads(applied.stdout)["hosts"].items()
    }
    assert planned == done  # check mode showed exactly the plan

    for seed in range(20):  # random offsets; every attempt failing = worst case
        for failure_rate in (0.0, 0.5, 1.0):
            peaks = peak_load(simulate_day(servers, seed=seed, failure_rate=failure_rate))
            assert max(peaks.values()) <= 2, (seed, failure_rate, peaks)
    again = wsusauto(*args, "--json")
    assert sum(c["changed"] for c in json.loads(again.stdout)["recap"].values()) == 0


def test_too_small_a_window_changes_nothing_and_says_what_would_fit(make_lab):
    lab = make_lab(load_topology(None))
    inventory = inventory_file(lab)
    before = {n: s.config()["SynchronizeAutomatically"] for n, s in lab.handlers.servers.items()}
    result = wsusauto("run", str(PLAYBOOK), "-i", str(inventory), "-e", "stagger_window=22:00-23:00")
    assert result.returncode == 1
    assert "needs at least" in result.stderr and "nothing was changed" in result.stderr
    assert {n: s.config()["SynchronizeAutomatically"] for n, s in lab.handlers.servers.items()} == before
