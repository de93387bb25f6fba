"""wsusauto diagnose over the lab: the real pypsrp client, real WS-Management, real NTLM.

For each fault the lab can inject, diagnose reports that fault's check, with evidence, and no
other; a healthy fleet gets no finding; --fix repairs what has a documented fix and a second
diagnose is clean; --check changes nothing; the osql fix starts WsusService again when SQL fails.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.lab_fixtures import inventory_file, lab_inventory, run_cli
from wsusauto.client.session import Session
from wsusauto.diagnose import diagnose_fleet
from wsusauto.execution.fleet import collect_facts
from wsusauto.lab.topology import topology_from_dict
from wsusauto.state.facts import gather_facts

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


def designated(name: str, upstream: str) -> dict:
    """A downstream replica configured as the inventory intends (a healthy hierarchy)."""
    return {
        "name": name,
        "upstream": upstream,
        "replica": True,
        "initial": {
            "SyncFromMicrosoftUpdate": False,
            "UpstreamWsusServerName": upstream,
            "UpstreamWsusServerPortNumber": 8530,
            "IsReplicaServer": True,
        },
    }


def topology(
    faults: dict[str, list] | None = None,
    versions: dict[str, str] | None = None,
    tools: dict[str, list[str]] | None = None,
):
    servers = [{"name": "wsus-root"}, designated("wsus-01", "wsus-root"), designated("wsus-02", "wsus-root")]
    for server in servers:
        if faults and server["name"] in faults:
            server["faults"] = faults[server["name"]]
        if versions and server["name"] in versions:
            server["version"] = versions[server["name"]]
        if tools and server["name"] in tools:
            server["tools"] = tools[server["name"]]
    return topology_from_dict({"servers": servers}, "<diagnose test topology>")


def fired(diagnosis) -> dict[str, set[str]]:
    return {host: {f.check for f in found} for host, found in diagnosis.findings.items() if found}


def test_a_healthy_lab_fleet_has_no_findings(make_lab):
    lab = make_lab(topology())
    inventory = lab_inventory(lab)
    diagnosis = diagnose_fleet(inventory, inventory.select("all"), forks=4)
    assert not diagnosis.unreachable and not diagnosis.failed
    assert set(diagnosis.findings) == {"wsus-root", "wsus-01", "wsus-02"}
    assert fired(diagnosis) == {}
    assert diagnosis.exit_code == 0


# fault -> (server it is injected on, {host: expected checks})
FAULTS = {
    "bits_disabled": ("wsus-01", {"wsus-01": {"bits-service"}}),
    "content_acl_missing": ("wsus-01", {"wsus-01": {"content-permissions"}}),
    "range_header_unsupported": ("wsus-01", {"wsus-01": {"range-protocol"}}),
    "language_changed_on_parent": (
        "wsus-root",
        {"wsus-01": {"approvals-mismatch"}, "wsus-02": {"approvals-mismatch"}},
    ),
    "catalog_sync_failed": ("wsus-root", {"wsus-root": {"catalog-sync-events"}}),
    "legacy_wsus2": ("wsus-01", {"wsus-01": {"legacy-replica-timeout"}}),
    "upstream_down": ("wsus-root", {"wsus-01": {"upstream-port"}, "wsus-02": {"upstream-port"}}),
    "upstream_unresolvable": ("wsus-root", {"wsus-01": {"upstream-name"}, "wsus-02": {"upstream-name"}}),
    "proxy_credentials_expired": ("wsus-01", {"wsus-01": {"proxy-settings"}}),
    "proxy_down": ("wsus-01", {"wsus-01": {"upstream-port"}}),
    "storage_mismatch": ("wsus-01", {"wsus-01": {"storage-option-consistency"}}),
    "updates_missing_upstream": ("wsus-01", {"wsus-01": {"updates-missing-upstream"}}),
}
# arguments of a fault, where its default is not the case tested
FAULT_ARGUMENTS = {"updates_missing_upstream": {"on_upstream": False}}  # missing there, not transient


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_is_reported_by_its_check_with_evidence_and_no_other(make_lab, fault):
    server, expected = FAULTS[fault]
    spec = {"name": fault, **FAULT_ARGUMENTS.get(fault, {})}
    lab = make_lab(topology({server: [spec]}))
    inventory = lab_inventory(lab)
    diagnosis = diagnose_fleet(inventory, inventory.select("all"), forks=4)
    assert fired(diagnosis) == expected
    for host in expected:
        for finding in diagnosis.findings[host]:
            assert finding.evidence and finding.remedy and finding.source
            json.dumps(finding.to_dict())
    assert diagnosis.exit_code == 2


def test_updates_the_upstream_has_are_a_transient_note(make_lab):
    faults = {"wsus-01": [{"name": "updates_missing_upstream", "on_upstream": True}]}
    lab = make_lab(topology(faults))
    inventory = lab_inventory(lab)
    diagnosis = diagnose_fleet(inventory, inventory.select("all"), forks=4)
    assert fired(diagnosis) == {"wsus-01": {"updates-missing-upstream"}}
    (finding,) = diagnosis.findings["wsus-01"]
    assert finding.severity == "info" and finding.evidence["available_on_upstream"]
    assert diagnosis.exit_code == 0  # a note, not a failure


def test_the_failed_sync_explained_by_the_proxy_is_in_the_proxy_finding(make_lab):
    lab = make_lab(topology({"wsus-01": ["proxy_credentials_expired"]}))
    inventory = lab_inventory(lab)
    diagnosis = diagnose_fleet(inventory, inventory.select("wsus-01"), forks=1)
    (finding,) = [f for f in diagnosis.findings["wsus-01"] if f.title.startswith("the proxy rejected")]
    assert finding.evidence["last_sync"]["error"] == "ProxyError"
    assert "407" in finding.evidence["last_sync"]["error_text"]


def test_an_unexplained_failed_sync_is_last_sync_error(make_lab):
    faults = {"wsus-01": [{"name": "transient_sync_failure", "attempts": 1}]}
    lab = make_lab(topology(faults), time_scale=FASTER)
    inventory = lab_inventory(lab)
    result = _sync_wsus_01(lab)
    diagnosis = diagnose_fleet(inventory, inventory.select("all"), forks=4)
    assert result.returncode == 0, result.stderr  # the retry recovered; the failed attempt is history
    assert fired(diagnosis) == {}
    # A sync whose last attempt failed (the fault outlasts the retries) is last-sync-error alone.
    faults = {"wsus-01": [{"name": "transient_sync_failure", "attempts": 5}]}
    lab = make_lab(topology(faults), time_scale=FASTER)
    inventory = lab_inventory(lab)
    result = _sync_wsus_01(lab, "--json")
    diagnosis = diagnose_fleet(inventory, inventory.select("all"), forks=4)
    assert result.returncode == 2
    task = json.loads(result.stdout)["hosts"]["wsus-01"][-1]
    # no check explains it: the message names the checks that could, not an explanation
    assert "wsusauto diagnose runs" in task["message"] and "Explained by" not in task["message"]
    assert fired(diagnosis) == {"wsus-01": {"last-sync-error"}}
    (finding,) = diagnosis.findings["wsus-01"]
    assert finding.evidence["error"] == "UssNotFound" and finding.severity == "error"


# The lab's clock 10x for the tests that synchronize: each sync still starts a moment after
# StartSynchronization() and runs its course, but three attempts no longer wait out seconds each.
FASTER = 10


def _sync_wsus_01(lab, *options: str):
    """playbooks/sync.yml on wsus-01 with lab-short retry and poll intervals, as a user runs it."""
    return run_cli(
        "run",
        str(PLAYBOOKS / "sync.yml"),
        "-i",
        str(inventory_file(lab)),
        "--limit",
        "wsus-01",
        "-e",
        "sync_retry_interval=1s",
        "-e",
        "sync_poll_interval=1s",
        *options,
    )


def _all_facts(inventory) -> dict:
    """Every server's state, minus what moves by itself (times)."""
    result = {}
    for item in collect_facts(inventory, inventory.select("all"), forks=4):
        facts = item.facts
        result[item.host] = (
            facts.services,
            facts.content_dir_acl,
            facts.bits_download_priority_foreground,
            facts.update_server_status,
            facts.last_synchronization_info,
        )
    return result


