"""The one host executor: the only place that opens and closes Sessions and spreads work over hosts.

Every command (run, facts, diagnose, report, fixes) and the library run host work through a
``HostExecutor``::

    with HostExecutor(inventory, forks=20) as executor:
        outcomes = executor.map(["wsus-01", "wsus-02"], gather)   # every host, in this order
        future = executor.submit("wsus-01", run_tasks, play, tasks, facts, False)

A work function is a module-level function ``work(job, *args)`` (worker processes receive it by
reference). ``job.host`` and ``job.inventory`` name the host, ``job.session`` is the host's one
Session for the executor's whole life (opened on its first command, reused by every later job of
that host), ``job.context`` is the ``HostContext`` an operation takes (journal events now, a slot
at the upstream, the stop flag), and ``job.emit(obj)`` streams an object to ``on_event(host, obj)``
in this process as it happens. One job runs at a time per host.

Hosts are spread over ``forks`` threads, or, with ``processes`` > 1, over worker processes that
each own a share of the hosts for the executor's life (``wsusauto.execution.procwork``); the work,
its events, journal records and slots behave the same either way. The callbacks ``on_event`` and
``on_record`` are called in this process, from executor threads: they must be thread-safe, and for
one job its events and records arrive before its future is done.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, InvalidStateError, wait
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from wsusauto.config.inventory import Inventory
from wsusauto.errors import HostError, Interrupted, UsageError, WsusAutoError
from wsusauto.execution import verdict
from wsusauto.execution.jobs import INTERRUPT_WAIT, HostJob, HostRuntime, SessionFactory
from wsusauto.execution.slots import UpstreamSlots
from wsusauto.execution.threads import DaemonThreads

if TYPE_CHECKING:  # the journal's module imports the console's, which imports fleet's: types only
    from wsusauto.output.journal import Journal

__all__ = [
    "HOSTS_PER_PROCESS",
    "HostExecutor",
    "HostJob",
    "HostOutcome",
    "SessionFactory",
    "default_processes",
]

T = TypeVar("T")
OnEvent = Callable[[str, Any], None]
OnRecord = Callable[[str, str, dict[str, Any]], None]

# One pypsrp client process manages roughly 100 pipelines/s; beyond this many hosts the work is
# spread over several processes (at most one per CPU).
HOSTS_PER_PROCESS = 150


# After interrupt(), how long close() gives at least the jobs whose Sessions were ended to unwind and
# report (a sync left running, its attempts) before it abandons those still waiting on a host.
ABANDON_GRACE = 0.5


def default_processes(host_count: int) -> int:
    return max(1, min(os.cpu_count() or 1, -(-host_count // HOSTS_PER_PROCESS)))


@dataclass(frozen=True)
class HostOutcome(Generic[T]):
    """One host's result of ``HostExecutor.map``: its value, or the error that ended its work."""

    host: str
    value: T | None = None
    error: WsusAutoError | None = None

    @property
    def status(self) -> verdict.Verdict:
        """``ok``, ``failed`` or ``unreachable``, decided as in every command (``verdict.of_error``:
        refused credentials are unreachable, nothing ran)."""
        return verdict.of_error(self.error)


