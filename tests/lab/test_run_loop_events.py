"""The run loop sleeps until something can start a host: a host's job ended or a slot at an
upstream came free. It never polls while a host waits for a slot (issue 15's executor review)."""

from __future__ import annotations

from tests.lab_fixtures import lab_inventory
from wsusauto.config.playbook import playbook_from_data
from wsusauto.execution import runner as runner_module
from wsusauto.execution.runner import Runner
from wsusauto.execution.scheduler import PlaySchedule

REPLICAS = ("wsus-01", "wsus-02", "wsus-03")
PLAY = [
    {
        "name": "Synchronize the tree",
        "hosts": "all",
        "order": "hierarchy",
        "max_concurrent_per_upstream": 1,
        "tasks": [
            {
                "name": "Synchronize and wait",
                "synchronize": {"timeout": "60s", "poll_interval": "0.1s", "retry_interval": "3s"},
            }
        ],
    }
]


def topology() -> dict:
    servers: list[dict] = [{"name": "wsus-root"}]
    for name in REPLICAS:
        initial = {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"}
        servers.append({"name": name, "upstream": "wsus-root", "replica": True, "initial": initial})
    return {"servers": servers}


def test_hosts_waiting_for_a_slot_start_on_events_not_by_polling(make_lab, monkeypatch):
    lab = make_lab(topology(), time_scale=10)
    asked: list[bool] = []  # one entry per ready() call: whether a host then waited only for a slot

    class CountingSchedule(PlaySchedule):
        def ready(self, free_slots=None, limit=None):
            started = super().ready(free_slots, limit)
            asked.append(self.waiting_for_slot)
            return started

    monkeypatch.setattr(runner_module, "PlaySchedule", CountingSchedule)
    result = Runner(lab_inventory(lab), playbook_from_data(PLAY), processes=1).run()
    assert result.exit_code == 0, result.document()
    assert set(result.hosts) == {"wsus-root", *REPLICAS}
    # K = 1: two replicas waited for the root's one slot while the first synchronized
    assert any(asked)
    # Each look at the schedule follows an event: the first look, one per host ending and one per
    # slot coming free (one per sync attempt). A loop polling every few ms while replicas wait out
    # each other's syncs (seconds) looks many more times.
    events = 1 + len(result.hosts) + len(REPLICAS)
    assert len(asked) <= events, asked
