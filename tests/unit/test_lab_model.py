"""The lab's WSUS server model (SUSDB in SQLite) and the get_facts handler's contract with get_facts.ps1."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
import subprocess
import sys

import pytest

from wsusauto.client.snippets import SnippetRegistry, registry, snippets_dir
from wsusauto.lab.handlers import ANSIBLE_SUFFIX, HANDLERS, SETUP_REGISTRY_PATH, LabHandlers
from wsusauto.lab.invocation import Invocation, ScriptError
from wsusauto.lab.model.schedule import next_sync_time
from wsusauto.lab.model.server import WsusServerModel
from wsusauto.lab.model.store import MIGRATIONS, SCHEMA_VERSION, connect_read_only
from wsusauto.lab.topology import topology_from_dict
from wsusauto.state.facts import facts_parameters, parse_facts

UTC = dt.timezone.utc
START = dt.datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Clock:
    """An injectable clock the test moves by hand."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def all_facts(server: WsusServerModel, **overrides):
    arguments = {
        "history_count": 10,
        "event_ids": [364, 10012, 10021, 10022],
        "event_lookback_hours": 72,
        "max_events": 50,
        "service_names": ["WsusService", "BITS"],
    }
    return server.facts(**{**arguments, **overrides})


# -- SUSDB: a real SQLite file that outlives the lab ------------------------------------------------


def test_susdb_is_a_wal_sqlite_file_and_reopening_gives_back_the_same_state(tmp_path):
    clock = Clock()
    server = WsusServerModel("wsus-a", tmp_path, initial={"HostBinariesOnMicrosoftUpdate": True}, clock=clock)
    server.set(SyncFromMicrosoftUpdate=False, UpstreamWsusServerName="wsus-root", IsReplicaServer=True)
    server.set(SynchronizeAutomatically=True, SynchronizeAutomaticallyTimeOfDay="03:00:00")
    server.set_proxy_password("Pw-1")
    server.set_service("BITS", "Stopped", "Disabled")
    server.record_sync("Succeeded", start=START - dt.timedelta(hours=2), end=START, started_manually=True)
    server.add_event(364, "Content file download failed.", when=START - dt.timedelta(hours=1))
    before = all_facts(server)
    server.close()

    path = tmp_path / "wsus-a" / "SUSDB.sqlite"
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    # Initial values apply only to a fresh SUSDB: different ones on reopening change nothing.
    reopened = WsusServerModel(
        "wsus-a", tmp_path, initial={"HostBinariesOnMicrosoftUpdate": False}, version="2008R2", clock=clock
    )
    assert all_facts(reopened) == before
    assert before["HostBinariesOnMicrosoftUpdate"] is True and before["HasProxyPassword"] is True
    assert before["Services"]["BITS"] == {"State": "Stopped", "StartMode": "Disabled"}
    assert before["LastSynchronizationInfo"]["Result"] == "Succeeded"
    reopened.close()


def test_another_process_reads_susdb_while_the_lab_holds_it_open(tmp_path):
    server = WsusServerModel("wsus-root", tmp_path, clock=Clock())
    server.set(UpstreamWsusServerName="reader-can-see-this")
    path = tmp_path / "wsus-root" / "SUSDB.sqlite"
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from wsusauto.lab.model.store import connect_read_only\n"
        "db = connect_read_only(Path(sys.argv[1]))\n"
        "sql = 'SELECT value FROM tbConfiguration WHERE name = ?'\n"
        "row = db.execute(sql, ('UpstreamWsusServerName',)).fetchone()\n"
        "print(json.loads(row[0]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "reader-can-see-this"
    with connect_read_only(path) as reader, pytest.raises(sqlite3.OperationalError):
        reader.execute("DELETE FROM tbConfiguration")
    server.flush()
    server.close()


def test_an_older_susdb_is_upgraded_in_place_and_missing_members_get_defaults(tmp_path):
    path = tmp_path / "wsus-old" / "SUSDB.sqlite"
    path.parent.mkdir()
    with sqlite3.connect(path) as old:  # schema version 0 + the first migration, as an older lab left it
        old.executescript(MIGRATIONS[0])
        old.executemany(
            "INSERT INTO tbConfiguration VALUES (?, ?)",
            [("ServerId", json.dumps("X")), ("Name", json.dumps("wsus-old")), ("IsReplicaServer", "true")],
        )
        old.execute(
            "INSERT INTO tbEventInstance (event_id, time_created, message) VALUES (364, ?, 'kept')",
            ("2026-11-23T09:00:00Z",),
        )
    server = WsusServerModel("wsus-old", tmp_path, clock=Clock())
    assert server.db.schema_version == SCHEMA_VERSION
    assert server.get("IsReplicaServer") is True  # kept: not re-initialised
    assert server.get("NumberOfSynchronizationsPerDay") == 1  # added since: the default
    assert [e["Message"] for e in all_facts(server, event_ids=[364])["Events"]] == ["kept"]
    server.close()


