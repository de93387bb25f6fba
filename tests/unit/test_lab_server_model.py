"""The lab's WSUS server model: SUSDB persistence, write-only password, schedule, facts filters."""

from __future__ import annotations

import datetime as dt

import pytest

from wsusauto.facts import facts_parameters, parse_facts
from wsusauto.lab.handlers import LabHandlers
from wsusauto.lab.invocation import Invocation, ScriptError
from wsusauto.lab.model.schedule import next_sync_time
from wsusauto.lab.model.server import WsusServerModel
from wsusauto.lab.topology import topology_from_dict
from wsusauto.snippets import registry

NOW = dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.timezone.utc)


def clock():
    return NOW


def test_susdb_is_a_sqlite_file_and_state_survives_reopening(tmp_path):
    server = WsusServerModel("wsus-a", tmp_path, initial={"IsReplicaServer": True}, clock=clock)
    server.set(UpstreamWsusServerName="wsus-root", SyncFromMicrosoftUpdate=False)
    server.close()
    assert (tmp_path / "wsus-a" / "SUSDB.sqlite").read_bytes()[:16] == b"SQLite format 3\x00"
    reopened = WsusServerModel("wsus-a", tmp_path, initial={"IsReplicaServer": False}, clock=clock)
    assert reopened.get("IsReplicaServer") is True  # initial applies only the first time
    assert reopened.get("UpstreamWsusServerName") == "wsus-root"


def test_proxy_password_is_write_only(tmp_path):
    server = WsusServerModel("wsus-a", tmp_path, clock=clock)
    server.set_proxy_password("Proxy-Secret-123")
    facts = server.facts(
        history_count=5, event_ids=[], event_lookback_hours=1, max_events=1, service_names=[]
    )
    assert facts["HasProxyPassword"] is True
    assert "Proxy-Secret-123" not in repr(facts)


@pytest.mark.parametrize(
    ("tod", "per_day", "now", "expected"),
    [
        ("03:00:00", 4, "2026-11-23T10:30:00", "2026-11-23T15:00:00"),  # 03, 09, 15, 21
        ("03:00:00", 4, "2026-11-23T21:00:00", "2026-11-24T03:00:00"),
        ("22:15:00", 1, "2026-11-23T23:00:00", "2026-11-24T22:15:00"),
        ("00:00:00", 24, "2026-11-23T10:30:00", "2026-11-23T11:00:00"),
        ("05:30:00", 3, "2026-11-23T04:00:00", "2026-11-23T05:30:00"),
    ],
)
def test_next_sync_time(tod, per_day, now, expected):
    when = dt.datetime.fromisoformat(now).replace(tzinfo=dt.timezone.utc)
    got = next_sync_time(when, True, tod, per_day)
    assert got == dt.datetime.fromisoformat(expected).replace(tzinfo=dt.timezone.utc)


def test_not_automatic_means_no_next_sync():
    assert next_sync_time(NOW, False, "03:00:00", 4) is None


def test_history_and_event_filters(tmp_path):
    server = WsusServerModel("wsus-a", tmp_path, clock=clock)
    for i in range(5):
        start = NOW - dt.timedelta(days=5 - i)
        server.record_sync(
            "Failed" if i % 2 else "Succeeded",
            "UssNotFound" if i % 2 else "NotApplicable",
            start=start,
            end=start + dt.timedelta(minutes=3),
            started_manually=False,
        )
    server.add_event(364, "old", when=NOW - dt.timedelta(hours=100))
    server.add_event(364, "recent 364", when=NOW - dt.timedelta(hours=1))
    server.add_event(10021, "recent 10021", when=NOW - dt.timedelta(hours=2))
    server.add_event(999, "not asked for", when=NOW - dt.timedelta(hours=1))
    facts = server.facts(
        history_count=2,
        event_ids=[364, 10021],
        event_lookback_hours=72,
        max_events=10,
        service_names=["BITS"],
    )
    assert len(facts["SynchronizationHistory"]) == 2
    assert facts["LastSynchronizationInfo"]["Result"] == "Succeeded"  # the newest of the five
    assert [e["Message"] for e in facts["Events"]] == ["recent 364", "recent 10021"]
    assert list(facts["Services"]) == ["BITS"]
    one = server.facts(
        history_count=0, event_ids=[364, 10021], event_lookback_hours=72, max_events=1, service_names=[]
    )
    assert [e["Message"] for e in one["Events"]] == ["recent 364"] and one["SynchronizationHistory"] == []


def _handlers(tmp_path):
    topology = topology_from_dict({"servers": [{"name": "wsus-a", "version": "2008R2"}]})
    return LabHandlers.from_topology(topology, tmp_path, clock=clock)


def test_get_facts_handler_output_parses_as_facts(tmp_path):
    handlers = _handlers(tmp_path)
    text = registry()["get_facts"].text
    [raw] = handlers(Invocation("wsus-a", text, facts_parameters()))
    facts = parse_facts("wsus-a", raw)
    assert facts.version == "3.2.7600.226" and facts.sql_server_name == "WSUS-A\\MICROSOFT##SSEE"
    assert "MSSQL$MICROSOFT##SSEE" in facts.services
    assert facts.last_synchronization_info.result == "NeverRun"


def test_ansible_form_of_a_snippet_is_accepted(tmp_path):
    text = registry()["get_facts"].text + "\nexit $LASTEXITCODE"
    assert _handlers(tmp_path)(Invocation("wsus-a", text, facts_parameters()))


@pytest.mark.parametrize("script", ["Get-Process", "", "param()\n@{}"])
def test_anything_else_is_not_recognized(tmp_path, script):
    with pytest.raises(ScriptError, match="is not recognized as the name of a cmdlet") as info:
        _handlers(tmp_path)(Invocation("wsus-a", script, {}))
    assert info.value.error_id == "CommandNotFoundException"
