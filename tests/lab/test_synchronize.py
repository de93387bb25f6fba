"""synchronize over the lab: the documented retry policy on real WinRM, attempts in the result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lab_fixtures import inventory_file, running_lab
from tests.lab_fixtures import run_cli as wsusauto
from wsusauto.lab.topology import topology_from_dict

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "sync-tree.yml"
FAST = ["-e", "sync_retry_interval=1s", "-e", "sync_poll_interval=0.2s", "-e", "sync_timeout=60s"]


FASTER = 10  # the lab's clock for the tests that synchronize


@pytest.fixture
def lab(make_lab):
    topology = topology_from_dict(
        {
            "servers": [
                {"name": "wsus-root"},
                {
                    "name": "wsus-eu",
                    "upstream": "wsus-root",
                    "initial": {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"},
                },
                {
                    "name": "wsus-flaky",
                    "upstream": "wsus-root",
                    "faults": [{"name": "transient_sync_failure", "attempts": 1}],
                    "initial": {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"},
                },
                {
                    "name": "wsus-down",
                    "upstream": "wsus-root",
                    "faults": [{"name": "transient_sync_failure", "attempts": 9}],
                    "initial": {
                        "SyncFromMicrosoftUpdate": False,
                        "UpstreamWsusServerName": "wsus-root",
                        "SynchronizeAutomatically": True,
                        "SynchronizeAutomaticallyTimeOfDay": "03:00:00",
                    },
                },
                {
                    "name": "wsus-mixed",
                    "upstream": "wsus-root",
                    "initial": {
                        "SyncFromMicrosoftUpdate": False,
                        "UpstreamWsusServerName": "wsus-root",
                        "HostBinariesOnMicrosoftUpdate": True,
                        "AllUpdateLanguagesEnabled": True,
                    },
                },
            ]
        }
    )
    # The lab's clock 10x: each sync still starts a moment after StartSynchronization() and the
    # policy must still tell its own, but the attempts no longer wait out 1-4 s of start lag each.
    lab = make_lab(topology, time_scale=FASTER)
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=0.3)
    return lab, inventory_file(lab)


def test_synchronize_follows_the_documented_policy(lab, tmp_path):
    lab_, inventory = lab
    journal = tmp_path / "sync.jsonl"
    result = wsusauto("run", str(PLAYBOOK), "-i", str(inventory), "--json", "--journal", str(journal), *FAST)
    assert result.returncode == 2, result.stderr  # some hosts failed, none unreachable
    hosts = {h: rs[0] for h, rs in json.loads(result.stdout)["hosts"].items()}

    assert hosts["wsus-root"]["status"] == "changed" and len(hosts["wsus-root"]["attempts"]) == 1
    assert hosts["wsus-eu"]["status"] == "changed"
    assert (
        lab_.handlers.servers["wsus-eu"].config()["UpdateServerStatus"]["UpdateCount"]
        == 255  # the catalog, English + language-neutral
    )  # pulled upstream

    flaky = hosts["wsus-flaky"]  # a transient failure, then success
    assert flaky["status"] == "changed"
    assert [a["result"] for a in flaky["attempts"]] == ["Failed", "Succeeded"]
    assert flaky["attempts"][0]["error"] == "UssNotFound"

    down = hosts["wsus-down"]  # three attempts, then the next scheduled time
    assert down["status"] == "failed"
    assert [a["result"] for a in down["attempts"]] == ["Failed"] * 3
    assert "next scheduled time" in down["message"] and "03:00 UTC" in down["message"]
    assert "upstream-name" in down["message"]  # what to check

    mixed = hosts["wsus-mixed"]  # a cause retrying cannot fix: one attempt
    assert mixed["status"] == "failed" and len(mixed["attempts"]) == 1
    assert "retrying cannot fix this" in mixed["message"] and "storage option" in mixed["message"]

    actions = [json.loads(line) for line in journal.read_text().splitlines() if '"event": "action"' in line]
    assert {a["host"]: len(a["attempts"]) for a in actions}["wsus-down"] == 3


def test_check_mode_does_not_synchronize(lab):
    lab_, inventory = lab
    result = wsusauto("run", str(PLAYBOOK), "-i", str(inventory), "--check", "--json", *FAST)
    assert result.returncode == 0
    assert all(s.db.sync_history(1) == [] for s in lab_.handlers.servers.values())


def test_a_transport_blip_while_polling_is_not_a_sync_attempt(lab, monkeypatch):
    import threading
    import time

    from tests.lab_fixtures import lab_inventory
    from wsusauto.client.session import Session, TransportRetry
    from wsusauto.lab.wsman import EndpointFaults
    from wsusauto.operations import run_operation

    lab_, _ = lab
    # 3 real seconds on the lab's faster clock: the sync still runs when the blip comes and goes.
    lab_.handlers.servers["wsus-eu"].set(SyncDurationSeconds=3.0 * FASTER)
    inventory = lab_inventory(lab_)
    host = inventory.hosts["wsus-eu"]
    session = Session(
        host.name,
        inventory.connection_options(host),
        transport_retry=TransportRetry(attempts=5, initial_wait=0.3, max_wait=1.0),
    )

    def blip():
        time.sleep(0.6)  # the sync is running and being polled
        lab_.set_faults("wsus-eu", EndpointFaults(http_status=503))
        time.sleep(1.2)  # several polls land in the outage
        lab_.set_faults("wsus-eu", EndpointFaults())

    dropped = []
    original_discard = Session._discard
    monkeypatch.setattr(Session, "_discard", lambda self: (dropped.append(1), original_discard(self)))
    thread = threading.Thread(target=blip)
    with session:
        thread.start()
        result = run_operation(session, "synchronize", {"poll_interval": "0.2s", "retry_interval": "1s"})
        thread.join()
    assert dropped  # the blip did hit a poll
    assert not result.failed
    assert [a["result"] for a in result.details["attempts"]] == ["Succeeded"]
    assert lab_.handlers.servers["wsus-eu"].db.sync_history(5)[0]["Result"] == "Succeeded"
    assert len(lab_.handlers.servers["wsus-eu"].db.sync_history(5)) == 1  # one sync ran on the server


def test_tree_sync_order_concurrency_and_skipped_children(tmp_path):
    import datetime as dt
    import itertools

    from wsusauto.lab.topology import load_topology

    with running_lab(tmp_path, load_topology(None), time_scale=FASTER) as lab_:
        servers = lab_.handlers.servers
        for name, server in servers.items():
            spec = load_topology(None).server(name)
            # children sync long enough that two at once would show as overlapping whole seconds
            # (the lab's seconds: 1.2 and 0.4 real seconds on its 10x clock)
            server.set(SyncDurationSeconds=12 if spec.replica else 4)
            if spec.upstream:
                server.set(SyncFromMicrosoftUpdate=False, UpstreamWsusServerName=spec.upstream)
        servers["wsus-us"].set(TransientFailuresLeft=9)  # this region's syncs keep failing
        inventory = tmp_path / "inventory.yml"
        lab_.write_inventory(inventory)
        result = wsusauto("run", str(PLAYBOOK), "-i", str(inventory), "--json", *FAST)
        assert result.returncode == 2, result.stderr
        document = json.loads(result.stdout)
        assert document["hosts"]["wsus-us"][0]["status"] == "failed"
        for child in ("wsus-us-01", "wsus-us-02", "wsus-us-03", "wsus-us-04"):
            [task] = document["hosts"][child]
            assert (
                task["status"] == "skipped"
                and "upstream wsus-us did not finish successfully" in task["message"]
            )
            assert servers[child].db.sync_history(1) == []  # never started
        assert all(document["recap"][h]["changed"] == 1 for h in ("wsus-eu-01", "wsus-apac-04"))

        # the lab's own record: children after their upstream, one sync per upstream at a time
        def span(name):
            record = servers[name].db.sync_history(1)[0]
            start, end = (
                dt.datetime.fromisoformat(record[k].replace("Z", "+00:00")) for k in ("StartTime", "EndTime")
            )
            return start, end

        for region in ("wsus-eu", "wsus-apac"):
            _, region_end = span(region)
            children = [span(f"{region}-0{i}") for i in range(1, 5)]
            assert all(start >= region_end for start, _ in children)
            ordered = sorted(children)
            assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(ordered))
        _, root_end = span("wsus-root")
        assert all(span(r)[0] >= root_end for r in ("wsus-eu", "wsus-apac"))


def test_time_scale_runs_lab_syncs_on_a_faster_clock(tmp_path):
    import datetime as dt

    from tests.lab_fixtures import lab_inventory
    from wsusauto.client.session import Session
    from wsusauto.operations.synchronize import Synchronize

    topology = topology_from_dict(
        {"servers": [{"name": "wsus-root", "initial": {"SyncDurationSeconds": 1200}}]}
    )
    with running_lab(tmp_path, topology, time_scale=600) as lab_:  # 20 virtual minutes = 2 real seconds
        inventory = lab_inventory(lab_)
        with Session("wsus-root", inventory.connection_options(inventory.hosts["wsus-root"])) as session:
            result = Synchronize().run(session, {"poll_interval": "0.2s", "timeout": "60s"})
        record = lab_.handlers.servers["wsus-root"].db.sync_history(1)[0]
    assert not result.failed  # within the 60 s (real) deadline, though it took 20 virtual minutes
    start, end = (
        dt.datetime.fromisoformat(record[k].replace("Z", "+00:00")) for k in ("StartTime", "EndTime")
    )
    assert end - start == dt.timedelta(minutes=20)
