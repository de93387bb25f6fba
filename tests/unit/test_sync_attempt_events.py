"""The retry policy under an executor: each attempt heard of as it starts and as it ends, the
upstream slot held during attempts only, and nothing started once the run is stopping.

No test waits for real: clock and sleep are injected, the context is a recording one."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsusauto.operations.context import HostContext
from wsusauto.sync_retry import PERMANENT, TRANSIENT, SyncFailed, SyncRetryPolicy, SyncStopped

START = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.timezone.utc)


class Recorder(HostContext):
    """A context that writes down, in one list, every slot taken and released and every wait."""

    def __init__(self, stop_after_waits: int | None = None) -> None:
        self.events: list[tuple] = []
        self.now = START
        self.in_slot = False
        self.stop_after_waits = stop_after_waits
        self.waits = 0

    def clock(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert not self.in_slot, "a retry wait held the upstream slot"
        self.events.append(("wait",))
        self.waits += 1
        self.now += dt.timedelta(seconds=seconds)

    @contextlib.contextmanager
    def upstream_slot(self) -> Iterator[None]:
        assert not self.in_slot
        self.in_slot = True
        self.events.append(("slot",))
        try:
            yield
        finally:
            self.in_slot = False
            self.events.append(("release",))

    def stopping(self) -> bool:
        return self.stop_after_waits is not None and self.waits >= self.stop_after_waits


def scripted(outcomes: list[str | None], context: Recorder):
    """An attempt that fails with the next error (None: succeeds), a minute long, inside the slot."""
    remaining = list(outcomes)

    def attempt() -> str:
        assert context.in_slot, "an attempt ran without the upstream slot"
        context.events.append(("sync",))
        context.now += dt.timedelta(minutes=1)
        error = remaining.pop(0)
        if error is not None:
            raise SyncFailed(error, f"{error} text", synchronization_id=f"id-{len(remaining)}")
        return "ok-id"

    return attempt


def run(outcomes: list[str | None], context: Recorder, retries: int = 2):
    return SyncRetryPolicy(retries=retries).run(
        scripted(outcomes, context),
        clock=context.clock,
        sleep=context.sleep,
        rng=random.Random(0),
        context=context,
        on_start=lambda number, started: context.events.append(("start", number, started)),
        on_attempt=lambda a: context.events.append(("end", a.number, a.result)),
    )


def test_a_failed_attempt_then_success_is_heard_of_in_order_each_end_before_the_next_start():
    context = Recorder()
    outcome = run(["UssNotFound", None], context)
    assert outcome.succeeded
    assert [e[0] if e[0] != "end" else e for e in context.events] == [
        "slot",
        "start",
        "sync",
        ("end", 1, "Failed"),
        "release",
        "wait",
        "slot",
        "start",
        "sync",
        ("end", 2, "Succeeded"),
        "release",
    ]
    starts = [e for e in context.events if e[0] == "start"]
    assert [s[2] for s in starts] == [a.started for a in outcome.attempts]


def test_no_attempt_starts_once_the_run_is_stopping():
    context = Recorder(stop_after_waits=1)  # Ctrl+C during the wait before the first retry
    outcome = run(["UssNotFound", None], context)
    assert outcome.stopped and not outcome.succeeded
    assert outcome.left_running is None  # the one attempt that ran had ended
    assert [e[0] for e in context.events].count("sync") == 1
    assert [a.result for a in outcome.attempts] == ["Failed"]


def test_an_attempt_left_at_a_poll_is_named_as_left_running():
    context = Recorder()

    def attempt() -> str:
        context.events.append(("sync",))
        raise SyncStopped  # the poll loop saw the run stopping while the sync ran

    outcome = SyncRetryPolicy().run(
        attempt,
        clock=context.clock,
        sleep=context.sleep,
        context=context,
        on_attempt=lambda a: context.events.append(("end", a.number)),
    )
    assert outcome.stopped and outcome.attempts == []
    assert outcome.left_running is not None
    assert (outcome.left_running.number, outcome.left_running.started) == (1, START)
    assert ("end", 1) not in context.events  # it did not end: no attempt line
    assert context.events[-1] == ("release",)  # its slot is given back all the same


def test_a_stop_while_waiting_for_the_slot_starts_nothing():
    class StopsInSlotWait(Recorder):
        @contextlib.contextmanager
        def upstream_slot(self) -> Iterator[None]:
            self.stop_after_waits = 0  # Ctrl+C came while this host waited for a free slot
            with super().upstream_slot():
                yield

    context = StopsInSlotWait()
    outcome = run([None], context)
    assert outcome.stopped and outcome.attempts == [] and outcome.left_running is None
    assert "sync" not in [e[0] for e in context.events]


ERRORS = sorted(TRANSIENT) + sorted(PERMANENT)


@given(
    st.lists(st.one_of(st.none(), st.sampled_from(ERRORS)), min_size=3, max_size=3),
    st.integers(min_value=0, max_value=2),
    st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
)
def test_every_attempt_is_started_then_ended_inside_its_own_slot(outcomes, retries, stop_after_waits):
    context = Recorder(stop_after_waits)
    outcome = run(outcomes, context, retries=retries)
    # Each attempt, in order: slot, start n, sync, end n, release; waits only between attempts.
    numbers = iter(range(1, 10))
    events = list(context.events)
    while events:
        head = events.pop(0)
        if head == ("wait",):
            continue
        assert head == ("slot",)
        if events[0] == ("release",):  # stopped after taking the slot: nothing started
            events.pop(0)
            continue
        number = next(numbers)
        start, sync, end, release = events[:4]
        del events[:4]
        assert (start[0], start[1], sync, end[:2], release) == (
            "start",
            number,
            ("sync",),
            ("end", number),
            ("release",),
        )
    assert [a.number for a in outcome.attempts] == list(range(1, len(outcome.attempts) + 1))
    assert len(outcome.attempts) <= retries + 1


def test_an_error_from_a_session_the_stopping_run_closed_is_a_sync_left_running():
    context = Recorder()

    def attempt() -> str:
        context.stop_after_waits = 0  # Ctrl+C: the run closes the session under the poll
        raise ConnectionResetError("the session was closed")

    outcome = SyncRetryPolicy().run(attempt, clock=context.clock, sleep=context.sleep, context=context)
    assert outcome.stopped and outcome.left_running is not None and outcome.attempts == []


def test_the_same_error_without_a_stop_is_raised_as_it_is():
    context = Recorder()

    def attempt() -> str:
        raise ConnectionResetError("the connection dropped")

    with pytest.raises(ConnectionResetError):
        SyncRetryPolicy().run(attempt, clock=context.clock, sleep=context.sleep, context=context)


def test_a_slot_refused_because_the_run_stops_starts_nothing():
    class RefusesTheSlot(Recorder):
        @contextlib.contextmanager
        def upstream_slot(self) -> Iterator[None]:
            self.stop_after_waits = 0
            raise RuntimeError("the run is stopping; the upstream's slot was not taken")
            yield

    context = RefusesTheSlot()
    outcome = run([None], context)
    assert outcome.stopped and outcome.left_running is None and outcome.attempts == []
