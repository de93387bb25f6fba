"""``wsus_synchronize``'s plain-Python side: wsusauto's ``synchronize`` for one host of an Ansible play.

The operation itself (``wsusauto.operations.synchronize``) starts the synchronization, waits for it
and follows the documented retry policy ("Running WSUS 3.0 SP2 in Replica Mode", "Issues with
Synchronization": a failed replica synchronization is retried twice at about fifteen-minute
intervals, then the server waits for its next scheduled time); every attempt is in the result.

What ``wsusauto run`` adds from the fleet, its fleet step (``Synchronize.prepare_fleet``), is the
upstream server's storage option, so that a sync failing between servers that store updates
differently fails at once with that cause instead of being retried. Here the fleet step runs
unchanged on a ``TaskGroup`` of this one host: the intended hierarchy from the hosts' ``wsus_upstream``
and the upstream's facts when a ``wsus_facts`` task of the play left them in ``hostvars``.

What it cannot add: Ansible runs each host in its own worker process, so the slots a ``wsusauto run``
keeps at each upstream server (``max_concurrent_per_upstream`` syncs at a time, in hierarchy order)
do not exist across hosts. In a playbook, ``serial`` (one region, or a few servers, at a time) and
separate plays per tier (roots first) play that role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wsusauto.ansible.connection import open_session
from wsusauto.ansible.fleet import known_facts, play_host, play_inventory
from wsusauto.ansible.results import error_result, operation_result
from wsusauto.ansible.values import native
from wsusauto.config.inventory import Host
from wsusauto.operations.base import OperationResult
from wsusauto.operations.context import DETACHED, HostContext
from wsusauto.operations.group import TaskGroup
from wsusauto.operations.synchronize import Synchronize


def upstream_in_play(
    host: str, hostvars: Mapping[str, Mapping[str, Any]], play_hosts: Sequence[str]
) -> str | None:
    """``host``'s intended upstream (``wsus_upstream``) when it is a host of the play, else None.

    A ``wsus_upstream`` that names a play host reads no other host's variables (the usual case, and
    each host's task asks this); another name (an address, a domain name) is resolved over the play's
    hosts as ``Inventory.host_for_server`` resolves it."""
    named = play_host(host, hostvars[host]).upstream
    if named is None:
        return None
    if named in play_hosts:
        return named
    resolved = play_inventory(hostvars, play_hosts).host_for_server(named)
    return resolved if resolved in play_hosts else None


def synchronize_arguments(
    host: str,
    args: Mapping[str, Any],
    hostvars: Mapping[str, Mapping[str, Any]],
    play_hosts: Sequence[str],
    where: str = "wsus_synchronize",
) -> Mapping[str, Any]:
    """The operation's arguments for ``host``: ``args`` checked as ``wsusauto run`` checks them, then
    the fleet step's additions. The upstream's facts are read from ``hostvars`` (``wsus_facts``) only
    when the upstream is a host of the play (``play_hosts``), as in ``wsusauto run``."""
    operation = Synchronize()
    checked = operation.validate({k: v for k, v in args.items() if v is not None}, where)
    upstream = upstream_in_play(host, hostvars, play_hosts)
    facts = known_facts(hostvars, [upstream]) if upstream is not None else {}
    group = TaskGroup(where, where, {host: checked}, {host: upstream}, facts)
    return operation.prepare_fleet(group)[host]


def synchronize(
    session: Any,
    args: Mapping[str, Any],
    *,
    check: bool = False,
    context: HostContext = DETACHED,
) -> OperationResult:
    """Run the synchronization (``args`` from ``synchronize_arguments``) and wait for it."""
    return Synchronize().run(session, args, check=check, context=context)


def synchronize_task(
    host: Host,
    args: Mapping[str, Any],
    hostvars: Mapping[str, Mapping[str, Any]],
    play_hosts: Sequence[str],
    *,
    check: bool = False,
    deadline: float = 120.0,
) -> dict[str, Any]:
    """The ``wsus_synchronize`` task on ``host``: its result as Ansible takes it, every attempt under
    ``attempts`` (a failed sync is failed, with its attempts and what explains it in ``msg``). Never
    raises for what the host or the arguments do: an error is the result (unreachable when nothing
    ran), as in ``run_task``."""
    try:
        given = synchronize_arguments(host.name, native(args), hostvars, play_hosts)
        with open_session(host, deadline=deadline) as session:
            outcome = synchronize(session, given, check=check)
    except Exception as exc:
        return error_result(exc)
    return operation_result(outcome, diff=False)
