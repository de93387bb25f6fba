"""The executor's worker processes: one pypsrp client process tops out near 100 pipelines/s.

Each worker process owns a fixed share of the hosts for the executor's life (a host's Session lives
in one process) and works on them in threads. The parent sends each job to the process that owns
its host, tagged with an id; one reader thread per worker pipe in the parent takes what comes back
as it comes: a job's emitted objects, its journal records (the worker writes the journal line
itself, whole-line appends, then tells the parent), its requests for an upstream slot (the table
lives in the parent; the answer goes back over the pipe) and slot releases, and the job's end.
"""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import pickle
import random
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import wait as wait_for
from contextlib import suppress
from pathlib import Path
from typing import Any

import structlog

from wsusauto.config.inventory import Inventory
from wsusauto.errors import HostError, Interrupted, WsusAutoError
from wsusauto.execution.jobs import INTERRUPT_WAIT, HostRuntime
from wsusauto.execution.slots import UpstreamSlots
from wsusauto.execution.threads import DaemonThreads
from wsusauto.output.journal import Journal
from wsusauto.output.log import configure_logging, current_settings

log = structlog.get_logger(__name__)


def start_method() -> str:
    """How worker processes start: fork where that is safe, spawn elsewhere.

    A forked worker starts at once with everything already imported; a spawned one imports
    wsusauto, pypsrp and requests again, about 0.6 s of CPU each. Fork is safe on Linux when this
    process runs a single thread, as the CLI does; with other threads running (an application
    using wsusauto as a library, a test with an in-process lab), a lock one of them holds could be
    copied held into the child, so those spawn."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


# -- the parent's side ------------------------------------------------------------------------


class _Worker:
    def __init__(self, index: int, pipe: Any, process: Any) -> None:
        self.index = index
        self.pipe = pipe
        self.process = process
        self.send_lock = threading.Lock()
        self.reader: threading.Thread | None = None

    def send(self, message: tuple[Any, ...]) -> bool:
        with self.send_lock:
            try:
                self.pipe.send(message)
                return True
            except (BrokenPipeError, EOFError, OSError):
                return False


class WorkerProcesses:
    def __init__(
        self,
        inventory: Inventory,
        *,
        processes: int,
        forks: int,
        deadline: float,
        journal: Journal | None,
        on_record: Callable[[str, str, dict[str, Any]], None],
        slots: UpstreamSlots,
    ) -> None:
        method = start_method()
        log.debug("starting worker processes", processes=processes, start_method=method)
        context: Any = multiprocessing.get_context(method)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # a forked child must not inherit text the parent has yet to write
        self.owner = {name: i % processes for i, name in enumerate(inventory.hosts)}
        self.on_record = on_record
        self.slots = slots
        self._lock = threading.Lock()
        self._ids = itertools.count()
        # id -> (future, emit, worker index, host)
        self._pending: dict[int, tuple[Future[Any], Callable[[Any], None], int, str]] = {}
        threads = max(1, math.ceil(forks / processes))
        journal_spec = (str(Path(journal.path)), journal.run_id) if journal else None
        self._workers: list[_Worker] = []
        for index in range(processes):
            parent, child = context.Pipe()
            process = context.Process(
                target=_serve,
                name=f"wsusauto-hosts-{index}",
                daemon=True,
                args=(child, inventory, deadline, journal_spec, threads, current_settings()),
            )
            process.start()
            child.close()
            self._workers.append(_Worker(index, parent, process))
        for worker in self._workers:
            worker.reader = threading.Thread(
                target=self._read, args=(worker,), name=f"wsusauto-reader-{worker.index}", daemon=True
            )
            worker.reader.start()

    def submit(
        self, host: str, work: Callable[..., Any], args: Sequence[Any], emit: Callable[[Any], None]
    ) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        worker = self._workers[self.owner[host]]
        with self._lock:
            job_id = next(self._ids)
            self._pending[job_id] = (future, emit, worker.index, host)
        try:
            sent = worker.send(("run", job_id, host, work, tuple(args)))
        except Exception:
            with self._lock:
                self._pending.pop(job_id, None)
            raise  # the work or its arguments cannot be pickled: a programming error
        if not sent:
            self._fail(job_id, HostError(host, "its worker process has ended"))
        return future

    def interrupt(self) -> None:
        for worker in self._workers:
            worker.send(("stop",))

    def close(self, wait_for_jobs: bool = True) -> None:
        """End the worker processes. ``wait_for_jobs``: after the jobs have ended (a job may need
        the pipe, for a slot or its events, until it ends); else (after ``interrupt()``, the jobs
        left are abandoned) at once: each worker ends its Sessions' stop, then exits, its threads
        stuck on a host that does not answer with it."""
        with self._lock:
            running = [entry[0] for entry in self._pending.values()]
            if not wait_for_jobs:
                self._pending.clear()  # what a worker still sends about them has nowhere to go
        if wait_for_jobs:
            wait_for(running)
        for future in running:
            with suppress(InvalidStateError):
                future.set_exception(Interrupted("the run was stopped; this host's work was abandoned"))
        for worker in self._workers:
            worker.send(("close",))
        for worker in self._workers:
            worker.process.join(60 if wait_for_jobs else INTERRUPT_WAIT)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            if worker.reader is not None:
                worker.reader.join(10)
            worker.pipe.close()

    def _read(self, worker: _Worker) -> None:
        while True:
            try:
                message = worker.pipe.recv()
            except (EOFError, OSError):
                break
            kind = message[0]
            # The caller's callbacks raising must not end this reader: its jobs' futures would never
            # end and the caller would wait on them forever. As in a thread, the error ends the job.
            if kind == "event":
                entry = self._pending.get(message[1])
                if entry is not None:
                    try:
                        entry[1](message[2])
                    except Exception as exc:
                        self._fail(message[1], exc)
            elif kind == "record":
                try:
                    self.on_record(message[1], message[2], message[3])
                except Exception as exc:
                    with self._lock:
                        jobs = [
                            i for i, e in self._pending.items() if e[2] == worker.index and e[3] == message[1]
                        ]
                    for job_id in jobs:
                        self._fail(job_id, exc)
            elif kind == "slot":
                request_id, host = message[1], message[2]
                self.slots.request(host, _answer_over(worker, request_id))
            elif kind == "release":
                self.slots.release(message[1])
            elif kind == "done":
                _, job_id, ok, payload = message
                with self._lock:
                    entry = self._pending.pop(job_id, None)
                if entry is not None:
                    with suppress(InvalidStateError):  # abandoned after the stop: its end comes too late
                        if ok:
                            entry[0].set_result(payload)
                        else:
                            entry[0].set_exception(payload)
        with self._lock:
            lost = [job_id for job_id, entry in self._pending.items() if entry[2] == worker.index]
        for job_id in lost:
            self._fail(job_id, None)

    def _fail(self, job_id: int, error: BaseException | None) -> None:
        with self._lock:
            entry = self._pending.pop(job_id, None)
        if entry is not None:
            with suppress(InvalidStateError):
                entry[0].set_exception(error or HostError(entry[3], "its worker process ended unexpectedly"))


def _answer_over(worker: _Worker, request_id: int) -> Callable[[bool], None]:
    def answer(granted: bool) -> None:
        worker.send(("slot", request_id, granted))

    return answer


# -- a worker process's side ---------------------------------------------------------------------


class _PipeLink:
    """The parent link of a worker process: records, slot requests and releases go over its pipe."""

    def __init__(self, send: Callable[[tuple[Any, ...]], None]) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._waiting: dict[int, tuple[threading.Event, list[bool]]] = {}

    def record(self, host: str, event: str, fields: dict[str, Any]) -> None:
        try:
            self._send(("record", host, event, fields))
        except (pickle.PicklingError, TypeError, AttributeError):
            # A value that does not pickle reaches the parent as the journal writes it (JSON's types).
            from wsusauto.output.jsonable import to_jsonable

            self._send(("record", host, event, json.loads(json.dumps(to_jsonable(fields), default=str))))

    def acquire_slot(self, host: str) -> bool:
        answered, answer = threading.Event(), list[bool]()
        with self._lock:
            request_id = next(self._ids)
            self._waiting[request_id] = (answered, answer)
        self._send(("slot", request_id, host))
        answered.wait()  # the parent answers every request: granted, or False once the run stops
        return answer[0]

    def answer(self, request_id: int, granted: bool) -> None:
        with self._lock:
            answered, answer = self._waiting.pop(request_id)
        answer.append(granted)
        answered.set()

    def refuse_all(self) -> None:
        """The parent is gone: nobody will answer, so every waiting request is refused."""
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        for answered, answer in waiting.values():
            answer.append(False)
            answered.set()

    def release_slot(self, host: str) -> None:
        self._send(("release", host))


def _serve(
    pipe: Any,
    inventory: Inventory,
    deadline: float,
    journal_spec: tuple[str, str] | None,
    threads: int,
    log_settings: tuple[str, str],
) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    random.seed()  # a forked worker would otherwise draw the same numbers as its siblings
    configure_logging(*log_settings)  # to stderr, as in the parent: stdout carries results only
    send_lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with send_lock:
            pipe.send(message)

    link = _PipeLink(send)
    journal = Journal(*journal_spec) if journal_spec else None
    runtime = HostRuntime(inventory, deadline=deadline, session_factory=None, journal=journal, link=link)
    pool = DaemonThreads(threads, "host")
    stopping: threading.Thread | None = None  # the stop's thread: it ends the Sessions (at most ~2 s)

    def run(job_id: int, host: str, work: Callable[..., Any], args: Sequence[Any]) -> None:
        def emit(obj: Any) -> None:
            send(("event", job_id, obj))

        try:
            message: tuple[Any, ...] = ("done", job_id, True, runtime.run(host, work, args, emit))
        except BaseException as exc:
            message = ("done", job_id, False, exc)
        try:
            send(message)
        except (BrokenPipeError, EOFError, OSError):
            pass  # the parent is gone
        except Exception as exc:  # the value or error does not pickle
            send(("done", job_id, False, WsusAutoError(f"{host}: its result could not be sent back: {exc}")))

    parent_gone = True
    try:
        while True:
            try:
                request = pipe.recv()
            except (EOFError, OSError):
                break
            kind = request[0]
            if kind == "run":
                pool.submit(run, *request[1:])
            elif kind == "slot":
                link.answer(request[1], request[2])
            elif kind == "stop":
                stopping = threading.Thread(target=runtime.interrupt, args=(threads,), daemon=True)
                stopping.start()
            else:  # close: every job has ended, or (after a stop) the parent abandoned those left
                parent_gone = False
                break
    finally:
        if parent_gone:  # nobody waits for this work any more: stop it
            runtime.stop.set()
            link.refuse_all()
        if stopping is not None:
            # The Sessions that answer are ended on their servers before this process exits; a job
            # still waiting on a host that does not answer is abandoned with the process.
            stopping.join()
            pool.shutdown(wait=False)
            runtime.close(threads, sessions_ended=True)
        else:
            pool.shutdown(wait=True)
            runtime.close(threads)
        if journal is not None:
            journal.close()
