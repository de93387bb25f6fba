"""The lab's troubleshooting model: SUSDB migration 3 (tbConfigurationC, tbUpdate), the handlers of
the troubleshooting snippets called directly, and what each model fault seeds and changes."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest

from wsusauto.client.snippets import registry
from wsusauto.errors import UsageError
from wsusauto.lab import sqltools, sync
from wsusauto.lab.handlers import SETUP_REGISTRY_PATH, LabHandlers
from wsusauto.lab.invocation import Invocation, ScriptError, SecureValue
from wsusauto.lab.model.server import SCM_PROVIDER, WsusServerModel
from wsusauto.lab.model.store import MIGRATIONS, SCHEMA_VERSION, TsqlError
from wsusauto.lab.topology import topology_from_dict

UTC = dt.timezone.utc
START = dt.datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
DOWNSTREAM = {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"}
REPLICA = {**DOWNSTREAM, "IsReplicaServer": True}
WID_PIPE = "np:\\\\.\\pipe\\MICROSOFT##WID\\tsql\\query"
SSEE_PIPE = "np:\\\\.\\pipe\\MSSQL$MICROSOFT##SSEE\\sql\\query"
EVIDENCE_EVENTS = [364, 10012, 10021, 10022]


class Clock:
    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def lab(tmp_path, *servers, clock=None):
    topology = topology_from_dict({"servers": list(servers)})
    return LabHandlers.from_topology(topology, tmp_path, clock=clock or Clock())


def run(handlers, host, snippet, **parameters):
    [result] = handlers(Invocation(host, registry()[snippet].text, parameters))
    return result


def facts(server):
    return server.facts(
        history_count=10,
        event_ids=EVIDENCE_EVENTS,
        event_lookback_hours=72,
        max_events=50,
        service_names=["WsusService", "BITS"],
    )


def synchronize(handlers, host, clock):
    server = handlers.servers[host]
    assert sync.start(server)
    clock.now += dt.timedelta(seconds=float(server.get("SyncDurationSeconds")) * 10)
    sync.advance(server, handlers.servers)
    return server.db.sync_history(1)[0]


def foreground(handlers, host, **overrides):
    parameters = {
        "WsusServiceName": "WsusService",
        "SetupRegistryPath": SETUP_REGISTRY_PATH,
        "WidPipe": WID_PIPE,
        "SseePipe": SSEE_PIPE,
        "ReadyTimeoutSeconds": 2,
        "ReadOnly": False,
        **overrides,
    }
    return run(handlers, host, "set_bits_foreground", **parameters)


def failed_downloads(server):
    return server.get("UpdateServerStatus")["UpdatesWithServerErrorsCount"]


def needing_files(server):
    return server.get("UpdateServerStatus")["UpdatesNeedingFilesCount"]


def resume(handlers, host):
    return run(handlers, host, "resume_downloads", ReadOnly=False)


def assert_healthy(server):
    f = facts(server)
    assert f["Services"] == {
        "BITS": {"State": "Running", "StartMode": "Manual"},
        "WsusService": {"State": "Running", "StartMode": "Auto"},
    }
    rights = {r["IdentityReference"]: r["FileSystemRights"] for r in f["ContentDirAcl"]}
    assert "NT AUTHORITY\\NETWORK SERVICE" in rights and "BUILTIN\\Users" in rights
    assert f["Events"] == []
    assert f["UpdateServerStatus"]["UpdatesNeedingFilesCount"] == 0
    assert f["UpdateServerStatus"]["UpdatesWithServerErrorsCount"] == 0
    assert not [u for u in server.updates() if u["State"] == "Failed"]


# -- SUSDB migration 3 -----------------------------------------------------------------------------


def test_a_version_2_susdb_is_upgraded_in_place_with_update_rows_matching_its_counts(tmp_path):
    path = tmp_path / "wsus-old" / "SUSDB.sqlite"
    path.parent.mkdir()
    status = {
        "UpdateCount": 255,
        "ApprovedUpdateCount": 30,
        "DeclinedUpdateCount": 5,
        "ComputerTargetCount": 7,
    }
    with sqlite3.connect(path) as old:
        for migration in MIGRATIONS[:2]:
            old.executescript(migration)
        old.execute("PRAGMA user_version = 2")
        old.executemany(
            "INSERT INTO tbConfiguration VALUES (?, ?)",
            [
                ("ServerId", json.dumps("X")),
                ("Name", json.dumps("wsus-old")),
                ("UpdateServerStatus", json.dumps(status)),
            ],
        )
    server = WsusServerModel("wsus-old", tmp_path, clock=Clock())
    assert server.db.schema_version == SCHEMA_VERSION == 3
    counts = server.get("UpdateServerStatus")
    assert counts["UpdateCount"] == 255 and counts["ApprovedUpdateCount"] == 30
    assert counts["DeclinedUpdateCount"] == 5 and counts["NotApprovedUpdateCount"] == 220
    assert counts["ComputerTargetCount"] == 7 and counts["UpdatesNeedingFilesCount"] == 0
    assert len(server.updates()) == 255
    server.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT BitsDownloadPriorityForeground FROM tbConfigurationC").fetchall() == [(0,)]
        assert raw.execute("SELECT COUNT(*) FROM tbUpdate WHERE approved = 1").fetchone()[0] == 30


def test_tbconfigurationc_has_one_row_and_the_lab_tsql_maps_three_part_names(tmp_path):
    server = WsusServerModel("wsus-a", tmp_path, clock=Clock())
    db = server.db
    assert db.execute_tsql(
        "SET NOCOUNT ON; SELECT BitsDownloadPriorityForeground FROM SUSDB.dbo.tbConfigurationC"
    ) == ["0"]
    assert db.execute_tsql("USE SUSDB update tbConfigurationC set BitsDownloadPriorityForeground=1") == [
        "(1 row affected)"
    ]
    assert server.bits_foreground is True
    with pytest.raises(TsqlError, match="Invalid object name 'tbNoSuchTable'") as info:
        db.execute_tsql("SELECT x FROM SUSDB.dbo.tbNoSuchTable")
    assert info.value.number == 208
    with pytest.raises(TsqlError):
        db.execute_tsql("DROP TABLE tbConfigurationC")
    with pytest.raises(TsqlError, match="Database 'master'"):
        db.execute_tsql("USE master update tbConfigurationC set BitsDownloadPriorityForeground=1")


def test_root_sync_fills_the_update_table_and_status_counts_follow_it(tmp_path):
    clock = Clock()
    handlers = lab(tmp_path, {"name": "wsus-root"}, {"name": "wsus-eu", "initial": REPLICA}, clock=clock)
    assert synchronize(handlers, "wsus-root", clock)["Result"] == "Succeeded"
    root = handlers.servers["wsus-root"]
    assert root.get("UpdateServerStatus")["UpdateCount"] == len(root.updates()) == 255
    approved = [{**u, "IsApproved": True} for u in root.updates()[:20]]
    root.upsert_updates(approved)
    assert root.get("UpdateServerStatus")["UpdatesNeedingFilesCount"] == 20  # approved, files not yet here
    assert synchronize(handlers, "wsus-root", clock)["Result"] == "Succeeded"
    assert root.get("UpdateServerStatus")["UpdatesNeedingFilesCount"] == 0
    assert synchronize(handlers, "wsus-eu", clock)["Result"] == "Succeeded"
    replica = handlers.servers["wsus-eu"].get("UpdateServerStatus")
    assert replica["UpdateCount"] == 255 and replica["ApprovedUpdateCount"] == 20
    assert_healthy(root)
    assert_healthy(handlers.servers["wsus-eu"])


# -- handlers ------------------------------------------------------------------------------------


def test_repair_bits_service_follows_the_script_and_records_scm_events(tmp_path):
    handlers = lab(tmp_path, {"name": "wsus-a", "faults": ["bits_disabled"]})
    server = handlers.servers["wsus-a"]
    result = run(
        handlers, "wsus-a", "repair_bits_service", BitsServiceName="bits", WsusServiceName="WsusService"
    )
    assert result == {
        "Changed": ["BitsStartMode", "BitsState", "WsusRestarted"],
        "BitsState": "Running",
        "BitsStartMode": "Manual",
        "WsusState": "Running",
        "WsusStartMode": "Auto",
    }
    messages = [m for _i, _t, m in reversed(server.service_events())]
    assert messages[-4:] == [
        "The start type of the Background Intelligent Transfer Service service was changed from disabled to "
        "demand start.",
        "The Background Intelligent Transfer Service service entered the running state.",
        "The WSUS Service service entered the stopped state.",
        "The WSUS Service service entered the running state.",
    ]
    again = run(
        handlers, "wsus-a", "repair_bits_service", BitsServiceName="BITS", WsusServiceName="WsusService"
    )
    assert again["Changed"] == []
    assert len(server.service_events()) == len(messages)
    with pytest.raises(ScriptError, match=r"The service 'Nope' does not exist on this server\."):
        run(handlers, "wsus-a", "repair_bits_service", BitsServiceName="Nope", WsusServiceName="WsusService")


def test_repair_restarts_a_running_bits_and_starts_a_stopped_wsus_service(tmp_path):
    handlers = lab(
        tmp_path,
        {
            "name": "wsus-a",
            "initial": {"Services": {"WsusService": {"State": "Stopped", "StartMode": "Manual"}}},
        },
    )
    result = run(
        handlers, "wsus-a", "repair_bits_service", BitsServiceName="BITS", WsusServiceName="WsusService"
    )
    # "restart both the BITS service and the WSUS service": BITS runs, so it is restarted.
    assert result["Changed"] == ["BitsRestarted", "WsusStartMode", "WsusState"]
    assert (result["WsusState"], result["WsusStartMode"]) == ("Running", "Auto")
    assert [m for _i, _t, m in reversed(handlers.servers["wsus-a"].service_events())][:2] == [
        "The Background Intelligent Transfer Service service entered the stopped state.",
        "The Background Intelligent Transfer Service service entered the running state.",
    ]


def test_grant_content_read_adds_readandexecute_only_where_read_is_missing(tmp_path):
    handlers = lab(tmp_path, {"name": "wsus-a", "faults": ["content_acl_missing"]})
    sids = ["S-1-5-20", "s-1-5-32-545", "S-1-5-32-544"]  # Administrators keep their inherited rule
    result = run(handlers, "wsus-a", "grant_content_read", SetupRegistryPath=SETUP_REGISTRY_PATH, Sids=sids)
    assert result["Changed"] == ["S-1-5-20", "S-1-5-32-545"]
    assert result["ContentDir"] == "C:\\WSUS"
    added = [r for r in result["ContentDirAcl"] if not r["IsInherited"]]
    assert added[-2:] == [
        {
            "IdentityReference": "NT AUTHORITY\\NETWORK SERVICE",
            "Sid": "S-1-5-20",
            "FileSystemRights": "ReadAndExecute, Synchronize",
            "AccessControlType": "Allow",
            "IsInherited": False,
        },
        {
            "IdentityReference": "BUILTIN\\Users",
            "Sid": "S-1-5-32-545",
            "FileSystemRights": "ReadAndExecute, Synchronize",
            "AccessControlType": "Allow",
            "IsInherited": False,
        },
    ]
    again = run(handlers, "wsus-a", "grant_content_read", SetupRegistryPath=SETUP_REGISTRY_PATH, Sids=sids)
    assert again["Changed"] == [] and again["ContentDirAcl"] == result["ContentDirAcl"]


def test_grant_content_read_refuses_a_value_that_is_no_sid(tmp_path):
    handlers = lab(tmp_path, {"name": "wsus-a", "faults": ["content_acl_missing"]})
    before = handlers.servers["wsus-a"].db.content_acl()
    with pytest.raises(ScriptError, match="sddlForm"):
        run(
            handlers,
            "wsus-a",
            "grant_content_read",
            SetupRegistryPath=SETUP_REGISTRY_PATH,
            Sids=["S-1-5-20", "NT AUTHORITY\\NETWORK SERVICE"],
        )
    assert handlers.servers["wsus-a"].db.content_acl() == before


def test_set_bits_foreground_picks_api_osql_sqlcmd_or_sqlclient(tmp_path):
    handlers = lab(
        tmp_path,
        {"name": "api", "version": "2019", "initial": {"LabApiBitsForeground": True}},
        {"name": "old", "version": "3.0-sp2", "tools": ["osql"]},
        {"name": "r2", "version": "2012r2", "tools": ["sqlcmd"]},
        {"name": "bare", "version": "2012R2"},
        {"name": "ssee", "version": "3.0-sp2"},
        {"name": "both", "version": "2019", "tools": ["sqlcmd", "osql"]},
    )
    assert facts(handlers.servers["api"])["BitsDownloadPriorityForeground"] is False
    assert facts(handlers.servers["old"])["BitsDownloadPriorityForeground"] is None
    assert foreground(handlers, "api") == {
        "Method": "api",
        "Instance": "",
        "SqlHost": "",
        "Before": False,
        "After": True,
        "Changed": True,
    }
    assert facts(handlers.servers["api"])["BitsDownloadPriorityForeground"] is True
    assert foreground(handlers, "old")["Method"] == "osql"
    assert foreground(handlers, "old")["Instance"] == SSEE_PIPE
    assert foreground(handlers, "r2")["Method"] == "sqlcmd"
    assert foreground(handlers, "bare") == {
        "Method": "sqlclient",
        "Instance": WID_PIPE,
        "SqlHost": "BARE",
        "Before": False,
        "After": True,
        "Changed": True,
    }
    assert handlers.servers["bare"].bits_foreground is True
    assert foreground(handlers, "ssee")["Method"] == "sqlclient"
    assert foreground(handlers, "ssee")["Instance"] == SSEE_PIPE
    assert foreground(handlers, "both")["Method"] == "osql"  # the document's own command first
    assert foreground(handlers, "both")["Changed"] is False


def test_a_tool_that_is_not_installed_is_not_recognized(tmp_path):
    handlers = lab(tmp_path, {"name": "bare", "version": "2016"})
    server = handlers.servers["bare"]
    assert sqltools.test_path(server, sqltools.OSQL_PATH) is False
    assert sqltools.get_command(server, "sqlcmd") is None
    for tool in (sqltools.OSQL_PATH, sqltools.SQLCMD_PATH):
        with pytest.raises(ScriptError, match="is not recognized as the name of a cmdlet") as raised:
            sqltools.run_tool(
                server, tool, WID_PIPE, "SELECT BitsDownloadPriorityForeground FROM tbConfigurationC"
            )
        assert tool in raised.value.message


def test_sqlclient_needs_the_local_instance_running(tmp_path):
    handlers = lab(tmp_path, {"name": "wid", "version": "2022"})
    server = handlers.servers["wid"]
    server.change_service("MSSQL$MICROSOFT##WID", state="Stopped")
    events = server.service_events()
    with pytest.raises(ScriptError, match=r"^sqlclient failed on np:.*Named Pipes Provider, error: 40"):
        foreground(handlers, "wid")
    assert server.service_events() == events  # the read failed: nothing was stopped
    server.change_service("MSSQL$MICROSOFT##WID", state="Running")
    assert foreground(handlers, "wid")["Changed"] is True


def test_a_remote_sql_server_is_reported_not_touched(tmp_path):
    handlers = lab(
        tmp_path,
        {
            "name": "remote",
            "version": "2019",
            "tools": ["sqlcmd"],
            "initial": {"SqlServerName": "SQL01\\WSUS"},
        },
        {"name": "here", "version": "2019", "initial": {"SqlServerName": "HERE\\WSUS"}},
    )
    assert foreground(handlers, "remote") == {
        "Method": "remote",
        "Instance": "SQL01\\WSUS",
        "SqlHost": "SQL01",
        "Before": None,
        "After": None,
        "Changed": False,
    }
    assert handlers.servers["remote"].service_events() == []
    assert "MSSQL$WSUS" not in handlers.servers["remote"].db.services()
    # A SQL Server instance on the WSUS server itself is reached by its name.
    assert "MSSQL$WSUS" in handlers.servers["here"].db.services()
    assert foreground(handlers, "here")["Method"] == "sqlclient"
    assert foreground(handlers, "here")["Instance"] == "HERE\\WSUS"
    assert handlers.servers["here"].bits_foreground is True


def test_set_bits_foreground_read_only_and_a_wrong_pipe(tmp_path):
    handlers = lab(tmp_path, {"name": "old", "version": "2008R2", "tools": ["osql"]})
    server = handlers.servers["old"]
    assert foreground(handlers, "old", ReadOnly=True)["Changed"] is False
    assert server.bits_foreground is False and server.service_events() == []
    with pytest.raises(
        ScriptError, match=r"^osql failed on np:\\\\\.\\pipe\\nope \(exit code 1\): .*Named Pipes"
    ):
        foreground(handlers, "old", SseePipe="np:\\\\.\\pipe\\nope")
    assert server.service_events() == []


# -- faults: seeded evidence and later behaviour ---------------------------------------------------


def test_a_restart_with_the_same_fault_does_not_seed_again(tmp_path):
    spec = {"name": "wsus-a", "faults": ["bits_disabled"]}
    handlers = lab(tmp_path, spec)
    run(handlers, "wsus-a", "repair_bits_service", BitsServiceName="BITS", WsusServiceName="WsusService")
    handlers.close()
    again = lab(tmp_path, spec)
    assert facts(again.servers["wsus-a"])["Services"]["BITS"] == {"State": "Running", "StartMode": "Manual"}
    again.close()
    without = lab(tmp_path, {"name": "wsus-a"})
    without.close()
    seeded_again = lab(tmp_path, spec)  # the fault is new again after a run without it
    assert facts(seeded_again.servers["wsus-a"])["Services"]["BITS"]["StartMode"] == "Disabled"


def test_bits_disabled_fails_syncs_until_bits_runs(tmp_path):
    clock = Clock()
    handlers = lab(tmp_path, {"name": "wsus-a", "faults": ["bits_disabled"]}, clock=clock)
    record = synchronize(handlers, "wsus-a", clock)
    assert (record["Result"], record["Error"]) == ("Failed", "Unknown")
    assert (
        "Background Intelligent Transfer Service" in record["ErrorText"]
        and "not running" in record["ErrorText"]
    )
    server = handlers.servers["wsus-a"]
    assert failed_downloads(server) == 12  # the downloads BITS could not make
    run(handlers, "wsus-a", "repair_bits_service", BitsServiceName="BITS", WsusServiceName="WsusService")
    assert synchronize(handlers, "wsus-a", clock)["Result"] == "Succeeded"
    assert failed_downloads(server) == 12  # a sync does not download them again
    assert resume(handlers, "wsus-a")["Resumed"] is True
    assert failed_downloads(server) == 0 and needing_files(server) == 0


def test_content_acl_missing_blocks_downloads_until_read_is_granted(tmp_path):
    clock = Clock()
    handlers = lab(tmp_path, {"name": "wsus-a", "faults": ["content_acl_missing"]}, clock=clock)
    server = handlers.servers["wsus-a"]
    f = facts(server)
    sids = {r["Sid"] for r in f["ContentDirAcl"]}
    assert "S-1-5-20" not in sids and "S-1-5-32-545" not in sids
    [event] = f["Events"]
    assert event["Id"] == 10012 and event["Message"].startswith("[lab text]")
    assert synchronize(handlers, "wsus-a", clock)["Result"] == "Succeeded"
    assert failed_downloads(server) == 12
    assert resume(handlers, "wsus-a")["UpdatesWithServerErrorsCount"] == 12  # failed again: no Read
    run(
        handlers,
        "wsus-a",
        "grant_content_read",
        SetupRegistryPath=SETUP_REGISTRY_PATH,
        Sids=["S-1-5-20", "S-1-5-32-545"],
    )
    synchronize(handlers, "wsus-a", clock)
    assert failed_downloads(server) == 12  # the cause is gone, the failed downloads stay failed
    assert resume(handlers, "wsus-a")["UpdatesWithServerErrorsCount"] == 0
    assert failed_downloads(server) == 0 and needing_files(server) == 0


def test_range_header_unsupported_until_the_column_is_set(tmp_path):
    clock = Clock()
    handlers = lab(
        tmp_path, {"name": "wsus-a", "version": "2008R2", "faults": ["range_header_unsupported"]}, clock=clock
    )
    server = handlers.servers["wsus-a"]
    f = facts(server)
    assert f["UpdateServerStatus"]["UpdatesWithServerErrorsCount"] == 12
    [event] = f["Events"]
    assert event["Id"] == 364
    assert event["Message"].startswith(
        "Content file download failed. Reason: The server does not support the necessary HTTP protocol. "
        "Background Intelligent Transfer Service (BITS) requires that the server support the Range protocol "
        "header.\r\nSource File: /msdownload/update/"
    )
    assert "Destination File: C:\\WSUS\\WsusContent\\" in event["Message"]
    assert synchronize(handlers, "wsus-a", clock)["Result"] == "Succeeded"  # the metadata sync works
    assert failed_downloads(server) == 12  # failed downloads are not retried by a sync: no new 364
    assert len([e for e in facts(server)["Events"] if e["Id"] == 364]) == 1
    resume(handlers, "wsus-a")  # tried again while the proxy still lacks Range: 364 again
    assert failed_downloads(server) == 12
    assert len([e for e in facts(server)["Events"] if e["Id"] == 364]) == 2
    assert foreground(handlers, "wsus-a")["Changed"] is True
    synchronize(handlers, "wsus-a", clock)
    assert failed_downloads(server) == 12
    resume(handlers, "wsus-a")
    assert failed_downloads(server) == 0 and needing_files(server) == 0
    assert len([e for e in facts(server)["Events"] if e["Id"] == 364]) == 2


def test_language_changed_on_parent_leaves_replicas_with_fewer_approvals(tmp_path):
    clock = Clock()
    handlers = lab(
        tmp_path,
        {"name": "wsus-root", "faults": ["language_changed_on_parent"]},
        {"name": "wsus-eu", "initial": REPLICA},
        {"name": "wsus-us", "initial": REPLICA},
        clock=clock,
    )
    root = handlers.servers["wsus-root"]
    assert root.get("UpdateServerStatus")["ApprovedUpdateCount"] == 40
    assert root.get("InactiveApprovalCount") == 6
    assert root.get("EnabledUpdateLanguages") == ["en", "de"]
    for name in ("wsus-eu", "wsus-us"):
        replica = handlers.servers[name]
        assert replica.get("UpdateServerStatus")["ApprovedUpdateCount"] == 34
        assert facts(replica)["LastSynchronizationInfo"]["Result"] == "Succeeded"
    synchronize(handlers, "wsus-root", clock)
    assert synchronize(handlers, "wsus-eu", clock)["Result"] == "Succeeded"
    assert handlers.servers["wsus-eu"].get("UpdateServerStatus")["ApprovedUpdateCount"] == 34
    assert root.get("UpdateServerStatus")["ApprovedUpdateCount"] == 40


def test_catalog_sync_failed_seeds_10021_and_10022_and_fails_syncs(tmp_path):
    clock = Clock()
    handlers = lab(tmp_path, {"name": "wsus-a", "faults": ["catalog_sync_failed"]}, clock=clock)
    server = handlers.servers["wsus-a"]
    f = facts(server)
    assert sorted(e["Id"] for e in f["Events"]) == [10021, 10022]
    assert all(
        e["Message"].startswith("[lab text]") and e["TimeCreated"] < "2026-11-23T10:30:00Z"
        for e in f["Events"]
    )
    assert f["LastSynchronizationInfo"]["Result"] == "Failed"
    assert not [h for h in f["SynchronizationHistory"] if h["Result"] == "Succeeded"]
    record = synchronize(handlers, "wsus-a", clock)
    assert (record["Result"], record["Error"]) == ("Failed", "UssInternalError")
    assert [e["Id"] for e in facts(server)["Events"]].count(10021) == 2


def test_legacy_wsus2_reports_wsus_2_and_its_replica_sync_times_out(tmp_path):
    clock = Clock()
    handlers = lab(
        tmp_path,
        {"name": "wsus-root"},
        {"name": "wsus-old", "initial": REPLICA, "faults": ["legacy_wsus2"]},
        clock=clock,
    )
    old = handlers.servers["wsus-old"]
    f = facts(old)
    assert (f["Version"], f["ServerProtocolVersion"], f["PortNumber"]) == ("2.0.0.2472", "1.0", 80)
    assert f["BitsDownloadPriorityForeground"] is None
    duration = dt.timedelta(seconds=float(old.get("SyncDurationSeconds")))
    assert sync.start(old)
    clock.now += duration * 2
    sync.advance(old, handlers.servers)
    assert old.get("SynchronizationStatus") == "Running"  # still running well past its duration
    clock.now += duration * 10
    sync.advance(old, handlers.servers)
    record = old.db.sync_history(1)[0]
    assert (record["Result"], record["Error"]) == ("Failed", "UssCommunicationError")
    assert "timed out" in record["ErrorText"]
    assert foreground(handlers, "wsus-old")["Instance"] == "WSUS-OLD\\WSUS"  # osql -S %Computername%\WSUS


def test_proxy_credentials_expired_seeds_a_proxy_and_a_407_until_a_new_password(tmp_path):
    clock = Clock()
    handlers = lab(tmp_path, {"name": "wsus-a", "faults": ["proxy_credentials_expired"]}, clock=clock)
    server = handlers.servers["wsus-a"]
    f = facts(server)
    assert f["UseProxy"] is True and f["ProxyName"] and f["ProxyUserName"] and f["HasProxyPassword"] is True
    assert f["AnonymousProxyAccess"] is False
    last = f["LastSynchronizationInfo"]
    assert last["Error"] == "ProxyError" and "(407) Proxy Authentication Required" in last["ErrorText"]
    assert synchronize(handlers, "wsus-a", clock)["Error"] == "ProxyError"
    run(
        handlers,
        "wsus-a",
        "set_proxy",
        Members=[],
        SetPassword=True,
        ProxyPassword=SecureValue("New-Pw-1"),
        ReadyTimeoutSeconds=1,
    )
    assert synchronize(handlers, "wsus-a", clock)["Result"] == "Succeeded"


def test_storage_mismatch_seeds_a_real_difference(tmp_path):
    handlers = lab(
        tmp_path,
        {"name": "wsus-root"},
        {"name": "wsus-eu", "initial": DOWNSTREAM, "faults": ["storage_mismatch"]},
    )
    eu = handlers.servers["wsus-eu"].config()
    assert eu["HostBinariesOnMicrosoftUpdate"] is True and eu["AllUpdateLanguagesEnabled"] is True
    assert handlers.servers["wsus-root"].get("HostBinariesOnMicrosoftUpdate") is False


@pytest.mark.parametrize("on_upstream", [True, False])
def test_updates_missing_upstream_seeds_failed_updates(tmp_path, on_upstream):
    clock = Clock()
    handlers = lab(
        tmp_path,
        {"name": "wsus-root"},
        {
            "name": "wsus-eu",
            "initial": DOWNSTREAM,
            "faults": [{"name": "updates_missing_upstream", "attempts": 1, "on_upstream": on_upstream}],
        },
        clock=clock,
    )
    failed = run(handlers, "wsus-eu", "get_failed_updates", MaxUpdates=3, LookbackDays=30)
    assert failed["FailedUpdateCount"] == 5 and len(failed["FailedUpdates"]) == 3
    assert all(u["IsApproved"] for u in failed["FailedUpdates"])
    assert handlers.servers["wsus-eu"].get("UpdateServerStatus")["UpdatesWithServerErrorsCount"] == 5
    ids = [u["UpdateId"].upper() for u in failed["FailedUpdates"]]
    found = run(handlers, "wsus-root", "find_updates", UpdateIds=ids)["Found"]
    assert len(found) == (3 if on_upstream else 0)
    assert synchronize(handlers, "wsus-eu", clock)["Error"] == "LocalUpdateMissingForApproval"
    second = synchronize(handlers, "wsus-eu", clock)
    left = run(handlers, "wsus-eu", "get_failed_updates", MaxUpdates=10, LookbackDays=30)["FailedUpdateCount"]
    if on_upstream:  # transient: the next sync gets them
        assert second["Result"] == "Succeeded" and left == 0
    else:
        assert second["Error"] == "LocalUpdateMissingForApproval" and left == 5
        assert "do not exist on the upstream server" in second["ErrorText"]


def test_a_healthy_lab_shows_no_evidence(tmp_path):
    clock = Clock()
    handlers = lab(tmp_path, {"name": "wsus-root"}, {"name": "wsus-eu", "initial": REPLICA}, clock=clock)
    synchronize(handlers, "wsus-root", clock)
    synchronize(handlers, "wsus-eu", clock)
    for server in handlers.servers.values():
        assert_healthy(server)
        assert server.service_events() == []


# -- topology ---------------------------------------------------------------------------------------


def test_topology_validates_the_lab_capabilities_and_bool_fault_arguments():
    with pytest.raises(UsageError, match="tools must be a list of osql and sqlcmd"):
        topology_from_dict({"servers": [{"name": "a", "tools": ["isql"]}]})
    with pytest.raises(UsageError, match="initial has unknown member 'LabSqlTools'"):
        topology_from_dict({"servers": [{"name": "a", "initial": {"LabSqlTools": ["osql"]}}]})
    with pytest.raises(UsageError, match="on_upstream must be a bool"):
        topology_from_dict(
            {"servers": [{"name": "a", "faults": [{"name": "updates_missing_upstream", "on_upstream": 1}]}]}
        )
    with pytest.raises(UsageError, match="attempts must be a int"):
        topology_from_dict(
            {"servers": [{"name": "a", "faults": [{"name": "updates_missing_upstream", "attempts": True}]}]}
        )
    spec = topology_from_dict(
        {"servers": [{"name": "a", "faults": [{"name": "updates_missing_upstream", "on_upstream": False}]}]}
    )
    assert spec.servers[0].faults[0].arguments == {"attempts": 1, "on_upstream": False}


def test_scm_events_never_reach_the_wsus_provider(tmp_path):
    handlers = lab(tmp_path, {"name": "wsus-a"})
    server = handlers.servers["wsus-a"]
    server.change_service("BITS", state="Stopped")
    assert server.db.events([7036], "", 10) == []
    assert [m for _i, _t, m in server.db.events([7036], "", 10, provider=SCM_PROVIDER)] == [
        "The Background Intelligent Transfer Service service entered the stopped state."
    ]


def test_a_content_fault_on_a_replica_leaves_its_healthy_parent_without_evidence(tmp_path):
    clock = Clock()
    handlers = lab(
        tmp_path,
        {"name": "wsus-root"},
        {"name": "wsus-eu", "initial": REPLICA, "faults": ["range_header_unsupported"]},
        clock=clock,
    )
    assert failed_downloads(handlers.servers["wsus-eu"]) == 12
    root = handlers.servers["wsus-root"]
    assert root.get("UpdateServerStatus")["ApprovedUpdateCount"] == 12  # the replica's approvals are its
    assert_healthy(root)
    synchronize(handlers, "wsus-eu", clock)  # replicas keep the parent's approvals: still blocked
    assert failed_downloads(handlers.servers["wsus-eu"]) == 12
