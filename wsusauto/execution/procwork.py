"""Hosts worked on by several processes: one pypsrp client process tops out near 100 pipelines/s.

Each worker process owns a fixed share of the hosts for the whole run (a host's Session lives in
one process), keeps its own HostWorker, and writes the same journal (appends of whole lines). The
runner sends each worker its hosts of a batch and waits for all of them, so batch and hierarchy
order hold across processes. Results come back per batch.
"""

from __future__ import annotations

import math
import multiprocessing
import random
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import structlog

from wsusauto.config.inventory import Inventory
from wsusauto.execution.hostwork import FactsOutcome, HostWorker, PreparedTask, TaskResult
from wsusauto.output.journal import Journal
from wsusauto.output.log import configure_logging, current_settings

log = structlog.get_logger(__name__)


def _serve(
    pipe: Any,
    inventory: Inventory,
    check: bool,
    deadline: float,
    journal: tuple[str, str] | None,
    threads: int,
    log_settings: tuple[str, str],
) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    random.seed()  # a forked worker would otherwise draw the same numbers as its siblings
    configure_logging(*log_settings)  # to stderr, as in the parent: stdout carries results only
    worker = HostWorker(
        inventory, check=check, deadline=deadline, journal=Journal(*journal) if journal else None
    )
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="host")
    try:
        while True:
            try:
                request = pipe.recv()
            except EOFError:
                break
            kind = request[0]
            if kind == "gather":
                hosts = request[1]
                pipe.send(dict(zip(hosts, pool.map(worker.gather, hosts), strict=True)))
            elif kind == "run":
                _, play, batch, tasks, facts = request
                answers = pool.map(
                    _run_one,
                    [worker] * len(batch),
                    [play] * len(batch),
                    batch,
                    [tasks] * len(batch),
                    [facts] * len(batch),
                )
                pipe.send(dict(zip(batch, answers, strict=True)))
            else:  # close
                break
    finally:
        worker.close(threads)
        pool.shutdown()
        if worker.journal is not None:
            worker.journal.close()


def _run_one(
    worker: HostWorker,
    play: str,
    name: str,
    tasks: Mapping[str, Sequence[PreparedTask]],
    facts: Mapping[str, FactsOutcome],
) -> list[TaskResult]:
    results: list[TaskResult] = []
    worker.run_host(play, name, tasks[name], facts.get(name), results.append)
    return results


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


class ProcessWork:
    def __init__(
        self,
        inventory: Inventory,
        *,
        processes: int,
        forks: int,
        check: bool,
        deadline: float,
        journal: Journal | None,
        on_result: Callable[[TaskResult], None],
    ) -> None:
        method = start_method()
        log.debug("starting worker processes", processes=processes, start_method=method)
        context = multiprocessing.get_context(method)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # a forked child must not inherit text the parent has yet to write
        names = list(inventory.hosts)
        self.owner = {name: i % processes for i, name in enumerate(names)}
        self.on_result = on_result
        threads = max(1, math.ceil(forks / processes))
        journal_spec = (str(Path(journal.path)), journal.run_id) if journal else None
        self._pipes, self._processes = [], []
        for index in range(processes):
            parent, child = context.Pipe()
            process = context.Process(
                target=_serve,
                name=f"wsusauto-hosts-{index}",
                daemon=True,
                args=(child, inventory, check, deadline, journal_spec, threads, current_settings()),
            )
            process.start()
            child.close()
            self._pipes.append(parent)
            self._processes.append(process)
        self._lock = threading.Lock()

    def _ask(self, requests: Mapping[int, tuple]) -> dict[str, Any]:
        with self._lock:
            for index, request in requests.items():
                self._pipes[index].send(request)
            answers: dict[str, Any] = {}
            for index in requests:
                answers.update(self._pipes[index].recv())
        return answers

    def _split(self, hosts: Sequence[str]) -> dict[int, list[str]]:
        shares: dict[int, list[str]] = {}
        for name in hosts:
            shares.setdefault(self.owner[name], []).append(name)
        return shares

    def gather_many(self, hosts: Sequence[str]) -> dict[str, FactsOutcome]:
        return self._ask({i: ("gather", share) for i, share in self._split(hosts).items()})

    def run_batch(
        self,
        play: str,
        batch: Sequence[str],
        tasks: Mapping[str, Sequence[PreparedTask]],
        facts: Mapping[str, FactsOutcome],
    ) -> dict[str, list[TaskResult]]:
        requests = {
            i: ("run", play, share, {h: list(tasks[h]) for h in share}, {h: facts.get(h) for h in share})
            for i, share in self._split(batch).items()
        }
        answers = self._ask(requests)
        for name in batch:
            for result in answers[name]:
                self.on_result(result)
        return {name: answers[name] for name in batch}

    def close(self) -> None:
        for pipe in self._pipes:
            try:
                pipe.send(("close",))
            except (BrokenPipeError, OSError):
                pass
        for process in self._processes:
            process.join(60)
            if process.is_alive():
                process.kill()
                process.join()
