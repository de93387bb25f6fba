"""The one host executor against the lab through the real client, in threads and in worker processes:
the same work gives the same outcomes, one Session per host for the executor's life, events and
journal records reach the parent as they happen, and upstream slots hold across processes."""

from __future__ import annotations

import os
import threading
from concurrent.futures import wait

import pytest

from tests.lab_fixtures import small_topology
from wsusauto.config.inventory import inventory_from_dict
from wsusauto.errors import AuthenticationFailed, HostError, Interrupted, Unreachable
from wsusauto.execution.executor import HostExecutor
from wsusauto.execution.hostwork import gather
from wsusauto.lab.wsman import EndpointFaults
from wsusauto.output.journal import Journal, read_journal
from wsusauto.state.facts import Facts

MODES = pytest.mark.parametrize("processes", [1, 2], ids=["threads", "processes"])


# -- work functions (module level: worker processes receive them by reference) -------------------


def _facts_name(job) -> str:
    from wsusauto.state.facts import gather_facts

    return gather_facts(job.session).name


def session_identity(job) -> tuple[int, int, int]:
    """Which process and which Session served this job, and how many commands that Session ran."""
    from wsusauto.state.facts import gather_facts

    gather_facts(job.session)
    return os.getpid(), id(job.session._session), job.session.commands_run


def emit_then_record(job, count: int) -> str:
    for index in range(count):
        job.emit(("step", job.host.name, index))
    job.context.record("probe", value=job.host.name)
    return job.host.name


def record_what_does_not_pickle(job) -> str:
    job.context.record("odd", value=(n for n in range(3)), host_name=job.host.name)
    return job.host.name


def bracketed_read(job, label: str) -> str:
    job.context.record("begin", label=label)
    name = _facts_name(job)
    job.context.record("end", label=label)
    return name


def end_this_process(job) -> None:
    os._exit(3)  # a worker process that dies (killed, out of memory) in the middle of a host's work


def hold_a_slot(job) -> str:
    with job.context.upstream_slot():
        job.context.record("slot_held")
        _facts_name(job)  # real work on the wire while the slot is held
        job.context.record("slot_released")
    return job.host.name


def slow_call_inside_a_slot(job) -> str:
    job.context.record("asking")
    with job.context.upstream_slot():
        job.context.record("calling")
        return _facts_name(job)


def fail_inside_a_slot(job) -> None:
    with job.context.upstream_slot():
        raise Unreachable(job.host.name, "a failure while holding the slot")


# -- tests -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(make_module_lab):
    return make_module_lab(small_topology(5))


def inventory_of(lab, wrong_password_for: str | None = None):
    document = lab.inventory()
    if wrong_password_for is not None:
        hosts = document["all"]["children"]["wsus"]["hosts"]
        hosts[wrong_password_for]["ansible_password"] = "not-the-password"
    return inventory_from_dict(document, "<lab inventory>")


@MODES
def test_map_gives_every_host_in_order_with_one_verdict(lab, processes):
    inventory = inventory_of(lab, wrong_password_for="wsus-02")
    lab.set_faults("wsus-03", EndpointFaults(down=True))
    try:
        order = ["wsus-04", "wsus-root", "wsus-03", "wsus-02", "wsus-01"]
        with HostExecutor(inventory, forks=3, processes=processes) as executor:
            outcomes = executor.map(order, _facts_name)
    finally:
        lab.set_faults("wsus-03", EndpointFaults())
    assert [o.host for o in outcomes] == order
    by_host = {o.host: o for o in outcomes}
    assert {h: o.status for h, o in by_host.items()} == {
        "wsus-04": "ok",
        "wsus-root": "ok",
        "wsus-03": "unreachable",
        "wsus-02": "unreachable",  # refused credentials: nothing ran, as for a host down
        "wsus-01": "ok",
    }
    assert by_host["wsus-04"].value == "wsus-04" and by_host["wsus-01"].error is None
    assert isinstance(by_host["wsus-02"].error, AuthenticationFailed)  # the error crossed processes whole
    assert by_host["wsus-02"].error.host == "wsus-02"
    assert isinstance(by_host["wsus-03"].error, Unreachable)


