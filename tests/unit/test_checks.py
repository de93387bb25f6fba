"""The troubleshooting checks are pure: evidence in, findings out. A healthy fleet has no finding;
each broken piece of evidence makes exactly its own check fire."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.test_facts_parsing import sample
from wsusauto.checks import BY_ID, CHECKS, checks_explaining, run_checks
from wsusauto.checks.base import FailedUpdate, Fleet, HostEvidence, UpstreamCopy, UpstreamProbe
from wsusauto.diagnose import document, fixes_for
from wsusauto.state.facts import parse_facts

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)
OK_SYNC = {
    "Result": "Succeeded",
    "Error": "NotApplicable",
    "ErrorText": "",
    "StartTime": "2026-11-23T03:00:00Z",
    "EndTime": "2026-11-23T03:20:00Z",
    "StartedManually": False,
    "UpdateErrors": [],
}
HEALTHY_ACL = [
    {"IdentityReference": "NT AUTHORITY\\SYSTEM", "Sid": "S-1-5-18", "FileSystemRights": "FullControl"},
    {
        "IdentityReference": "NT AUTHORITY\\NETWORK SERVICE",
        "Sid": "S-1-5-20",
        "FileSystemRights": "FullControl",
    },
    {
        "IdentityReference": "BUILTIN\\Users",
        "Sid": "S-1-5-32-545",
        "FileSystemRights": "ReadAndExecute, Synchronize",
    },
]


def raw(name: str, upstream: str | None, *, replica: bool = False, **changes) -> dict:
    # The parsing tests' sample, made a healthy server: synced, services and ACL as installed.
    data = sample()
    data.update(
        {
            "Name": name,
            "SyncFromMicrosoftUpdate": upstream is None,
            "UpstreamWsusServerName": upstream or "",
            "UpstreamWsusServerPortNumber": 8530,
            "UpstreamWsusServerUseSsl": False,
            "IsReplicaServer": replica,
            "BitsDownloadPriorityForeground": False,
            "EnabledUpdateLanguages": ["en"],
            "SynchronizeAutomatically": False,
            "SynchronizeAutomaticallyTimeOfDay": "00:00:00",
            "NumberOfSynchronizationsPerDay": 1,
            "NextSynchronizationTime": None,
            "LastSynchronizationInfo": OK_SYNC,
            "SynchronizationHistory": [OK_SYNC],
            "UpdateServerStatus": {
                "UpdateCount": 240,
                "ApprovedUpdateCount": 40,
                "NotApprovedUpdateCount": 200,
                "DeclinedUpdateCount": 0,
                "UpdatesWithServerErrorsCount": 0,
                "UpdatesNeedingFilesCount": 0,
                "ComputerTargetCount": 0,
            },
            "ComputerTargetGroups": {"All Computers": [], "Unassigned Computers": []},
            "ComputerTargetGroupIds": {
                "All Computers": "a0a08746-4dbe-4a37-9adf-9e7652c0b421",
                "Unassigned Computers": "b73ca6ed-5727-47f3-84de-015e03f6a88a",
            },
            "Services": {
                "WsusService": {"State": "Running", "StartMode": "Auto"},
                "BITS": {"State": "Running", "StartMode": "Manual"},
            },
            "ContentDirAcl": [{**r, "AccessControlType": "Allow", "IsInherited": False} for r in HEALTHY_ACL],
            "Events": [],
        }
    )
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def probe(name: str = "wsus-root", **changes) -> UpstreamProbe:
    values = dict(
        name=name,
        port=8530,
        resolved=True,
        addresses=("127.0.10.1",),
        resolve_error="",
        port_tested=True,
        port_open=True,
        connect_error="",
    )
    values.update(changes)
    return UpstreamProbe(**values)


def evidence(name: str, upstream: str | None, replica: bool = False, **changes) -> HostEvidence:
    extra = {k: changes.pop(k) for k in list(changes) if k[0].islower()}
    facts = parse_facts(name, raw(name, upstream, replica=replica, **changes))
    extra.setdefault("upstream_probe", probe(upstream) if upstream else None)
    return HostEvidence(
        host=name,
        facts=facts,
        address={"wsus-root": "127.0.10.1", "wsus-eu": "127.0.10.2", "wsus-us": "127.0.10.3"}[name],
        intended_upstream=upstream,
        intended_replica=replica,
        **extra,
    )


def fleet(**overrides: HostEvidence) -> Fleet:
    hosts = {
        "wsus-root": evidence("wsus-root", None),
        "wsus-eu": evidence("wsus-eu", "wsus-root", replica=True),
        "wsus-us": evidence("wsus-us", "wsus-root", replica=True),
    }
    hosts.update(overrides)
    configured = {
        h: None if e.facts.sync_from_microsoft_update else e.facts.upstream_wsus_server_name.split(".")[0]
        for h, e in hosts.items()
    }
    return Fleet(hosts, {h: (u if u in hosts else None) for h, u in configured.items()})


def fired(findings: dict) -> dict[str, set[str]]:
    return {host: {f.check for f in found} for host, found in findings.items() if found}


def test_a_healthy_fleet_has_no_findings():
    assert fired(run_checks(fleet())) == {}


CASES = {
    "last-sync-error": (
        "wsus-eu",
        dict(
            LastSynchronizationInfo={
                **OK_SYNC,
                "Result": "Failed",
                "Error": "UssInternalError",
                "ErrorText": "x",
            }
        ),
    ),
    "proxy-settings": ("wsus-eu", dict(UseProxy=True, ProxyName="proxy.corp", AnonymousProxyAccess=False)),
    "upstream-port": ("wsus-eu", dict(upstream_probe=probe(port_open=False, connect_error="refused"))),
    "upstream-name": (
        "wsus-eu",
        dict(
            upstream_probe=probe(
                resolved=False, addresses=(), port_tested=False, resolve_error="No such host"
            )
        ),
    ),
    "content-permissions": ("wsus-us", dict(ContentDirAcl=[])),
    "updates-missing-upstream": (
        "wsus-eu",
        dict(
            failed_updates=(FailedUpdate("aaaa", "KB1"),),
            failed_update_count=1,
            upstream_copies={},
        ),
    ),
    "storage-option-consistency": (
        "wsus-eu",
        dict(HostBinariesOnMicrosoftUpdate=True, AllUpdateLanguagesEnabled=True),
    ),
    "bits-service": ("wsus-root", dict(Services={"BITS": {"State": "Stopped", "StartMode": "Disabled"}})),
    "range-protocol": (
        "wsus-root",
        dict(
            Events=[
                {
                    "Id": 364,
                    "TimeCreated": "2026-11-23T04:00:00Z",
                    "Message": "Content file download failed. Reason: The server does not support the "
                    "necessary HTTP protocol. Background Intelligent Transfer Service (BITS) requires that "
                    "the server support the Range protocol header.",
                }
            ],
            UpdateServerStatus={"UpdatesNeedingFilesCount": 12},
        ),
    ),
    "failed-downloads": (
        "wsus-root",
        dict(
            UpdateServerStatus={"UpdatesWithServerErrorsCount": 1},
            failed_updates=(FailedUpdate("aaaa", "KB1"),),
            failed_update_count=1,
        ),
    ),
    "approvals-mismatch": ("wsus-eu", dict(UpdateServerStatus={"ApprovedUpdateCount": 34})),
    "catalog-sync-events": (
        "wsus-root",
        dict(Events=[{"Id": 10021, "TimeCreated": "2026-11-23T05:00:00Z", "Message": "catalog sync failed"}]),
    ),
    "schedule-collisions": None,  # built below: two replicas at the same time
    "legacy-replica-timeout": ("wsus-us", dict(Version="2.0.0.2472")),
    "hierarchy-consistency": ("wsus-us", dict(SyncFromMicrosoftUpdate=True, UpstreamWsusServerName="")),
}


def broken(check: str) -> tuple[Fleet, str]:
    if check == "schedule-collisions":
        same = dict(SynchronizeAutomatically=True, SynchronizeAutomaticallyTimeOfDay="02:00:00")
        return (
            fleet(
                **{
                    "wsus-eu": evidence("wsus-eu", "wsus-root", True, **same),
                    "wsus-us": evidence("wsus-us", "wsus-root", True, **same),
                }
            ),
            "wsus-root",
        )
    host, changes = CASES[check]
    upstream = None if host == "wsus-root" else "wsus-root"
    replica = host != "wsus-root"
    if check == "hierarchy-consistency":
        # a replica flag left on while syncing from Microsoft Update (the inventory agrees on MU)
        changed = evidence(host, None, False, **changes)
        changed = dataclasses.replace(
            changed,
            facts=dataclasses.replace(changed.facts, is_replica_server=True),
            intended_replica=True,
        )
        return fleet(**{host: changed}), host
    return fleet(**{host: evidence(host, upstream, replica, **changes)}), host


def test_every_check_has_a_case():
    assert set(CASES) == {c.id for c in CHECKS}


@pytest.mark.parametrize("check", sorted(CASES))
def test_each_broken_piece_fires_its_own_check_and_no_other(check):
    broken_fleet, host = broken(check)
    findings = run_checks(broken_fleet)
    assert fired(findings) == {host: {check}}
    for finding in findings[host]:
        assert finding.remedy and finding.source and finding.evidence
        assert finding.fix == BY_ID[check].fix
        json.dumps(finding.to_dict())  # plain values only


def test_a_failed_sync_explained_by_another_finding_is_part_of_it():
    failed = {
        **OK_SYNC,
        "Result": "Failed",
        "Error": "ProxyError",
        "ErrorText": "(407) Proxy Authentication Required",
    }
    eu = evidence(
        "wsus-eu",
        "wsus-root",
        True,
        LastSynchronizationInfo=failed,
        UseProxy=True,
        ProxyName="proxy.corp",
        AnonymousProxyAccess=False,
        ProxyUserName="svc",
        HasProxyPassword=True,
    )
    findings = run_checks(fleet(**{"wsus-eu": eu}))["wsus-eu"]
    assert [f.check for f in findings] == ["proxy-settings"]
    assert findings[0].title == "the proxy rejected this server's credentials"
    assert findings[0].evidence["last_sync"]["error"] == "ProxyError"
    assert "proxy-settings" in checks_explaining("ProxyError")


def test_upstream_name_suggests_the_upstreams_ip_address():
    failed_probe = probe(
        "wsus-rot", resolved=False, addresses=(), port_tested=False, resolve_error="No such host"
    )
    eu = dataclasses.replace(
        evidence("wsus-eu", "wsus-root", True, UpstreamWsusServerName="wsus-rot"), upstream_probe=failed_probe
    )
    (finding,) = run_checks(fleet(**{"wsus-eu": eu}))["wsus-eu"]
    assert finding.check == "upstream-name"
    assert "127.0.10.1" in finding.remedy and finding.evidence["upstream_server_name"] == "wsus-root"


def test_updates_available_upstream_are_transient_and_missing_ones_are_errors():
    eu = evidence(
        "wsus-eu",
        "wsus-root",
        True,
        failed_updates=(FailedUpdate("aaaa", "KB1"), FailedUpdate("bbbb", "KB2")),
        failed_update_count=2,
        upstream_copies={"bbbb": UpstreamCopy("bbbb", "KB2", "Ready", False)},
    )
    findings = run_checks(fleet(**{"wsus-eu": eu}))["wsus-eu"]
    assert [(f.check, f.severity) for f in findings] == [
        ("updates-missing-upstream", "error"),
        ("updates-missing-upstream", "info"),
    ]
    assert findings[0].evidence["missing_on_upstream"] == [{"update_id": "aaaa", "title": "KB1"}]


@pytest.mark.parametrize("replica", [True, False])
def test_only_an_autonomous_server_is_told_to_cancel_and_decline_missing_updates(replica):
    eu = evidence(
        "wsus-eu",
        "wsus-root",
        replica,
        failed_updates=(FailedUpdate("aaaa", "KB1"),),
        failed_update_count=1,
        upstream_copies={},
    )
    (finding,) = run_checks(fleet(**{"wsus-eu": eu}))["wsus-eu"]
    assert finding.check == "updates-missing-upstream" and finding.fix is None  # never by --fix
    assert ("decline-missing-updates.yml" in finding.remedy) is not replica
    assert ("a replica cannot do" in finding.remedy) is replica


def test_range_event_is_history_once_files_arrived_or_foreground_is_set():
    fleet_, host = broken("range-protocol")
    evidence_ = fleet_.hosts[host]
    arrived = dataclasses.replace(
        evidence_,
        facts=dataclasses.replace(
            evidence_.facts,
            update_server_status=dataclasses.replace(
                evidence_.facts.update_server_status, updates_needing_files_count=0
            ),
        ),
    )
    foreground = dataclasses.replace(
        evidence_, facts=dataclasses.replace(evidence_.facts, bits_download_priority_foreground=True)
    )
    assert fired(run_checks(fleet(**{host: arrived}))) == {}
    assert fired(run_checks(fleet(**{host: foreground}))) == {}


def test_fixes_for_names_each_operation_once_with_its_checks():
    fleet_, host = broken("bits-service")
    findings = run_checks(fleet_)[host]
    assert fixes_for(findings + findings) == {"bits_service": ("bits-service",)}


def test_document_maps_hosts_to_findings():
    from wsusauto.diagnose import Diagnosis

    fleet_, host = broken("content-permissions")
    diagnosis = Diagnosis(
        evidence=dict(fleet_.hosts),
        findings=run_checks(fleet_),
        unreachable={"wsus-xx": "connection refused"},
        order=[*fleet_.hosts, "wsus-xx"],
    )
    doc = document(diagnosis)
    assert doc["wsus-root"] == [] and doc["wsus-eu"] == []
    assert [f["check"] for f in doc[host]] == ["content-permissions"]
    assert set(doc[host][0]) >= {"check", "severity", "evidence", "remedy"}
    assert doc["wsus-xx"][0]["check"] == "connection"
    assert diagnosis.exit_code == 4


_texts = st.text(max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    replica=st.booleans(),
    from_mu=st.booleans(),
    upstream_name=_texts,
    version=st.sampled_from(["2.0.0.2472", "3.2.7600.226", "10.0.17763.678", "garbage", ""]),
    approved=st.integers(0, 100),
    bits=st.sampled_from(["Running", "Stopped"]),
    bits_mode=st.sampled_from(["Manual", "Disabled", "Auto"]),
    result=st.sampled_from(["Succeeded", "Failed", "NeverRun", "Canceled"]),
    error=st.sampled_from(["NotApplicable", "ProxyError", "UssNotFound", "Unknown", "Weird"]),
    events=st.lists(st.sampled_from([364, 10021, 10022, 10012, 386]), max_size=4),
    acl_users=st.booleans(),
    on_mu=st.booleans(),
    resolved=st.booleans(),
    port_open=st.booleans(),
)
def test_checks_never_fail_and_findings_are_well_formed(
    replica,
    from_mu,
    upstream_name,
    version,
    approved,
    bits,
    bits_mode,
    result,
    error,
    events,
    acl_users,
    on_mu,
    resolved,
    port_open,
):
    acl = [r for r in HEALTHY_ACL if acl_users or r["Sid"] != "S-1-5-32-545"]
    data = raw(
        "wsus-eu",
        None if from_mu else upstream_name,
        replica=replica,
        Version=version,
        UpdateServerStatus={"ApprovedUpdateCount": approved, "UpdatesNeedingFilesCount": approved % 3},
        Services={"BITS": {"State": bits, "StartMode": bits_mode}},
        LastSynchronizationInfo={**OK_SYNC, "Result": result, "Error": error},
        Events=[
            {"Id": i, "TimeCreated": "2026-11-23T05:00:00Z", "Message": "Range protocol header"}
            for i in events
        ],
        ContentDirAcl=[{**r, "AccessControlType": "Allow", "IsInherited": False} for r in acl],
        HostBinariesOnMicrosoftUpdate=on_mu,
    )
    facts = parse_facts("wsus-eu", copy.deepcopy(data))
    eu = HostEvidence(
        "wsus-eu",
        facts,
        "127.0.10.2",
        intended_upstream="wsus-root",
        intended_replica=True,
        upstream_probe=None if from_mu else probe(upstream_name, resolved=resolved, port_open=port_open),
    )
    findings = run_checks(fleet(**{"wsus-eu": eu}))
    for found in findings.values():
        for finding in found:
            assert finding.check in BY_ID
            assert finding.severity in ("error", "warning", "info")
            json.dumps(finding.to_dict())
    # one problem, one finding: a failed sync is never reported beside a finding that explains it
    eu_checks = {f.check for f in findings["wsus-eu"]}
    if "last-sync-error" in eu_checks and result == "Failed":
        assert not any(error in BY_ID[c].explains for c in eu_checks)


def test_through_a_proxy_the_proxy_s_port_is_the_finding_and_the_upstream_name_needs_not_resolve():
    proxied = dict(
        through_proxy=True,
        proxy_name="proxy.corp",
        proxy_port=8080,
        proxy_resolved=True,
        proxy_addresses=("10.0.0.8",),
        resolved=False,  # the proxy resolves the upstream's name, not this server
        addresses=(),
        resolve_error="No such host is known",
    )
    answering = evidence("wsus-eu", "wsus-root", True, upstream_probe=probe(**proxied))
    assert fired(run_checks(fleet(**{"wsus-eu": answering}))) == {}
    closed = probe(**proxied, port_open=False, connect_error="refused")
    findings = run_checks(fleet(**{"wsus-eu": evidence("wsus-eu", "wsus-root", True, upstream_probe=closed)}))
    (finding,) = findings["wsus-eu"]
    assert finding.check == "upstream-port"
    assert finding.title == "this server goes through the proxy proxy.corp, whose port 8080 does not answer"
    unresolved = probe(**{**proxied, "proxy_resolved": False, "proxy_addresses": ()}, port_tested=False)
    findings = run_checks(
        fleet(**{"wsus-eu": evidence("wsus-eu", "wsus-root", True, upstream_probe=unresolved)})
    )
    assert [f.title for f in findings["wsus-eu"]] == [
        "this server goes through the proxy 'proxy.corp', whose name does not resolve here"
    ]
