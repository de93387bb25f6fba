"""The troubleshooting snippets and the faults' evidence over the wire: the real pypsrp client
(wsusauto.client.session.Session) against an in-process lab."""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.errors import RemoteError
from wsusauto.lab.model.server import SCM_PROVIDER
from wsusauto.state.facts import SETUP_REGISTRY_PATH, facts_parameters

ROOT = {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"}
REPLICA = {**ROOT, "IsReplicaServer": True}
WID_PIPE = "np:\\\\.\\pipe\\MICROSOFT##WID\\tsql\\query"
SSEE_PIPE = "np:\\\\.\\pipe\\MSSQL$MICROSOFT##SSEE\\sql\\query"
READERS = ["S-1-5-20", "S-1-5-32-545"]  # NETWORK SERVICE and Users, by SID

SERVERS = [
    {"name": "wsus-root"},
    {"name": "wsus-eu", "upstream": "wsus-root", "replica": True, "initial": REPLICA},
    {"name": "wsus-off", "faults": ["upstream_down"]},
    {"name": "wsus-hidden", "faults": ["upstream_unresolvable"]},
    {"name": "wsus-old", "version": "2008R2"},
    {"name": "bits", "faults": ["bits_disabled"]},
    {"name": "acl", "faults": ["content_acl_missing"]},
    {"name": "range-old", "version": "2008R2", "tools": ["osql"], "faults": ["range_header_unsupported"]},
    {"name": "range-r2", "version": "2012R2", "tools": ["sqlcmd"], "faults": ["range_header_unsupported"]},
    {
        "name": "range-new",
        "version": "2022",
        "initial": {"LabApiBitsForeground": True},
        "faults": ["range_header_unsupported"],
    },
    {"name": "sqlfail", "version": "2008R2", "tools": ["osql"], "faults": ["sql_update_fails"]},
    {"name": "parent", "faults": ["language_changed_on_parent"]},
    {
        "name": "child",
        "upstream": "parent",
        "replica": True,
        "initial": {
            "SyncFromMicrosoftUpdate": False,
            "UpstreamWsusServerName": "parent",
            "IsReplicaServer": True,
        },
    },
    {"name": "catalog", "faults": ["catalog_sync_failed"]},
    {
        "name": "legacy",
        "upstream": "wsus-root",
        "replica": True,
        "initial": REPLICA,
        "faults": ["legacy_wsus2"],
    },
    {"name": "proxy", "faults": ["proxy_credentials_expired"]},
    {"name": "mismatch", "upstream": "wsus-root", "initial": ROOT, "faults": ["storage_mismatch"]},
    {
        "name": "missing-t",
        "upstream": "wsus-root",
        "initial": ROOT,
        "faults": [{"name": "updates_missing_upstream", "on_upstream": True}],
    },
    {
        "name": "missing-f",
        "upstream": "wsus-root",
        "initial": ROOT,
        "faults": [{"name": "updates_missing_upstream", "on_upstream": False}],
    },
]


@pytest.fixture(scope="module")
def lab(make_module_lab):
    # The lab's clock 10x: syncs still start late and saves still process, in fewer real seconds.
    lab = make_module_lab({"servers": SERVERS}, time_scale=10)
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=0.2)
    yield lab
    for session in _sessions.values():
        session.close()
    _sessions.clear()


_sessions: dict[str, Session] = {}


def session_for(lab, host) -> Session:
    """One Session (one RunspacePool) per host for the whole module, as a run uses it."""
    if host not in _sessions:
        inventory = lab_inventory(lab)
        _sessions[host] = Session(
            host, inventory.connection_options(inventory.hosts[host]), default_deadline=60
        )
    return _sessions[host]


def invoke(lab, host, snippet, **parameters):
    return session_for(lab, host).invoke(snippet, **parameters)


def facts(lab, host):
    return invoke(lab, host, "get_facts", **facts_parameters())


def address(lab, host):
    return next(e.address for e in lab.endpoints if e.name == host)


def scm_messages(lab, host):
    return [m for _i, _t, m in reversed(lab.handlers.servers[host].service_events())]


def column(lab, host):
    path = lab.state_dir / host / "SUSDB.sqlite"
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as db:
        return db.execute("SELECT BitsDownloadPriorityForeground FROM tbConfigurationC").fetchall()


