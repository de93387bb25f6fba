"""What the executor offers an operation while it runs on one host.

An operation reaches the executor only through a ``HostContext``: journal events as they happen
(``record``), a slot at its upstream server while it makes that server work for it
(``upstream_slot``: held during a synchronization attempt, never during a retry wait), and whether
the run is being stopped (``stopping``, and ``sleep``, which returns early then). Used as a library
without an executor, an operation gets ``DETACHED``: events go nowhere, a slot is always free, and
nothing stops it but its caller.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any


class HostContext:
    """The executor's side of one host's run; every method is safe to call from the host's thread."""

    host: str = ""

    def record(self, event: str, **fields: Any) -> None:
        """Write a journal event for this host now (e.g. ``applying`` before a sync starts)."""

    @contextlib.contextmanager
    def upstream_slot(self) -> Iterator[None]:
        """Hold one of the upstream server's ``max_concurrent_per_upstream`` slots for the block."""
        yield

    def stopping(self) -> bool:
        """Whether the run is being stopped (Ctrl+C): leave at the next safe point."""
        return False

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the run is being stopped."""
        time.sleep(seconds)


DETACHED = HostContext()
