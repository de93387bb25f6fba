"""A fleet as shops run it, end to end through the CLI, as `make demo` does: WSUS versions and
Windows languages mixed (a German Server 2016, a French Server 2012 R2, a WSUS 3.0 SP2 on Server 2008
R2 administered over SSL only), designated, synchronized as a tree, diagnosed, fixed (with the failed
downloads resumed) and reported. Every finding must be the one its fault causes, although the
accounts, groups, services and events these servers report are not in English.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lab_fixtures import inventory_file, lab_inventory, run_cli
from wsusauto.execution.fleet import collect_facts
from wsusauto.lab.topology import topology_from_dict

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
FAST_SYNC = ["-e", "sync_retry_interval=1s", "-e", "sync_poll_interval=0.2s", "-e", "sync_timeout=120s"]

# server -> (version, locale, the fault injected there, the finding it must cause)
FLEET = {
    "wsus-root": ("2022", "en-US", None, None),
    "wsus-de": ("2016", "de-DE", "content_acl_missing", "content-permissions"),
    "wsus-fr": ("2012r2", "fr-FR", "range_header_unsupported", "range-protocol"),
    "wsus-old": ("3.0-sp2", "en-US", "bits_disabled", "bits-service"),
}
PLATFORMS = {"wsus-root": "2022", "wsus-de": "2016", "wsus-fr": "2012", "wsus-old": "2008 R2"}


def mixed_topology():
    servers = []
    for name, (version, locale, fault, _) in FLEET.items():
        server: dict = {"name": name, "version": version, "locale": locale, "initial": {}}
        if name != "wsus-root":
            server.update(upstream="wsus-root", replica=name != "wsus-fr")  # wsus-fr is autonomous
        if name == "wsus-old":
            server["initial"]["UsingSSL"] = 1  # the API only over SSL (the setup key says so)
        if fault:
            server["faults"] = [fault]
        servers.append(server)
    return topology_from_dict({"servers": servers}, "<mixed fleet>")


@pytest.fixture(scope="module")
def fleet(make_module_lab):
    lab = make_module_lab(mixed_topology())
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=0.3)
    return lab, str(inventory_file(lab))


def findings(document: dict) -> dict[str, list[str]]:
    return {host: [f["check"] for f in found] for host, found in document.items()}


def test_designate_sync_diagnose_fix_and_report_a_mixed_fleet(fleet):
    lab, inventory = fleet
    servers = lab.handlers.servers

    assert {name: servers[name].locale for name in FLEET} == {n: spec[1] for n, spec in FLEET.items()}

    designate = run_cli("run", str(PLAYBOOKS / "designate-replicas.yml"), "-i", inventory, "--json")
    assert designate.returncode == 0, designate.stdout + designate.stderr
    for name in ("wsus-de", "wsus-fr", "wsus-old"):
        config = servers[name].config()
        assert config["UpstreamWsusServerName"] == "wsus-root" and not config["SyncFromMicrosoftUpdate"]
        assert config["IsReplicaServer"] is (name != "wsus-fr")
    again = run_cli("run", str(PLAYBOOKS / "designate-replicas.yml"), "-i", inventory, "--json")
    assert again.returncode == 0, again.stderr
    assert not any(t["changed"] for tasks in json.loads(again.stdout)["hosts"].values() for t in tasks)

    synced = run_cli("run", str(PLAYBOOKS / "sync-tree.yml"), "-i", inventory, "--json", *FAST_SYNC)
    assert synced.returncode == 2, synced.stdout + synced.stderr
    hosts = json.loads(synced.stdout)["hosts"]
    assert {name: tasks[0]["status"] for name, tasks in hosts.items()} == {
        "wsus-root": "changed",
        "wsus-de": "changed",
        "wsus-fr": "changed",
        "wsus-old": "failed",  # "If the BITS service was disabled ..., synchronization will fail"
    }
    assert "Explained by bits-service" in hosts["wsus-old"][0]["message"]
    assert len(hosts["wsus-old"][0]["attempts"]) == 3  # the documented policy: two retries

    diagnosed = run_cli("diagnose", "-i", inventory, "--json")
    assert diagnosed.returncode == 2, diagnosed.stdout + diagnosed.stderr
    document = json.loads(diagnosed.stdout)
    assert findings(document) == {name: [check] if check else [] for name, (*_, check) in FLEET.items()}
    (acl,) = document["wsus-de"]
    # Decided by SID: the German server's folder lacks NETWORK SERVICE and Users, whatever it calls them.
    assert set(acl["evidence"]["missing_read"]) == {"S-1-5-20", "S-1-5-32-545"}
    (range_finding,) = document["wsus-fr"]
    assert range_finding["evidence"]["event_id"] == 364 and range_finding["evidence"]["event_count"] > 0
    # The event text is French; its id decides.
    assert "Content file download failed" not in range_finding["evidence"]["message"]

    fixed = run_cli("diagnose", "-i", inventory, "--fix", "--poll-interval", "0.5s", "--json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    for host, found in json.loads(fixed.stdout).items():
        for finding in found:
            assert finding["fix_result"]["status"] == "changed", (host, finding)
            assert finding["resolved"] is True, (host, finding)

    resynced = run_cli("run", str(PLAYBOOKS / "sync-tree.yml"), "-i", inventory, "--json", *FAST_SYNC)
    assert resynced.returncode == 0, resynced.stdout + resynced.stderr

    clean = run_cli("diagnose", "-i", inventory, "--json")
    assert clean.returncode == 0, clean.stdout
    assert findings(json.loads(clean.stdout)) == {name: [] for name in FLEET}
    inventory_object = lab_inventory(lab)
    facts = {r.host: r.facts for r in collect_facts(inventory_object, inventory_object.select("all"))}
    for name in FLEET:  # the downloads that failed before the fixes were resumed and arrived
        status = facts[name].update_server_status
        assert status.updates_with_server_errors_count == 0 and status.updates_needing_files_count == 0
    assert facts["wsus-old"].ps_version.startswith("2.0")
    # The fix granted Read to the German server's accounts by SID; the server names them in German.
    granted = {r.sid: r.identity_reference for r in facts["wsus-de"].content_dir_acl}
    assert granted["S-1-5-20"] == "NT-AUTORITÄT\\NETZWERKDIENST"
    assert granted["S-1-5-32-545"] == "VORDEFINIERT\\Benutzer"

    report = run_cli("report", "-i", inventory, "--json", "--tz", "UTC")
    assert report.returncode == 0, report.stdout + report.stderr
    entries = json.loads(report.stdout)["hosts"]
    by_name = {e["name"]: e for e in entries} if isinstance(entries, list) else entries
    for name, fragment in PLATFORMS.items():
        assert fragment in by_name[name]["platform"]["os"], by_name[name]["platform"]
        assert by_name[name]["findings"] == []
