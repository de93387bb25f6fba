"""get_failed_updates against the lab's two readings of GetUpdateEventHistory(..., Guid.Empty, ...):
by default (wsus-api.md: UNSURE) Guid.Empty names no update and no event comes back, so the snippet
finds the failed updates among the approved ones; with LabEventHistoryAllUpdates the events name them.
Either way the snippet materialises the updates it needs, never the whole catalog."""

from __future__ import annotations

import datetime as dt

import pytest

from wsusauto.client.snippets import registry
from wsusauto.errors import UsageError
from wsusauto.lab import update_api
from wsusauto.lab.handlers import LabHandlers
from wsusauto.lab.invocation import Invocation
from wsusauto.lab.topology import topology_from_dict

START = dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.timezone.utc)
STATUS = {"UpdateCount": 400, "ApprovedUpdateCount": 30, "UpdatesWithServerErrorsCount": 4}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


def _lab(tmp_path, clock, **initial):
    topology = topology_from_dict(
        {"servers": [{"name": "wsus-a", "initial": {"UpdateServerStatus": STATUS, **initial}}]}
    )
    return LabHandlers.from_topology(topology, tmp_path, clock=clock)


def _failed_updates(handlers, lookback_days=30, max_updates=10):
    parameters = {"MaxUpdates": max_updates, "LookbackDays": lookback_days}
    [result] = handlers(Invocation("wsus-a", registry()["get_failed_updates"].text, parameters))
    return result


def test_by_default_no_event_names_an_update_and_the_approved_updates_are_searched(tmp_path):
    handlers = _lab(tmp_path, Clock())
    server = handlers.servers["wsus-a"]
    assert update_api.download_failure_update_ids(server, 30) == []
    result = _failed_updates(handlers, max_updates=3)
    assert result["FailedUpdateCount"] == 4 and result["UpdatesWithServerErrorsCount"] == 4
    assert result["SearchedApprovedUpdates"] is True
    assert len(result["FailedUpdates"]) == 3
    assert all(u["ListedBy"] == "approved-updates" and u["IsApproved"] for u in result["FailedUpdates"])
    assert update_api.materialised(server) == 30  # the approved updates, not the 400


def test_where_guid_empty_means_every_update_the_events_name_them(tmp_path):
    handlers = _lab(tmp_path, Clock(), LabEventHistoryAllUpdates=True)
    server = handlers.servers["wsus-a"]
    result = _failed_updates(handlers)
    assert result["FailedUpdateCount"] == 4 and result["SearchedApprovedUpdates"] is False
    assert {u["ListedBy"] for u in result["FailedUpdates"]} == {"events"}
    assert update_api.materialised(server) == 4  # one GetUpdate per named update


def test_a_failure_older_than_the_lookback_is_still_found_among_the_approved_updates(tmp_path):
    clock = Clock()
    handlers = _lab(tmp_path, clock, LabEventHistoryAllUpdates=True)
    server = handlers.servers["wsus-a"]
    clock.now = START + dt.timedelta(days=40)  # the four failures' events are now 40 days old
    ready = next(u for u in server.updates() if u["IsApproved"] and u["State"] == "Ready")
    server.upsert_updates([{**ready, "State": "Failed"}])  # a fifth fails today: a new event
    result = _failed_updates(handlers)
    assert result["FailedUpdateCount"] == 5 and result["UpdatesWithServerErrorsCount"] == 5
    by = {u["UpdateId"]: u["ListedBy"] for u in result["FailedUpdates"]}
    assert by.pop(ready["UpdateId"].lower()) == "events"
    assert sorted(by.values()) == ["approved-updates"] * 4
    assert update_api.materialised(server) == 1 + 30  # the one event's update, then the approved ones


def test_the_setting_is_a_bool(tmp_path):
    with pytest.raises(UsageError, match="LabEventHistoryAllUpdates"):
        _lab(tmp_path, Clock(), LabEventHistoryAllUpdates="yes")