# -- the write-only proxy password -------------------------------------------------------------------


def test_proxy_password_is_stored_but_never_returned(tmp_path):
    server = WsusServerModel("wsus-a", tmp_path, clock=Clock())
    assert all_facts(server)["HasProxyPassword"] is False
    server.set_proxy_password("Canary-Proxy-Pw-42")
    facts = all_facts(server)
    assert facts["HasProxyPassword"] is True
    assert "Canary-Proxy-Pw-42" not in json.dumps(facts) and "ProxyPassword" not in facts
    assert "ProxyPassword" not in server.config()
    with pytest.raises(KeyError, match="write-only"):
        server.get("ProxyPassword")
    with pytest.raises(KeyError):
        server.set(ProxyPassword="sneaky")
    server.set_proxy_password("")  # SetProxyPassword("") clears it
    assert server.has_proxy_password is False


# -- schedule ---------------------------------------------------------------------------------------


def test_four_a_day_from_0300_utc_runs_at_03_09_15_21(tmp_path):
    clock = Clock(utc("2026-11-23T00:10:00"))
    server = WsusServerModel("wsus-a", tmp_path, clock=clock)
    server.set(SynchronizeAutomatically=True, SynchronizeAutomaticallyTimeOfDay="03:00:00")
    server.set(NumberOfSynchronizationsPerDay=4)
    seen = []
    for _ in range(5):
        text = all_facts(server)["NextSynchronizationTime"]
        seen.append(text)
        clock.now = utc(text[:-1])  # at the scheduled time exactly, the next one is the one after
    assert seen == [
        "2026-11-23T03:00:00Z",
        "2026-11-23T09:00:00Z",
        "2026-11-23T15:00:00Z",
        "2026-11-23T21:00:00Z",
        "2026-11-24T03:00:00Z",
    ]


def test_no_next_sync_time_when_not_automatic(tmp_path):
    server = WsusServerModel("wsus-a", tmp_path, clock=Clock())
    facts = all_facts(server)
    assert facts["SynchronizeAutomatically"] is False and facts["NextSynchronizationTime"] is None


@pytest.mark.parametrize(
    ("time_of_day", "per_day", "now", "expected"),
    [
        ("03:00:00", 4, "2026-11-23T21:00:01", "2026-11-24T03:00:00"),
        ("22:15:00", 1, "2026-11-23T23:00:00", "2026-11-24T22:15:00"),
        ("23:30:00", 2, "2026-11-23T00:10:00", "2026-11-23T11:30:00"),  # wraps: 11:30 and 23:30
        ("00:00:00", 24, "2026-11-23T10:30:00", "2026-11-23T11:00:00"),
        ("00:20:00", 3, "2026-12-31T23:00:00", "2027-01-01T00:20:00"),
        ("00:00:00", 7, "2026-11-23T03:00:00", "2026-11-23T03:25:42.857143"),
    ],
)
def test_next_sync_time_spreads_n_a_day_evenly_from_the_first(time_of_day, per_day, now, expected):
    assert next_sync_time(utc(now), True, time_of_day, per_day) == utc(expected)


@pytest.mark.parametrize("per_day", [0, 25])
def test_next_sync_time_refuses_counts_outside_1_to_24(per_day):
    with pytest.raises(ValueError, match="1 to 24"):
        next_sync_time(START, True, "03:00:00", per_day)


# -- history, events, services ---------------------------------------------------------------------