def foreground(lab, host, **overrides):
    parameters = {
        "WsusServiceName": "WsusService",
        "SetupRegistryPath": SETUP_REGISTRY_PATH,
        "WidPipe": WID_PIPE,
        "SseePipe": SSEE_PIPE,
        "ReadyTimeoutSeconds": 5,
        "ReadOnly": False,
        **overrides,
    }
    return invoke(lab, host, "set_bits_foreground", **parameters)


def synchronize(lab, host):
    started = invoke(lab, host, "start_synchronization", CategoryOnly=False, ReadyTimeoutSeconds=30)
    assert started["Started"] is True
    for _ in range(600):
        status = invoke(lab, host, "get_synchronization_status", MaxUpdateErrors=5)
        last = status["LastSynchronizationInfo"]
        # The sync starts a moment after StartSynchronization(): ended means a newer last sync.
        if (
            status["SynchronizationStatus"] == "NotProcessing"
            and last["Id"] != started["PreviousSynchronizationId"]
        ):
            return last
        time.sleep(0.1)
    raise AssertionError(f"the sync of {host} did not end")


def connection(lab, host, name, port):
    return invoke(
        lab,
        host,
        "test_upstream_connection",
        UpstreamName=name,
        Port=port,
        ProxyName="",  # a direct connection (test_proxy_path_lab.py goes through proxies)
        ProxyPort=0,
        TimeoutMilliseconds=2000,
    )


# -- test_upstream_connection -------------------------------------------------------------------


def test_a_lab_servers_name_resolves_to_its_address_and_its_port_answers(lab):
    root = address(lab, "wsus-root")
    for name in ("wsus-root", "WSUS-ROOT.corp.example", root):
        assert connection(lab, "wsus-eu", name, 8530) == {
            "UpstreamName": name,
            "Port": 8530,
            "Resolved": True,
            "Addresses": [root],
            "ResolveError": "",
            "ThroughProxy": False,
            "ProxyName": "",
            "ProxyPort": 0,
            "ProxyResolved": False,
            "ProxyAddresses": [],
            "ProxyResolveError": "",
            "PortTested": True,
            "PortOpen": True,
            "ConnectError": "",
        }


def test_a_wrong_port_is_refused_with_the_dotnet_text(lab):
    result = connection(lab, "wsus-eu", "wsus-root", 80)
    assert result["Resolved"] and result["PortTested"] and not result["PortOpen"]
    assert result["ConnectError"] == (
        'Exception calling "EndConnect" with "1" argument(s): "No connection could be made because the '
        f'target machine actively refused it {address(lab, "wsus-root")}:80"'
    )
    assert connection(lab, "wsus-eu", "wsus-old", 80)["PortOpen"] is True  # WSUS 3.0 listens on 80
    assert connection(lab, "wsus-eu", "wsus-old", 8530)["PortOpen"] is False


@pytest.mark.parametrize("name", ["wsus-hidden", "no-such-server", "wsus-hidden.corp.example"])
def test_an_unresolvable_name(lab, name):
    result = connection(lab, "wsus-eu", name, 8530)
    assert result["Resolved"] is False and result["Addresses"] == [] and result["PortTested"] is False
    assert result["ResolveError"] == (
        'Exception calling "GetHostAddresses" with "1" argument(s): "No such host is known"'
    )
    assert result["PortOpen"] is False and result["ConnectError"] == ""


def test_an_upstream_that_is_down_resolves_but_refuses(lab):
    result = connection(lab, "wsus-eu", "wsus-off", 8530)
    assert result["Resolved"] is True and result["Addresses"] == [address(lab, "wsus-off")]
    assert result["PortOpen"] is False and "actively refused it" in result["ConnectError"]
    hidden_by_address = connection(lab, "wsus-eu", address(lab, "wsus-hidden"), 8530)
    assert (
        hidden_by_address["Resolved"] is True and hidden_by_address["PortOpen"] is True
    )  # the workaround "Issues with Synchronization" gives: the IP address


# -- a healthy server shows no evidence -----------------------------------------------------------


