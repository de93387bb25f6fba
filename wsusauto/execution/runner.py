"""The fleet runner: a playbook over an inventory, one Session per host for the whole run.

A run, play by play:

1. prepare every play (``wsusauto.execution.prepare``): resolve every task for every host
   (``when``, expressions, argument checks) and check the intended hierarchy (self-upstream,
   cycles, unknown upstreams): a mistake stops the run here, before any server is contacted;
2. read every host's facts (``forks`` at a time), then run each task's fleet step
   (``Operation.prepare_fleet``: a stagger plan, a hierarchy's one storage option, ...) and the
   diagnosis its operations read: a refusal stops the run, nothing changed;
3. run the hosts on the executor as the play's schedule lets them start (``execution.scheduler``):
   ``serial`` batches one after the other; with ``order: hierarchy`` a host as soon as its own
   upstream finished successfully and, for an operation that makes its upstream work for it
   (``uses_upstream_slot``), a slot there is free (``max_concurrent_per_upstream``, held only during
   a sync attempt), so a retry wait in one subtree holds back no other; each host runs its tasks in
   order; a failed host never stops the others, the hosts below it are skipped with the reason;
   ``max_fail_percentage`` stops the run once a batch failed too many.

Every change is journaled before and after it is applied. Check mode plans the same changes
against simulated facts (``Operation.simulate``), so ``--check`` reports what a real run would change.
The runner names no operation: what one needs beyond its host is its own hooks.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from wsusauto.config.inventory import Inventory
from wsusauto.config.playbook import Play, Playbook
from wsusauto.errors import UsageError
from wsusauto.execution import verdict
from wsusauto.execution.executor import HOSTS_PER_PROCESS, HostExecutor, default_processes
from wsusauto.execution.hostwork import (
    HostStarted,
    NotReached,
    PreparedTask,
    SessionFactory,
    TaskResult,
    gather,
    run_tasks,
)
from wsusauto.execution.interrupt import RunInterrupted
from wsusauto.execution.prepare import PreparedPlay, prepare_play, run_fleet_steps
from wsusauto.execution.progress import PlayProgress
from wsusauto.execution.running_syncs import RunningSync, RunningSyncs
from wsusauto.execution.scheduler import PlaySchedule
from wsusauto.operations import get_operation
from wsusauto.output.journal import Journal
from wsusauto.output.jsonable import to_jsonable
from wsusauto.state.facts import Facts

__all__ = [
    "COUNTERS",
    "HOSTS_PER_PROCESS",
    "RunResult",
    "Runner",
    "TaskResult",
    "default_processes",
]

COUNTERS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")


@dataclass
class RunResult:
    run_id: str
    check_mode: bool
    hosts: dict[str, list[TaskResult]] = field(default_factory=dict)
    recap: dict[str, dict[str, int]] = field(default_factory=dict)
    aborted: str = ""
    # Set when Ctrl+C stopped the run: the synchronizations it started and left running on servers.
    interrupted: list[RunningSync] | None = None

    def add(self, result: TaskResult) -> None:
        self.hosts.setdefault(result.host, []).append(result)
        counters = self.recap.setdefault(result.host, dict.fromkeys(COUNTERS, 0))
        if result.status == "changed":
            counters["ok"] += 1
            counters["changed"] += 1
        else:
            counters[result.status] += 1

    @property
    def verdicts(self) -> dict[str, verdict.Verdict]:
        """Each host's verdict: the worst of its tasks' (an ignored error does not fail it)."""
        return {
            host: verdict.worst(verdict.of_task_status(r.status) for r in results)
            for host, results in self.hosts.items()
        }

    @property
    def exit_code(self) -> int:
        """As every command's (``verdict.exit_code``); a run stopped by ``max_fail_percentage`` fails,
        one stopped by the user exits 99 whatever its hosts' verdicts."""
        return verdict.exit_code(
            self.verdicts.values(), aborted=bool(self.aborted), interrupted=self.interrupted is not None
        )

    def document(self) -> dict[str, Any]:
        """The ``--json`` result: ``hosts`` -> task results, ``recap`` -> Ansible's seven counters."""
        return {
            "run_id": self.run_id,
            "check_mode": self.check_mode,
            "aborted": self.aborted or None,
            "hosts": {
                host: [
                    {
                        "play": r.play,
                        "name": r.name,
                        "operation": r.operation,
                        "status": r.status,
                        "changed": r.changed,
                        "failed": r.failed,
                        "diff": to_jsonable(r.diff),
                        "message": r.message,
                        "warnings": list(r.warnings),
                        **(
                            {"attempts": to_jsonable(r.details["attempts"])}
                            if "attempts" in r.details
                            else {}
                        ),
                        **(
                            {"findings": to_jsonable(r.details["findings"])}
                            if "findings" in r.details
                            else {}
                        ),
                        **({"retryable": True} if r.details.get("retryable") else {}),
                        # the run was stopped (Ctrl+C) before this task ended, or before it started
                        **({"interrupted": True} if r.details.get("interrupted") else {}),
                    }
                    for r in results
                ]
                for host, results in self.hosts.items()
            },
            "recap": self.recap,
            **(
                {"interrupted": {"left_running": [to_jsonable(s.to_dict()) for s in self.interrupted]}}
                if self.interrupted is not None
                else {}
            ),
        }


