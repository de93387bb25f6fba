"""Ctrl+C during a run: every host of the play has an outcome in the recap and --json, whether its
job ended, was stopped in the middle of a task, was abandoned because its host does not answer, or
never started (issue 15's executor review)."""

from __future__ import annotations

import signal
import threading

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto import exitcodes
from wsusauto.config.inventory import inventory_from_dict
from wsusauto.config.playbook import playbook_from_data
from wsusauto.execution import runner as runner_module
from wsusauto.execution.interrupt import RunInterrupted
from wsusauto.execution.progress import PlayProgress
from wsusauto.execution.runner import Runner
from wsusauto.lab.wsman import EndpointFaults

HOSTS = ("wsus-01", "wsus-02", "wsus-03")
PLAY = [
    {
        "name": "Read, then synchronize",
        "hosts": "all",
        "tasks": [
            {"name": "Read the server's state", "status": {}},
            {"name": "Synchronize and wait", "synchronize": {"poll_interval": "0.1s", "timeout": "60s"}},
        ],
    }
]


def test_every_host_has_an_outcome_after_ctrl_c(make_lab, monkeypatch):
    lab = make_lab({"servers": [{"name": name} for name in HOSTS]}, time_scale=10)
    endpoint = lab._server.endpoints["wsus-01"]
    document = lab.inventory()
    # The connection's timeouts are far beyond the test's: the stuck call cannot end on its own.
    document["all"]["vars"].update(ansible_psrp_operation_timeout=900, ansible_psrp_read_timeout=1000)
    inventory = inventory_from_dict(document, "<lab inventory>")
    assert list(lab_inventory(lab).hosts) == list(HOSTS)
    fleet_steps = runner_module.run_fleet_steps

    def then_wsus_01_stops_answering(*args, **kwargs):  # facts read: the tasks are about to start
        tasks = fleet_steps(*args, **kwargs)
        lab.set_faults("wsus-01", EndpointFaults(unresponsive=True))
        return tasks

    def ctrl_c_once_wsus_01_hangs() -> None:
        while endpoint.held_requests == 0:
            threading.Event().wait(0.01)
        # Ctrl+C: SIGINT to the run's (main) thread, whose wait it interrupts with KeyboardInterrupt
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    monkeypatch.setattr(runner_module, "run_fleet_steps", then_wsus_01_stops_answering)
    threading.Thread(target=ctrl_c_once_wsus_01_hangs, daemon=True).start()
    # forks 1: wsus-01 runs, wsus-02 is queued behind it, wsus-03 waits to be started
    runner = Runner(inventory, playbook_from_data(PLAY), forks=1, processes=1)
    try:
        with pytest.raises(RunInterrupted) as stop:
            runner.run()
        assert endpoint.held_requests >= 1  # the run ended while the lab still held wsus-01's request
    finally:
        lab.set_faults("wsus-01", EndpointFaults())
    result = stop.value.result
    assert result.exit_code == exitcodes.INTERRUPTED
    outcomes = {
        host: [(r["name"], r["status"]) for r in tasks] for host, tasks in result.document()["hosts"].items()
    }
    assert outcomes == {
        # its first task ended; the run stopped while the second waited for the host's answer
        "wsus-01": [("Read the server's state", "ok"), ("Synchronize and wait", "failed")],
        # queued behind wsus-01, never began: nothing ran there
        "wsus-02": [("Read the server's state", "skipped"), ("Synchronize and wait", "skipped")],
        "wsus-03": [("Read the server's state", "skipped"), ("Synchronize and wait", "skipped")],
    }
    for host in HOSTS:
        [last] = [r for r in result.document()["hosts"][host] if r["status"] != "ok"][-1:]
        assert last["interrupted"] is True and last["message"].startswith("interrupted:"), last
    assert set(result.recap) == set(HOSTS)


@pytest.mark.timeout(120)
def test_a_system_exit_during_a_run_does_not_wait_for_a_host_that_does_not_answer(make_lab, monkeypatch):
    """SystemExit (a SIGTERM handler's sys.exit, say) leaves the run as Ctrl+C does: the executor is
    interrupted, so closing it does not wait for wsus-01's stuck call (without that, close() waited
    for the connection's 900 s timeout and this test timed out)."""
    lab = make_lab({"servers": [{"name": name} for name in HOSTS]}, time_scale=10)
    endpoint = lab._server.endpoints["wsus-01"]
    document = lab.inventory()
    document["all"]["vars"].update(ansible_psrp_operation_timeout=900, ansible_psrp_read_timeout=1000)
    inventory = inventory_from_dict(document, "<lab inventory>")
    fleet_steps = runner_module.run_fleet_steps

    def then_wsus_01_stops_answering(*args, **kwargs):
        tasks = fleet_steps(*args, **kwargs)
        lab.set_faults("wsus-01", EndpointFaults(unresponsive=True))
        return tasks

    def exit_once_wsus_01_hangs(result) -> None:
        if result.host != "wsus-01":
            while endpoint.held_requests == 0:
                threading.Event().wait(0.01)
            raise SystemExit(143)

    monkeypatch.setattr(runner_module, "run_fleet_steps", then_wsus_01_stops_answering)
    runner = Runner(
        inventory, playbook_from_data(PLAY), forks=3, processes=1, on_result=exit_once_wsus_01_hangs
    )
    try:
        with pytest.raises(SystemExit):
            runner.run()
        assert endpoint.held_requests >= 1  # the run ended while the lab still held wsus-01's request
    finally:
        lab.set_faults("wsus-01", EndpointFaults())


def test_ctrl_c_after_a_host_results_are_added_does_not_list_them_twice(make_lab, monkeypatch):
    """Ctrl+C landing in the run loop between adding a host's results and marking it reported: the
    stop's outcomes hold each host's results once (a second play: the first's results stay too)."""
    lab = make_lab({"servers": [{"name": name} for name in HOSTS[:2]]})
    read = {"name": "Read the server's state", "status": {}}
    plays = [{"name": name, "hosts": "all", "tasks": [read]} for name in ("First play", "Second play")]
    reported = PlayProgress.reported
    calls: list[str] = []

    def ctrl_c_on_the_third_host_reported(self, host):
        calls.append(host)
        if len(calls) == 3:  # the second play's first host: its results are in, not marked reported
            raise KeyboardInterrupt
        reported(self, host)

    monkeypatch.setattr(PlayProgress, "reported", ctrl_c_on_the_third_host_reported)
    runner = Runner(lab_inventory(lab), playbook_from_data(plays), forks=1, processes=1)
    with pytest.raises(RunInterrupted) as stop:
        runner.run()
    hosts = stop.value.result.document()["hosts"]
    stopped_at = [(r["play"], r["status"]) for r in hosts[calls[2]]]
    assert stopped_at == [("First play", "ok"), ("Second play", "ok")]
    for host in HOSTS[:2]:
        assert [r["play"] for r in hosts[host]] == ["First play", "Second play"], hosts[host]