@MODES
def test_one_session_per_host_for_the_executors_life(lab, processes):
    inventory = inventory_of(lab)
    with HostExecutor(inventory, forks=4, processes=processes) as executor:
        first = {o.host: o.value for o in executor.map(inventory.hosts, session_identity)}
        again = {o.host: o.value for o in executor.map(inventory.hosts, session_identity)}
    for host in inventory.hosts:
        assert first[host][:2] == again[host][:2], host  # same process, same Session
        assert again[host][2] > first[host][2]  # which kept on running commands
    pids = {pid for pid, _, _ in first.values()}
    assert (os.getpid() in pids) is (processes == 1)
    assert len(pids) == processes


@MODES
def test_events_and_records_reach_the_parent_before_the_job_ends(lab, processes, tmp_path):
    inventory = inventory_of(lab)
    journal = Journal(tmp_path / "run.jsonl", "run-1")
    seen: list[tuple] = []
    lock = threading.Lock()

    def on_event(host, obj):
        with lock:
            seen.append(("event", host, obj, os.getpid()))

    def on_record(host, event, fields):
        with lock:
            seen.append(("record", host, event, dict(fields), os.getpid()))

    with HostExecutor(
        inventory, forks=2, processes=processes, journal=journal, on_record=on_record, on_event=on_event
    ) as executor:
        futures = {host: executor.submit(host, emit_then_record, 3) for host in inventory.hosts}
        done = {}
        for host, future in futures.items():
            assert future.result() == host
            with lock:
                done[host] = list(seen)
    journal.close()
    for host in inventory.hosts:
        mine = [entry for entry in done[host] if entry[1] == host]
        # everything the job sent was in the parent when its future was done, in the order sent
        assert mine == [
            ("event", host, ("step", host, 0), os.getpid()),
            ("event", host, ("step", host, 1), os.getpid()),
            ("event", host, ("step", host, 2), os.getpid()),
            ("record", host, "probe", {"value": host}, os.getpid()),
        ]
    lines = read_journal(tmp_path / "run.jsonl")
    assert sorted((r["host"], r["event"], r["value"]) for r in lines) == sorted(
        (h, "probe", h) for h in inventory.hosts
    )


@MODES
@pytest.mark.parametrize("failing", ["on_event", "on_record"])
def test_a_callback_that_raises_fails_its_job_and_does_not_leave_it_hanging(lab, processes, failing):
    def broken(*args):
        raise ValueError("the printer broke")

    with HostExecutor(inventory_of(lab), processes=processes, **{failing: broken}) as executor:
        future = executor.submit("wsus-01", emit_then_record, 1)
        wait([future], timeout=60)  # without the fix the job never ends (a worker's reader died)
        assert future.done()
        with pytest.raises(ValueError, match="the printer broke"):
            future.result()
        # the executor still runs the next job (one that neither emits nor records)
        assert executor.submit("wsus-02", _facts_name).result() == "wsus-02"


@MODES
def test_a_record_that_does_not_pickle_still_reaches_the_parent(lab, processes):
    inventory = inventory_of(lab)
    seen = []

    def on_record(host, event, fields):
        seen.append((host, event, fields))

    with HostExecutor(inventory, processes=processes, on_record=on_record) as executor:
        assert executor.submit("wsus-01", record_what_does_not_pickle).result() == "wsus-01"
    [(host, event, fields)] = seen
    assert (host, event, fields["host_name"]) == ("wsus-01", "odd", "wsus-01") and "value" in fields


