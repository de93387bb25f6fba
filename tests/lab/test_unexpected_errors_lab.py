"""A bug on one host fails that host's task and says so; the host is not called unreachable.

A programming error raised while talking to a server (here the WinRM client is handed a parameter
value it cannot serialize, as pypsrp once was handed an ansible-core tagged value) says nothing about
the host: it fails the task with "unexpected error" and the error's type, the run's other hosts
finish, and the exit code is 2 (a failed host), not 4 (unreachable).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.lab_fixtures import lab_inventory, small_topology
from wsusauto.config.playbook import playbook_from_data
from wsusauto.execution.runner import Runner
from wsusauto.operations import OPERATIONS, ChangePlan, Operation, OperationResult
from wsusauto.operations.base import Argument
from wsusauto.operations.context import DETACHED, HostContext
from wsusauto.state.facts import Facts


class Unserializable:
    """A value no PowerShell serializer knows."""


class HandsTheClientABadValue(Operation):
    """Calls a read-only snippet with a parameter value the client cannot serialize (a test
    operation, not shipped): the shape of a bug between wsusauto and pypsrp."""

    name = "hands_the_client_a_bad_value"
    arguments = {"bad": Argument(bool, required=True)}

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        return ChangePlan(())

    def run(
        self,
        session: Any,
        args: Mapping[str, Any],
        *,
        check: bool = False,
        facts: Facts | None = None,
        context: HostContext = DETACHED,
    ) -> OperationResult:
        value: Any = Unserializable() if args["bad"] else 20
        session.invoke("get_synchronization_status", read_only=True, MaxUpdateErrors=value)
        return OperationResult(self.name, False, message="read")


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(OPERATIONS, HandsTheClientABadValue.name, HandsTheClientABadValue())


def test_a_bug_fails_its_hosts_task_and_the_others_finish(make_lab, registered):
    lab = make_lab(small_topology(3))
    play = {
        "hosts": "all",
        "tasks": [
            {
                "name": "read",
                "hands_the_client_a_bad_value": {"bad": "{{ inventory_hostname == 'wsus-02' }}"},
            },
            {"name": "status", "status": {}},
        ],
    }
    result = Runner(lab_inventory(lab), playbook_from_data([play], "bug.yml"), processes=1).run()

    statuses = {host: [r.status for r in results] for host, results in result.hosts.items()}
    assert statuses == {"wsus-root": ["ok", "ok"], "wsus-01": ["ok", "ok"], "wsus-02": ["failed"]}
    message = result.hosts["wsus-02"][0].message
    assert message.startswith("unexpected error (")
    assert "a bug of wsusauto's" in message
    assert result.exit_code == 2  # a failed host, not an unreachable one (4)