@pytest.mark.parametrize("host", ["wsus-root", "wsus-eu"])
def test_healthy_servers_show_no_evidence(lab, host):
    f = facts(lab, host)
    assert f["Services"]["BITS"] == {"State": "Running", "StartMode": "Manual"}
    assert f["Services"]["WsusService"] == {"State": "Running", "StartMode": "Auto"}
    assert set(READERS) <= {r["Sid"] for r in f["ContentDirAcl"]}
    assert f["Events"] == []
    assert f["UpdateServerStatus"]["UpdatesNeedingFilesCount"] == 0
    assert f["UpdateServerStatus"]["UpdatesWithServerErrorsCount"] == 0
    assert f["BitsDownloadPriorityForeground"] is None  # no preset has the member (wsus-api.md: unsure)
    assert invoke(lab, host, "get_failed_updates", MaxUpdates=10, LookbackDays=30) == {
        "FailedUpdates": [],
        "FailedUpdateCount": 0,
        "UpdatesWithServerErrorsCount": 0,
        "SearchedApprovedUpdates": False,  # nothing counted, nothing to look for
    }


# -- BITS -------------------------------------------------------------------------------------


def test_bits_disabled_evidence_and_the_repair(lab):
    assert facts(lab, "bits")["Services"]["BITS"] == {"State": "Stopped", "StartMode": "Disabled"}
    failed = synchronize(lab, "bits")
    assert failed["Result"] == "Failed" and failed["Error"] == "Unknown"
    assert "Background Intelligent Transfer Service" in failed["ErrorText"]
    before = len(scm_messages(lab, "bits"))
    result = invoke(lab, "bits", "repair_bits_service", BitsServiceName="BITS", WsusServiceName="WsusService")
    assert result["Changed"] == ["BitsStartMode", "BitsState", "WsusRestarted"]
    assert (result["BitsState"], result["BitsStartMode"]) == ("Running", "Manual")
    assert scm_messages(lab, "bits")[before:] == [
        "The start type of the Background Intelligent Transfer Service service was changed from disabled to "
        "demand start.",
        "The Background Intelligent Transfer Service service entered the running state.",
        "The WSUS Service service entered the stopped state.",
        "The WSUS Service service entered the running state.",
    ]
    again = invoke(lab, "bits", "repair_bits_service", BitsServiceName="BITS", WsusServiceName="WsusService")
    assert again["Changed"] == [] and len(scm_messages(lab, "bits")) == before + 4
    assert synchronize(lab, "bits")["Result"] == "Succeeded"
    assert failed_downloads(lab, "bits") == 12  # what failed while BITS was off stays failed
    resumed = invoke(lab, "bits", "resume_downloads", ReadOnly=False)
    assert resumed["Resumed"] is True and resumed["UpdatesWithServerErrorsCountBefore"] == 12
    assert failed_downloads(lab, "bits") == 0


# -- content Read permissions --------------------------------------------------------------------


def test_content_acl_missing_evidence_and_the_grant(lab):
    f = facts(lab, "acl")
    assert not set(READERS) & {r["Sid"] for r in f["ContentDirAcl"]}
    assert [e["Id"] for e in f["Events"]] == [10012]
    assert synchronize(lab, "acl")["Result"] == "Succeeded"
    assert failed_downloads(lab, "acl") == 12
    result = invoke(lab, "acl", "grant_content_read", SetupRegistryPath=SETUP_REGISTRY_PATH, Sids=READERS)
    assert result["Changed"] == READERS and result["ContentDir"] == "C:\\WSUS"
    assert {r["Sid"]: r["FileSystemRights"] for r in result["ContentDirAcl"]}[READERS[1]] == (
        "ReadAndExecute, Synchronize"
    )
    again = invoke(lab, "acl", "grant_content_read", SetupRegistryPath=SETUP_REGISTRY_PATH, Sids=READERS)
    assert again["Changed"] == []
    synchronize(lab, "acl")
    assert failed_downloads(lab, "acl") == 12  # Read is back; a sync does not download them again
    checked = invoke(lab, "acl", "resume_downloads", ReadOnly=True)
    assert checked["Resumed"] is False and failed_downloads(lab, "acl") == 12
    resumed = invoke(lab, "acl", "resume_downloads", ReadOnly=False)
    assert resumed["Resumed"] is True and resumed["UpdatesWithServerErrorsCount"] == 0
    status = facts(lab, "acl")["UpdateServerStatus"]
    assert status["UpdatesWithServerErrorsCount"] == 0 and status["UpdatesNeedingFilesCount"] == 0
    assert invoke(lab, "acl", "resume_downloads", ReadOnly=False)["Resumed"] is False