def test_last_sync_info_is_neverrun_until_a_sync_and_history_is_limited_newest_first(tmp_path):
    server = WsusServerModel("wsus-a", tmp_path, clock=Clock())
    fresh = all_facts(server)
    assert fresh["LastSynchronizationInfo"] == {
        "Result": "NeverRun",
        "Error": "NotApplicable",
        "ErrorText": "",
        "StartTime": None,
        "EndTime": None,
        "StartedManually": False,
        "UpdateErrors": [],
    }
    assert fresh["SynchronizationHistory"] == []
    for day in range(5):
        start = START - dt.timedelta(days=5 - day)
        server.record_sync(
            "Failed" if day == 4 else "Succeeded",
            "UssCommunicationError" if day == 4 else "NotApplicable",
            "The request failed with HTTP status 503" if day == 4 else "",
            start=start,
            end=start + dt.timedelta(minutes=4),
            started_manually=False,
            update_errors=[{"UpdateId": "u1", "Error": "MetadataInvalid", "ErrorText": "bad"}]
            if day == 4
            else None,
        )
    assert [len(all_facts(server, history_count=n)["SynchronizationHistory"]) for n in (0, 2, 5, 10, -1)] == [
        0,
        2,
        5,
        5,
        0,
    ]
    facts = all_facts(server, history_count=2)
    starts = [h["StartTime"] for h in facts["SynchronizationHistory"]]
    assert starts == ["2026-11-22T10:30:00Z", "2026-11-21T10:30:00Z"]
    last = facts["LastSynchronizationInfo"]
    assert last["Result"] == "Failed" and last["Error"] == "UssCommunicationError"
    assert last["UpdateErrors"] == [{"UpdateId": "u1", "Error": "MetadataInvalid", "ErrorText": "bad"}]


def test_events_are_filtered_by_id_lookback_count_and_provider_newest_first(tmp_path):
    server = WsusServerModel("wsus-a", tmp_path, clock=Clock())
    hours = lambda h: START - dt.timedelta(hours=h)  # noqa: E731
    server.add_event(364, "too old", when=hours(73))
    server.add_event(364, "364 two hours ago", when=hours(2))
    server.add_event(10012, "10012 one hour ago", when=hours(1))
    server.add_event(10021, "10021 three hours ago", when=hours(3))
    server.add_event(999, "id not asked for", when=hours(1))
    server.add_event(364, "another provider", when=hours(1), provider="Microsoft-Windows-Bits-Client")
    server.add_event(364, "now", when=START)

    def messages(**kw):
        return [e["Message"] for e in all_facts(server, **kw)["Events"]]

    assert messages(event_ids=[364, 10012, 10021]) == [
        "now",
        "10012 one hour ago",
        "364 two hours ago",
        "10021 three hours ago",
    ]
    assert messages(event_ids=[364, 10012, 10021], max_events=2) == ["now", "10012 one hour ago"]
    assert messages(event_ids=[364], event_lookback_hours=2) == ["now", "364 two hours ago"]
    assert messages(event_ids=[364], event_lookback_hours=100)[-1] == "too old"
    assert messages(event_ids=[]) == []
    event = all_facts(server, event_ids=[10012])["Events"][0]
    assert event == {"Id": 10012, "TimeCreated": "2026-11-23T09:30:00Z", "Message": "10012 one hour ago"}


def test_services_use_win32_service_wording_and_are_filtered_by_name(tmp_path):
    server = WsusServerModel("wsus-a", tmp_path, clock=Clock())
    facts = all_facts(server, service_names=["wsusservice", "BITS", "NoSuchService"])
    assert facts["Services"] == {
        "BITS": {"State": "Running", "StartMode": "Manual"},
        "WsusService": {"State": "Running", "StartMode": "Auto"},
    }
    assert all_facts(server, service_names=[])["Services"] == {}


# -- versions, database, content directory ---------------------------------------------------------


def test_2019_uses_wid_and_2008r2_uses_ssee(tmp_path):
    new = all_facts(WsusServerModel("wsus-new", tmp_path, version="2019", clock=Clock()))
    old = all_facts(WsusServerModel("wsus-old", tmp_path, version="2008R2", clock=Clock()))
    assert (new["Version"], new["SqlServerName"], new["DatabaseName"]) == (
        "10.0.17763.678",
        "MICROSOFT##WID",
        "SUSDB",
    )
    assert new["IsUsingWindowsInternalDatabase"] is True and new["PortNumber"] == 8530
    assert old["SqlServerName"] == "WSUS-OLD\\MICROSOFT##SSEE" and old["Version"].startswith("3.2.")
    assert old["DatabaseServerName"] == old["SqlServerName"]


