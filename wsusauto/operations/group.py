"""What an operation's fleet step sees: one task of a play, every host that runs it, the fleet around.

A playbook run reads the facts of a play's hosts, then, before any change, calls each task's
``Operation.prepare_fleet`` once with a ``TaskGroup``: the hosts that run the task (``when`` held)
with their checked arguments, the intended hierarchy (each inventory host's upstream once the play's
tasks are done) and the facts read. The step returns each host's arguments (with what it learned
from the fleet) or refuses the play, before any server changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wsusauto.state.facts import Facts


def root_of(host: str, upstream_of: Mapping[str, str | None]) -> tuple[str, bool]:
    """The root of ``host``'s intended hierarchy, and whether it is an inventory host (False: the
    chain leaves the inventory, e.g. ``wsus_upstream_external``, or loops). Servers whose chains
    leave the inventory at one server are one hierarchy: that server's name is given in lower case,
    as host names are case-insensitive, so each spelling of it names the same root."""
    seen = {host}
    while True:
        upstream = upstream_of.get(host)
        if upstream is None:
            return host, True
        if upstream not in upstream_of:
            return upstream.lower(), False
        if upstream in seen:
            return upstream, False
        seen.add(upstream)
        host = upstream


@dataclass(frozen=True)
class TaskGroup:
    """One task of a play and the hosts that run it, as its fleet step sees them before any change."""

    where: str  # the task's place in the playbook, for errors about this task
    play_where: str  # the play's place, for errors that refuse the play as a whole
    args: Mapping[str, Mapping[str, Any]]  # each host running the task -> its checked arguments
    # The intended hierarchy: every inventory host -> its upstream host once the play's tasks are
    # done (None: it syncs from Microsoft Update; a name outside the inventory: an external server).
    upstream_of: Mapping[str, str | None]
    facts: Mapping[str, Facts]  # the play's hosts whose facts could be read

    def root_of(self, host: str) -> tuple[str, bool]:
        """The root of ``host``'s intended hierarchy (see ``root_of``)."""
        return root_of(host, self.upstream_of)
