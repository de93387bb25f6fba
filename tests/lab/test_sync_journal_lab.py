"""synchronize tells the run what happens as it happens: each attempt before it starts and as it
ends, over real WinRM against the lab; a stopped run leaves the server's sync running."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.lab import sync as lab_sync
from wsusauto.operations.context import HostContext
from wsusauto.operations.synchronize import Synchronize

FASTER = 10  # the lab's clock, as in the other synchronize tests
FAST = {"poll_interval": "0.2s", "retry_interval": "1s", "timeout": "60s"}


@pytest.fixture
def lab(make_lab):
    upstream = {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"}
    lab = make_lab(
        {
            "servers": [
                {"name": "wsus-root"},
                {
                    "name": "wsus-flaky",
                    "upstream": "wsus-root",
                    "faults": [{"name": "transient_sync_failure", "attempts": 1}],
                    "initial": upstream,
                },
                {"name": "wsus-long", "upstream": "wsus-root", "initial": upstream},
            ]
        },
        time_scale=FASTER,
    )
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=0.3)
    lab.handlers.servers["wsus-long"].set(SyncDurationSeconds=3600)  # an hour of the lab's time
    return lab


def server_state(server: Any) -> tuple[int, bool]:
    """How many syncs the lab server has finished, and whether one is requested or running."""
    with lab_sync.locked(server):
        state = server.members("SynchronizationStatus", lab_sync.STARTS_AT)
        return len(server.db.sync_history(10)), bool(
            state["SynchronizationStatus"] != "NotProcessing" or state[lab_sync.STARTS_AT]
        )


class Watching(HostContext):
    """The executor's side as the test sees it: each record with the lab server's state at that
    moment; ``stop_on`` stops the run as soon as that event is recorded."""

    def __init__(self, server: Any, stop_on: str | None = None) -> None:
        self.server = server
        self.records: list[tuple[str, dict[str, Any], tuple[int, bool]]] = []
        self.stop_on = stop_on
        self.stopped = threading.Event()

    def record(self, event: str, **fields: Any) -> None:
        self.records.append((event, fields, server_state(self.server)))
        if event == self.stop_on:
            self.stopped.set()

    def stopping(self) -> bool:
        return self.stopped.is_set()

    def sleep(self, seconds: float) -> None:
        self.stopped.wait(seconds)


def synchronize(lab, host: str, context: HostContext) -> Any:
    inventory = lab_inventory(lab)
    with Session(host, inventory.connection_options(inventory.hosts[host])) as session:
        return Synchronize().run(session, FAST, context=context)


def test_a_failed_attempt_then_success_is_journaled_attempt_by_attempt_as_it_happens(lab):
    server = lab.handlers.servers["wsus-flaky"]
    context = Watching(server)
    result = synchronize(lab, "wsus-flaky", context)

    assert not result.failed
    events = [(event, fields["attempt"]) for event, fields, _ in context.records]
    assert events == [("applying", 1), ("attempt", 1), ("applying", 2), ("attempt", 2)]
    # The server's state when each line was written: an applying line before its sync was started
    # (nothing running, the previous attempts' syncs all ended), an attempt line once it had ended.
    states = [state for _, _, state in context.records]
    assert states == [(0, False), (1, False), (1, False), (2, False)]
    first, second = (fields for event, fields, _ in context.records if event == "attempt")
    assert (first["result"], first["error"]) == ("Failed", "UssNotFound")
    assert second["result"] == "Succeeded"
    history = server.db.sync_history(2)[::-1]  # the server's two syncs, oldest first
    assert [(h["Result"], h["Error"]) for h in history] == [
        (a["result"], a["error"]) for a in (first, second)
    ]
    assert first["synchronization_id"] and second["synchronization_id"] not in (
        "",
        first["synchronization_id"],
    )
    assert first["ended"] <= context.records[2][1]["started"]  # the retry started after the end
    assert [a["attempt"] for a in result.details["attempts"]] == [1, 2]
    assert result.details["attempts"][1] == second  # the result and the journal say the same


def test_a_run_stopped_while_its_sync_runs_leaves_at_the_next_poll_and_the_sync_goes_on(lab):
    server = lab.handlers.servers["wsus-long"]
    context = Watching(server, stop_on="applying")  # Ctrl+C right as the sync is being started
    result = synchronize(lab, "wsus-long", context)

    assert [event for event, _, _ in context.records] == ["applying"]  # no attempt line: it did not end
    assert result.failed
    assert result.details["left_running"]["attempt"] == 1
    assert result.details["left_running"]["started"] == context.records[0][1]["started"]
    assert "left running on the server" in result.message
    assert server_state(server) == (0, True)  # the server's sync goes on, nobody cancelled it


def test_a_sync_that_ended_as_the_run_stopped_is_reported_without_reading_the_server_again(lab):
    from wsusauto.execution.jobs import StoppableSession

    server = lab.handlers.servers["wsus-root"]
    context = Watching(server, stop_on="attempt")  # Ctrl+C as the sync's attempt line is written
    inventory = lab_inventory(lab)
    with Session("wsus-root", inventory.connection_options(inventory.hosts["wsus-root"])) as session:
        # as under the executor: once the run stops, the session sends nothing more
        result = Synchronize().run(StoppableSession(session, context.stopped), FAST, context=context)

    assert not result.failed and result.facts is None
    assert [a["result"] for a in result.details["attempts"]] == ["Succeeded"]
    assert "stopped before the server's state was read back" in result.message
