"""The executor's side in the process that works on a host: its Session, its jobs, its context.

``HostRuntime`` holds, for the hosts one process owns, one Session per host for the executor's
whole life, runs one job at a time per host (a Session is not for two threads at once), and gives
each job a ``HostJob``: the host, its Session (opened on first use), a ``HostContext`` and ``emit``.
In thread mode the executor's own process has the runtime; in process mode each worker process
has one, and what must reach the parent (records, emitted objects, upstream slots) goes through
its ``ParentLink``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from wsusauto.client.session import Session
from wsusauto.client.speedups import forget_password_hashes
from wsusauto.config.inventory import Host, Inventory
from wsusauto.errors import Interrupted, WsusAutoError
from wsusauto.operations.context import HostContext

if TYPE_CHECKING:  # the journal's module imports the console's, which imports fleet's: types only
    from wsusauto.output.journal import Journal

SessionFactory = Callable[[Host, Inventory], Session]


class ParentLink(Protocol):
    """What a host's job needs from the executor's parent process."""

    def record(self, host: str, event: str, fields: dict[str, Any]) -> None:
        """Tell the parent a journal event of ``host`` (already written to the journal)."""

    def acquire_slot(self, host: str) -> bool:
        """Block until ``host`` holds a slot at its upstream (True), or the run stops (False)."""

    def release_slot(self, host: str) -> None:
        """Give back the slot ``host`` holds."""


class StoppableSession:
    """A host's Session as its jobs see it: once the run is stopping, no new command starts on it,
    and the executor knows whether a command is running on it now (to end that one at once)."""

    def __init__(self, session: Session, stop: threading.Event) -> None:
        self._session = session
        self._stop = stop
        self._lock = threading.Lock()
        self._running = 0

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        with self._command():
            return self._session.invoke(*args, **kwargs)

    def invoke_all(self, *args: Any, **kwargs: Any) -> list[Any]:
        with self._command():
            return self._session.invoke_all(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    @contextmanager
    def _command(self) -> Iterator[None]:
        with self._lock:
            if self._stop.is_set():
                raise Interrupted(f"{self._session.name}: the run is stopping; no new command is sent")
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1

    def end_now(self) -> None:
        """The run stops (its flag already set): end the Session, and a command running on it."""
        with self._lock:
            running = self._running > 0  # no command starts any more: this stays true or turns false
        interrupt = getattr(self._session, "interrupt", None)
        if running and interrupt is not None:
            interrupt()  # from this thread, while another waits on the Session's connection
        else:
            self._session.close()


@dataclass
class _HostState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    unreachable: str | None = None  # why nothing can run on the host (remembered for later jobs)


class JobContext(HostContext):
    """``HostContext`` of one host in an executor: journal now, slots at the upstream, the stop flag."""

    def __init__(self, runtime: HostRuntime, host: str) -> None:
        self.host = host
        self._runtime = runtime

    def record(self, event: str, **fields: Any) -> None:
        if self._runtime.journal is not None:
            self._runtime.journal.write(event, host=self.host, **fields)
        self._runtime.link.record(self.host, event, fields)

    @contextmanager
    def upstream_slot(self) -> Iterator[None]:
        if not self._runtime.link.acquire_slot(self.host):
            raise Interrupted(f"{self.host}: the run is stopping; the upstream's slot was not taken")
        try:
            yield
        finally:
            self._runtime.link.release_slot(self.host)

    def stopping(self) -> bool:
        return self._runtime.stop.is_set()

    def sleep(self, seconds: float) -> None:
        self._runtime.stop.wait(max(0.0, seconds))


class HostJob:
    """One piece of work on one host, as the work function sees it."""

    def __init__(self, runtime: HostRuntime, name: str, emit: Callable[[Any], None]) -> None:
        self._runtime = runtime
        self._state = runtime.state(name)
        self.host: Host = runtime.inventory.hosts[name]
        self.inventory: Inventory = runtime.inventory
        self.context = JobContext(runtime, name)
        self._emit = emit

    @property
    def session(self) -> Any:
        """The host's one Session (a ``StoppableSession`` around it), opened on its first command."""
        return self._runtime.session(self.host.name)

    @property
    def unreachable(self) -> str | None:
        """Why the host could not be reached earlier in this executor's life (None: it could)."""
        return self._state.unreachable

    @unreachable.setter
    def unreachable(self, reason: str | None) -> None:
        self._state.unreachable = reason

    def emit(self, obj: Any) -> None:
        """Stream ``obj`` (e.g. a TaskResult) to the executor's ``on_event`` in the parent now."""
        self._emit(obj)


