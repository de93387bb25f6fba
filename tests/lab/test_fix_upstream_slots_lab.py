"""diagnose --fix keeps to --max-concurrent-per-upstream: each fix ends with a synchronization from
the host's upstream server, and no more than K of them pull from one upstream at a time, as a run in
hierarchy order does (each attempt holds a slot there).

Three replicas of one root, each with BITS disabled (its fix restarts the services, then
synchronizes); each sync lasts long enough on the lab's clock that two at once overlap. Decided from
the lab's own record of the syncs it ran (its sync history), never from a timed assertion.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.lab_fixtures import inventory_file, run_cli
from wsusauto.lab.scheduler import SyncRecord, peak_load
from wsusauto.lab.topology import topology_from_dict

FASTER = 10
REPLICAS = ("wsus-01", "wsus-02", "wsus-03")


def topology():
    servers = [{"name": "wsus-root"}]
    for name in REPLICAS:
        servers.append(
            {
                "name": name,
                "upstream": "wsus-root",
                "replica": True,
                "initial": {
                    "SyncFromMicrosoftUpdate": False,
                    "UpstreamWsusServerName": "wsus-root",
                    "UpstreamWsusServerPortNumber": 8530,
                    "IsReplicaServer": True,
                },
                "faults": ["bits_disabled"],
            }
        )
    return topology_from_dict({"servers": servers}, "<fix slots topology>")


def when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("k", [1, 2])
def test_the_fixes_syncs_keep_to_max_concurrent_per_upstream(make_lab, k):
    lab = make_lab(topology(), time_scale=FASTER)
    servers = lab.handlers.servers
    for name in REPLICAS:
        servers[name].set(SyncDurationSeconds=10)  # one real second each: two at once overlap
    known = {name: len(servers[name].db.sync_history(50)) for name in REPLICAS}
    fixed = run_cli(
        "diagnose",
        "-i",
        str(inventory_file(lab)),
        "--fix",
        "--poll-interval",
        "0.1s",
        "--max-concurrent-per-upstream",
        str(k),
        "--json",
        timeout=120,
    )
    assert fixed.returncode == 0, fixed.stdout[-2000:] + fixed.stderr[-2000:]
    document = json.loads(fixed.stdout)
    assert all(document[name][0]["fix_result"]["status"] == "changed" for name in REPLICAS), document
    # the lab's own record: each replica ran one new sync, all from the root
    new = {name: servers[name].db.sync_history(50)[: -known[name] or None] for name in REPLICAS}
    assert {name: len(runs) for name, runs in new.items()} == dict.fromkeys(REPLICAS, 1), new
    starts = [when(runs[0]["StartTime"]) for runs in new.values()]
    midnight = min(starts).replace(hour=0, minute=0, second=0, microsecond=0)

    def minutes(moment: dt.datetime) -> float:
        return (moment - midnight).total_seconds() / 60

    records = [
        SyncRecord(name, "wsus-root", 1, minutes(when(run["StartTime"])), minutes(when(run["EndTime"])), True)
        for name, runs in new.items()
        for run in runs
    ]
    assert peak_load(records) == {"wsus-root": k}
