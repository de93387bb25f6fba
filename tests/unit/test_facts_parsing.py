"""Facts parsing is strict: the shape get_facts promises, or a FactsError naming the key."""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path

import pytest

from wsusauto.errors import FactsError
from wsusauto.state.facts import parse_facts

SNIPPET = Path(__file__).resolve().parents[2] / "ps_snippets" / "get_facts.ps1"


def sample() -> dict:
    sync = {
        "Result": "Failed",
        "Error": "UssNotFound",
        "ErrorText": "upstream not found",
        "StartTime": "2026-11-22T03:00:05Z",
        "EndTime": "2026-11-22T03:02:10Z",
        "StartedManually": False,
        "UpdateErrors": [
            {
                "UpdateId": "B1C2D3E4-0000-4000-8000-000000000001",
                "RevisionNumber": 203,
                "Error": "DependencyNotFound",
                "ErrorText": "dep",
            }
        ],
    }
    return {
        "Name": "wsus-eu",
        "PortNumber": 8530,
        "Version": "10.0.17763.678",
        "ServerProtocolVersion": "1.20",
        "SyncFromMicrosoftUpdate": False,
        "UpstreamWsusServerName": "wsus-root",
        "UpstreamWsusServerPortNumber": 8531,
        "UpstreamWsusServerUseSsl": True,
        "IsReplicaServer": True,
        "UseProxy": False,
        "ProxyName": "",
        "ProxyServerPort": 80,
        "UseSeparateProxyForSsl": False,
        "SslProxyName": "",
        "SslProxyServerPort": 443,
        "AnonymousProxyAccess": True,
        "ProxyUserName": "",
        "ProxyUserDomain": "",
        "HasProxyPassword": False,
        "AllowProxyCredentialsOverNonSsl": False,
        "HostBinariesOnMicrosoftUpdate": False,
        "DownloadUpdateBinariesAsNeeded": True,
        "GetContentFromMU": False,
        "BitsDownloadPriorityForeground": None,
        "AllUpdateLanguagesEnabled": False,
        "EnabledUpdateLanguages": ["en", "de"],
        "UpdateServerConfigurationState": "Ready",
        "SynchronizeAutomatically": True,
        "SynchronizeAutomaticallyTimeOfDay": "03:00:00",
        "NumberOfSynchronizationsPerDay": 4,
        "NextSynchronizationTime": "2026-11-23T09:00:00Z",
        "SynchronizationStatus": "NotProcessing",
        "SynchronizationProgress": {"TotalItems": 0, "ProcessedItems": 0, "Phase": "NotProcessing"},
        "LastSynchronizationInfo": sync,
        "SynchronizationHistory": [sync, sync],
        "UpdateServerStatus": {
            "UpdateCount": 10,
            "ApprovedUpdateCount": 4,
            "NotApprovedUpdateCount": 5,
            "DeclinedUpdateCount": 1,
            "UpdatesWithServerErrorsCount": 0,
            "UpdatesNeedingFilesCount": 2,
            "ComputerTargetCount": 30,
        },
        "ComputerTargetGroups": {
            "All Computers": ["pc1.corp", "pc2.corp"],
            "Servers": ["pc1.corp"],
            "Unassigned Computers": "pc2.corp",
        },
        "ComputerTargetGroupIds": {
            "All Computers": "A0A08746-4DBE-4A37-9ADF-9E7652C0B421",
            "Servers": "6f3e2b1a-0c4d-4e5f-8a9b-1c2d3e4f5a6b",
            "Unassigned Computers": "b73ca6ed-5727-47f3-84de-015e03f6a88a",
        },
        "Services": {
            "WsusService": {"State": "Running", "StartMode": "Auto"},
            "BITS": {"State": "Stopped", "StartMode": "Disabled"},
        },
        "ContentDir": "C:\\WSUS",
        "ContentDirAcl": [
            {
                "IdentityReference": "NT AUTHORITY\\NETWORK SERVICE",
                "Sid": "S-1-5-20",
                "FileSystemRights": "FullControl",
                "AccessControlType": "Allow",
                "IsInherited": False,
            }
        ],
        "SqlServerName": "MICROSOFT##WID",
        "DatabaseServerName": "MICROSOFT##WID",
        "DatabaseName": "SUSDB",
        "IsUsingWindowsInternalDatabase": True,
        "PSVersion": "5.1.17763.1",
        "OSCaption": "Microsoft Windows Server 2019 Standard",
        "OSVersion": "10.0.17763",
        "Events": [
            {"Id": 364, "TimeCreated": "2026-11-22T04:00:00Z", "Message": "Content file download failed."}
        ],
    }


