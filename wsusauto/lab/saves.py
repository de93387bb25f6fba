"""What the WSUS API refuses while a server is busy, and the writing snippets' bounded wait for it.

``IUpdateServerConfiguration.Save()`` starts a background process that "can run for up to three
minutes" (wsus-api.md 1.2a, bb294856): the configuration state is ``ProcessingSave`` meanwhile, and
``Save()`` and ``StartSynchronization()`` throw InvalidOperationException, as ``Save()`` does while a
synchronization runs. ``ISubscription.Save()`` throws while a synchronization runs; whether it also
does while a configuration save is processing is unsure, so the lab refuses that too. A lab save
processes for a few virtual seconds (the lab's clock).

The writing snippets wait for the server to be free, at most their ``ReadyTimeoutSeconds``, sleeping
a second at a time, then fail with a text that starts ``WSUS busy (retry later):``. This module
answers the way those scripts do, word for word.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from wsusauto.lab import sync
from wsusauto.lab.invocation import ScriptError
from wsusauto.lab.model.server import SAVE_PROCESSING_UNTIL, WsusServerModel

SAVE_PROCESSING_SECONDS = (1.0, 3.0)  # virtual seconds a configuration save keeps processing
BUSY = "WSUS busy (retry later):"


def invalid_operation(method: str, message: str) -> ScriptError:
    """A .NET InvalidOperationException from a method call, as PowerShell wraps it."""
    return ScriptError(
        f'Exception calling "{method}" with "0" argument(s): "{message}"',
        error_id="InvalidOperationException",
        category="InvalidOperation",
        exception_type="System.Management.Automation.MethodInvocationException",
    )


def _busy_now(server: WsusServerModel) -> tuple[str, str]:
    return str(server.get("SynchronizationStatus")), server.configuration_state()


def refuse_configuration_save(server: WsusServerModel) -> None:
    """IUpdateServerConfiguration.Save() while a sync runs or a save processes."""
    status, state = _busy_now(server)
    if status != "NotProcessing":
        raise invalid_operation(
            "Save", "The configuration cannot be saved while a synchronization is running."
        )
    if state != "Ready":
        raise invalid_operation(
            "Save", "The configuration cannot be saved while a previous save is still being processed."
        )


def refuse_subscription_save(server: WsusServerModel) -> None:
    """ISubscription.Save() while a sync runs (documented) or a save processes (the lab's stricter
    choice)."""
    status, state = _busy_now(server)
    if status != "NotProcessing":
        raise invalid_operation(
            "Save", "The subscription cannot be saved while a synchronization is running."
        )
    if state != "Ready":
        raise invalid_operation(
            "Save", "The subscription cannot be saved while a configuration save is being processed."
        )


def refuse_start(server: WsusServerModel, method: str) -> None:
    """StartSynchronization() "cannot be started ... because WSUS is currently saving server
    configuration changes" (bb313415)."""
    if server.configuration_state() != "Ready":
        raise invalid_operation(
            method,
            "The synchronization cannot be started because WSUS is currently saving server "
            "configuration changes.",
        )


def begin_save_processing(server: WsusServerModel) -> None:
    """After a configuration Save(): ProcessingSave for a few virtual seconds."""
    now = server.clock()
    rng = random.Random(f"{server.name}/save/{now.isoformat()}")
    seconds = rng.uniform(*SAVE_PROCESSING_SECONDS)
    server.set(**{SAVE_PROCESSING_UNTIL: (now + dt.timedelta(seconds=seconds)).isoformat()})


def _sleep_one_second(server: WsusServerModel) -> None:
    # Start-Sleep -Seconds 1 on the server: one second of the lab's clock.
    time.sleep(1.0 / float(getattr(server.clock, "scale", 1.0)))


def wait_until_ready(server: WsusServerModel, timeout: int, *, waits_for_sync: bool = True) -> None:
    """The snippets' wait: Wait-ServerReady (the synchronization status and the configuration
    state, each second), or with ``waits_for_sync`` False start_synchronization's (the state only)."""
    waited = 0
    while True:
        sync.advance(server, server.lab_peers)  # the WSUS service works on while the script sleeps
        status, state = _busy_now(server)
        if (status == "NotProcessing" or not waits_for_sync) and state == "Ready":
            return
        if waited >= timeout:
            if waits_for_sync:
                raise ScriptError(
                    f"{BUSY} after {waited} s the synchronization status is {status} and the "
                    f"configuration state is {state}; WSUS takes no change until the synchronization "
                    "ends and the previous save is processed."
                )
            raise ScriptError(
                f"{BUSY} after {waited} s the configuration state is {state}; WSUS starts no "
                "synchronization until the previous save is processed."
            )
        _sleep_one_second(server)
        waited += 1


def refused_text(server: WsusServerModel, method: str, *, waits_for_sync: bool = True) -> str | None:
    """The snippets' catch around Save() / StartSynchronization(): the busy text when the server is
    busy now, else None (the original error stands)."""
    status, state = _busy_now(server)
    if waits_for_sync and (status != "NotProcessing" or state != "Ready"):
        return (
            f"{BUSY} {method}() was refused while the synchronization status is {status} and the "
            f"configuration state is {state}."
        )
    if not waits_for_sync and state != "Ready":
        return f"{BUSY} {method}() was refused while the configuration state is {state}."
    return None