# -- the Range header fix -----------------------------------------------------------------------


def failed_downloads(lab, host):
    return facts(lab, host)["UpdateServerStatus"]["UpdatesWithServerErrorsCount"]


def range_events(lab, host):
    return [e for e in facts(lab, host)["Events"] if e["Id"] == 364]


def test_osql_path_really_sets_the_sqlite_row_and_restarts_the_wsus_service(lab):
    f = facts(lab, "range-old")
    assert f["BitsDownloadPriorityForeground"] is None  # WSUS 3.0: not in the API
    assert f["UpdateServerStatus"]["UpdatesWithServerErrorsCount"] == 12
    assert (
        "requires that the server support the Range protocol header"
        in range_events(lab, "range-old")[0]["Message"]
    )
    assert column(lab, "range-old") == [(0,)]
    check = foreground(lab, "range-old", ReadOnly=True)
    assert check == {
        "Method": "osql",
        "Instance": SSEE_PIPE,
        "SqlHost": "RANGE-OLD",
        "Before": False,
        "After": False,
        "Changed": False,
    }
    assert scm_messages(lab, "range-old") == []
    result = foreground(lab, "range-old")
    assert result == {
        "Method": "osql",
        "Instance": SSEE_PIPE,
        "SqlHost": "RANGE-OLD",
        "Before": False,
        "After": True,
        "Changed": True,
    }
    assert column(lab, "range-old") == [(1,)]
    assert scm_messages(lab, "range-old") == [
        "The Update Services service entered the stopped state.",
        "The Update Services service entered the running state.",
    ]
    assert facts(lab, "range-old")["Services"]["WsusService"]["State"] == "Running"
    again = foreground(lab, "range-old")
    assert again["Changed"] is False and again["Before"] is True
    assert len(scm_messages(lab, "range-old")) == 2  # nothing stopped the second time
    events = len(range_events(lab, "range-old"))
    assert synchronize(lab, "range-old")["Result"] == "Succeeded"
    assert failed_downloads(lab, "range-old") == 12  # fixed, but the failed downloads stay failed
    invoke(lab, "range-old", "resume_downloads", ReadOnly=False)
    assert failed_downloads(lab, "range-old") == 0
    assert len(range_events(lab, "range-old")) == events  # no new 364


def test_range_header_until_fixed_each_resumed_download_fails_again_with_364(lab):
    events = len(range_events(lab, "range-r2"))
    assert synchronize(lab, "range-r2")["Result"] == "Succeeded"  # the metadata sync itself works
    assert len(range_events(lab, "range-r2")) == events  # a sync does not retry failed downloads
    resumed = invoke(lab, "range-r2", "resume_downloads", ReadOnly=False)
    assert resumed["Resumed"] is True and resumed["UpdatesWithServerErrorsCount"] == 12
    assert len(range_events(lab, "range-r2")) == events + 1
    result = foreground(lab, "range-r2")
    assert result == {
        "Method": "sqlcmd",
        "Instance": WID_PIPE,
        "SqlHost": "RANGE-R2",
        "Before": False,
        "After": True,
        "Changed": True,
    }
    assert column(lab, "range-r2") == [(1,)]
    assert scm_messages(lab, "range-r2") == [
        "The WSUS Service service entered the stopped state.",
        "The WSUS Service service entered the running state.",
    ]


def test_api_path_sets_the_same_column_without_stopping_anything(lab):
    assert facts(lab, "range-new")["BitsDownloadPriorityForeground"] is False
    result = foreground(lab, "range-new")
    assert result == {
        "Method": "api",
        "Instance": "",
        "SqlHost": "",
        "Before": False,
        "After": True,
        "Changed": True,
    }
    assert column(lab, "range-new") == [(1,)]
    assert facts(lab, "range-new")["BitsDownloadPriorityForeground"] is True
    assert foreground(lab, "range-new")["Changed"] is False
    assert scm_messages(lab, "range-new") == []


def test_a_failing_sql_step_still_starts_the_wsus_service_and_reports_the_scripts_error(lab):
    with pytest.raises(RemoteError) as info:
        foreground(lab, "sqlfail")
    text = info.value.remote_text
    assert text.startswith(f"osql failed on {SSEE_PIPE} (exit code 1): Msg 229, Level 14")
    assert "The UPDATE permission was denied on the object 'tbConfigurationC'" in text
    assert text.endswith("; the WSUS service was started again")
    assert column(lab, "sqlfail") == [(0,)]
    assert scm_messages(lab, "sqlfail") == [
        "The Update Services service entered the stopped state.",
        "The Update Services service entered the running state.",
    ]
    assert facts(lab, "sqlfail")["Services"]["WsusService"] == {"State": "Running", "StartMode": "Auto"}