def test_sample_has_exactly_the_snippets_keys():
    # The snippet's final hashtable literal is the contract; keep this sample in step with it.
    text = SNIPPET.read_text(encoding="utf-8")
    final = text[text.rindex("\n@{") :]
    top_level = set(re.findall(r"^    ([A-Za-z]+)\s+=", final, re.MULTILINE))
    assert top_level == set(sample())


def test_parses_every_field():
    facts = parse_facts("eu", sample())
    assert facts.update_source == "wsus-root:8531 (SSL)"
    assert facts.is_replica_server and facts.stores_updates_locally
    assert facts.synchronize_automatically_time_of_day == dt.time(3, 0)
    assert facts.next_synchronization_time == dt.datetime(2026, 11, 23, 9, tzinfo=dt.timezone.utc)
    assert facts.last_synchronization_info.duration == dt.timedelta(minutes=2, seconds=5)
    (error,) = facts.last_synchronization_info.update_errors
    assert error.error == "DependencyNotFound"
    assert (error.update_id, error.revision_number) == ("b1c2d3e4-0000-4000-8000-000000000001", 203)
    assert facts.services["BITS"].start_mode == "Disabled"
    assert facts.events[0].id == 364
    assert len(facts.synchronization_history) == 2
    assert facts.enabled_update_languages == ("en", "de")
    assert (facts.ps_version, facts.os_version, facts.database_kind) == ("5.1.17763.1", "10.0.17763", "WID")


def test_powershell_empty_arrays_and_unrolled_single_items():
    raw = sample()
    raw["EnabledUpdateLanguages"] = None
    raw["Events"] = ""
    raw["ContentDirAcl"] = raw["ContentDirAcl"][0]  # one-element array unrolled to the element
    raw["LastSynchronizationInfo"] = None
    facts = parse_facts("eu", raw)
    assert facts.enabled_update_languages == () and facts.events == ()
    assert len(facts.content_dir_acl) == 1
    assert facts.last_synchronization_info is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("IsReplicaServer"), "missing IsReplicaServer"),
        (lambda r: r.update(PortNumber="8530"), "PortNumber is '8530', expected an integer"),
        (lambda r: r.update(IsReplicaServer=1), "IsReplicaServer is 1, expected true or false"),
        (lambda r: r.update(SynchronizeAutomaticallyTimeOfDay="3am"), "expected a time of day"),
        (lambda r: r["UpdateServerStatus"].pop("UpdateCount"), "missing UpdateServerStatus.UpdateCount"),
        (lambda r: r["Events"][0].update(TimeCreated="yesterday"), r"Events\[0\].TimeCreated"),
        (
            # [string] of an UpdateRevisionId is its class name: refused, not taken for an id
            lambda r: r["LastSynchronizationInfo"]["UpdateErrors"][0].update(
                UpdateId="Microsoft.UpdateServices.Administration.UpdateRevisionId"
            ),
            r"UpdateErrors\[0\].UpdateId is 'Microsoft.UpdateServices.Administration.UpdateRevisionId', "
            "expected a Guid",
        ),
    ],
)
def test_wrong_shapes_name_the_key(mutate, message):
    raw = copy.deepcopy(sample())
    mutate(raw)
    with pytest.raises(FactsError, match=message) as info:
        parse_facts("wsus-eu", raw)
    assert info.value.host == "wsus-eu"


def test_not_a_hashtable():
    with pytest.raises(FactsError, match="expected a hashtable"):
        parse_facts("h", "oops")
