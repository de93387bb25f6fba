"""Slots at upstream servers: at most K downstream servers make one upstream work for them at once.

A downstream server's synchronization pulls from its upstream; ``max_concurrent_per_upstream`` (K)
caps how many do so at the same time. The table lives in one place (the executor's parent process):
a host asks for a slot at its upstream and is granted one now or, first come first served, when
another host of that upstream gives one back. Grants are callbacks, so a request from a worker
process is answered over its pipe without a thread waiting for it in the parent.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping

# Called once per request: True when the slot is granted (the requester now holds it), False when the
# table was aborted (the run is stopping) and the slot will never come.
Grant = Callable[[bool], None]


class UpstreamSlots:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._upstream_of: dict[str, str | None] = {}
        self._per_upstream = 0  # 0: no limit
        self._in_use: dict[str, int] = {}
        self._waiting: dict[str, deque[tuple[str, Grant]]] = {}
        self._held: dict[str, list[str]] = {}  # host -> the upstreams it holds a slot at
        self._aborted = False
        self._listeners: list[Callable[[str], None]] = []

    def add_listener(self, on_free: Callable[[str], None]) -> None:
        """``on_free(upstream)`` each time a slot there comes free (released, and no waiter took it),
        from the thread that released it: a scheduler starts its next host of that upstream then."""
        with self._lock:
            self._listeners.append(on_free)

    def configure(self, upstream_of: Mapping[str, str | None], per_upstream: int) -> None:
        """From now on, each host's slot is at ``upstream_of[host]`` (none: no slot needed), K each.
        Slots already held stay held at the upstream they were taken from until released."""
        if per_upstream < 1:
            raise ValueError("per_upstream must be at least 1")
        with self._lock:
            self._upstream_of = dict(upstream_of)
            self._per_upstream = per_upstream

    def free(self, upstream: str | None) -> bool:
        """Whether a host of ``upstream`` would get a slot now (always, without an upstream or a limit)."""
        return self.free_count(upstream) > 0

    def free_count(self, upstream: str | None) -> int:
        """How many hosts of ``upstream`` would get a slot now, before any waiting one is served
        (``sys.maxsize`` without an upstream or a limit)."""
        with self._lock:
            if upstream is None or self._per_upstream == 0:
                return sys.maxsize
            taken = self._in_use.get(upstream, 0) + len(self._waiting.get(upstream, ()))
            return max(0, self._per_upstream - taken)

    def request(self, host: str, grant: Grant) -> None:
        """Ask for a slot at ``host``'s upstream; ``grant`` is called (maybe at once, maybe later from
        the thread that releases a slot) when it is held, or with False when the table is aborted."""
        with self._lock:
            if self._aborted:
                answer = False
            else:
                upstream = self._upstream_of.get(host)
                if upstream is None or self._per_upstream == 0:
                    self._held.setdefault(host, []).append("")
                    answer = True
                elif self._has_room(upstream) and not self._waiting.get(upstream):
                    self._take(host, upstream)
                    answer = True
                else:
                    self._waiting.setdefault(upstream, deque()).append((host, grant))
                    return
        grant(answer)

    def release(self, host: str) -> None:
        """Give back the slot ``host`` holds (the latest, if several); the next waiter gets it."""
        granted: list[Grant] = []
        with self._lock:
            held = self._held.get(host)
            if not held:
                return
            upstream = held.pop()
            if not held:
                del self._held[host]
            if not upstream:
                return
            self._in_use[upstream] -= 1
            queue = self._waiting.get(upstream)
            while queue and self._has_room(upstream):
                waiter, grant = queue.popleft()
                self._take(waiter, upstream)
                granted.append(grant)
            listeners = list(self._listeners) if self._has_room(upstream) else []
        for grant in granted:
            grant(True)
        for on_free in listeners:
            on_free(upstream)

    def abort(self) -> None:
        """The run is stopping: every waiting request is answered False, and so is every later one."""
        with self._lock:
            self._aborted = True
            waiting = [grant for queue in self._waiting.values() for _, grant in queue]
            self._waiting.clear()
        for grant in waiting:
            grant(False)

    def held(self) -> dict[str, int]:
        """How many slots are held at each upstream now (for tests and diagnostics)."""
        with self._lock:
            return {upstream: count for upstream, count in self._in_use.items() if count}

    def _has_room(self, upstream: str | None) -> bool:
        if upstream is None or self._per_upstream == 0:
            return True
        return self._in_use.get(upstream, 0) < self._per_upstream

    def _take(self, host: str, upstream: str) -> None:
        self._in_use[upstream] = self._in_use.get(upstream, 0) + 1
        self._held.setdefault(host, []).append(upstream)