@MODES
def test_upstream_slots_hold_k_at_a_time_across_hosts_and_processes(lab, processes):
    inventory = inventory_of(lab)
    replicas = [h for h in inventory.hosts if h != "wsus-root"]
    holding = [0]
    most = [0]
    lock = threading.Lock()

    def on_record(host, event, fields):
        if host == "wsus-root":  # no upstream: needs no slot, so it overlaps the others freely
            return
        with lock:
            holding[0] += 1 if event == "slot_held" else -1
            most[0] = max(most[0], holding[0])

    with HostExecutor(inventory, forks=4, processes=processes, on_record=on_record) as executor:
        executor.set_upstream_slots({h: "wsus-root" for h in replicas} | {"wsus-root": None}, 1)
        assert executor.slots_free("wsus-root")
        outcomes = executor.map([*replicas, "wsus-root"], hold_a_slot)
        assert [o.error for o in outcomes] == [None] * len(outcomes)
        assert most[0] == 1 and holding[0] == 0
        assert executor.slots.held() == {}

        # K = 2: two at a time may, and a failure inside the block gives its slot back
        executor.set_upstream_slots({h: "wsus-root" for h in replicas}, 2)
        most[0] = 0
        failed = executor.map(replicas, fail_inside_a_slot)
        assert {o.status for o in failed} == {"unreachable"}
        assert executor.slots.held() == {} and executor.slots_free("wsus-root")
        executor.map(replicas, hold_a_slot)
        assert 1 <= most[0] <= 2 and executor.slots.held() == {}


def test_facts_work_function_reads_and_remembers_an_unreachable_host(lab):
    inventory = inventory_of(lab)
    lab.set_faults("wsus-01", EndpointFaults(down=True))
    try:
        with HostExecutor(inventory, forks=2, processes=1) as executor:
            first = {o.host: o.value for o in executor.map(["wsus-root", "wsus-01"], gather)}
            lab.set_faults("wsus-01", EndpointFaults())
            second = {o.host: o.value for o in executor.map(["wsus-root", "wsus-01"], gather)}
    finally:
        lab.set_faults("wsus-01", EndpointFaults())
    assert isinstance(first["wsus-root"], Facts) and isinstance(second["wsus-root"], Facts)
    # found unreachable once in this executor's life, the host is not tried again (as in a run)
    assert type(first["wsus-01"]).__name__ == type(second["wsus-01"]).__name__ == "NotReached"


def shells_on(lab) -> dict[str, int]:
    """How many shells (RunspacePools) each lab endpoint holds now: what the server side sees."""
    return {name: len(endpoint.shells) for name, endpoint in lab._server.endpoints.items()}


@MODES
def test_interrupt_ends_a_blocked_call_frees_its_slot_and_closes_every_session(make_lab, processes):
    lab = make_lab(small_topology(4))
    document = lab.inventory()
    # Receives long-poll for 15 minutes, beyond the test's timeout: the blocked call can end only
    # because interrupt() ends it (its handler starts after 600 s), never by a poll running out.
    document["all"]["vars"].update(ansible_psrp_operation_timeout=900, ansible_psrp_read_timeout=1000)
    inventory = inventory_from_dict(document, "<lab inventory>")
    asked, calling = threading.Event(), threading.Event()

    def on_record(host, event, fields):
        if (host, event) == ("wsus-01", "calling"):
            calling.set()
        if (host, event) == ("wsus-02", "asking"):
            asked.set()

    executor = HostExecutor(inventory, forks=2, processes=processes, on_record=on_record)
    try:
        executor.set_upstream_slots(dict.fromkeys(("wsus-01", "wsus-02", "wsus-03"), "wsus-root"), 1)
        assert {o.status for o in executor.map(inventory.hosts, _facts_name)} == {"ok"}
        assert set(shells_on(lab).values()) == {1}  # one open session per host
        # wsus-01's next call hangs on the server (its handler starts after 600 s) while it holds
        # the root's only slot; wsus-02 waits for that slot; wsus-03 waits for a free thread.
        lab.set_faults("wsus-01", EndpointFaults(slow_seconds=600))
        blocked = executor.submit("wsus-01", slow_call_inside_a_slot)
        calling.wait()
        waiting = executor.submit("wsus-02", slow_call_inside_a_slot)
        queued = executor.submit("wsus-03", slow_call_inside_a_slot)
        asked.wait()
        executor.interrupt()
        for future in (blocked, waiting, queued):
            with pytest.raises(Interrupted):
                future.result()
        assert executor.slots.held() == {}  # the blocked call's slot came back, none was taken since
        with pytest.raises(Interrupted):  # nothing starts after the stop
            executor.submit("wsus-root", _facts_name).result()
    finally:
        executor.close()
        lab.set_faults("wsus-01", EndpointFaults())
    assert shells_on(lab) == dict.fromkeys(inventory.hosts, 0)  # every session ended on its server