def _uses_upstream_slot(prepared: PreparedTask) -> bool:
    return prepared.args is not None and get_operation(prepared.task.operation).uses_upstream_slot


class Runner:
    def __init__(
        self,
        inventory: Inventory,
        playbook: Playbook,
        *,
        limit: str | None = None,
        forks: int = 20,
        check: bool = False,
        journal: Journal | None = None,
        deadline: float = 300.0,
        session_factory: SessionFactory | None = None,
        on_result: Callable[[TaskResult], None] | None = None,
        on_play: Callable[[Play, list[str]], None] | None = None,
        processes: int | None = None,
    ) -> None:
        if forks < 1:
            raise UsageError("forks must be at least 1")
        self.inventory = inventory
        self.playbook = playbook
        self.limit = limit
        self.forks = forks
        self.check = check
        self.deadline = deadline
        self.journal = journal
        self.session_factory = session_factory
        self.on_result = on_result or (lambda result: None)
        self.on_play = on_play or (lambda play, hosts: None)
        self.run_id = journal.run_id if journal else uuid.uuid4().hex[:12]
        self.processes = default_processes(len(inventory.hosts)) if processes is None else processes
        if session_factory is not None:
            self.processes = 1  # a custom session factory lives in this process
        self._work: HostExecutor | None = None
        self._running_syncs = RunningSyncs()  # from the hosts' records: what a Ctrl+C leaves running
        self._progress: PlayProgress | None = None  # the running play's hosts: what a Ctrl+C must report
        self._wake = threading.Event()  # the run loop's: a host's job ended or an upstream's slot came free

    def _start_work(self) -> HostExecutor:
        return HostExecutor(
            self.inventory,
            forks=self.forks,
            processes=self.processes,
            deadline=self.deadline,
            session_factory=self.session_factory,
            journal=self.journal,
            on_event=lambda host, result: self._streamed(result),
            on_record=self._running_syncs.on_record,
        )

    def _streamed(self, event: TaskResult | HostStarted) -> None:
        progress = self._progress
        if progress is not None:
            progress.streamed(event)
        if isinstance(event, TaskResult):  # HostStarted only tells progress the job began
            self.on_result(event)

    def _write(self, event: str, **fields: Any) -> None:
        if self.journal is not None:
            self.journal.write(event, **fields)

    # -- the whole run -----------------------------------------------------------------------

    def run(self) -> RunResult:
        result = RunResult(self.run_id, self.check)
        # Resolve every play first: a wrong playbook or inventory touches nothing.
        prepared = [prepare_play(self.inventory, play, self.limit) for play in self.playbook.plays]
        if self.session_factory is None:
            # Connection vars are input too (Basic over plain HTTP, a password variable not set):
            # a mistake there stops the run here, before any server is contacted, as in `facts`.
            for name in dict.fromkeys(h for p in prepared for h in p.hosts):
                self.inventory.connection_options(self.inventory.hosts[name])
        self._write(
            "run_started",
            check_mode=self.check,
            playbook=self.playbook.source,
            inventory=self.inventory.source,
        )
        self._running_syncs = RunningSyncs()
        self._work = self._start_work()
        self._work.on_slot_free(lambda upstream: self._wake.set())
        stopped = False
        try:
            try:
                for play_plan in prepared:
                    self.on_play(play_plan.play, play_plan.hosts)
                    if not play_plan.hosts:
                        continue
                    if not self._run_play(play_plan, result):
                        break
            except KeyboardInterrupt:  # Ctrl+C: every host leaves at its next poll, sessions close
                stopped = True
                self._work.interrupt()
            except BaseException as exc:
                # SystemExit (a SIGTERM handler's sys.exit), a timeout's exit: leave as Ctrl+C does,
                # or close() below would wait on a host that does not answer for its whole timeout.
                if not isinstance(exc, Exception):
                    self._work.interrupt()
                raise
        finally:
            self._work.close()
            if stopped:  # known once every host's job has ended: a sync seen ending meanwhile is not named
                if self._progress is not None:  # every host of the play gets its outcome
                    for task_result in self._progress.outcomes_at_stop():
                        result.add(task_result)
                result.interrupted = self._running_syncs.left_running()
                self._write("interrupted", **RunInterrupted(result.interrupted).journal_fields())
            self._write(
                "run_finished", recap=result.recap, exit_code=result.exit_code, aborted=result.aborted
            )
        if result.interrupted is not None:
            raise RunInterrupted(result.interrupted, result)
        return result

    # -- one play ----------------------------------------------------------------------------

    def _run_play(self, play_plan: PreparedPlay, result: RunResult) -> bool:
        assert self._work is not None
        play, hosts, upstream_of = play_plan.play, play_plan.hosts, play_plan.upstream_of
        self._progress = PlayProgress(play.name, hosts, play_plan.tasks, result.hosts)
        facts = {
            o.host: o.value if o.error is None else NotReached(str(o.error))
            for o in self._work.map(hosts, gather)
        }
        tasks = run_fleet_steps(play_plan, facts, self._diagnose)
        return self._run_hosts(play, hosts, tasks, facts, upstream_of, result)

    def _run_hosts(
        self,
        play: Play,
        hosts: list[str],
        tasks: Mapping[str, list[PreparedTask]],
        facts: Mapping[str, Any],
        upstream_of: Mapping[str, str | None],
        result: RunResult,
    ) -> bool:
        """The play's hosts on the executor, each as soon as the schedule lets it start
        (``execution.scheduler``): up to ``forks`` at a time, in hierarchy order a host once its
        upstream succeeded, a host whose operation makes its upstream work for it
        (``Operation.uses_upstream_slot``) once a slot there is free. Results stream as hosts end;
        False when ``max_fail_percentage`` stopped the run."""
        work = self._work
        assert work is not None
        limit = play.max_concurrent_per_upstream
        # The slots at upstreams bound what one upstream serves at once in hierarchy order
        # (max_concurrent_per_upstream); each attempt holds its slot (HostContext.upstream_slot).
        work.set_upstream_slots(upstream_of if play.order == "hierarchy" else {}, limit)
        schedule = PlaySchedule(
            hosts,
            order=play.order,
            upstream_of=upstream_of,
            batches=play.batches(hosts),
            max_fail_percentage=play.max_fail_percentage,
            needs_slot=[name for name in hosts if any(_uses_upstream_slot(p) for p in tasks[name])]
            if play.order == "hierarchy"
            else [],
            # facts not read: the host's verdict is its own (unreachable, failed), whatever its upstream does
            on_its_own=[name for name in hosts if not isinstance(facts.get(name), Facts)],
        )

        progress = self._progress
        assert progress is not None
        running: dict[Future[list[TaskResult]], str] = {}
        # The loop sleeps until something that can start a host happens: a host's job ends (its
        # future's callback) or a slot at an upstream comes free with no waiting job taking it
        # (the executor's on_slot_free, set in run()). Cleared before the loop reads the state, so
        # an event that comes while it reads sets it again and the wait below returns at once.
        wake = self._wake
        while True:
            wake.clear()
            for future in [f for f in running if f.done()]:
                name = running.pop(future)
                host_results = future.result()
                for task_result in host_results:
                    result.add(task_result)
                progress.reported(name)
                # the host's one verdict (as the exit code's): its dependents wait on it
                host_verdict = verdict.worst(verdict.of_task_status(r.status) for r in host_results)
                bad = host_verdict in (verdict.FAILED, verdict.UNREACHABLE)
                schedule.finished(name, not bad, host_verdict if bad else "")
            # forks hosts running and as many queued behind them: a worker that ends a host takes the
            # next at once instead of waiting for this loop to hear of it (worker processes answer
            # over a pipe); a host still starts only when the schedule lets it
            for name in schedule.ready(work.free_slots, limit=2 * self.forks - len(running)):
                future = work.submit(name, run_tasks, play.name, tasks[name], facts.get(name), self.check)
                running[future] = name
                progress.started(name, future)
                future.add_done_callback(lambda _: wake.set())
            for skipped in schedule.take_skipped():
                for planned in tasks[skipped.host]:
                    task = planned.task
                    skip = TaskResult(
                        skipped.host, play.name, task.name, task.operation, "skipped", message=skipped.reason
                    )
                    result.add(skip)
                    self.on_result(skip)
                progress.reported(skipped.host)
            if not running:
                break
            wake.wait()
        if schedule.stopped is not None:
            result.aborted = (
                f"{play.where}: {schedule.stopped.failed} of {schedule.stopped.batch_size} hosts in a "
                f"batch failed, more than max_fail_percentage {play.max_fail_percentage:g}; the run stopped"
            )
            return False
        return True

    def _diagnose(self, hosts: Sequence[str], limit: int) -> Any:
        """The fleet's diagnosis of the play's hosts, for the operations that read it (prepare)."""
        from wsusauto.diagnose import diagnose_fleet

        # On the run's executor: the diagnosis reuses the run's Sessions (and its unreachable hosts).
        return diagnose_fleet(
            self.inventory,
            [self.inventory.hosts[name] for name in hosts],
            executor=self._work,
            max_concurrent_per_upstream=limit,
        )
