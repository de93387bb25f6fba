"""Which synchronization a start's polls belong to: never the one before the start."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from wsusauto.operations.synchronize import OwnSync
from wsusauto.sync_retry import SyncFailed, SyncRetryPolicy, is_transient

PREVIOUS = str(uuid.UUID(int=7))
ids = st.sampled_from([PREVIOUS, PREVIOUS.upper(), str(uuid.UUID(int=8)), str(uuid.UUID(int=0))])
statuses = st.sampled_from(["NotProcessing", "Running", "Stopping"])


def poll(status: str, sync_id: str) -> dict:
    return {"SynchronizationStatus": status, "LastSynchronizationInfo": {"Id": sync_id, "Result": "Failed"}}


@given(st.lists(st.tuples(statuses, ids), max_size=20), st.booleans())
def test_only_a_newer_last_synchronization_is_ours(polls, joined):
    own = OwnSync(PREVIOUS, seen_running=joined)
    for number, (status, sync_id) in enumerate(polls):
        seen = own.observe(poll(status, sync_id))
        if status != "NotProcessing":
            assert seen == "running"
        elif sync_id.lower() == PREVIOUS:
            assert seen == "not yet"  # the previous sync's result is never this start's
        else:
            assert seen == "ended"
        assert own.seen_running == (joined or any(s != "NotProcessing" for s, _ in polls[: number + 1]))


def test_a_start_that_does_not_show_is_retried_and_each_attempt_names_its_sync():
    results = iter([SyncFailed("NotStarted", "no synchronization started within 300 s"), "b-sync-id"])

    def attempt():
        outcome = next(results)
        if isinstance(outcome, SyncFailed):
            raise outcome
        return outcome

    assert is_transient(SyncFailed("NotStarted")) and is_transient(SyncFailed("NoResult"))
    outcome = SyncRetryPolicy().run(attempt, clock=lambda: None, sleep=lambda s: None)
    assert outcome.succeeded
    assert [(a.result, a.error, a.synchronization_id) for a in outcome.attempts] == [
        ("Failed", "NotStarted", ""),
        ("Succeeded", "NotApplicable", "b-sync-id"),
    ]
