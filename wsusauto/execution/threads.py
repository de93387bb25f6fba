"""The threads a host's jobs run in: daemon threads, so a job stuck on a host never holds the process.

A job waiting on a host that swallows packets ends only on its connection's timeout (minutes). After
Ctrl+C the executor abandons such a job (its future ends with ``Interrupted`` at once); the thread
goes on in the background until the timeout, and being a daemon it does not keep the process from
exiting, as ``concurrent.futures.ThreadPoolExecutor``'s threads would (they are joined at exit).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from contextlib import suppress
from typing import Any, TypeVar

T = TypeVar("T")


class DaemonThreads:
    """Up to ``workers`` daemon threads taking submitted calls in order (started as work comes)."""

    def __init__(self, workers: int, name: str) -> None:
        self._workers = max(1, workers)
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._shut = False

    def submit(self, call: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._shut:
                raise RuntimeError("the threads are shut down")
            self._queue.put((future, call, args))
            if len(self._threads) < self._workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def shutdown(self, wait: bool = True) -> None:
        """No more submissions; the calls already queued still run. ``wait``: until they have."""
        with self._lock:
            self._shut = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, call, args = item
            try:
                if not future.set_running_or_notify_cancel():
                    continue
            except RuntimeError:  # abandoned by the executor while queued: it must not run now
                continue
            # The executor may have abandoned the future meanwhile (ended it with Interrupted):
            # the late result then has nowhere to go.
            try:
                value = call(*args)
            except BaseException as exc:
                with suppress(InvalidStateError):
                    future.set_exception(exc)
            else:
                with suppress(InvalidStateError):
                    future.set_result(value)
