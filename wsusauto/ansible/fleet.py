"""The play's hosts as wsusauto's fleet functions see them: an ``Inventory`` made from their hostvars.

Ansible runs a task on each host in its own worker process, so no task sees the whole play the way
``wsusauto run`` does; but every task receives ``hostvars`` (each inventory host's variables) and
``ansible_play_hosts``. From those this module builds what the library's fleet functions take
(``wsusauto.diagnose.diagnose_fleet``, the stagger planner, the fleet step of ``synchronize``):

- ``play_inventory``: an ``Inventory`` of the play's hosts, each with its variables as Ansible
  templated them (connection vars, ``wsus_upstream``, ``wsus_replica``...), so the library reads
  the hierarchy and builds each host's Session exactly as from an inventory file;
- ``intended_upstreams``: each host's intended upstream host (``wsus_upstream``), resolved to an
  inventory host as ``wsusauto run`` resolves it;
- ``known_facts``: the facts a ``wsus_facts`` task of the play left in ``hostvars`` (see
  ``wsusauto.ansible.facts_vars``), for the fleet steps that read another server's facts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from wsusauto.ansible.facts_vars import FACTS_VAR, facts_from_vars
from wsusauto.config.inventory import Host, Inventory
from wsusauto.errors import UsageError
from wsusauto.execution.fleet import SessionFactory, collect_facts
from wsusauto.state.facts import Facts

SOURCE = "the play's hostvars"


def play_host(name: str, variables: Mapping[str, Any]) -> Host:
    """One inventory host from its (templated) variables; its groups from ``group_names``."""
    groups = variables.get("group_names") or ()
    if isinstance(groups, str) or not isinstance(groups, Iterable):
        groups = ()
    return Host(str(name), dict(variables), tuple(str(g) for g in groups))


def play_inventory(hostvars: Mapping[str, Mapping[str, Any]], hosts: Iterable[str]) -> Inventory:
    """An Inventory of ``hosts`` (in the given order) from their variables in ``hostvars``.

    The groups are those the hosts' ``group_names`` name (and ``all``), so host patterns and
    ``Inventory.host_for_server`` work as on an inventory file. A host missing from ``hostvars``
    is a usage error naming it."""
    names = list(dict.fromkeys(str(h) for h in hosts))
    missing = [name for name in names if name not in hostvars]
    if missing:
        raise UsageError(f"{SOURCE}: no variables for {', '.join(missing)}: not hosts of the inventory")
    members = {name: play_host(name, hostvars[name]) for name in names}
    groups: dict[str, list[str]] = {"all": list(names)}
    for host in members.values():
        for group in host.groups:
            groups.setdefault(group, []).append(host.name)
    return Inventory(SOURCE, members, {g: tuple(h) for g, h in groups.items()})


def intended_upstreams(inventory: Inventory, hosts: Iterable[str] | None = None) -> dict[str, str | None]:
    """Each host's intended upstream (``wsus_upstream``) as an inventory host name when it names one
    (by host name, ``ansible_host``, ``wsus_server_name`` or a domain name), else the name as given;
    None for a server that synchronizes from Microsoft Update."""
    names = list(inventory.hosts) if hosts is None else list(hosts)
    return {name: inventory.host_for_server(inventory.hosts[name].upstream) for name in names}


def known_facts(hostvars: Mapping[str, Mapping[str, Any]], hosts: Iterable[str]) -> dict[str, Facts]:
    """The facts a ``wsus_facts`` task left for each of ``hosts`` (``hostvars[host]['wsus_facts']``);
    hosts without them are left out. Facts of another shape are a usage error naming the host."""
    found = {}
    for name in hosts:
        variables = hostvars.get(name)
        value = variables.get(FACTS_VAR) if variables is not None else None
        if value:
            found[str(name)] = facts_from_vars(str(name), value)
    return found


def facts_reader(
    inventory: Inventory, session_factory: SessionFactory | None = None, forks: int = 20
) -> Callable[[Sequence[str]], dict[str, Facts | str]]:
    """Reads the facts of the given hosts of ``inventory`` over their own Sessions, ``forks`` at a
    time: host -> Facts, or why they could not be read (the host's verdict and error)."""

    def read(hosts: Sequence[str]) -> dict[str, Facts | str]:
        results = collect_facts(
            inventory,
            [inventory.hosts[name] for name in hosts],
            forks=forks,
            session_factory=session_factory,
        )
        return {r.host: r.facts if r.facts is not None else f"{r.status}: {r.error}" for r in results}

    return read
