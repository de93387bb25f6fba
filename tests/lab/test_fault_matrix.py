"""The fault matrix: a run over a lab fleet while hosts misbehave, with the real client.

For every fault: the run finishes; every other host's result and state are right; unreachable and
failed are told apart (one host is always genuinely *failed*: its server refuses the save because
a synchronization is stopping); the journal is true (nothing changed that it does not announce,
every ``applied`` is on the server, every ``applying`` ends); and a second run, the fault gone,
converges to the desired state.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.lab_fixtures import inventory_file, lab_inventory
from tests.lab_fixtures import run_cli as wsusauto
from wsusauto import exitcodes
from wsusauto.config.inventory import inventory_from_dict
from wsusauto.config.playbook import load_playbook
from wsusauto.execution.runner import Runner
from wsusauto.lab.topology import topology_from_dict
from wsusauto.lab.wsman import EndpointFaults
from wsusauto.output.journal import Journal, read_journal

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
DESIGNATE = str(PLAYBOOKS / "designate-replicas.yml")
MEMBERS = ("SyncFromMicrosoftUpdate", "UpstreamWsusServerName", "IsReplicaServer")
FAULTY, BUSY = "wsus-eu-02", "wsus-us-02"

SERVERS = [
    {"name": "wsus-root"},
    {"name": "wsus-eu", "upstream": "wsus-root"},
    {"name": "wsus-us", "upstream": "wsus-root"},
    {"name": "wsus-eu-01", "upstream": "wsus-eu", "replica": True},
    {"name": FAULTY, "upstream": "wsus-eu", "replica": True},
    {"name": "wsus-us-01", "upstream": "wsus-us", "replica": True},
    # a sync is stopping on this one: WSUS takes no configuration save, so its tasks fail (not unreachable)
    {"name": BUSY, "upstream": "wsus-us", "replica": True, "initial": {"SynchronizationStatus": "Stopping"}},
]


def fleet_topology() -> Any:
    return topology_from_dict({"servers": SERVERS}, "<fault matrix>")


def desired(name: str) -> dict[str, Any]:
    spec = next(s for s in SERVERS if s["name"] == name)
    upstream = spec.get("upstream")
    return {
        "SyncFromMicrosoftUpdate": upstream is None,
        "UpstreamWsusServerName": upstream or "",
        "IsReplicaServer": bool(spec.get("replica", False)),
    }


def state(lab) -> dict[str, dict[str, Any]]:
    return {name: {m: server.get(m) for m in MEMBERS} for name, server in lab.handlers.servers.items()}


def assert_journal_is_true(records: list[dict], before: dict, after: dict, document: dict | None = None):
    """The journal claims no less than what changed, every ``applied`` is on the server, every
    ``applying`` has exactly one outcome, and the run's last line says how it ended."""
    assert records[0]["event"] == "run_started" and records[-1]["event"] == "run_finished"
    assert len({r["run_id"] for r in records}) == 1
    announced: dict[str, set[str]] = {}
    open_changes: dict[tuple[str, str], int] = {}
    for record in records:
        key = (record.get("host"), record.get("task"))
        if record["event"] == "applying":
            announced.setdefault(record["host"], set()).update(c["member"] for c in record["changes"])
            assert key not in open_changes, f"two applying lines without an outcome: {key}"
            open_changes[key] = 1
        elif record["event"] in ("applied", "failed", "unreachable") and key in open_changes:
            del open_changes[key]
        elif record["event"] == "applied":
            raise AssertionError(f"applied without applying: {record}")
        if record["event"] == "applied":
            for change in record["changes"]:
                if change["member"] in MEMBERS:
                    assert after[record["host"]][change["member"]] == change["after"], record
    assert not open_changes, f"applying lines without an outcome: {sorted(open_changes)}"
    for host, members in after.items():
        changed = {m for m in MEMBERS if members[m] != before[host][m]}
        assert changed <= announced.get(host, set()), f"{host} changed {changed} without a journal line"
    if document is not None:
        assert records[-1]["recap"] == document["recap"]


# The lab's clock runs faster: a configuration save still processes a moment (here 0.1-0.3 s) and
# the next save waits for it, but the runs no longer wait out whole seconds of it per server.
FASTER = 10


