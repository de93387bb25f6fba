"""The lab's WSUS service clockwork (sync.tick): a tick that finds nothing due remembers it, and the
next ticks read nothing until the configuration changes or the planned moment comes."""

from __future__ import annotations

import datetime as dt

from wsusauto.lab import sync
from wsusauto.lab.model.server import WsusServerModel

UTC = dt.timezone.utc


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def counting_reads(server: WsusServerModel) -> list[int]:
    reads = [0]
    get_many = server.db.get_many

    def counted(names):
        reads[0] += 1
        return get_many(names)

    server.db.get_many = counted  # type: ignore[method-assign]
    return reads


def test_quiet_ticks_read_nothing_until_a_write_or_the_planned_moment(tmp_path):
    clock = Clock(dt.datetime(2026, 11, 23, 0, 10, tzinfo=UTC))
    server = WsusServerModel("wsus-a", tmp_path, clock=clock)
    server.set(SynchronizeAutomatically=True, SynchronizeAutomaticallyTimeOfDay="03:00:00")
    reads = counting_reads(server)

    sync.tick(server, {})  # plans the next run (a write)
    planned = dt.datetime.fromisoformat(server.get("NextScheduledRun"))
    assert (
        dt.datetime(2026, 11, 23, 3, 0, tzinfo=UTC) <= planned <= dt.datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
    )
    sync.tick(server, {})  # finds nothing due, and remembers
    before = reads[0]
    for _ in range(5):
        sync.tick(server, {})
    assert reads[0] == before

    # A change of schedule is seen at the next tick: the run is planned again.
    server.set(SynchronizeAutomaticallyTimeOfDay="05:00:00")
    sync.tick(server, {})
    assert reads[0] > before
    replanned = dt.datetime.fromisoformat(server.get("NextScheduledRun"))
    assert replanned >= dt.datetime(2026, 11, 23, 5, 0, tzinfo=UTC)

    # The planned moment comes: the scheduled sync starts, memo or not.
    sync.tick(server, {})
    clock.now = replanned
    sync.tick(server, {})
    assert server.get("SynchronizationStatus") == "Running"
    assert server.get("SyncStartedManually") is False


def test_any_configuration_write_wakes_the_ticker(tmp_path):
    clock = Clock(dt.datetime(2026, 11, 23, 0, 10, tzinfo=UTC))
    server = WsusServerModel("wsus-a", tmp_path, clock=clock)
    sync.tick(server, {})  # not automatic: nothing planned, nothing due, ever
    assert server.tick_quiet is not None and server.tick_quiet[1] is None
    reads = counting_reads(server)
    sync.tick(server, {})
    assert reads[0] == 0
    # Written straight to SUSDB, not through the model: still seen.
    server.db.set_many({"SynchronizeAutomatically": True})
    sync.tick(server, {})
    assert reads[0] == 1
    assert server.get("NextScheduledRun") is not None
    # A sync started by hand is not left unstarted or unfinished by a quiet memo. It starts a few
    # seconds after StartSynchronization(): a memo may last until then, not longer.
    assert sync.start(server)
    sync.tick(server, {})
    assert server.get("SynchronizationStatus") == "NotProcessing"
    starts = dt.datetime.fromisoformat(server.get(sync.STARTS_AT))
    assert clock.now < starts <= clock.now + dt.timedelta(seconds=sync.START_DELAY_SECONDS[1])
    assert server.tick_quiet is None or server.tick_quiet[1] <= starts
    clock.now = starts
    sync.tick(server, {})
    assert server.get("SynchronizationStatus") == "Running" and server.tick_quiet is None
    assert server.get("SyncStartedAt") == starts.isoformat() and server.get("SyncStartedManually") is True
    clock.now += dt.timedelta(seconds=float(server.get("SyncDurationSeconds")))
    sync.tick(server, {})
    assert server.get("SynchronizationStatus") == "NotProcessing"
    assert server.db.sync_history(1)[0]["StartedManually"] is True
