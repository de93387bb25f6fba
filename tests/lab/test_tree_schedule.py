"""Hierarchy order schedules by dependency, not in barrier rounds: a retry in one region holds back
no other region, and retries in different regions wait at the same time (issue 15).

A 13-server tree (root, three regions, three replicas each) synchronizes through the CLI with
``max_concurrent_per_upstream: 1``; one replica in each of two regions fails its first sync (the
lab's ``transient_sync_failure``) and succeeds when retried. Everything is decided from recorded
times compared with each other, never with a constant: the client's attempt times (``--json``) and
the lab's own record of the syncs it ran (its sync history, on its own clock).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tests.lab_fixtures import inventory_file
from tests.lab_fixtures import run_cli as wsusauto
from wsusauto.lab.scheduler import SyncRecord, peak_load

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "sync-tree.yml"
FASTER = 10  # the lab's clock, as in the other synchronize tests
CLEAN, FIRST_FAULTY, SECOND_FAULTY = "apac", "eu", "us"
REGIONS = (CLEAN, FIRST_FAULTY, SECOND_FAULTY)
FAULTY = (f"wsus-{FIRST_FAULTY}-1", f"wsus-{SECOND_FAULTY}-1")
# A retry waits several syncs' time (each about 0.5 s here: start lag, 0.2 s of sync, polls), so the
# clean region's work after the first failure fits in it whatever the machine's speed.
RUN = ["-e", "sync_retry_interval=3s", "-e", "sync_poll_interval=0.1s", "-e", "sync_timeout=60s"]


def tree() -> dict[str, Any]:
    servers: list[dict[str, Any]] = [{"name": "wsus-root"}]
    for region in REGIONS:  # the clean region first: the root serves it first
        servers.append(downstream(f"wsus-{region}", "wsus-root"))
    for region in REGIONS:
        for i in (1, 2, 3):
            name = f"wsus-{region}-{i}"
            servers.append(downstream(name, f"wsus-{region}", replica=True, faulty=name in FAULTY))
    return {"servers": servers}


def downstream(name: str, upstream: str, replica: bool = False, faulty: bool = False) -> dict[str, Any]:
    server: dict[str, Any] = {
        "name": name,
        "upstream": upstream,
        "replica": replica,
        "initial": {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": upstream},
    }
    if faulty:  # the next sync fails as if the upstream were unreachable, the one after succeeds
        server["faults"] = [{"name": "transient_sync_failure", "attempts": 1}]
    return server


def when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def overlap(a: tuple[dt.datetime, dt.datetime], b: tuple[dt.datetime, dt.datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_a_retry_in_one_region_holds_back_no_other_region(make_lab):
    lab = make_lab(tree(), time_scale=FASTER)
    servers = lab.handlers.servers
    for server in servers.values():
        server.set(SyncDurationSeconds=2)  # 0.2 real seconds on the lab's clock
    journal = lab.state_dir.parent / "tree.jsonl"
    result = wsusauto(
        "run", str(PLAYBOOK), "-i", str(inventory_file(lab)), "--json", "--journal", str(journal), *RUN
    )
    assert result.returncode == 0, result.stderr
    hosts = {name: results[0] for name, results in json.loads(result.stdout)["hosts"].items()}
    assert len(hosts) == 13 and all(r["status"] == "changed" for r in hosts.values())
    attempts = {
        name: [(when(a["started"]), when(a["ended"]), a["result"]) for a in r["attempts"]]
        for name, r in hosts.items()
    }
    # both faulty replicas failed once and succeeded on attempt 2; every other server at once
    for name, tried in attempts.items():
        expected = ["Failed", "Succeeded"] if name in FAULTY else ["Succeeded"]
        assert [outcome for _, _, outcome in tried] == expected, name

    # the client's times: the clean region (its server and replicas) ended before any retry began
    first_retry = min(attempts[name][1][0] for name in FAULTY)
    clean = [f"wsus-{CLEAN}"] + [f"wsus-{CLEAN}-{i}" for i in (1, 2, 3)]
    assert max(attempts[name][-1][1] for name in clean) < first_retry
    # the two retry waits (first attempt's end to the retry's start) overlap
    waits = [(attempts[name][0][1], attempts[name][1][0]) for name in FAULTY]
    assert overlap(*waits)

    # the lab's own record, on its own clock: every sync it ran, attempts included
    history = {name: server.db.sync_history(10)[::-1] for name, server in servers.items()}
    assert {name: len(runs) for name, runs in history.items()} == {
        name: 2 if name in FAULTY else 1 for name in servers
    }
    spans = {
        name: [(when(r["StartTime"]), when(r["EndTime"])) for r in runs] for name, runs in history.items()
    }
    lab_first_retry = min(spans[name][1][0] for name in FAULTY)
    assert max(spans[name][-1][1] for name in clean) < lab_first_retry
    assert overlap(*[(spans[name][0][1], spans[name][1][0]) for name in FAULTY])
    # children synced after their upstream's successful sync ended
    for name, server in servers.items():
        upstream = server.config()["UpstreamWsusServerName"]
        if name != "wsus-root":
            assert spans[name][0][0] >= spans[upstream][-1][1], name
    # K = 1: the lab's own overlap count says no upstream ever served two syncs at once
    midnight = min(start for runs in spans.values() for start, _ in runs).replace(
        hour=0, minute=0, second=0, microsecond=0
    )

    def minutes(moment: dt.datetime) -> float:
        return (moment - midnight).total_seconds() / 60

    records = [
        SyncRecord(
            name,
            servers[name].config()["UpstreamWsusServerName"] if name != "wsus-root" else "Microsoft Update",
            number,
            minutes(start),
            minutes(end),
            True,
        )
        for name, runs in spans.items()
        for number, (start, end) in enumerate(runs, 1)
    ]
    load = peak_load(records)
    assert set(load) == {"wsus-root", *(f"wsus-{region}" for region in REGIONS)}
    assert all(most == 1 for most in load.values()), load

    # the journal has every attempt too, and the same story
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    actions = {e["host"]: e for e in events if e["event"] == "action"}
    assert {name: len(actions[name]["attempts"]) for name in FAULTY} == dict.fromkeys(FAULTY, 2)


def test_a_server_down_below_a_failed_upstream_is_unreachable_not_skipped(make_lab):
    region = downstream("wsus-us", "wsus-root")
    region["faults"] = [{"name": "transient_sync_failure", "attempts": 9}]  # every attempt fails
    down = downstream("wsus-us-1", "wsus-us", replica=True)
    down["faults"] = [{"name": "endpoint_down"}]
    waiting = downstream("wsus-us-2", "wsus-us", replica=True)
    lab = make_lab({"servers": [{"name": "wsus-root"}, region, down, waiting]}, time_scale=FASTER)
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=2)
    fast = ["-e", "sync_retry_interval=0.2s", "-e", "sync_poll_interval=0.1s", "-e", "sync_timeout=60s"]
    result = wsusauto("run", str(PLAYBOOK), "-i", str(inventory_file(lab)), "--json", *fast)
    assert result.returncode == 4, result.stderr  # a host unreachable
    hosts = json.loads(result.stdout)["hosts"]
    assert hosts["wsus-us"][0]["status"] == "failed" and len(hosts["wsus-us"][0]["attempts"]) == 3
    # its own verdict: it could not be reached, whatever its upstream did
    assert [r["status"] for r in hosts["wsus-us-1"]] == ["unreachable"]
    # reachable, and waiting on its upstream: skipped with the reason
    [skipped] = hosts["wsus-us-2"]
    assert skipped["status"] == "skipped"
    assert skipped["message"] == "upstream wsus-us did not finish successfully in this run (failed)"
    assert lab.handlers.servers["wsus-us-2"].db.sync_history(1) == []


def playbook_file(lab: Any, play: dict[str, Any]) -> str:
    path = lab.state_dir.parent / "play.yml"
    path.write_text(json.dumps([play]), encoding="utf-8")  # JSON is YAML
    return str(path)


def test_serial_batches_run_one_after_the_other(make_lab):
    lab = make_lab({"servers": [{"name": f"wsus-{i:02d}"} for i in range(1, 5)]}, time_scale=FASTER)
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=2)
    play = {
        "name": "two at a time",
        "hosts": "all",
        "serial": 2,
        "tasks": [{"name": "sync", "synchronize": {"poll_interval": "0.1s", "retry_interval": "1s"}}],
    }
    result = wsusauto("run", playbook_file(lab, play), "-i", str(inventory_file(lab)), "--json")
    assert result.returncode == 0, result.stderr
    hosts = json.loads(result.stdout)["hosts"]
    attempt = {name: hosts[name][0]["attempts"][0] for name in hosts}
    span = {name: (when(a["started"]), when(a["ended"])) for name, a in attempt.items()}
    first, second = ("wsus-01", "wsus-02"), ("wsus-03", "wsus-04")
    assert max(span[name][1] for name in first) < min(span[name][0] for name in second)
    assert overlap(*(span[name] for name in first))  # within a batch, at the same time
    # the lab's record agrees
    history = {name: lab.handlers.servers[name].db.sync_history(1)[0] for name in hosts}
    assert max(when(history[name]["EndTime"]) for name in first) <= min(
        when(history[name]["StartTime"]) for name in second
    )


def test_max_fail_percentage_stops_the_run_after_the_batch(make_lab):
    servers = [{"name": f"wsus-{i:02d}"} for i in range(1, 5)]
    servers[1]["faults"] = [{"name": "endpoint_down"}]
    lab = make_lab({"servers": servers})
    play = {
        "name": "stop on the first failure",
        "hosts": "all",
        "serial": 2,
        "max_fail_percentage": 0,
        "tasks": [{"name": "status", "status": {}}],
    }
    result = wsusauto("run", playbook_file(lab, play), "-i", str(inventory_file(lab)), "--json")
    assert result.returncode == 4, result.stderr  # a host unreachable
    document = json.loads(result.stdout)
    assert "1 of 2 hosts in a batch failed, more than max_fail_percentage 0" in document["aborted"]
    assert sorted(document["hosts"]) == ["wsus-01", "wsus-02"]  # the second batch never started
    assert document["hosts"]["wsus-02"][0]["status"] == "unreachable"