# -- the other faults' evidence -------------------------------------------------------------------


def test_language_changed_on_parent(lab):
    parent = facts(lab, "parent")
    child = facts(lab, "child")
    assert parent["UpdateServerStatus"]["ApprovedUpdateCount"] == 40
    assert child["UpdateServerStatus"]["ApprovedUpdateCount"] == 34
    assert len(parent["EnabledUpdateLanguages"]) == 2
    assert child["LastSynchronizationInfo"]["Result"] == "Succeeded"
    assert lab.handlers.servers["parent"].get("InactiveApprovalCount") == 6
    assert synchronize(lab, "child")["Result"] == "Succeeded"
    assert facts(lab, "child")["UpdateServerStatus"]["ApprovedUpdateCount"] == 34


def test_catalog_sync_failed(lab):
    f = facts(lab, "catalog")
    assert sorted(e["Id"] for e in f["Events"]) == [10021, 10022]
    assert f["LastSynchronizationInfo"]["Result"] == "Failed"
    assert all(h["Result"] != "Succeeded" for h in f["SynchronizationHistory"])
    record = synchronize(lab, "catalog")
    assert (record["Result"], record["Error"]) == ("Failed", "UssInternalError")


def test_legacy_wsus2(lab):
    f = facts(lab, "legacy")
    assert (f["Version"], f["ServerProtocolVersion"], f["PortNumber"]) == ("2.0.0.2472", "1.0", 80)
    record = synchronize(lab, "legacy")
    assert record["Error"] == "UssCommunicationError" and "timed out" in record["ErrorText"]


def test_proxy_credentials_expired(lab):
    f = facts(lab, "proxy")
    assert f["UseProxy"] and f["ProxyName"] and f["ProxyUserName"] and f["HasProxyPassword"]
    assert f["AnonymousProxyAccess"] is False
    assert f["LastSynchronizationInfo"]["Error"] == "ProxyError"
    assert "(407) Proxy Authentication Required" in f["LastSynchronizationInfo"]["ErrorText"]


def test_storage_mismatch(lab):
    f, root = facts(lab, "mismatch"), facts(lab, "wsus-root")
    assert f["HostBinariesOnMicrosoftUpdate"] != root["HostBinariesOnMicrosoftUpdate"]
    assert f["AllUpdateLanguagesEnabled"] is True


@pytest.mark.parametrize(("host", "on_upstream"), [("missing-t", True), ("missing-f", False)])
def test_updates_missing_upstream(lab, host, on_upstream):
    failed = invoke(lab, host, "get_failed_updates", MaxUpdates=10, LookbackDays=30)
    assert failed["FailedUpdateCount"] == 5 and len(failed["FailedUpdates"]) == 5
    # The lab's default reading of Guid.Empty names no event: the approved updates named them.
    assert failed["UpdatesWithServerErrorsCount"] == 5 and failed["SearchedApprovedUpdates"] is True
    assert {u["ListedBy"] for u in failed["FailedUpdates"]} == {"approved-updates"}
    assert facts(lab, host)["UpdateServerStatus"]["UpdatesWithServerErrorsCount"] == 5
    ids = [u["UpdateId"] for u in failed["FailedUpdates"]]
    found = invoke(lab, "wsus-root", "find_updates", UpdateIds=[i.upper() for i in ids])["Found"]
    if on_upstream:
        assert sorted(u["UpdateId"] for u in found) == sorted(ids)
        assert all(set(u) == {"UpdateId", "Title", "State", "IsDeclined"} for u in found)
    else:
        assert found == []


def test_scm_events_stay_out_of_the_wsus_event_facts(lab):
    foreground(lab, "range-old")  # restarts WsusService: SCM logs 7036 (run alone or after the fix test)
    assert lab.handlers.servers["range-old"].db.events([7036], "", 10, provider=SCM_PROVIDER)
    assert all(e["Id"] != 7036 for e in facts(lab, "range-old")["Events"])
