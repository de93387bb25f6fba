"""The approvals-mismatch finding carries what ``wsusutil listinactiveapprovals`` printed on the
parent (the tool from the setup key's TargetDir), asked through the real client; a parent without
the tool there is reported as such, and the finding stays."""

from __future__ import annotations

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.diagnose import diagnose_fleet
from wsusauto.errors import RemoteError
from wsusauto.lab.topology import topology_from_dict
from wsusauto.state.facts import SETUP_REGISTRY_PATH


def _fleet(root_initial: dict, replicas: int = 2, **root):
    """A parent and its replicas, designated as the inventory intends."""
    servers = [{"name": "wsus-root", "initial": root_initial, **root}]
    for i in range(1, replicas + 1):
        upstream = {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"}
        servers.append(
            {
                "name": f"wsus-{i:02d}",
                "upstream": "wsus-root",
                "replica": True,
                "initial": {**upstream, "IsReplicaServer": True},
            }
        )
    return topology_from_dict({"servers": servers}, "<approvals test topology>")


def _inactive_titles(server) -> list[str]:
    """The lab's own state: approved updates whose approval went inactive."""
    return [u["Title"] for u in server.updates() if u["IsApproved"] and not u["ApprovalActive"]]


def _mismatch(diagnosis, host):
    (finding,) = [f for f in diagnosis.findings[host] if f.check == "approvals-mismatch"]
    return finding


def test_the_finding_lists_the_parents_inactive_approvals(make_lab):
    topology = _fleet({"TargetDir": "D:\\WSUS"}, faults=["language_changed_on_parent"])
    lab = make_lab(topology)
    inventory = lab_inventory(lab)
    diagnosis = diagnose_fleet(inventory, inventory.select("all"))
    titles = _inactive_titles(lab.handlers.servers["wsus-root"])
    assert titles  # the fault made some
    for replica in ("wsus-01", "wsus-02"):
        evidence = _mismatch(diagnosis, replica).evidence
        assert evidence["inactive_approvals_on_parent"] == titles
        assert evidence["inactive_approvals_lines"] == len(titles)
        assert evidence["wsusutil"] == "D:\\WSUS\\Tools\\WsusUtil.exe"  # from TargetDir
        assert evidence["wsusutil_exit_code"] == 0
        assert "is in the evidence" in _mismatch(diagnosis, replica).remedy


def test_a_parent_without_wsusutil_at_its_target_dir_is_reported_and_the_finding_stays(make_lab):
    topology = _fleet({"LabWsusUtil": False}, replicas=1, faults=["language_changed_on_parent"])
    lab = make_lab(topology)
    inventory = lab_inventory(lab)
    diagnosis = diagnose_fleet(inventory, inventory.select("all"))
    with (
        Session("wsus-root", inventory.connection_options(inventory.hosts["wsus-root"])) as session,
        pytest.raises(RemoteError, match=r"WsusUtil\.exe is not at C:\\Program Files\\Update Services"),
    ):
        session.invoke("list_inactive_approvals", SetupRegistryPath=SETUP_REGISTRY_PATH)
    finding = _mismatch(diagnosis, "wsus-01")
    assert "inactive_approvals_on_parent" not in finding.evidence
    assert "WsusUtil.exe is not at" in finding.evidence["inactive_approvals_error"]
    assert (
        'with "%ProgramFiles%\\Update Services\\Tools\\WsusUtil.exe" listinactiveapprovals' in finding.remedy
    )


def test_matching_approvals_ask_nobody(make_lab):
    lab = make_lab(_fleet({}))
    inventory = lab_inventory(lab)
    diagnosis = diagnose_fleet(inventory, inventory.select("all"))
    assert sorted(diagnosis.evidence) == ["wsus-01", "wsus-02", "wsus-root"]  # every server answered
    assert all(e.inactive_approvals is None for e in diagnosis.evidence.values())
