"""Which synchronizations a run started and has not seen end: those a stopped run leaves running.

Built from the journal events the hosts record as they happen (the executor's ``on_record``): an
``applying`` line with an ``attempt`` number is written right before StartSynchronization(), an
``attempt`` line as that attempt ends. A synchronization started and not ended when the run stops
goes on on its server (nothing cancels it); the run names each one, with its server and when it
started. A start whose answer the stop cut off counts as started: the journal never claims less
than what may be running.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunningSync:
    host: str
    attempt: int
    started: dt.datetime | str  # when StartSynchronization() was called (UTC)
    task: str = ""
    operation: str = ""  # the task's operation (synchronize, or a fix that synchronizes)

    def line(self) -> str:
        """One line for the person who pressed Ctrl+C."""
        return (
            f"{self.host}: the synchronization started {_when(self.started)} (attempt {self.attempt}"
            f"{', task ' + repr(self.task) if self.task else ''}) was left running; it goes on on the server"
        )

    def to_dict(self) -> dict[str, Any]:
        # named as the sync's own applying and attempt lines name it: host, task, operation, attempt
        return {
            "host": self.host,
            "task": self.task,
            "operation": self.operation,
            "attempt": self.attempt,
            "started": self.started,
        }


def _when(started: dt.datetime | str) -> str:
    if isinstance(started, str):  # a record that came through JSON (a worker process, the journal)
        try:
            moment = dt.datetime.fromisoformat(started.replace("Z", "+00:00"))
        except ValueError:
            return started
    else:
        moment = started
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


class RunningSyncs:
    """Fed every record of a run; ``left_running()`` names the syncs started and not ended.

    A host runs its tasks one after another, so it has at most one synchronization of this run at a
    time: a later start replaces the entry (the earlier one ended, or was never seen to start)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, RunningSync] = {}

    def on_record(self, host: str, event: str, fields: Mapping[str, Any]) -> None:
        if "attempt" not in fields:
            return
        with self._lock:
            if event == "applying":
                self._running[host] = RunningSync(
                    host,
                    int(fields["attempt"]),
                    fields.get("started", ""),
                    str(fields.get("task", "") or ""),
                    str(fields.get("operation", "") or ""),
                )
            elif event == "attempt":
                started = self._running.get(host)
                if started is not None and started.attempt == int(fields["attempt"]):
                    del self._running[host]

    def left_running(self) -> list[RunningSync]:
        """The syncs started and not seen ending, the earliest first."""
        with self._lock:
            running = list(self._running.values())
        return sorted(running, key=lambda sync: (_when(sync.started), sync.host))