def test_fix_repairs_what_has_a_documented_fix_and_check_mode_changes_nothing(make_lab):
    faults = {
        "wsus-root": ["range_header_unsupported"],  # Server 2019: the API has the setting
        "wsus-01": ["bits_disabled"],
        "wsus-02": ["content_acl_missing"],
    }
    lab = make_lab(topology(faults))
    inventory = lab_inventory(lab)
    path = str(inventory_file(lab))
    before = _all_facts(inventory)

    checked = run_cli("diagnose", "-i", path, "--fix", "--check", "--json")
    assert checked.returncode == 2, checked.stderr
    document = json.loads(checked.stdout)
    assert {h: [f["check"] for f in found] for h, found in document.items()} == {
        "wsus-root": ["range-protocol"],
        "wsus-01": ["bits-service"],
        "wsus-02": ["content-permissions"],
    }
    assert all(f["fix_result"]["status"] == "would change" for found in document.values() for f in found)
    assert _all_facts(inventory) == before  # check mode changed nothing

    fixed = run_cli("diagnose", "-i", path, "--fix", "--poll-interval", "1s", "--json")
    document = json.loads(fixed.stdout)
    for found in document.values():
        for finding in found:
            assert finding["fix_result"]["status"] == "changed", finding
            assert finding["resolved"] is True, finding
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr

    again = run_cli("diagnose", "-i", path, "--json")
    assert again.returncode == 0, again.stdout
    assert json.loads(again.stdout) == {"wsus-root": [], "wsus-01": [], "wsus-02": []}
    facts = {r.host: r.facts for r in collect_facts(inventory, inventory.select("all"))}
    assert facts["wsus-root"].bits_download_priority_foreground is None  # not in the API: SUSDB has it
    with _susdb(lab, "wsus-root") as db:
        assert db.execute("SELECT BitsDownloadPriorityForeground FROM tbConfigurationC").fetchone() == (1,)
    for host in ("wsus-root", "wsus-01", "wsus-02"):  # the downloads that failed were resumed and arrived
        status = facts[host].update_server_status
        assert status.updates_with_server_errors_count == 0 and status.updates_needing_files_count == 0
    assert facts["wsus-01"].services["BITS"].state == "Running"
    assert facts["wsus-01"].services["BITS"].start_mode == "Manual"