def test_fresh_server_is_unconfigured_with_the_documented_content_acl(tmp_path):
    facts = all_facts(WsusServerModel("wsus-a", tmp_path, clock=Clock()))
    assert facts["SyncFromMicrosoftUpdate"] is True and facts["IsReplicaServer"] is False
    assert facts["UpstreamWsusServerName"] == "" and facts["SynchronizationStatus"] == "NotProcessing"
    assert facts["UpdateServerConfigurationState"] == "Ready"
    assert facts["ContentDir"] == "C:\\WSUS"
    rules = {r["IdentityReference"]: r for r in facts["ContentDirAcl"]}
    assert "FullControl" in rules["NT AUTHORITY\\NETWORK SERVICE"]["FileSystemRights"]
    assert "Read" in rules["BUILTIN\\Users"]["FileSystemRights"]
    assert all(r["AccessControlType"] == "Allow" for r in rules.values())
    assert facts["UpdateServerStatus"]["UpdateCount"] == 0


def test_model_faults_are_stored_and_replaced_by_the_topology_on_each_start(tmp_path):
    server = WsusServerModel("wsus-a", tmp_path, faults={"transient_sync_failure": {"attempts": 2}})
    assert server.faults == {"transient_sync_failure": {"attempts": 2}}
    server.close()
    assert WsusServerModel("wsus-a", tmp_path).faults == {}


# -- handlers: the get_facts contract, read from get_facts.ps1 itself -----------------------------


