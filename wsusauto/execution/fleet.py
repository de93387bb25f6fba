"""Fleet-wide reads as one call: ``work(session, host)`` on every host through the ``HostExecutor``
(one Session per host, ``forks`` hosts at a time, one host's failure never stops the others)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from wsusauto.client.session import Session
from wsusauto.config.inventory import Host, Inventory
from wsusauto.errors import UsageError, WsusAutoError
from wsusauto.execution import verdict
from wsusauto.execution.executor import HostExecutor, HostJob, HostOutcome
from wsusauto.state.facts import Facts, gather_facts

__all__ = ["FleetFacts", "HostFacts", "HostOutcome", "SessionFactory", "collect_facts", "for_each_host"]

T = TypeVar("T")
SessionFactory = Callable[[str, Inventory, Host], Session]


def _with_session(job: HostJob, work: Callable[[Session, Host], T]) -> T:
    return work(job.session, job.host)


def for_each_host(
    inventory: Inventory,
    hosts: Sequence[Host],
    work: Callable[[Session, Host], T],
    *,
    forks: int = 20,
    deadline: float = 120.0,
    session_factory: SessionFactory | None = None,
    thread_name: str = "host",
) -> list[HostOutcome[T]]:
    """``work(session, host)`` on every host with its own Session, in the given order; a host's error
    is its outcome, never raised."""
    if forks < 1:
        raise UsageError("--forks must be at least 1")
    if not hosts:
        return []
    factory = None
    if session_factory is not None:
        custom = session_factory

        def factory(host: Host, inventory: Inventory) -> Session:
            return custom(host.name, inventory, host)

    # ``work`` may be any callable (a closure): threads of this process only.
    with HostExecutor(
        inventory,
        forks=min(forks, len(hosts)),
        processes=1,
        deadline=deadline,
        session_factory=factory,
        thread_name=thread_name,
    ) as executor:
        return executor.map([host.name for host in hosts], _with_session, work)


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


def _facts(session: Session, host: Host) -> Facts:
    return gather_facts(session)


def collect_facts(
    inventory: Inventory,
    hosts: Sequence[Host],
    *,
    forks: int = 20,
    deadline: float = 120.0,
    session_factory: SessionFactory | None = None,
) -> FleetFacts:
    """Facts of every host, in the given order; errors are per host, never raised."""
    outcomes = for_each_host(
        inventory,
        hosts,
        _facts,
        forks=forks,
        deadline=deadline,
        session_factory=session_factory,
        thread_name="facts",
    )
    return FleetFacts(HostFacts(o.host, facts=o.value, error=o.error) for o in outcomes)
