"""A new operation with fleet logic of its own runs through the Runner with no executor change.

The operation below exists only in this test: registered in ``OPERATIONS``, with a fleet step
(``prepare_fleet``) that reads the intended hierarchy and the root's facts, and the schedule
snippet to apply. The Runner, unchanged, plans it in check mode, applies it on the lab's servers
over the real WinRM client, refuses a play whose root's facts it lacks before anything changes, and
changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.config.playbook import playbook_from_data
from wsusauto.errors import UsageError
from wsusauto.execution.runner import Runner
from wsusauto.operations import OPERATIONS, ChangePlan, Operation, run_operation
from wsusauto.operations.base import Argument
from wsusauto.operations.group import TaskGroup
from wsusauto.operations.schedule import Schedule
from wsusauto.state.facts import Facts

TIME = "_time"  # added by the fleet step: this host's time of day, UTC


class AfterUpstream(Operation):
    """Each server syncs ``minutes`` after its upstream server: its root's time plus ``minutes`` per
    level of the intended hierarchy below the root (a test operation, not shipped)."""

    name = "after_upstream"
    arguments = {"minutes": Argument(int, required=True)}

    def prepare_fleet(self, group: TaskGroup) -> Mapping[str, Mapping[str, Any]]:
        prepared = {}
        for host, args in group.args.items():
            root, in_inventory = group.root_of(host)
            if not in_inventory or root not in group.facts:
                raise UsageError(
                    f"{group.play_where}: {host}'s root {root} is not in the play; nothing was changed"
                )
            depth, node = 0, host
            while node != root:
                depth, node = depth + 1, group.upstream_of[node]
            start = dt.datetime.combine(
                dt.date(2026, 1, 1), group.facts[root].synchronize_automatically_time_of_day
            )
            prepared[host] = {
                **args,
                TIME: f"{start + dt.timedelta(minutes=args['minutes'] * depth):%H:%M:%S}",
            }
        return prepared

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        return Schedule().plan(facts, {"automatic": True, "time": args[TIME]})


TOPOLOGY = {
    "servers": [
        {
            "name": "wsus-root",
            "initial": {"SynchronizeAutomatically": True, "SynchronizeAutomaticallyTimeOfDay": "02:00:00"},
        },
        {"name": "wsus-01", "upstream": "wsus-root"},
        {"name": "wsus-02", "upstream": "wsus-root"},
    ]
}
# wsus-02 moves below wsus-01 in the same play: the fleet step sees the intended hierarchy.
PLAY = {
    "hosts": "all",
    "order": "hierarchy",
    "tasks": [
        {
            "update_source": {"source": "upstream", "upstream": "wsus-01"},
            "when": "inventory_hostname == 'wsus-02'",
        },
        {"after_upstream": {"minutes": 20}},
    ],
}


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(OPERATIONS, "after_upstream", AfterUpstream())


def _times(lab) -> dict[str, str]:
    return {n: s.get("SynchronizeAutomaticallyTimeOfDay") for n, s in lab.handlers.servers.items()}


def _state(lab) -> dict[str, tuple[str, str]]:
    return {n: (s.get("UpstreamWsusServerName"), _times(lab)[n]) for n, s in lab.handlers.servers.items()}


def test_a_new_operations_fleet_step_runs_through_the_unchanged_runner(make_lab, registered):
    lab = make_lab(TOPOLOGY, time_scale=10)
    inventory = lab_inventory(lab)
    playbook = playbook_from_data([PLAY], "after-upstream.yml")
    before = _times(lab)

    planned = Runner(inventory, playbook, check=True, processes=1).run()
    assert _times(lab) == before  # check mode changes nothing
    wanted = {"wsus-root": "02:00:00", "wsus-01": "02:20:00", "wsus-02": "02:40:00"}
    diffs = {h: r[-1].diff for h, r in planned.hosts.items()}
    assert {h: str(d["after"]["SynchronizeAutomaticallyTimeOfDay"]) for h, d in diffs.items() if d} == {
        h: t for h, t in wanted.items() if h != "wsus-root"
    }
    assert planned.exit_code == 0

    applied = Runner(inventory, playbook, processes=1).run()
    assert applied.exit_code == 0
    assert {h: [r.status for r in results] for h, results in applied.hosts.items()} == {
        "wsus-root": ["skipped", "ok"],
        "wsus-01": ["skipped", "changed"],
        "wsus-02": ["changed", "changed"],
    }
    assert {h: _times(lab)[h] for h in wanted} == wanted
    assert lab.handlers.servers["wsus-02"].get("UpstreamWsusServerName") == "wsus-01"

    again = Runner(inventory, playbook, processes=1).run()
    assert {r.status for results in again.hosts.values() for r in results} <= {"ok", "skipped"}


def test_a_fleet_step_that_refuses_the_play_stops_it_before_any_change(make_lab, registered):
    lab = make_lab(TOPOLOGY, time_scale=10)
    before = _state(lab)
    playbook = playbook_from_data([PLAY], "after-upstream.yml")
    with pytest.raises(UsageError, match="wsus-01's root wsus-root is not in the play; nothing was changed"):
        Runner(lab_inventory(lab), playbook, limit="wsus-01:wsus-02", processes=1).run()
    assert _state(lab) == before  # wsus-02's update_source, the play's first task, did not run either


def test_a_real_run_never_reports_check_mode(make_lab):
    lab = make_lab(TOPOLOGY, time_scale=10)
    inventory = lab_inventory(lab)
    host = inventory.hosts["wsus-01"]
    with Session(host.name, inventory.connection_options(host)) as session:
        planned = run_operation(session, "schedule", {"time": "05:00"}, check=True)
        applied = run_operation(session, "schedule", {"time": "05:00"})
        again = run_operation(session, "schedule", {"time": "05:00"})
    assert planned.changed and planned.check_mode and planned.facts is None
    assert applied.changed and not applied.check_mode and applied.facts is not None
    assert applied.message == "changed SynchronizeAutomaticallyTimeOfDay"
    assert not again.changed and not again.check_mode