def _susdb(lab, server: str) -> sqlite3.Connection:
    return sqlite3.connect(lab.state_dir / server / "SUSDB.sqlite")


@pytest.mark.parametrize(
    ("version", "tools", "tool"),
    [("3.0-sp2", ["osql"], "osql"), ("2012r2", ["sqlcmd"], "sqlcmd"), ("2016", [], "sqlclient")],
)
def test_the_documented_sql_fix_changes_the_row_in_susdb(make_lab, version, tools, tool):
    faults = {"wsus-01": ["range_header_unsupported"]}
    lab = make_lab(topology(faults, {"wsus-01": version}, {"wsus-01": tools}))
    inventory = lab_inventory(lab)
    diagnosis = diagnose_fleet(inventory, inventory.select("all"), forks=4)
    assert fired(diagnosis) == {"wsus-01": {"range-protocol"}}
    assert diagnosis.findings["wsus-01"][0].evidence["bits_download_priority_foreground"] is None
    path = str(inventory_file(lab))
    first = run_cli(
        "run",
        str(PLAYBOOKS / "fix-range-header.yml"),
        "-i",
        path,
        "--limit",
        "wsus-01",
        "-e",
        "sync_poll_interval=1s",
        "--json",
    )
    assert first.returncode == 0, first.stdout + first.stderr
    (task,) = json.loads(first.stdout)["hosts"]["wsus-01"]
    # The fix resumes the downloads that failed while the proxy refused the Range header.
    assert task["changed"] and task["diff"]["after"] == {
        "BitsDownloadPriorityForeground": True,
        "UpdatesWithServerErrorsCount": 0,
    }
    assert task["diff"]["before"]["UpdatesWithServerErrorsCount"] == 12
    with _susdb(lab, "wsus-01") as db:
        assert db.execute("SELECT BitsDownloadPriorityForeground FROM tbConfigurationC").fetchone() == (1,)
    second = run_cli(
        "run", str(PLAYBOOKS / "fix-range-header.yml"), "-i", path, "--limit", "wsus-01", "--json"
    )
    (task,) = json.loads(second.stdout)["hosts"]["wsus-01"]
    assert second.returncode == 0 and not task["changed"] and tool in task["message"]
    assert fired(diagnose_fleet(inventory, inventory.select("all"), forks=4)) == {}


