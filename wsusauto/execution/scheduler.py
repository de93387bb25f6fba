"""Which hosts of a play may start now: the dependency scheduler behind the run loop, pure logic.

The run loop asks ``ready()`` whenever something changed (a host finished, a slot at an upstream
came free) and tells ``finished()`` each host's outcome; the schedule itself does no I/O and runs
no threads. What it keeps, by the play's ``order``:

- ``hierarchy``: a host starts as soon as its upstream (the intended hierarchy) has finished all
  its tasks successfully in this play, never waiting for the rest of its upstream's wave. A host
  below an upstream that failed, or was itself skipped, is skipped with the reason. A host whose
  upstream is not in the play (``--limit``, another play) waits for nobody.
- ``reverse_hierarchy``: the leaves first, wave by wave: within a serial batch, a wave starts when
  the wave below it has ended (as before dependency scheduling; nothing is skipped).
- ``inventory``: hosts in the play's order, no dependencies.

In every order, ``serial`` keeps Ansible's meaning: a batch has ended before the next one starts.
``max_fail_percentage`` is counted per serial batch against the batch's size: once the hosts that
failed in a batch are more than that share, nothing more starts, what runs finishes, and the run
stops (``stopped``).

A host that needs a slot at its upstream (it syncs from it) starts only when ``free_slots`` says
that upstream has one, counting the hosts started in the same call: the executor's slot table holds
a slot only during a sync attempt and is the real limit; this gate keeps ``forks`` from filling
with hosts that would only wait for one.

A host ``on_its_own`` (its facts could not be read) starts without waiting for its upstream and
needs no slot: its verdict (unreachable or failed) is its own, never "skipped" because of its
upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

ORDERS = ("inventory", "hierarchy", "reverse_hierarchy")

PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED = "pending", "running", "succeeded", "failed", "skipped"


def upstream_failed_reason(upstream: str, why: str) -> str:
    return f"upstream {upstream} did not finish successfully in this run ({why})"


@dataclass(frozen=True)
class Skipped:
    host: str
    reason: str


@dataclass(frozen=True)
class Stopped:
    """The serial batch whose failures passed ``max_fail_percentage``."""

    failed: int
    batch_size: int


class PlaySchedule:
    def __init__(
        self,
        hosts: Sequence[str],
        *,
        order: str,
        upstream_of: Mapping[str, str | None],
        batches: Sequence[Sequence[str]],
        max_fail_percentage: float | None = None,
        needs_slot: Collection[str] = (),
        on_its_own: Collection[str] = (),
    ) -> None:
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}")
        if sorted(h for batch in batches for h in batch) != sorted(hosts) or len(set(hosts)) != len(hosts):
            raise ValueError("the batches must hold each of the play's hosts exactly once")
        self.order = order
        self.hosts = list(hosts)
        self.batches = [list(batch) for batch in batches]
        self.max_fail_percentage = max_fail_percentage
        self.on_its_own = set(on_its_own)
        position = {name: i for i, name in enumerate(self.hosts)}
        self.state = dict.fromkeys(self.hosts, PENDING)
        self.why: dict[str, str] = {}  # a failed or skipped host: why (its children's reason names it)
        # hierarchy: the upstream a host waits for and needs to have succeeded
        self.upstream: dict[str, str] = {}
        # slots: the upstream whose slot a host needs
        self.slot_at: dict[str, str] = {}
        for name in self.hosts:
            upstream = upstream_of.get(name)
            if upstream is None or name in self.on_its_own:
                continue
            if name in needs_slot:
                self.slot_at[name] = upstream
            if order == "hierarchy" and upstream in position and position[upstream] < position[name]:
                self.upstream[name] = upstream
        # reverse_hierarchy: the hosts (of its batch, the wave before) a host waits for
        self.after: dict[str, list[str]] = {}
        if order == "reverse_hierarchy":
            depth = _depths(upstream_of)
            for batch in self.batches:
                previous: list[str] = []
                current: list[str] = []
                for name in batch:
                    if current and depth.get(name, 0) != depth.get(current[-1], 0):
                        previous, current = current, []
                    current.append(name)
                    self.after[name] = previous
        self._batch = 0
        self._failed_in_batch = 0
        self._skipped: list[Skipped] = []
        self.stopped: Stopped | None = None
        # the last ready() held a host back only for want of a slot: a slot coming free (no host
        # ending) can start it (the run loop wakes on the executor's on_slot_free for that)
        self.waiting_for_slot = False

    # -- what the run loop asks --------------------------------------------------------------

    def ready(self, free_slots: Callable[[str], int] | None = None, limit: int | None = None) -> list[str]:
        """The hosts that may start now, in play order, marked running; at most ``limit``.

        ``free_slots(upstream)``: how many slots that upstream has free now (None: no limit). Hosts
        found to be skipped on the way are given by ``take_skipped``."""
        started: list[str] = []
        taken: dict[str, int] = {}
        self.waiting_for_slot = False
        while self.stopped is None and self._batch < len(self.batches):
            for name in self.batches[self._batch]:
                if self.state[name] != PENDING or self._stopping():
                    continue
                upstream = self.upstream.get(name)
                if upstream is not None and self.state[upstream] in (FAILED, SKIPPED):
                    self._skip(name, upstream_failed_reason(upstream, self.why[upstream]))
                    continue
                if limit is not None and len(started) >= limit:
                    continue
                if upstream is not None and self.state[upstream] != SUCCEEDED:
                    continue
                if any(self.state[h] in (PENDING, RUNNING) for h in self.after.get(name, ())):
                    continue
                slot = self.slot_at.get(name)
                if slot is not None and free_slots is not None:
                    if free_slots(slot) - taken.get(slot, 0) <= 0:
                        self.waiting_for_slot = True
                        continue
                    taken[slot] = taken.get(slot, 0) + 1
                self.state[name] = RUNNING
                started.append(name)
            if any(self.state[h] in (PENDING, RUNNING) for h in self.batches[self._batch]):
                break
            self._end_batch()
        return started

    def finished(self, name: str, ok: bool, why: str = "") -> None:
        """A started host ended: ``ok`` when none of its tasks failed or found it unreachable;
        ``why`` (its verdict, failed or unreachable) goes into the reason of the hosts skipped below it."""
        if self.state.get(name) != RUNNING:
            raise ValueError(f"{name} was not running")
        self.state[name] = SUCCEEDED if ok else FAILED
        if not ok:
            self.why[name] = why or "failed"
            self._failed_in_batch += 1
        if self._stopping() and not self.running():
            self._end_batch()

    def take_skipped(self) -> list[Skipped]:
        """The hosts skipped since the last call, in the order they were skipped."""
        skipped, self._skipped = self._skipped, []
        return skipped

    def running(self) -> list[str]:
        return [name for name in self.hosts if self.state[name] == RUNNING]

    @property
    def done(self) -> bool:
        """Nothing runs and nothing more will start: every batch ended, or the run stopped."""
        return not self.running() and (self.stopped is not None or self._batch >= len(self.batches))

    # -- inside --------------------------------------------------------------------------------

    def _skip(self, name: str, reason: str) -> None:
        self.state[name] = SKIPPED
        self.why[name] = "skipped"
        self._skipped.append(Skipped(name, reason))

    def _too_many_failed(self) -> bool:
        if self.max_fail_percentage is None or self._batch >= len(self.batches):
            return False
        size = len(self.batches[self._batch])
        return 100.0 * self._failed_in_batch / size > self.max_fail_percentage

    def _stopping(self) -> bool:
        return self.stopped is None and self._too_many_failed()

    def _end_batch(self) -> None:
        """The current batch has nothing running: stop the run if it failed too much, else go on."""
        if self._too_many_failed():
            self.stopped = Stopped(self._failed_in_batch, len(self.batches[self._batch]))
            return
        self._batch += 1
        self._failed_in_batch = 0


def _depths(upstream_of: Mapping[str, str | None]) -> dict[str, int]:
    """Each host's distance from a root of the intended hierarchy (acyclic: checked before a run)."""
    depth: dict[str, int] = {}
    for start in upstream_of:
        chain: list[str] = []
        name: str | None = start
        while name is not None and name in upstream_of and name not in depth and name not in chain:
            chain.append(name)
            name = upstream_of[name]
        base = depth[name] if name is not None and name in depth else -1
        for member in reversed(chain):
            base += 1
            depth[member] = base
    return depth
