"""Ctrl+C: a command that works on hosts stops, and says which synchronizations it leaves running.

The executor's ``interrupt()`` sets the stop flag (operations leave at their next poll, retry waits
end, no attempt starts) and closes every session, so running pipelines stop. A synchronization
already started is not cancelled: it goes on on its server, which the user must hear. The command
raises ``RunInterrupted`` (a KeyboardInterrupt, so library callers see the Ctrl+C they pressed),
carrying the syncs left running (``running_syncs``) and what the command had finished; the journal
gets an ``interrupted`` line naming the same syncs; the CLI prints one line per sync and exits 99.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from wsusauto.execution.running_syncs import RunningSync, RunningSyncs

if TYPE_CHECKING:  # the journal's module imports the console's: a type only
    from wsusauto.output.journal import Journal


class RunInterrupted(KeyboardInterrupt):
    """The user stopped the command; ``result`` is what it had finished (e.g. a RunResult), if any."""

    def __init__(self, left_running: Sequence[RunningSync], result: Any = None) -> None:
        super().__init__("interrupted")
        self.left_running = list(left_running)
        self.result = result

    def journal_fields(self) -> dict[str, Any]:
        """The ``interrupted`` journal line's fields."""
        return {"left_running": [sync.to_dict() for sync in self.left_running]}

    def lines(self) -> list[str]:
        """What the user reads: the stop, then one line per synchronization left running."""
        if not self.left_running:
            return ["interrupted: the run stopped; no synchronization it started is left running"]
        head = "interrupted: the run stopped; these synchronizations it started go on on their servers:"
        return [head, *(f"  {sync.line()}" for sync in self.left_running)]


@contextmanager
def naming_syncs_left_running(journal: Journal | None = None) -> Iterator[RunningSyncs]:
    """Around a command's executor (``on_record=syncs.on_record``, closed inside the block, so its
    hosts' jobs have ended): a Ctrl+C in the block becomes ``RunInterrupted`` naming the syncs left
    running, journaled as ``interrupted``."""
    syncs = RunningSyncs()
    try:
        yield syncs
    except RunInterrupted:
        raise
    except KeyboardInterrupt:
        stop = RunInterrupted(syncs.left_running())
        if journal is not None:
            journal.write("interrupted", **stop.journal_fields())
        raise stop from None