def _hashtable_keys(text: str, start: int) -> dict[str, str]:
    """Keys of the @{ ... } literal opening at ``start`` (depth 1 only) -> the expression after '='."""
    depth, keys, i = 0, {}, start
    line_start = True
    while i < len(text):
        char = text[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return keys
        elif char == "\n":
            line_start = True
            i += 1
            continue
        if line_start and depth == 1:
            match = re.match(r"[ \t]*([A-Za-z]+)[ \t]*=[ \t]*(.*)", text[i:])
            if match:
                keys[match[1]] = match[2].split("\n")[0].strip()
        line_start = False
        i += 1
    raise AssertionError("unbalanced hashtable")


def _facts_contract() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    text = (snippets_dir() / "get_facts.ps1").read_text(encoding="utf-8")
    last = text.rindex("\n@{") + 1
    top = _hashtable_keys(text, last)
    nested = {}
    for key in ("SynchronizationProgress", "UpdateServerStatus"):
        opening = text.index("@{", text.index(f"{key} ", last))
        nested[key] = _hashtable_keys(text, opening)
    sync_info = text.index("@{", text.index("return @{", text.index("function ConvertTo-SyncInfo")))
    nested["SyncInfo"] = _hashtable_keys(text, sync_info)
    for key, marker in (("Events", "$events += @{"), ("ContentDirAcl", "$contentDirAcl += @{")):
        nested[key] = _hashtable_keys(text, text.index(marker) + len(marker) - 2)
    return top, nested


CASTS = {"[string]": str, "[int]": int, "[bool]": bool}


def _check_types(values: dict, expressions: dict[str, str]) -> None:
    for key, expression in expressions.items():
        for cast, wanted in CASTS.items():
            if expression.startswith(cast):
                assert type(values[key]) is wanted, (key, values[key])
        if "ConvertTo-UtcText" in expression:
            assert values[key] is None or ISO_Z.match(values[key]), (key, values[key])


def _handlers(tmp_path, clock=None, **server):
    topology = topology_from_dict({"servers": [{"name": "wsus-a", **server}]})
    return LabHandlers.from_topology(topology, tmp_path, clock=clock or Clock())


def _get_facts(handlers, script=None, **overrides):
    text = registry()["get_facts"].text if script is None else script
    return handlers(Invocation("wsus-a", text, {**facts_parameters(), **overrides}))


def test_get_facts_returns_exactly_the_keys_and_types_of_the_snippets_hashtable(tmp_path):
    handlers = _handlers(tmp_path)
    server = handlers.servers["wsus-a"]
    server.record_sync("Succeeded", start=START, end=START, started_manually=True)
    server.add_event(364, "x", when=START)
    server.set(SynchronizeAutomatically=True, ComputerTargetGroups={"All Computers": ["pc1.corp"]})
    [facts] = _get_facts(handlers)
    top, nested = _facts_contract()
    assert len(top) > 40 and set(facts) == set(top)
    _check_types(facts, top)
    for key in ("SynchronizationProgress", "UpdateServerStatus"):
        assert set(facts[key]) == set(nested[key])
        _check_types(facts[key], nested[key])
    for info in [facts["LastSynchronizationInfo"], *facts["SynchronizationHistory"]]:
        assert set(info) == set(nested["SyncInfo"])
        _check_types(info, nested["SyncInfo"])
    for key in ("Events", "ContentDirAcl"):
        assert facts[key] and all(set(item) == set(nested[key]) for item in facts[key])
        for item in facts[key]:
            _check_types(item, nested[key])
    assert all(isinstance(lang, str) for lang in facts["EnabledUpdateLanguages"])
    assert all(set(s) == {"State", "StartMode"} for s in facts["Services"].values())
    assert all(isinstance(m, list) for m in facts["ComputerTargetGroups"].values())
    assert re.fullmatch(r"\d\d:\d\d:\d\d", facts["SynchronizeAutomaticallyTimeOfDay"])
    assert ISO_Z.match(facts["NextSynchronizationTime"])
    assert (
        facts["SynchronizationStatus"] == "NotProcessing"
        and facts["UpdateServerConfigurationState"] == "Ready"
    )
    json.dumps(facts)  # plain values only
    parse_facts("wsus-a", facts)  # and the toolkit's own parser accepts them


def test_get_facts_honours_its_parameters(tmp_path):
    handlers = _handlers(tmp_path)
    server = handlers.servers["wsus-a"]
    for hour in range(3):
        server.record_sync("Succeeded", start=START, end=START, started_manually=False)
        server.add_event(364, f"event {hour}", when=START - dt.timedelta(hours=hour))
    [facts] = _get_facts(
        handlers, HistoryCount=2, EventIds=[364], EventLookbackHours=1, MaxEvents=5, ServiceNames=["BITS"]
    )
    assert len(facts["SynchronizationHistory"]) == 2
    assert [e["Message"] for e in facts["Events"]] == ["event 0", "event 1"]
    assert list(facts["Services"]) == ["BITS"]


def test_ansible_form_of_the_snippet_is_accepted(tmp_path):
    text = registry()["get_facts"].text + ANSIBLE_SUFFIX
    assert ANSIBLE_SUFFIX == "\nexit $LASTEXITCODE"
    [facts] = _get_facts(_handlers(tmp_path), script=text)
    assert facts["Name"] == "wsus-a"


def _mutations(text: str):
    middle = len(text) // 2
    flip = {"a": "b", "A": "B", " ": "\t", "\n": " "}
    for i in (0, middle, text.index("Get-WinEvent"), len(text) - 1):
        yield text[:i] + flip.get(text[i], "x") + text[i + 1 :]
    yield text + " "
    yield text[:-1]
    yield text.replace("\n", "\r\n", 1)
    yield text + ANSIBLE_SUFFIX + ANSIBLE_SUFFIX
    yield text + ANSIBLE_SUFFIX + "\n"


def test_a_snippet_changed_by_one_character_is_not_recognized(tmp_path):
    handlers = _handlers(tmp_path)
    for script in _mutations(registry()["get_facts"].text):
        with pytest.raises(ScriptError, match="is not recognized as the name of a cmdlet") as info:
            _get_facts(handlers, script=script)
        assert info.value.error_id == "CommandNotFoundException" and info.value.category == "ObjectNotFound"


def test_a_snippet_without_a_handler_is_not_recognized(tmp_path):
    (tmp_path / "snips").mkdir()
    (tmp_path / "snips" / "no_handler_yet.ps1").write_text("param([int]$X)\n$X\n")
    snippets = SnippetRegistry(tmp_path / "snips")
    handlers = LabHandlers(_handlers(tmp_path).servers, snippets)
    with pytest.raises(ScriptError, match="'param\\(\\[int\\]\\$X\\)' is not recognized"):
        handlers(Invocation("wsus-a", snippets["no_handler_yet"].text, {"X": 1}))


def test_every_shipped_snippet_has_a_handler_and_every_handler_a_snippet():
    assert set(HANDLERS) == set(registry())


def test_wrong_setup_registry_path_fails_like_get_itemproperty(tmp_path):
    wrong = r"HKLM:\SOFTWARE\Microsoft\Update Services\Server\Setupx"
    with pytest.raises(ScriptError) as info:
        _get_facts(_handlers(tmp_path), SetupRegistryPath=wrong)
    assert info.value.message == f"Cannot find path '{wrong}' because it does not exist."
    assert info.value.error_id == "PathNotFound,Microsoft.PowerShell.Commands.GetItemPropertyCommand"
    assert info.value.category == "ObjectNotFound" and info.value.terminating
    # Registry paths are case-insensitive, as on Windows.
    assert _get_facts(_handlers(tmp_path), SetupRegistryPath=SETUP_REGISTRY_PATH.upper())
    with pytest.raises(ScriptError, match="empty string"):
        _get_facts(_handlers(tmp_path), SetupRegistryPath="")


def test_max_events_below_one_fails_like_get_winevent(tmp_path):
    with pytest.raises(ScriptError, match="parameter 'MaxEvents'") as info:
        _get_facts(_handlers(tmp_path), MaxEvents=0)
    assert info.value.error_id.startswith("ParameterArgumentValidationError")


def test_parameters_bind_as_powershell_binds_them(tmp_path):
    handlers = _handlers(tmp_path)
    handlers.servers["wsus-a"].record_sync("Succeeded", start=START, end=START, started_manually=False)
    [facts] = _get_facts(handlers, HistoryCount="1", ServiceNames="BITS", EventIds=364)
    assert len(facts["SynchronizationHistory"]) == 1 and list(facts["Services"]) == ["BITS"]
    [omitted] = _get_facts(handlers, HistoryCount=None, ServiceNames=None)  # [int] -> 0, [string[]] -> $null
    assert omitted["SynchronizationHistory"] == [] and omitted["Services"] == {}
    with pytest.raises(ScriptError, match=r'Cannot convert value "many" to type "System\.Int32"') as info:
        _get_facts(handlers, HistoryCount="many")
    assert info.value.error_id == "ParameterArgumentTransformationError"


def test_unknown_endpoint_is_an_error(tmp_path):
    with pytest.raises(ScriptError, match="no WSUS server named 'wsus-zz'"):
        _handlers(tmp_path)(Invocation("wsus-zz", registry()["get_facts"].text, facts_parameters()))


def test_handlers_from_topology_apply_initial_values_and_version(tmp_path):
    handlers = _handlers(
        tmp_path,
        version="2012R2",
        initial={
            "SynchronizeAutomatically": True,
            "SynchronizeAutomaticallyTimeOfDay": "03:00:00",
            "NumberOfSynchronizationsPerDay": 4,
            "Services": {"BITS": {"State": "Stopped", "StartMode": "Disabled"}},
            "ProxyName": "proxy.corp",
        },
        faults=[{"name": "transient_sync_failure", "attempts": 3}, "slow"],
    )
    [facts] = _get_facts(handlers)
    assert facts["NextSynchronizationTime"] == "2026-11-23T15:00:00Z"  # 10:30 now -> 15:00
    assert facts["Services"]["BITS"] == {"State": "Stopped", "StartMode": "Disabled"}
    assert facts["ProxyName"] == "proxy.corp" and facts["Version"].startswith("6.3.")
    assert handlers.servers["wsus-a"].faults == {"transient_sync_failure": {"attempts": 3}}
    handlers.close()


def test_virtual_clock_runs_faster_by_the_time_scale():
    import time as real_time

    from wsusauto.lab.clock import VirtualClock

    clock = VirtualClock(600.0)
    first = clock()
    real_time.sleep(0.05)
    assert 20 <= (clock() - first).total_seconds() <= 120  # 0.05 s real ~ 30 s virtual


def test_catalog_is_deterministic_and_filtered_by_language():
    from wsusauto.lab.catalog import CatalogUpdate, catalog, updates_for

    # Fixed known values, so ids that change between processes or versions fail here: a server's
    # stored updates and its downstream servers' imports refer to these ids.
    updates = catalog()
    assert len(updates) == 300
    assert updates[0] == CatalogUpdate(
        id="8f978b65-add4-5dc1-b5d3-b10b06c39093",
        title="Security Update for Windows Server 2019 (KB5000000)",
        product="Windows Server 2019",
        classification="Security Updates",
        language="en",
        size_bytes=1_048_576,
    )
    assert updates[1].id == "4f15a9e0-c4d5-5305-815c-24aedc5459c9"
    assert updates[299].id == "b62eca24-3558-54e3-b28a-49b6328733bc"
    every_id = "\n".join(u.id for u in updates).encode()
    assert hashlib.sha256(every_id).hexdigest() == (
        "c4d4937cfd4f01514cf17e24f7b66e536822d14e8473dda6388d184163917524"
    )
    english = updates_for(["en"])
    assert all(u.language in ("en", "all") for u in english)
    assert (len(english), len(updates_for(["de", "fr"])), len(updates_for(None))) == (255, 270, 300)
    assert {u.classification for u in catalog()} >= {"Security Updates", "Critical Updates"}
    assert all(u.size_bytes > 0 and u.product for u in catalog())