class HostExecutor:
    def __init__(
        self,
        inventory: Inventory,
        *,
        forks: int = 20,
        processes: int | None = None,
        deadline: float = 120.0,
        session_factory: SessionFactory | None = None,
        journal: Journal | None = None,
        on_record: OnRecord | None = None,
        on_event: OnEvent | None = None,
        thread_name: str = "host",
    ) -> None:
        """``processes``: None picks ``default_processes`` for the inventory's size; a custom
        ``session_factory`` lives in this process, so it always means threads only.
        ``on_record(host, event, fields)``: each journal event as a host's job records it.
        ``on_event(host, obj)``: each object a job emits, unless its ``submit`` names another.
        ``thread_name``: how this process's worker threads are named (logs, debuggers)."""
        if forks < 1:
            raise UsageError("forks must be at least 1")
        self.inventory = inventory
        self.forks = forks
        self.on_record = on_record
        self.on_event = on_event
        self.slots = UpstreamSlots()
        self._journal = journal
        self._jobs: dict[Future[Any], str] = {}  # submitted and not ended: what close() waits for
        self._jobs_lock = threading.Lock()
        self._interrupted_at: float | None = None  # time.monotonic() of interrupt()
        if processes is None:
            processes = default_processes(len(inventory.hosts))
        self.processes = 1 if session_factory is not None else max(1, processes)
        self._closed = False
        if self.processes > 1:
            from wsusauto.execution.procwork import WorkerProcesses

            self._workers: WorkerProcesses | None = WorkerProcesses(
                inventory,
                processes=self.processes,
                forks=forks,
                deadline=deadline,
                journal=journal,
                on_record=self._record,
                slots=self.slots,
            )
            self._runtime: HostRuntime | None = None
            self._pool: DaemonThreads | None = None
        else:
            self._workers = None
            self._runtime = HostRuntime(
                inventory,
                deadline=deadline,
                session_factory=session_factory,
                journal=journal,
                link=_ThisProcess(self),
            )
            self._pool = DaemonThreads(forks, thread_name)

    # -- work ----------------------------------------------------------------------------------

    def submit(
        self, host_name: str, work: Callable[..., T], *args: Any, on_event: OnEvent | None = None
    ) -> Future[T]:
        """Run ``work(job, *args)`` on ``host_name``; objects it emits go to ``on_event`` (this call's,
        else the executor's). The future holds the value or the exception the work raised."""
        if self._closed:
            raise RuntimeError("the executor is closed")
        if host_name not in self.inventory.hosts:
            raise UsageError(f"{host_name}: not a host of the inventory")
        handler = on_event or self.on_event

        def emit(obj: Any) -> None:
            if handler is not None:
                handler(host_name, obj)

        future: Future[T]
        if self._workers is not None:
            future = self._workers.submit(host_name, work, args, emit)
        else:
            assert self._pool is not None and self._runtime is not None
            future = self._pool.submit(self._runtime.run, host_name, work, args, emit)
        with self._jobs_lock:
            self._jobs[future] = host_name
        future.add_done_callback(self._job_ended)
        return future

    def _job_ended(self, future: Future[Any]) -> None:
        with self._jobs_lock:
            self._jobs.pop(future, None)

    def map(
        self, host_names: Iterable[str], work: Callable[..., T], *args: Any, on_event: OnEvent | None = None
    ) -> list[HostOutcome[T]]:
        """``work(job, *args)`` on every host, outcomes in the given order; a host's error (a
        HostError, a UsageError, an Interrupted) is its outcome, never raised."""
        names = list(host_names)
        futures = [self.submit(name, work, *args, on_event=on_event) for name in names]
        outcomes: list[HostOutcome[T]] = []
        for name, future in zip(names, futures, strict=True):
            try:
                outcomes.append(HostOutcome(name, value=future.result()))
            except (HostError, UsageError, Interrupted) as exc:
                outcomes.append(HostOutcome(name, error=exc))
        return outcomes

    # -- upstream slots --------------------------------------------------------------------------

    def set_upstream_slots(self, upstream_of: Mapping[str, str | None], per_upstream: int) -> None:
        """From now on ``job.context.upstream_slot()`` of a host holds one of ``per_upstream`` slots
        at ``upstream_of[host]`` (hosts without an upstream, or not named, need none)."""
        self.slots.configure(upstream_of, per_upstream)

    def slots_free(self, upstream: str | None) -> bool:
        """Whether a host of ``upstream`` would get a slot there now (for a scheduler choosing what
        to start next)."""
        return self.slots.free(upstream)

    def free_slots(self, upstream: str | None) -> int:
        """How many hosts of ``upstream`` would get a slot there now (``sys.maxsize``: no limit)."""
        return self.slots.free_count(upstream)

    def on_slot_free(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(upstream)`` (in this process, from an executor thread) each time a slot at
        ``upstream`` comes free and no waiting host took it: when a scheduler may start another."""
        self.slots.add_listener(callback)

    # -- the end ----------------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Stop everything now: the stop flag is set (``context.stopping()``, ``context.sleep()``
        return at once), waiting slot requests and jobs not yet started end with ``Interrupted``,
        and every Session is closed so pipelines running on hosts stop. Final: call ``close()`` after."""
        if self._interrupted_at is None:
            self._interrupted_at = time.monotonic()
        self.slots.abort()
        if self._workers is not None:
            self._workers.interrupt()
        else:
            assert self._runtime is not None
            self._runtime.interrupt(self.forks)

    def close(self) -> None:
        """Wait for submitted work, then close every Session (in parallel) and forget password hashes.

        After ``interrupt()`` it waits only until the interrupt's ``INTERRUPT_WAIT`` has passed (at
        least ``ABANDON_GRACE``): a job still running then waits on a host that does not answer (its
        connection's timeout may be minutes away), so it is abandoned: its future ends with
        ``Interrupted``, the journal says ``abandoned``, and its daemon thread (or worker process)
        is left to end on its own. Ctrl+C thus ends a command within about two seconds."""
        if self._closed:
            return
        self._closed = True
        interrupted = self._interrupted_at is not None
        if interrupted:
            self._abandon_stuck_jobs()
        if self._workers is not None:
            self._workers.close(wait_for_jobs=not interrupted)
        else:
            assert self._pool is not None and self._runtime is not None
            self._pool.shutdown(wait=not interrupted)
            self._runtime.close(self.forks, sessions_ended=interrupted)

    def _abandon_stuck_jobs(self) -> None:
        assert self._interrupted_at is not None
        with self._jobs_lock:
            jobs = dict(self._jobs)
        grace = max(ABANDON_GRACE, self._interrupted_at + INTERRUPT_WAIT - time.monotonic())
        _, stuck = wait(jobs, timeout=grace)
        for future in stuck:
            host = jobs[future]
            reason = "the host did not answer after the stop; its work is left to its connection's timeout"
            with suppress(InvalidStateError):  # it may have ended just now: then its own result stands
                future.set_exception(Interrupted(f"{host}: abandoned: {reason}"))
                if self._journal is not None:
                    self._journal.write("abandoned", host=host, reason=reason)

    def __enter__(self) -> HostExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is not None and not issubclass(exc_type, Exception):
            self.interrupt()  # Ctrl+C (KeyboardInterrupt) or exit: end the running work, do not wait for it
        self.close()

    def _record(self, host: str, event: str, fields: dict[str, Any]) -> None:
        if self.on_record is not None:
            self.on_record(host, event, fields)


class _ThisProcess:
    """The parent link of thread mode: the parent is this process."""

    def __init__(self, executor: HostExecutor) -> None:
        self._executor = executor

    def record(self, host: str, event: str, fields: dict[str, Any]) -> None:
        self._executor._record(host, event, fields)

    def acquire_slot(self, host: str) -> bool:
        answer: list[bool] = []
        answered = threading.Event()

        def grant(granted: bool) -> None:
            answer.append(granted)
            answered.set()

        self._executor.slots.request(host, grant)
        answered.wait()  # the table answers every request: granted, or False once aborted
        return answer[0]

    def release_slot(self, host: str) -> None:
        self._executor.slots.release(host)
