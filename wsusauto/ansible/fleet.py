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

from wsusauto.ansible.connection import connection_var_names, host_from_vars, open_session
from wsusauto.ansible.facts_vars import FACTS_VAR, facts_from_vars
from wsusauto.ansible.values import native
from wsusauto.client.session import Session
from wsusauto.config.inventory import Host, Inventory
from wsusauto.errors import UsageError
from wsusauto.execution.fleet import SessionFactory, collect_facts
from wsusauto.state.facts import Facts

SOURCE = "the play's hostvars"
# What the fleet functions read of each host besides how to connect (wsusauto.ansible.connection):
# its place in the intended hierarchy, the names it goes by, its groups.
HIERARCHY_VARS = (
    "wsus_upstream",
    "wsus_replica",
    "wsus_upstream_external",
    "wsus_server_name",
    "group_names",
)


def variable_names(names: Iterable[str]) -> list[str]:
    """Of a host's variable names, those a play host is made of: how to connect, and the hierarchy's
    (the plugins template just those of each host, never the rest of its hostvars)."""
    names = list(names)
    return [*connection_var_names(names), *(n for n in names if n in HIERARCHY_VARS)]


def play_host(name: str, variables: Mapping[str, Any], play_password: str | None = None) -> Host:
    """One inventory host from its (templated) variables: its connection vars as the collection's
    plugins read them (``host_from_vars``, ``-k``'s password as the fallback), its hierarchy vars,
    its groups from ``group_names``."""
    connection = host_from_vars(str(name), variables, play_password)
    groups = variables.get("group_names") or ()
    if isinstance(groups, str) or not isinstance(groups, Iterable):
        groups = ()
    kept = {**connection.vars, **{k: native(variables[k]) for k in HIERARCHY_VARS if k in variables}}
    return Host(str(name), kept, tuple(str(g) for g in groups))


def play_inventory(
    hostvars: Mapping[str, Mapping[str, Any]], hosts: Iterable[str], play_password: str | None = None
) -> Inventory:
    """An Inventory of ``hosts`` (in the given order) from their variables in ``hostvars``.

    The groups are those the hosts' ``group_names`` name (and ``all``), so host patterns and
    ``Inventory.host_for_server`` work as on an inventory file. A host missing from ``hostvars``
    is a usage error naming it."""
    names = list(dict.fromkeys(str(h) for h in hosts))
    missing = [name for name in names if name not in hostvars]
    if missing:
        raise UsageError(f"{SOURCE}: no variables for {', '.join(missing)}: not hosts of the inventory")
    members = {name: play_host(name, hostvars[name], play_password) for name in names}
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


def session_factory(deadline: float = 120.0) -> SessionFactory:
    """The library's session factory for a play inventory: each host's Session as the collection's
    plugins open their own host's (``open_session``)."""

    def make(name: str, inventory: Inventory, host: Host) -> Session:
        return open_session(host, deadline=deadline)

    return make


def facts_reader(
    inventory: Inventory, sessions: SessionFactory | None = None, forks: int = 20
) -> Callable[[Sequence[str]], dict[str, Facts | str]]:
    """Reads the facts of the given hosts of ``inventory`` over their own Sessions (``sessions``,
    default ``session_factory()``), ``forks`` at a time: host -> Facts, or why they could not be
    read (the host's verdict and error)."""

    def read(hosts: Sequence[str]) -> dict[str, Facts | str]:
        results = collect_facts(
            inventory,
            [inventory.hosts[name] for name in hosts],
            forks=forks,
            session_factory=sessions or session_factory(),
        )
        return {r.host: r.facts if r.facts is not None else f"{r.status}: {r.error}" for r in results}

    return read
