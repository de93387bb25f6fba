"""The syncs a stopped run leaves running, from the records the hosts write as they happen."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from wsusauto.execution.running_syncs import RunningSyncs

T0 = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.timezone.utc)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_a_started_attempt_without_its_end_is_left_running_and_named_with_server_and_start():
    syncs = RunningSyncs()
    syncs.on_record("wsus-eu", "applying", {"attempt": 1, "started": at(0), "task": "Synchronize and wait"})
    syncs.on_record("wsus-eu", "attempt", {"attempt": 1, "result": "Failed", "ended": at(1)})
    syncs.on_record("wsus-eu", "applying", {"attempt": 2, "started": at(16)})
    syncs.on_record("wsus-us", "applying", {"attempt": 1, "started": at(2)})
    syncs.on_record("wsus-us", "attempt", {"attempt": 1, "result": "Succeeded", "ended": at(3)})
    syncs.on_record("wsus-apac", "applying", {"attempt": 1, "started": "2026-11-30T01:05:00Z"})

    left = syncs.left_running()
    assert [(s.host, s.attempt) for s in left] == [("wsus-apac", 1), ("wsus-eu", 2)]  # earliest first
    assert left[0].line() == (
        "wsus-apac: the synchronization started 2026-11-30 01:05:00 UTC (attempt 1) was left running; "
        "it goes on on the server"
    )
    assert "wsus-eu" in left[1].line() and "01:16:00 UTC" in left[1].line()
    assert left[1].to_dict()["attempt"] == 2


def test_a_sync_left_running_is_named_as_its_own_journal_lines_name_it():
    syncs = RunningSyncs()
    applying = {"task": "fix bits-service", "operation": "bits_service", "attempt": 1, "started": at(0)}
    syncs.on_record("wsus-eu", "applying", applying)
    assert syncs.left_running()[0].to_dict() == {"host": "wsus-eu", **applying}


def test_records_that_are_not_sync_attempts_change_nothing():
    syncs = RunningSyncs()
    syncs.on_record("wsus-eu", "applying", {"changes": [{"member": "ProxyName"}]})  # a setting, not a sync
    syncs.on_record("wsus-eu", "applied", {"changes": []})
    syncs.on_record("wsus-eu", "action", {"attempts": [{"attempt": 1}]})
    assert syncs.left_running() == []


def test_a_local_time_is_named_in_utc():
    syncs = RunningSyncs()
    cet = dt.timezone(dt.timedelta(hours=1))
    syncs.on_record(
        "wsus-de", "applying", {"attempt": 1, "started": dt.datetime(2026, 11, 30, 2, 0, tzinfo=cet)}
    )
    assert "2026-11-30 01:00:00 UTC" in syncs.left_running()[0].line()


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.booleans()), max_size=30))
def test_left_running_is_each_host_whose_last_start_has_no_end(steps):
    """Each step: a host starts its next attempt (True) or its running attempt ends (False)."""
    syncs = RunningSyncs()
    number: dict[str, int] = {}
    running: set[str] = set()
    for minute, (host, starts) in enumerate(steps):
        if starts and host not in running:
            number[host] = number.get(host, 0) + 1
            syncs.on_record(host, "applying", {"attempt": number[host], "started": at(minute)})
            running.add(host)
        elif not starts and host in running:
            syncs.on_record(host, "attempt", {"attempt": number[host], "ended": at(minute)})
            running.discard(host)
    assert {s.host for s in syncs.left_running()} == running
    assert all(s.attempt == number[s.host] for s in syncs.left_running())
