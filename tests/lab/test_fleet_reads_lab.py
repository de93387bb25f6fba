"""The fleet-wide reads (facts, diagnose's three passes, the fixes, the report) on one HostExecutor,
through the real client: a command's reads share one Session per host, a host found unreachable
is not tried again in that executor's life, and the same work runs in worker processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.config.playbook import load_playbook
from wsusauto.diagnose import diagnose_fleet, fix_fleet
from wsusauto.execution.executor import HostExecutor
from wsusauto.execution.fleet import collect_facts
from wsusauto.execution.runner import Runner
from wsusauto.lab.wsman import EndpointFaults
from wsusauto.output.journal import Journal, read_journal

FASTER = 10


def designated(name: str, upstream: str, faults: list[Any]) -> dict[str, Any]:
    return {
        "name": name,
        "upstream": upstream,
        "replica": True,
        "faults": faults,
        "initial": {
            "SyncFromMicrosoftUpdate": False,
            "UpstreamWsusServerName": upstream,
            "UpstreamWsusServerPortNumber": 8530,
            "IsReplicaServer": True,
        },
    }


# wsus-01: a finding with a fix; wsus-02: failed downloads its upstream has (diagnose's second pass
# asks wsus-root about them); wsus-root: a language change (the third pass lists its inactive approvals)
TOPOLOGY = {
    "servers": [
        {"name": "wsus-root", "faults": ["language_changed_on_parent"]},
        designated("wsus-01", "wsus-root", ["bits_disabled"]),
        designated("wsus-02", "wsus-root", [{"name": "updates_missing_upstream", "on_upstream": True}]),
    ]
}


def fired(diagnosis: Any) -> dict[str, set[str]]:
    return {host: {f.check for f in found} for host, found in diagnosis.findings.items() if found}


def test_facts_diagnosis_fixes_and_a_second_diagnosis_share_one_session_per_host(make_lab, tmp_path):
    lab = make_lab(TOPOLOGY, time_scale=FASTER)
    inventory = lab_inventory(lab)
    hosts = inventory.select("all")
    opened: list[str] = []

    def counting(host: Any, inventory: Any) -> Session:
        opened.append(host.name)
        return Session(host.name, inventory.connection_options(host), default_deadline=60)

    journal = Journal(tmp_path / "fixes.jsonl", "r1")
    with HostExecutor(inventory, forks=3, session_factory=counting, journal=journal) as executor:
        assert collect_facts(inventory, hosts, executor=executor).exit_code == 0
        diagnosis = diagnose_fleet(inventory, hosts, executor=executor)
        assert fired(diagnosis) == {
            "wsus-01": {"bits-service", "approvals-mismatch"},
            "wsus-02": {"updates-missing-upstream", "approvals-mismatch"},
        }
        # the second and third passes ran (on wsus-root, through its one Session)
        assert diagnosis.evidence["wsus-02"].upstream_copies
        assert diagnosis.evidence["wsus-root"].inactive_approvals is not None
        fixes = fix_fleet(inventory, diagnosis, executor=executor, arguments={"poll_interval": "0.5s"})
        assert {h: [(r.operation, r.status) for r in found] for h, found in fixes.items()} == {
            "wsus-01": [("bits_service", "changed")]
        }
        after = diagnose_fleet(inventory, hosts, executor=executor)
    journal.close()
    assert "bits-service" not in fired(after).get("wsus-01", set())
    assert sorted(opened) == ["wsus-01", "wsus-02", "wsus-root"]  # one Session each, for all of it
    # journaled as it happened, the fix's own synchronization included (through the job's context)
    records = [r for r in read_journal(tmp_path / "fixes.jsonl") if r["event"] in ("applying", "applied")]
    # a sync's lines name the fix they belong to (operation) and what they do (action)
    assert [(r["event"], r["host"], r["operation"], r.get("action")) for r in records] == [
        ("applying", "wsus-01", "bits_service", None),
        ("applying", "wsus-01", "bits_service", "StartSynchronization"),
        ("applied", "wsus-01", "bits_service", None),
    ]


def test_a_host_found_unreachable_is_not_tried_again_by_the_same_executor(make_lab):
    lab = make_lab(TOPOLOGY, time_scale=FASTER)
    inventory = lab_inventory(lab)
    hosts = inventory.select("all")
    lab.set_faults("wsus-02", EndpointFaults(down=True))
    with HostExecutor(inventory, forks=3, deadline=30) as executor:
        first = diagnose_fleet(inventory, hosts, executor=executor)
        assert set(first.unreachable) == {"wsus-02"} and first.exit_code == 4
        lab.set_faults("wsus-02", EndpointFaults())  # back, but this command already counted it out
        second = diagnose_fleet(inventory, hosts, executor=executor)
        assert second.unreachable == first.unreachable and second.exit_code == 4
    fresh = diagnose_fleet(inventory, hosts)  # a new executor tries it again
    assert not fresh.unreachable and "wsus-02" in fresh.evidence


def test_the_diagnosis_runs_the_same_in_worker_processes(make_lab):
    lab = make_lab(TOPOLOGY, time_scale=FASTER)
    inventory = lab_inventory(lab)
    hosts = inventory.select("all")
    in_threads = diagnose_fleet(inventory, hosts)
    with HostExecutor(inventory, forks=2, processes=2) as executor:
        in_processes = diagnose_fleet(inventory, hosts, executor=executor)
        checked = fix_fleet(inventory, in_processes, executor=executor, check=True)
    assert fired(in_processes) == fired(in_threads) and in_processes.exit_code == in_threads.exit_code
    assert in_processes.evidence["wsus-02"].upstream_copies == in_threads.evidence["wsus-02"].upstream_copies
    assert [r.status for r in checked["wsus-01"]] == ["would change"] and checked.exit_code == 0


def test_a_runs_diagnosis_reuses_the_runs_sessions(make_lab):
    """The diagnose playbook: the run reads facts, diagnoses the play's hosts (three passes) and runs
    the diagnose task, all through one Session per host, the run's own."""
    lab = make_lab(TOPOLOGY, time_scale=FASTER)
    inventory = lab_inventory(lab)
    opened: list[str] = []

    def counting(host: Any, inventory: Any) -> Session:
        opened.append(host.name)
        return Session(host.name, inventory.connection_options(host), default_deadline=60)

    playbook = load_playbook(Path(__file__).resolve().parents[2] / "playbooks" / "diagnose.yml")
    result = Runner(inventory, playbook, forks=3, session_factory=counting).run()
    assert sorted(opened) == ["wsus-01", "wsus-02", "wsus-root"]
    checks = {h: {f["check"] for f in r[-1].details["findings"]} for h, r in result.hosts.items()}
    assert checks["wsus-01"] == {"bits-service", "approvals-mismatch"}
    assert result.exit_code == 2 and result.verdicts["wsus-01"] == "failed"  # as diagnose counts it
