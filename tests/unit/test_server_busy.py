"""A writing snippet that gave up waiting for WSUS: recognised by its marker, retryable, one line."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from wsusauto.client.snippets import registry
from wsusauto.errors import BUSY_MARKER, RemoteError, ServerBusy, remote_error
from wsusauto.operations.base import invoke_when_ready
from wsusauto.sync_retry import SyncFailed, is_transient


def test_the_busy_marker_becomes_a_retryable_server_busy():
    text = (
        f"{BUSY_MARKER} after 180 s the synchronization status is Running and the configuration state "
        "is Ready"
    )
    error = remote_error("wsus-01", "set_schedule", text)
    assert isinstance(error, ServerBusy) and isinstance(error, RemoteError) and error.retryable
    assert str(error) == (
        "wsus-01: set_schedule: WSUS is busy, nothing was changed; run it again later (after 180 s the "
        "synchronization status is Running and the configuration state is Ready)"
    )
    assert error.remote_text == text


def test_any_other_remote_error_stays_a_remote_error():
    error = remote_error("wsus-01", "set_replica", 'Exception calling "Save": "A replica server cannot ..."')
    assert type(error) is RemoteError and not getattr(error, "retryable", False)


def test_every_snippet_that_can_say_busy_says_it_with_the_marker():
    busy = [name for name, snippet in registry().items() if "WSUS busy" in snippet.text]
    assert sorted(busy) == [
        "set_bits_foreground",
        "set_proxy",
        "set_replica",
        "set_schedule",
        "set_storage_option",
        "set_update_source",
        "start_synchronization",
    ]
    for name in busy:
        text = registry()[name].text
        assert text.count('"WSUS busy') == text.count(f'"{BUSY_MARKER}'), name
        assert "ReadyTimeoutSeconds" in registry()[name].parameter_names, name


class BusySession:
    """A session whose server stays busy for the first ``busy`` calls (the snippet changed nothing)."""

    def __init__(self, deadline: float, busy_wait: float, busy: int) -> None:
        self.default_deadline = deadline
        self.options = SimpleNamespace(busy_wait=busy_wait)
        self.busy = busy
        self.calls: list[dict] = []

    def invoke(self, snippet, **parameters):
        self.calls.append(parameters)
        if len(self.calls) <= self.busy:
            raise ServerBusy("wsus-01", snippet, f"{BUSY_MARKER} after 0 s the configuration state is X")
        return {"Changed": ["IsReplicaServer"]}


def test_one_call_waits_as_long_as_its_deadline_allows():
    session = BusySession(deadline=300.0, busy_wait=180.0, busy=0)
    invoke_when_ready(session, "set_replica", {"IsReplicaServer": True, "ReadyTimeoutSeconds": 1})
    assert session.calls == [{"IsReplicaServer": True, "ReadyTimeoutSeconds": 180}]
    session = BusySession(deadline=120.0, busy_wait=180.0, busy=0)
    invoke_when_ready(session, "set_replica", {"ReadyTimeoutSeconds": 180})
    assert session.calls[0]["ReadyTimeoutSeconds"] == 96  # a fifth of the deadline left for the call


def test_a_short_deadline_looks_again_until_the_busy_wait_is_spent():
    sleeps: list[float] = []
    session = BusySession(deadline=2.0, busy_wait=60.0, busy=3)
    result = invoke_when_ready(session, "set_replica", {"ReadyTimeoutSeconds": 180}, sleeps.append)
    assert result == {"Changed": ["IsReplicaServer"]}
    assert [c["ReadyTimeoutSeconds"] for c in session.calls] == [0, 0, 0, 0]  # never cut off
    assert sleeps == [1, 1, 1]
    never = BusySession(deadline=2.0, busy_wait=0.0, busy=99)
    with pytest.raises(ServerBusy):
        invoke_when_ready(never, "set_replica", {"ReadyTimeoutSeconds": 180}, sleeps.append)
    assert len(never.calls) == 1


def test_a_snippet_that_does_not_wait_is_called_once_as_is():
    session = BusySession(deadline=2.0, busy_wait=60.0, busy=0)
    invoke_when_ready(session, "grant_content_read", {"Identities": []})
    assert session.calls == [{"Identities": []}]


def test_a_start_refused_as_busy_is_retried_by_the_policy():
    assert is_transient(SyncFailed("ServerBusy", "WSUS is busy"))


def test_a_server_that_answers_busy_at_once_is_asked_at_most_once_a_second_of_the_budget():
    # The pause does not really sleep and the server refuses at once: the budget still ends the loop
    # (by the seconds waited and paused), not the wall clock after thousands of calls.
    sleeps: list[float] = []
    never = BusySession(deadline=1.0, busy_wait=5.0, busy=10**9)
    with pytest.raises(ServerBusy):
        invoke_when_ready(never, "set_replica", {"ReadyTimeoutSeconds": 180}, sleeps.append)
    assert [c["ReadyTimeoutSeconds"] for c in never.calls] == [0] * 6  # at 0, 1, ... 5 s of the budget
    assert sleeps == [1] * 5