def held_by(lab, host: str) -> int:
    """How many requests the lab's ``unresponsive`` endpoint of ``host`` holds unanswered now."""
    return lab._server.endpoints[host].held_requests


@MODES
def test_close_after_interrupt_abandons_the_job_of_a_host_that_never_answers(make_lab, processes, tmp_path):
    lab = make_lab(small_topology(3))
    document = lab.inventory()
    # The connection's timeouts are far beyond the test's: the stuck call cannot end on its own.
    document["all"]["vars"].update(ansible_psrp_operation_timeout=900, ansible_psrp_read_timeout=1000)
    inventory = inventory_from_dict(document, "<lab inventory>")
    journal = Journal(tmp_path / "run.jsonl", "run-1")
    executor = HostExecutor(inventory, forks=2, processes=processes, journal=journal)
    try:
        assert {o.status for o in executor.map(inventory.hosts, _facts_name)} == {"ok"}
        # wsus-01 now reads every request and answers none (a hung WinRM service, a firewall)
        lab.set_faults("wsus-01", EndpointFaults(unresponsive=True))
        stuck = executor.submit("wsus-01", _facts_name)
        while held_by(lab, "wsus-01") == 0:  # until the lab holds its request
            threading.Event().wait(0.01)
        executor.interrupt()
        executor.close()
        # close() returned while the lab still holds the request unanswered: it did not wait for it
        assert held_by(lab, "wsus-01") >= 1
        with pytest.raises(Interrupted, match="abandoned"):
            stuck.result()
        # the hosts that answer had their Sessions ended on their servers all the same
        assert {name: count for name, count in shells_on(lab).items() if name != "wsus-01"} == {
            "wsus-root": 0,
            "wsus-02": 0,
        }
    finally:
        lab.set_faults("wsus-01", EndpointFaults())
        journal.close()
    abandoned = [r for r in read_journal(tmp_path / "run.jsonl") if r["event"] == "abandoned"]
    assert [r["host"] for r in abandoned] == ["wsus-01"]


@MODES
def test_one_job_at_a_time_per_host(lab, processes):
    inventory = inventory_of(lab)
    seen: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    def on_record(host, event, fields):
        with lock:
            seen.append((host, event, fields["label"]))

    with HostExecutor(inventory, forks=4, processes=processes, on_record=on_record) as executor:
        futures = [executor.submit("wsus-01", bracketed_read, str(i)) for i in range(4)]
        assert [f.result() for f in futures] == ["wsus-01"] * 4
    events = [(event, label) for _, event, label in seen]
    # each job's begin is followed by its own end before another job of the host begins
    assert events[0::2] == [("begin", label) for _, label in events[1::2]]
    assert [e for e, _ in events[1::2]] == ["end"] * 4


def test_a_worker_process_that_dies_fails_its_hosts_and_no_other(lab):
    inventory = inventory_of(lab)
    with HostExecutor(inventory, forks=2, processes=2) as executor:
        doomed = executor.submit("wsus-root", end_this_process)  # worker 0 owns wsus-root and wsus-02
        with pytest.raises(HostError, match="worker process ended"):
            doomed.result()
        later = executor.map(["wsus-02", "wsus-01", "wsus-03"], _facts_name)
    assert {o.host: o.status for o in later} == {"wsus-02": "failed", "wsus-01": "ok", "wsus-03": "ok"}
    assert "worker process" in str(later[0].error)
