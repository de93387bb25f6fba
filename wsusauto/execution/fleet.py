"""Fleet-wide reads: one Session per host, ``forks`` hosts at a time, one host's failure never
stops the others."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from wsusauto.client.session import Session
from wsusauto.client.speedups import forget_password_hashes
from wsusauto.config.inventory import Host, Inventory
from wsusauto.errors import HostError, UsageError, WsusAutoError
from wsusauto.execution import verdict
from wsusauto.state.facts import Facts, gather_facts

T = TypeVar("T")
SessionFactory = Callable[[str, Inventory, Host], Session]


@dataclass(frozen=True)
class HostOutcome(Generic[T]):
    host: str
    value: T | None = None
    error: WsusAutoError | None = None

    @property
    def status(self) -> verdict.Verdict:
        """The host's verdict (``verdict.of_error``: refused credentials are unreachable, nothing ran)."""
        return verdict.of_error(self.error)


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
    """``work(session, host)`` on every host with its own Session, in inventory order; a host's error
    is its outcome, never raised."""
    if forks < 1:
        raise UsageError("--forks must be at least 1")

    def one(host: Host) -> HostOutcome[T]:
        try:
            if session_factory is not None:
                session = session_factory(host.name, inventory, host)
            else:
                session = Session(host.name, inventory.connection_options(host), default_deadline=deadline)
            with session:
                return HostOutcome(host.name, value=work(session, host))
        except (HostError, UsageError) as exc:
            return HostOutcome(host.name, error=exc)

    if not hosts:
        return []
    try:
        with ThreadPoolExecutor(max_workers=min(forks, len(hosts)), thread_name_prefix=thread_name) as pool:
            return list(pool.map(one, hosts))
    finally:
        forget_password_hashes()  # every session is closed: the passwords need not stay in memory


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


def collect_facts(
    inventory: Inventory,
    hosts: Sequence[Host],
    *,
    forks: int = 20,
    deadline: float = 120.0,
    session_factory: SessionFactory | None = None,
) -> FleetFacts:
    """Facts of every host, in inventory order; errors are per host, never raised."""
    outcomes = for_each_host(
        inventory,
        hosts,
        lambda session, host: gather_facts(session),
        forks=forks,
        deadline=deadline,
        session_factory=session_factory,
        thread_name="facts",
    )
    return FleetFacts(HostFacts(o.host, facts=o.value, error=o.error) for o in outcomes)
