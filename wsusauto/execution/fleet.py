"""Fleet-wide reads for the library and the commands, as thin calls of the ``HostExecutor``.

Every command that reads the fleet (``facts``, ``diagnose``, ``diagnose --fix``, ``report``) and the
library's one-call helpers take an ``executor``: given one (a run's, or a command's that reads more
than once), they work through its Sessions, one per host for its whole life; without one they make
their own for the call (``own_executor``) and close it at the end.

    facts = collect_facts(inventory, inventory.select("all"))
    facts.exit_code                      # as every command's (wsusauto.execution.verdict)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from wsusauto.client.session import Session
from wsusauto.config.inventory import Host, Inventory
from wsusauto.errors import NEVER_RAN, Unreachable, UsageError, WsusAutoError
from wsusauto.execution import verdict
from wsusauto.execution.executor import HostExecutor, HostJob, HostOutcome, default_processes
from wsusauto.state.facts import Facts, gather_facts

if TYPE_CHECKING:
    from wsusauto.output.journal import Journal

__all__ = [
    "FleetFacts",
    "HostFacts",
    "HostOutcome",
    "SessionFactory",
    "collect_facts",
    "own_executor",
    "reached",
]

T = TypeVar("T")
# The library's form of a session factory: (host name, inventory, host) -> Session.
SessionFactory = Callable[[str, Inventory, Host], Session]


@contextmanager
def own_executor(
    executor: HostExecutor | None,
    inventory: Inventory,
    *,
    forks: int = 20,
    host_count: int | None = None,
    deadline: float = 120.0,
    session_factory: SessionFactory | None = None,
    journal: Journal | None = None,
    thread_name: str = "host",
) -> Iterator[HostExecutor]:
    """``executor`` when given (it stays open: its owner closes it), else a new one for this block,
    closed at its end (every Session with it; interrupted first on Ctrl+C). ``forks``,
    ``deadline``, ``session_factory`` and ``journal`` shape the new one only, sized for the
    ``host_count`` hosts it will work on (threads, and worker processes only for that many hosts)."""
    if executor is not None:
        yield executor
        return
    if forks < 1:
        raise UsageError("--forks must be at least 1")
    factory = None
    if session_factory is not None:
        custom = session_factory

        def factory(host: Host, inventory: Inventory) -> Session:
            return custom(host.name, inventory, host)

    if host_count is not None:
        forks = min(forks, max(1, host_count))
    with HostExecutor(
        inventory,
        forks=forks,
        processes=default_processes(host_count) if host_count is not None else None,
        deadline=deadline,
        session_factory=factory,
        journal=journal,
        thread_name=thread_name,
    ) as made:
        yield made  # on Ctrl+C the executor interrupts its hosts' work on the way out


@contextmanager
def reached(job: HostJob) -> Iterator[None]:
    """Around a read of a fleet-wide pass: a host found unreachable earlier in the executor's life (a
    run's facts, an earlier pass) is not tried again, and one found so now is remembered, as the
    runner's own work does; either way the pass's outcome for it is unreachable."""
    if job.unreachable:
        raise Unreachable(job.host.name, job.unreachable)
    try:
        yield
    except NEVER_RAN as exc:
        job.unreachable = exc.reason
        raise


@dataclass(frozen=True)
class HostFacts:
    host: str
    facts: Facts | None = None
    error: WsusAutoError | None = None

    @property
    def status(self) -> verdict.Verdict:
        """The host's verdict, as every command's (``verdict.of_error``)."""
        return verdict.of_error(self.error)


class FleetFacts(list[HostFacts]):
    """What ``collect_facts`` read: each host's facts or error, in inventory order, with each host's
    verdict and the exit code, as every command's (``wsusauto facts`` exits with it)."""

    @property
    def verdicts(self) -> dict[str, verdict.Verdict]:
        return {r.host: r.status for r in self}

    @property
    def exit_code(self) -> int:
        return verdict.exit_code(self.verdicts.values())


def read_facts(job: HostJob) -> Facts:
    """A host's facts (a work function for ``HostExecutor``)."""
    with reached(job):
        return gather_facts(job.session)


def collect_facts(
    inventory: Inventory,
    hosts: Sequence[Host],
    *,
    executor: HostExecutor | None = None,
    forks: int = 20,
    deadline: float = 120.0,
    session_factory: SessionFactory | None = None,
) -> FleetFacts:
    """Facts of every host, in the given order; errors are per host, never raised."""
    if not hosts:
        return FleetFacts()
    with own_executor(
        executor,
        inventory,
        forks=forks,
        host_count=len(hosts),
        deadline=deadline,
        session_factory=session_factory,
        thread_name="facts",
    ) as running:
        outcomes: list[HostOutcome[Any]] = running.map([h.name for h in hosts], read_facts)
    return FleetFacts(HostFacts(o.host, facts=o.value, error=o.error) for o in outcomes)
