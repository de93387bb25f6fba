"""The lab's own schedule: scheduled syncs start by themselves, with a random offset and two retries."""

from __future__ import annotations

import datetime as dt
import itertools
import time

from wsusauto.lab.topology import topology_from_dict

DOWNSTREAM = {
    "SyncFromMicrosoftUpdate": False,
    "UpstreamWsusServerName": "wsus-root",
    "SyncDurationSeconds": 60,
}


def wait_for(condition, seconds=90.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def parse(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_scheduled_syncs_run_with_an_offset_and_retry_twice_about_15_minutes_apart(make_lab):
    topology = topology_from_dict(
        {
            "servers": [
                {"name": "wsus-root", "initial": {"SyncDurationSeconds": 60}},
                {"name": "good", "upstream": "wsus-root", "initial": DOWNSTREAM},
                {
                    "name": "failing",
                    "upstream": "wsus-root",
                    "initial": DOWNSTREAM,
                    "faults": [{"name": "transient_sync_failure", "attempts": 9}],
                },
            ]
        }
    )
    lab = make_lab(topology, time_scale=3600)  # an hour a second
    servers = lab.handlers.servers
    # far enough ahead (6 real seconds) that even a slow machine sees the schedule before it is due
    soon = (lab.clock() + dt.timedelta(minutes=120)).replace(microsecond=0)
    for name in ("good", "failing"):
        servers[name].set(SynchronizeAutomatically=True, SynchronizeAutomaticallyTimeOfDay=f"{soon:%H:%M:%S}")
    assert wait_for(lambda: len(servers["failing"].db.sync_history(5)) >= 3)
    assert wait_for(lambda: len(servers["good"].db.sync_history(5)) >= 1)
    good = servers["good"].db.sync_history(5)[-1]
    failing = list(reversed(servers["failing"].db.sync_history(3)))  # oldest first
    assert good["Result"] == "Succeeded" and good["StartedManually"] is False
    offset = parse(good["StartTime"]) - soon
    assert dt.timedelta(0) <= offset <= dt.timedelta(minutes=31)  # WSUS's random start offset
    assert [r["Result"] for r in failing] == ["Failed"] * 3 and not any(r["StartedManually"] for r in failing)
    for earlier, later in itertools.pairwise(failing):
        gap = parse(later["StartTime"]) - parse(earlier["EndTime"])
        assert dt.timedelta(minutes=13) <= gap <= dt.timedelta(minutes=17)  # "approximately fifteen minutes"
