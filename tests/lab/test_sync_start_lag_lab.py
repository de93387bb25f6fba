"""StartSynchronization() returns before the sync shows (wsus-api.md 1.3, P9), on the lab as on WSUS.

The lab's sync starts a few of its seconds after the call; until then the status is NotProcessing
and GetLastSynchronizationInfo() is the previous synchronization. ``synchronize`` notes the last
synchronization's Id before it starts and reports only a newer one's result.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.lab import sync
from wsusauto.operations.synchronize import Synchronize

NAMES = ("wsus-a", "wsus-b", "wsus-c", "wsus-d")
FAST = {"poll_interval": "0.1s", "timeout": "60s"}


@pytest.fixture(scope="module")
def lab(make_module_lab):
    servers = [{"name": name, "initial": {"SyncDurationSeconds": 1}} for name in NAMES]
    return make_module_lab({"servers": servers})


def session(lab, host: str) -> Session:
    inventory = lab_inventory(lab)
    return Session(host, inventory.connection_options(inventory.hosts[host]))


def previous_sync(server, result: str, error: str = "NotApplicable", text: str = "") -> str:
    """A synchronization that ended an hour ago; returns its Id."""
    end = server.clock() - dt.timedelta(hours=1)
    server.record_sync(
        result, error, text, start=end - dt.timedelta(minutes=5), end=end, started_manually=True
    )
    return server.last_synchronization_id()


def test_one_poll_right_after_the_start_sees_the_previous_synchronization(lab, monkeypatch):
    # The WSUS service does not get to it during this test, however slow the machine (reset below).
    monkeypatch.setattr(sync, "START_DELAY_SECONDS", (3600.0, 3600.0))
    server = lab.handlers.servers["wsus-a"]
    previous = previous_sync(server, "Failed", "UssNotFound", "WebException: Unable to connect")
    with session(lab, "wsus-a") as s:
        started = s.invoke("start_synchronization", CategoryOnly=False, ReadyTimeoutSeconds=30)
        status = s.invoke("get_synchronization_status", MaxUpdateErrors=5)
    assert started == {
        "Started": True,
        "SynchronizationStatus": "NotProcessing",  # not yet: it starts a moment later
        "PreviousSynchronizationId": previous,
    }
    assert status["SynchronizationStatus"] == "NotProcessing"
    last = status["LastSynchronizationInfo"]
    assert (last["Id"], last["Result"], last["Error"]) == (previous, "Failed", "UssNotFound")
    # A second StartSynchronization() while this one is pending starts nothing more.
    assert not sync.start(server)
    server.set(**{sync.STARTS_AT: None})  # leave the server idle for the tests after this one


def test_synchronize_reports_its_own_success_not_the_previous_failure(lab):
    server = lab.handlers.servers["wsus-b"]
    previous = previous_sync(server, "Failed", "UssNotFound", "WebException: Unable to connect")
    with session(lab, "wsus-b") as s:
        result = Synchronize(retries=0).run(s, FAST)
    assert not result.failed, result.message
    [attempt] = result.details["attempts"]
    assert attempt["result"] == "Succeeded"
    assert attempt["synchronization_id"] == server.last_synchronization_id() != previous
    assert [r["Result"] for r in server.db.sync_history(5)] == ["Succeeded", "Failed"]


def test_synchronize_never_reports_the_previous_success_as_its_own(lab):
    server = lab.handlers.servers["wsus-c"]
    previous = previous_sync(server, "Succeeded")
    server.set(TransientFailuresLeft=5)  # this server's next syncs fail: the upstream is unreachable
    with session(lab, "wsus-c") as s:
        result = Synchronize(retries=0).run(s, FAST)
    assert result.failed
    [attempt] = result.details["attempts"]
    assert (attempt["result"], attempt["error"]) == ("Failed", "UssNotFound")
    assert attempt["synchronization_id"] == server.last_synchronization_id() != previous
    assert [r["Result"] for r in server.db.sync_history(5)] == ["Failed", "Succeeded"]


def test_a_start_that_never_shows_is_a_clear_failure(lab, monkeypatch):
    server = lab.handlers.servers["wsus-d"]
    previous = previous_sync(server, "Succeeded")
    monkeypatch.setattr(sync, "START_DELAY_SECONDS", (3600.0, 3600.0))  # the WSUS service never gets to it
    with session(lab, "wsus-d") as s:
        result = Synchronize(retries=0).run(s, {**FAST, "start_timeout": "3s"})
    assert result.failed
    [attempt] = result.details["attempts"]
    assert (attempt["result"], attempt["error"]) == ("Failed", "NotStarted")
    assert "no synchronization started within 3 s" in attempt["error_text"]
    assert previous in attempt["error_text"] and "is not this start's" in attempt["error_text"]
    assert "NotStarted" in result.message
    assert len(server.db.sync_history(5)) == 1  # nothing ran
    server.set(**{sync.STARTS_AT: None})  # the request the lab would have run in an hour