def run_designate(inventory: Path, journal: Path, *extra: str):
    # BUSY's stopping sync never ends in the lab: each writing task waits for it 5 s, not 180 s.
    result = wsusauto(
        "run",
        DESIGNATE,
        "-i",
        str(inventory),
        "--json",
        "--journal",
        str(journal),
        "-e",
        "wsus_busy_wait=5",
        *extra,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result, json.loads(result.stdout)


def statuses(document: dict, host: str) -> list[str]:
    return [r["status"] for r in document["hosts"][host]]


CASES = {
    "endpoint_down": (EndpointFaults(down=True), "unreachable", "connection refused", ()),
    "hang_past_deadline": (EndpointFaults(slow_seconds=8), "unreachable", "did not finish within 2 s", ()),
    "http_500": (EndpointFaults(http_status=500), "unreachable", "WSMan fault", ()),
    "http_503": (EndpointFaults(http_status=503), "unreachable", "HTTP 503", ()),
    "auth_rejected": (EndpointFaults(auth_reject=True), "unreachable", "refused the credentials", ()),
    # the reset hits the first snippet that saves (update_source): it ran, its answer was lost
    "reset_in_a_write_receive": (
        EndpointFaults(reset_on_receive=1, reset_match="Save()"),
        "unreachable",
        "connection reset",
        ("SyncFromMicrosoftUpdate", "UpstreamWsusServerName"),
    ),
    # the reset hits the facts read: read-only, retried at once, never seen as a failure
    "reset_in_a_read_receive": (EndpointFaults(reset_on_receive=1), "changed", "", ()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fault_matrix(make_lab, tmp_path, case):
    faults, faulty_status, message, maybe_applied = CASES[case]
    lab = make_lab(fleet_topology(), time_scale=FASTER)
    inventory = inventory_file(lab)
    before = state(lab)
    lab.set_faults(FAULTY, faults)
    journal = tmp_path / "first.jsonl"
    first, document = run_designate(inventory, journal, "--deadline", "2")
    lab.set_faults(FAULTY, EndpointFaults())
    after = state(lab)

    # the run finished and says what happened, host by host
    expected_exit = exitcodes.HOST_UNREACHABLE if faulty_status == "unreachable" else exitcodes.HOST_FAILED
    assert first.returncode == expected_exit, first.stderr
    recap = document["recap"]
    if faulty_status == "unreachable":
        assert recap[FAULTY]["unreachable"] == 1 and recap[FAULTY]["failed"] == 0
        assert statuses(document, FAULTY)[-1] == "unreachable"
        assert message in document["hosts"][FAULTY][-1]["message"]
        # nothing changed there, except what the journal says may have been applied
        changed = {m for m in MEMBERS if after[FAULTY][m] != before[FAULTY][m]}
        assert changed == set(maybe_applied)
    else:
        assert recap[FAULTY] == recap["wsus-eu-01"] and after[FAULTY] == desired(FAULTY)
    assert recap[BUSY]["failed"] == 1 and recap[BUSY]["unreachable"] == 0  # failed, told apart
    busy = document["hosts"][BUSY][-1]  # after its busy wait: failed, retryable
    assert "WSUS is busy" in busy["message"] and "synchronization status is Stopping" in busy["message"]
    assert busy["retryable"] is True
    assert after[BUSY] == before[BUSY]
    for host in lab.handlers.servers:
        if host in (FAULTY, BUSY):
            continue
        assert recap[host]["failed"] == 0 and recap[host]["unreachable"] == 0, host
        assert after[host] == desired(host), host
    assert recap["wsus-eu-01"]["changed"] == 2 and recap["wsus-eu"]["changed"] == 1

    records = read_journal(journal)
    assert_journal_is_true(records, before, after, document)
    assert records[-1]["exit_code"] == first.returncode
    if maybe_applied:  # announced, its outcome unknown to the client: applying, then unreachable
        events = [r["event"] for r in records if r.get("host") == FAULTY]
        assert events == ["applying", "unreachable"]

    # the fault gone, a second run converges: only the two hosts that did not finish change
    lab.handlers.servers[BUSY].set(SynchronizationStatus="NotProcessing")
    second, document = run_designate(inventory, tmp_path / "second.jsonl")
    assert second.returncode == exitcodes.OK, second.stdout[-2000:]
    assert all(state(lab)[h] == desired(h) for h in lab.handlers.servers)
    changed_hosts = {h for h, c in document["recap"].items() if c["changed"]}
    assert changed_hosts == ({BUSY, FAULTY} if faulty_status == "unreachable" else {BUSY})
    assert_journal_is_true(read_journal(tmp_path / "second.jsonl"), after, state(lab), document)
    third = json.loads(wsusauto("run", DESIGNATE, "-i", str(inventory), "--json").stdout)
    assert all(c["changed"] == 0 for c in third["recap"].values())


def test_fault_on_an_upstream_skips_its_children_with_the_reason(make_lab, tmp_path):
    lab = make_lab(fleet_topology(), time_scale=FASTER)
    inventory = inventory_file(lab)
    before = state(lab)
    lab.set_faults("wsus-eu", EndpointFaults(down=True))
    first, document = run_designate(inventory, tmp_path / "first.jsonl")
    lab.set_faults("wsus-eu", EndpointFaults())
    assert first.returncode == exitcodes.HOST_UNREACHABLE
    assert statuses(document, "wsus-eu") == ["unreachable"]
    for child in ("wsus-eu-01", FAULTY):
        assert set(statuses(document, child)) == {"skipped"}
        assert "upstream wsus-eu did not finish successfully" in document["hosts"][child][-1]["message"]
        assert state(lab)[child] == before[child]
    assert state(lab)["wsus-us-01"] == desired("wsus-us-01")
    assert_journal_is_true(read_journal(tmp_path / "first.jsonl"), before, state(lab), document)
    lab.handlers.servers[BUSY].set(SynchronizationStatus="NotProcessing")
    second, _ = run_designate(inventory, tmp_path / "second.jsonl")
    assert second.returncode == exitcodes.OK
    assert all(state(lab)[h] == desired(h) for h in lab.handlers.servers)


# -- faults that happen while the run is in progress (in-process runner, triggered by results) -----


def _runner(lab, playbook: str, journal: Journal, on_result, extra_vars=None, forks: int = 20) -> Runner:
    inventory = inventory_from_dict(lab.inventory(), "<lab inventory>", extra_vars)
    return Runner(
        inventory,
        load_playbook(playbook),
        forks=forks,
        journal=journal,
        deadline=30,
        on_result=on_result,
        processes=1,
    )


def test_lab_restarted_in_the_middle_of_a_run(make_lab, tmp_path):
    """The whole lab stops and starts again (same state directory and addresses) while hosts are in
    flight: its state persists, the run finishes, in-flight hosts are unreachable (never a wrong
    success), the journal stays true and a second run converges."""
    topology = topology_from_dict(
        {"servers": [dict(s, faults=[{"name": "slow", "seconds": 0.3}]) for s in SERVERS]}, "<restart>"
    )
    lab = make_lab(topology)
    lab.handlers.servers[BUSY].set(SynchronizationStatus="NotProcessing")
    before = state(lab)
    restarted = threading.Event()
    results_after_restart: list[str] = []
    lock = threading.Lock()

    def on_result(result) -> None:
        with lock:
            if restarted.is_set():
                results_after_restart.append(result.host)
                return
            if result.host.count("-") == 2:  # the first leaf is done, the others are in flight
                lab.stop()
                lab.start()
                restarted.set()

    journal = Journal(tmp_path / "first.jsonl", "restart-run")
    try:
        result = _runner(lab, DESIGNATE, journal, on_result).run()
    finally:
        journal.close()
    assert restarted.is_set() and results_after_restart  # it did restart in the middle
    after = state(lab)  # read from the restarted lab: SUSDB kept what was applied before
    assert result.exit_code in (exitcodes.OK, exitcodes.HOST_UNREACHABLE)
    for host, results in result.hosts.items():
        kinds = {r.status for r in results}
        assert kinds <= {"ok", "changed", "skipped", "unreachable"}, (host, kinds)
        if "unreachable" not in kinds and "skipped" not in kinds:
            assert after[host] == desired(host), host
    records = read_journal(tmp_path / "first.jsonl")
    assert_journal_is_true(records, before, after, result.document())
    assert records[-1]["exit_code"] == result.exit_code
    applied_before = [r for r in records if r["event"] == "applied" and r["host"] in ("wsus-eu", "wsus-us")]
    assert applied_before  # applied before the restart, and (checked above) still true after it

    journal = Journal(tmp_path / "second.jsonl", "after-restart")
    try:
        second = _runner(lab, DESIGNATE, journal, None).run()
    finally:
        journal.close()
    assert second.exit_code == exitcodes.OK, second.document()
    assert all(state(lab)[h] == desired(h) for h in lab.handlers.servers)


def test_upstream_goes_down_during_a_tree_sync(make_lab, tmp_path):
    """wsus-eu synchronizes, then goes down (its WinRM endpoint and its update service) before its
    children sync: they fail with the upstream's cause after the documented retries (failed, not
    unreachable), the other branch syncs, the journal lists every attempt, a second run converges."""
    servers = [
        dict(s, initial={"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": s["upstream"]})
        if "upstream" in s
        else dict(s)
        for s in SERVERS
        if s["name"] != BUSY
    ]
    topology = topology_from_dict({"servers": servers}, "<tree sync>")
    fast = {"sync_retry_interval": "1s", "sync_poll_interval": "0.2s", "sync_timeout": "60s"}
    playbook = str(PLAYBOOKS / "sync-tree.yml")
    # The faster clock: each sync still starts a moment after StartSynchronization() (0.1-0.4 s
    # here), but nine attempts of three waves no longer wait out 1-4 s each.
    lab = make_lab(topology, time_scale=FASTER)
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=0.3)

    def on_result(result) -> None:
        if result.host == "wsus-eu":  # its sync is done; its children start only once its job ends
            lab.handlers.servers["wsus-eu"].db.replace_faults({"upstream_down": {}})

    journal = Journal(tmp_path / "sync.jsonl", "tree-sync")
    try:
        result = _runner(lab, playbook, journal, on_result, extra_vars=fast).run()
    finally:
        journal.close()
    document = result.document()
    assert result.exit_code == exitcodes.HOST_FAILED  # failed, nobody unreachable
    for child in ("wsus-eu-01", FAULTY):
        [task] = document["hosts"][child]
        assert task["status"] == "failed"
        assert [a["result"] for a in task["attempts"]] == ["Failed"] * 3
        assert "UssCommunicationError" in json.dumps(task["attempts"])
    for host in ("wsus-root", "wsus-eu", "wsus-us", "wsus-us-01"):
        assert document["hosts"][host][0]["status"] == "changed", host
        assert lab.handlers.servers[host].db.sync_history(1)[0]["Result"] == "Succeeded"
    actions = {r["host"]: r for r in read_journal(tmp_path / "sync.jsonl") if r["event"] == "action"}
    assert {h: len(a["attempts"]) for h, a in actions.items()}[FAULTY] == 3
    assert actions[FAULTY]["failed"] is True and actions["wsus-us-01"]["failed"] is False
    assert read_journal(tmp_path / "sync.jsonl")[-1]["recap"] == document["recap"]

    lab.handlers.servers["wsus-eu"].db.replace_faults({})  # the upstream is back
    journal = Journal(tmp_path / "again.jsonl", "tree-sync-again")
    try:
        again = _runner(lab, playbook, journal, None, extra_vars=fast).run()
    finally:
        journal.close()
    assert again.exit_code == exitcodes.OK
    for child in ("wsus-eu-01", FAULTY):
        assert lab.handlers.servers[child].db.sync_history(1)[0]["Result"] == "Succeeded"


def test_reset_on_receive_fault_from_a_topology(make_lab):
    """The fault is also available by name in a topology (``wsusauto lab serve --topology``)."""
    topology = topology_from_dict(
        {"servers": [{"name": "wsus-root", "faults": [{"name": "reset_on_receive", "count": 2}]}]}, "<t>"
    )
    from wsusauto.client.session import Session, TransportRetry
    from wsusauto.errors import Unreachable
    from wsusauto.state.facts import gather_facts

    lab = make_lab(topology)
    inventory = lab_inventory(lab)
    options = inventory.connection_options(inventory.hosts["wsus-root"])
    session = Session("wsus-root", options, transport_retry=TransportRetry(attempts=2, initial_wait=0.01))
    with session, pytest.raises(Unreachable, match="connection reset"):
        gather_facts(session)  # two resets, two attempts
    with Session("wsus-root", options) as session:
        assert gather_facts(session).name == "wsus-root"  # the count is spent