def test_the_osql_fix_starts_wsusservice_again_when_the_sql_step_fails(make_lab):
    faults = {"wsus-01": ["range_header_unsupported", "sql_update_fails"]}
    lab = make_lab(topology(faults, {"wsus-01": "3.0-sp2"}, {"wsus-01": ["osql"]}))
    inventory = lab_inventory(lab)
    path = str(inventory_file(lab))
    result = run_cli(
        "run", str(PLAYBOOKS / "fix-range-header.yml"), "-i", path, "--limit", "wsus-01", "--json"
    )
    assert result.returncode == 2
    (task,) = json.loads(result.stdout)["hosts"]["wsus-01"]
    assert task["status"] == "failed" and "osql failed" in task["message"]
    assert "started again" in task["message"]
    with Session("wsus-01", inventory.connection_options(inventory.hosts["wsus-01"])) as session:
        facts = gather_facts(session)
    assert facts.services["WsusService"].state == "Running"
    with _susdb(lab, "wsus-01") as db:
        assert db.execute("SELECT BitsDownloadPriorityForeground FROM tbConfigurationC").fetchone() == (0,)
        transitions = [
            message
            for (message,) in db.execute(
                "SELECT message FROM tbEventInstance WHERE provider = 'Service Control Manager' ORDER BY id"
            )
        ]
    wsus = [t for t in transitions if "Update" in t]
    assert len(wsus) >= 2 and "stopped" in wsus[-2] and "running" in wsus[-1]


def test_diagnose_playbook_reports_findings_per_host(make_lab):
    lab = make_lab(topology({"wsus-02": ["bits_disabled"]}))
    path = str(inventory_file(lab))
    result = run_cli("run", str(PLAYBOOKS / "diagnose.yml"), "-i", path, "--json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["recap"]["wsus-02"]["failed"] == 1 and document["recap"]["wsus-01"]["failed"] == 0
    (task,) = document["hosts"]["wsus-02"]
    assert [f["check"] for f in task["findings"]] == ["bits-service"]
    assert document["hosts"]["wsus-root"][0]["findings"] == []


def test_a_failed_synchronization_names_the_check_that_explains_it(make_lab):
    lab = make_lab(topology({"wsus-root": ["upstream_down"]}), time_scale=FASTER)
    result = _sync_wsus_01(lab, "--json")
    assert result.returncode == 2, result.stderr
    (task,) = json.loads(result.stdout)["hosts"]["wsus-01"]
    assert len(task["attempts"]) == 3  # the documented policy: the failure is transient
    assert (
        "Explained by upstream-port: port 8530 of the upstream wsus-root does not answer" in task["message"]
    )