class HostRuntime:
    def __init__(
        self,
        inventory: Inventory,
        *,
        deadline: float,
        session_factory: SessionFactory | None,
        journal: Journal | None,
        link: ParentLink,
    ) -> None:
        self.inventory = inventory
        self.deadline = deadline
        self.session_factory = session_factory or (
            lambda host, inv: Session(host.name, inv.connection_options(host), default_deadline=deadline)
        )
        self.journal = journal
        self.link = link
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._hosts: dict[str, _HostState] = {}
        self._sessions: dict[str, StoppableSession] = {}

    def state(self, name: str) -> _HostState:
        with self._lock:
            return self._hosts.setdefault(name, _HostState())

    def session(self, name: str) -> StoppableSession:
        with self._lock:
            if self.stop.is_set():
                raise Interrupted(f"{name}: the run is stopping; no session is opened")
            session = self._sessions.get(name)
            if session is None:
                raw = self.session_factory(self.inventory.hosts[name], self.inventory)
                session = self._sessions[name] = StoppableSession(raw, self.stop)
            return session

    def run(
        self, name: str, work: Callable[..., Any], args: Sequence[Any], emit: Callable[[Any], None]
    ) -> Any:
        """``work(job, *args)`` on host ``name``, after any earlier job of that host has ended."""
        if name not in self.inventory.hosts:
            raise WsusAutoError(f"{name}: not a host of the inventory")
        state = self.state(name)
        with state.lock:
            if self.stop.is_set():
                raise Interrupted(f"{name}: the run was stopped before this host's work started")
            try:
                return work(HostJob(self, name, emit), *args)
            except Interrupted:
                raise
            except WsusAutoError as exc:
                if self.stop.is_set():  # its Session was ended under it: that is the stop, not the host
                    raise Interrupted(f"{name}: the run was stopped while this host's work ran") from exc
                raise

    def interrupt(self, parallel: int) -> None:
        """Stop: no new command or job starts, and every Session ends (a command running on one
        ends at once, its pipeline stopped on the server). Returns after at most about
        ``INTERRUPT_WAIT`` seconds: a host that does not answer is left to its connection's
        timeouts in the background, so Ctrl+C never waits for it here."""
        with self._lock:
            self.stop.set()
            sessions = list(self._sessions.values())
        _in_background(parallel, [s.end_now for s in sessions], INTERRUPT_WAIT)

    def close(self, parallel: int, sessions_ended: bool = False) -> None:
        """Close every Session and forget password hashes. ``sessions_ended``: ``interrupt()`` has
        ended them already (a host that does not answer in a background thread of its own), so
        closing them again here would only wait for such a host."""
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        if not sessions_ended:
            _in_parallel(parallel, [s._session.close for s in sessions])
        forget_password_hashes()  # the executor is done: its passwords need not stay in memory


# How long interrupt() waits for Sessions to end before it leaves the rest to background threads.
INTERRUPT_WAIT = 2.0


def _in_background(parallel: int, calls: list[Callable[[], None]], wait: float) -> None:
    """``calls`` on up to ``parallel`` daemon threads; wait for them at most ``wait`` seconds."""
    pending = list(reversed(calls))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not pending:
                    return
                call = pending.pop()
            try:
                call()
            except Exception:  # ending a Session never raises; a custom one must not stop the others
                pass

    threads = [
        threading.Thread(target=work, name="wsusauto-interrupt", daemon=True)
        for _ in range(max(1, min(parallel, len(calls))))
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + wait
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _in_parallel(parallel: int, calls: list[Callable[[], None]]) -> None:
    if calls:
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(calls)))) as pool:
            list(pool.map(lambda call: call(), calls))
