"""computer_groups over the lab: what a replica allows (group membership) and what it refuses."""

from __future__ import annotations

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.errors import RemoteError, UsageError
from wsusauto.operations import OperationRefused, run_operation
from wsusauto.operations.computer_groups import refuse_on_replica
from wsusauto.state.facts import gather_facts

GROUPS = {
    "Servers": ["srv1.corp.example"],
    "Desktops": ["pc8.corp.example", "pc9.corp.example"],
    "All Computers": ["srv1.corp.example", "pc7.corp.example"],
}


@pytest.fixture(scope="module")
def lab(make_module_lab):
    return make_module_lab(
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


def test_replica_moves_computers_between_inherited_groups(lab):
    move = {"group": "Servers", "computers": ["PC8.corp.example"], "from_group": "desktops"}
    with _session(lab, "wsus-rep") as session:
        planned = run_operation(session, "computer_groups", move, check=True)
        untouched = gather_facts(session).computer_target_groups
        moved = run_operation(session, "computer_groups", move)
        again = run_operation(session, "computer_groups", move)
        groups = gather_facts(session).computer_target_groups
    assert planned.changed and planned.check_mode
    assert "pc8.corp.example" in untouched["Desktops"]  # --check changed nothing
    assert moved.changed and not again.changed
    assert planned.diff == moved.diff
    assert moved.diff["after"]["ComputerTargetGroups[Desktops]"] == ("pc9.corp.example",)
    assert "pc8.corp.example" in moved.diff["after"]["ComputerTargetGroups[Servers]"]
    assert "pc8.corp.example" in groups["Servers"] and "pc8.corp.example" not in groups["Desktops"]


def test_replica_removes_computers_from_a_group_idempotently(lab):
    leave = {"group": "Desktops", "computers": ["pc9.corp.example"], "state": "absent"}
    with _session(lab, "wsus-rep") as session:
        planned = run_operation(session, "computer_groups", leave, check=True)
        assert "pc9.corp.example" in gather_facts(session).computer_target_groups["Desktops"]
        removed = run_operation(session, "computer_groups", leave)
        again = run_operation(session, "computer_groups", leave)
        groups = gather_facts(session).computer_target_groups
    assert planned.changed and removed.changed and not again.changed
    assert removed.diff == {
        "before": {"ComputerTargetGroups[Desktops]": ("pc9.corp.example",)},
        "after": {"ComputerTargetGroups[Desktops]": ()},
    }
    assert groups["Desktops"] == ()
    assert "pc9.corp.example" in groups["Unassigned Computers"]  # no group left: WSUS unassigns it


def test_moving_out_of_a_group_that_does_not_exist_changes_nothing(lab):
    with _session(lab, "wsus-rep") as session:
        before = gather_facts(session).computer_target_groups
        with pytest.raises(OperationRefused, match="'Laptops' does not exist"):
            run_operation(
                session,
                "computer_groups",
                {"group": "Servers", "computers": ["pc7.corp.example"], "from_group": "Laptops"},
            )
        assert gather_facts(session).computer_target_groups == before


@pytest.mark.parametrize(
    "args, message",
    [
        ({"group": "Servers", "computers": ["a"], "state": "absent", "from_group": "X"}, "takes no"),
        ({"group": "Servers", "computers": ["a"], "from_group": "servers"}, "nothing would move"),
        ({"group": "Servers", "computers": ["a"], "state": "gone"}, "must be one of"),
    ],
)
def test_bad_membership_arguments_are_one_clear_error(lab, args, message):
    with _session(lab, "wsus-root") as session, pytest.raises(UsageError, match=message):
        run_operation(session, "computer_groups", args)


@pytest.mark.parametrize(
    "args",
    [
        {"group": "Servers", "computers": ["pc7.corp.example"], "from_group": "All Computers"},
        {"group": "unassigned computers", "computers": ["pc7.corp.example"], "state": "absent"},
    ],
)
def test_the_groups_wsus_manages_are_refused_by_their_id(lab, args):
    # Known by id on the server (their names are localized), so refused when planning, not in the file.
    with _session(lab, "wsus-root") as session, pytest.raises(OperationRefused, match="WSUS manages"):
        run_operation(session, "computer_groups", args)


def test_the_lab_refuses_to_empty_a_group_wsus_manages(lab):
    # The snippet itself, past the operation's own check: the server keeps All Computers.
    with _session(lab, "wsus-root") as session:
        with pytest.raises(RemoteError, match="managed by WSUS"):
            session.invoke(
                "set_computer_group_membership",
                GroupName="",
                ComputerNames=[],
                CreateGroup=False,
                RemoveFromGroupName="All Computers",
                RemoveComputerNames=["pc7.corp.example"],
            )
        assert "pc7.corp.example" in gather_facts(session).computer_target_groups["All Computers"]
