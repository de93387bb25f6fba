"""Fleet-wide facts: one Session per host, ``forks`` hosts at a time, one host's failure never
stops the others."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from wsusauto.errors import HostError, Unreachable, UsageError, WsusAutoError
from wsusauto.facts import Facts, gather_facts
from wsusauto.inventory import Host, Inventory
from wsusauto.session import Session


@dataclass(frozen=True)
class HostFacts:
    host: str
    facts: Facts | None = None
    error: WsusAutoError | None = None

    @property
    def status(self) -> str:
        if self.facts is not None:
            return "ok"
        return "unreachable" if isinstance(self.error, Unreachable) else "failed"


def collect_facts(
    inventory: Inventory,
    hosts: Sequence[Host],
    *,
    forks: int = 20,
    deadline: float = 120.0,
    session_factory: Callable[[str, Inventory, Host], Session] | None = None,
) -> list[HostFacts]:
    """Facts of every host, in inventory order; errors are per host, never raised."""
    if forks < 1:
        raise UsageError("--forks must be at least 1")

    def one(host: Host) -> HostFacts:
        try:
            if session_factory is not None:
                session = session_factory(host.name, inventory, host)
            else:
                session = Session(host.name, inventory.connection_options(host), default_deadline=deadline)
            with session:
                return HostFacts(host.name, facts=gather_facts(session))
        except (HostError, UsageError) as exc:
            return HostFacts(host.name, error=exc)

    with ThreadPoolExecutor(max_workers=min(forks, max(1, len(hosts))), thread_name_prefix="facts") as pool:
        return list(pool.map(one, hosts))
