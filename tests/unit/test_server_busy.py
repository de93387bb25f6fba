"""A writing snippet that gave up waiting for WSUS: recognised by its marker, retryable, one line."""

from __future__ import annotations

from types import SimpleNamespace

from wsusauto.errors import BUSY_MARKER, RemoteError, ServerBusy, remote_error
from wsusauto.operations.base import READY_TIMEOUT_SECONDS, snippet_deadline
from wsusauto.policy import SyncFailed, is_transient
from wsusauto.snippets import registry


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
        "set_update_source",
        "start_synchronization",
    ]
    for name in busy:
        text = registry()[name].text
        assert text.count('"WSUS busy') == text.count(f'"{BUSY_MARKER}'), name
        assert "ReadyTimeoutSeconds" in registry()[name].parameter_names, name


def test_a_call_that_may_wait_gets_a_deadline_long_enough():
    short = SimpleNamespace(default_deadline=120.0)
    long = SimpleNamespace(default_deadline=600.0)
    assert snippet_deadline(short, {"ReadyTimeoutSeconds": READY_TIMEOUT_SECONDS}) > READY_TIMEOUT_SECONDS
    assert snippet_deadline(long, {"ReadyTimeoutSeconds": READY_TIMEOUT_SECONDS}) is None  # its own
    assert snippet_deadline(short, {"Members": []}) is None


def test_a_start_refused_as_busy_is_retried_by_the_policy():
    assert is_transient(SyncFailed("ServerBusy", "WSUS is busy"))
