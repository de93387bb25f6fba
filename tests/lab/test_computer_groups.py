"""computer_groups over the lab: what a replica allows (group membership) and what it refuses."""

from __future__ import annotations

import pytest

from tests.lab_fixtures import lab_inventory, running_lab
from wsusauto.facts import gather_facts
from wsusauto.lab.topology import topology_from_dict
from wsusauto.operations import OperationRefused, run_operation
from wsusauto.operations.computer_groups import refuse_on_replica
from wsusauto.session import Session

GROUPS = {"Servers": ["srv1.corp.example"], "All Computers": ["srv1.corp.example", "pc7.corp.example"]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    topology = topology_from_dict(
        {
            "servers": [
                {"name": "wsus-root", "initial": {"ComputerTargetGroups": GROUPS}},
                {
                    "name": "wsus-rep",
                    "upstream": "wsus-root",
                    "replica": True,
                    "initial": {
                        "SyncFromMicrosoftUpdate": False,
                        "UpstreamWsusServerName": "wsus-root",
                        "IsReplicaServer": True,
                        "ComputerTargetGroups": GROUPS,
                    },
                },
            ]
        }
    )
    with running_lab(tmp_path_factory.mktemp("groups"), topology) as lab:
        yield lab


def _session(lab, name):
    inventory = lab_inventory(lab)
    return Session(name, inventory.connection_options(inventory.hosts[name]))


def test_replica_assigns_computers_to_an_inherited_group_idempotently(lab):
    with _session(lab, "wsus-rep") as session:
        first = run_operation(
            session, "computer_groups", {"group": "Servers", "computers": ["PC7.corp.example"]}
        )
        again = run_operation(
            session, "computer_groups", {"group": "Servers", "computers": ["pc7.corp.example"]}
        )
        facts = gather_facts(session)
    assert first.changed and not again.changed
    assert set(facts.computer_target_groups["Servers"]) == {"srv1.corp.example", "pc7.corp.example"}
    assert "pc7.corp.example" not in facts.computer_target_groups["Unassigned Computers"]


def test_replica_cannot_create_a_group(lab):
    with (
        _session(lab, "wsus-rep") as session,
        pytest.raises(OperationRefused, match="create the group 'Kiosks' there"),
    ):
        run_operation(
            session, "computer_groups", {"group": "Kiosks", "computers": ["pc7.corp.example"], "create": True}
        )


def test_unknown_computer_is_refused(lab):
    with _session(lab, "wsus-root") as session, pytest.raises(OperationRefused, match="never reported"):
        run_operation(session, "computer_groups", {"group": "Servers", "computers": ["ghost.corp.example"]})


def test_upstream_creates_a_group_when_asked(lab):
    with _session(lab, "wsus-root") as session:
        result = run_operation(
            session, "computer_groups", {"group": "Kiosks", "computers": ["pc7.corp.example"], "create": True}
        )
        assert result.changed and result.diff["after"] == {
            "ComputerTargetGroups[Kiosks]": ("pc7.corp.example",)
        }
        assert gather_facts(session).computer_target_groups["Kiosks"] == ("pc7.corp.example",)


def test_approvals_and_products_are_refused_on_a_replica_with_the_reason(lab):
    with _session(lab, "wsus-rep") as session:
        facts = gather_facts(session)
    with pytest.raises(OperationRefused, match="on the parent server") as info:
        refuse_on_replica(facts, "approve")
    assert "wsus-root" in str(info.value)
    with _session(lab, "wsus-root") as session:
        refuse_on_replica(gather_facts(session), "approve")  # an upstream server may approve
