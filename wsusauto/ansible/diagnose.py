"""``wsus_diagnose``'s plain-Python side: one host's findings, and its documented fixes.

The troubleshooting checks compare a server with others (its storage option, version and languages
with its upstream's, a replica's approvals with its parent's, the schedules of the servers that
synchronize from it), so a host is never diagnosed alone: the library's ``diagnose_fleet`` runs,
unchanged, on an ``Inventory`` made from the play's hostvars (``wsusauto.ansible.fleet``), and the
task reports its own host's findings. Which servers are read with it (``scope``):

- ``neighbours`` (the default): the host, its upstream (intended: ``wsus_upstream``; configured: as
  its facts say, read first) and the servers that synchronize from it (intended, and configured as
  far as ``wsus_facts`` of the play show). Each host's task reads a few servers, not the whole play,
  so a play of N hosts makes O(N) reads, not N times N. A server configured against the inventory to
  synchronize from this host is counted here (schedule collisions, approvals) only when a
  ``wsus_facts`` task of the play read it; its own task reports it (hierarchy-consistency) anyway.
- ``play``: every host of the play, as ``wsusauto diagnose`` does: the same findings whatever the
  facts in hostvars, at N reads per task.

Verdicts are ``wsusauto diagnose``'s (``wsusauto.diagnose``, ``wsusauto.execution.verdict``): the
host is *failed* when it has an error or a warning finding, or its facts could not be read;
*unreachable* when it did not answer or refused the credentials. With ``fix``, the documented fixes
its findings name run on this host only (``fix_fleet``), then it is diagnosed again; the verdict is
the worst of that diagnosis and the fixes (a fix that failed: failed), and a fix that changed the
server makes the task *changed*. In check mode the fixes report what they would change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wsusauto.ansible.facts_vars import FACTS_VAR
from wsusauto.ansible.fleet import play_inventory
from wsusauto.ansible.fleet import session_factory as play_sessions
from wsusauto.ansible.results import error_result, plain
from wsusauto.ansible.values import native
from wsusauto.config.inventory import Host, Inventory
from wsusauto.diagnose import (
    Diagnosis,
    Fixes,
    diagnose_fleet,
    document,
    fix_fleet,
    verdicts_with_fixes,
)
from wsusauto.execution import verdict
from wsusauto.execution.executor import HostExecutor
from wsusauto.execution.fleet import SessionFactory
from wsusauto.state.facts import Facts

SCOPES = ("neighbours", "play")


def configured_server(facts: Facts | Mapping[str, Any]) -> str | None:
    """The upstream server a server synchronizes from as its facts say (None: Microsoft Update), from
    ``Facts`` or from the ``wsus_facts`` value a task left in hostvars (only these two members read)."""
    on_microsoft_update: Any
    name: Any
    if isinstance(facts, Facts):
        on_microsoft_update, name = facts.sync_from_microsoft_update, facts.upstream_wsus_server_name
    else:
        on_microsoft_update = facts.get("sync_from_microsoft_update")
        name = facts.get("upstream_wsus_server_name")
    if on_microsoft_update is not False or not name:
        return None
    return str(name)


def neighbours(host: str, inventory: Inventory, configured: Mapping[str, str | None]) -> list[str]:
    """``host`` and the inventory hosts its checks compare it with, as far as the inventory and the
    facts at hand tell (``configured``: host -> the upstream server its facts name): its upstream and
    the servers synchronizing from it, intended or configured. In inventory order, ``host`` first."""
    related = {host}
    intended = {name: inventory.host_for_server(h.upstream) for name, h in inventory.hosts.items()}
    actual = {name: inventory.host_for_server(server) for name, server in configured.items()}
    for upstreams in (intended, actual):
        if upstreams.get(host) is not None:
            related.add(str(upstreams[host]))
        related.update(name for name, upstream in upstreams.items() if upstream == host)
    others = [name for name in inventory.hosts if name in related and name != host]
    return [host, *others]


@dataclass(frozen=True)
class HostDiagnosis:
    """What ``diagnose_host`` found for one host, and the Ansible result it gives."""

    host: str
    verdict: verdict.Verdict
    findings: list[dict[str, Any]]  # wsusauto diagnose --json's shape for this host
    fixes: list[dict[str, Any]]  # each fix run: operation, checks, status, message
    diagnosed: list[str]  # the hosts read with it
    warnings: list[str]
    error: str = ""  # why the host could not be diagnosed

    def to_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "changed": any(f["status"] in ("changed", "would change") for f in self.fixes),
            "findings": self.findings,
            "diagnosed_with": self.diagnosed[1:],
        }
        if self.fixes:
            result["fixes"] = self.fixes
        if self.warnings:
            result["warnings"] = self.warnings
        if self.verdict == verdict.UNREACHABLE:
            result["unreachable"] = True
        elif self.verdict == verdict.FAILED:
            result["failed"] = True
        result["msg"] = self.message()
        return result

    def message(self) -> str:
        if self.error:
            return self.error
        parts = [
            f"{f['severity']} {f['check']}: {f['title']}"
            + (" (fixed)" if f.get("resolved") else "")
            + (" (new)" if f.get("new") else "")
            for f in self.findings
        ]
        parts += [
            f"fix {f['operation']} ({', '.join(f['checks'])}): {f['status']}: {f['message']}"
            for f in self.fixes
            if f["status"] not in ("changed", "ok", "would change")
        ]
        return "; ".join(parts) if parts else "no findings"


def diagnose_host(
    host: str,
    inventory: Inventory,
    *,
    configured: Mapping[str, str | None] | None = None,
    scope: str = "neighbours",
    fix: bool = False,
    check: bool = False,
    arguments: Mapping[str, Any] | None = None,
    max_concurrent_per_upstream: int = 1,
    session_factory: SessionFactory | None = None,
    forks: int = 5,
    deadline: float = 120.0,
) -> HostDiagnosis:
    """Diagnose ``host`` with the servers its checks compare it with (``scope``; ``configured``: the
    upstream server each host's facts at hand name, see ``neighbours``); with ``fix``, run
    the documented fixes its findings name on it (``arguments``: e.g. the synchronization's
    ``poll_interval``), then diagnose again. One executor for it all, as ``wsusauto diagnose --fix``:
    the fixes and the second diagnosis reuse the first one's Sessions."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    configured = dict(configured or {})
    custom = session_factory or play_sessions(deadline)

    def factory(member: Host, inventory: Inventory) -> Any:
        return custom(member.name, inventory, member)

    with HostExecutor(
        inventory,
        forks=forks,
        processes=1,
        deadline=deadline,
        session_factory=factory,
        thread_name="diagnose",
    ) as executor:

        def diagnose() -> tuple[Diagnosis, list[str]]:
            if scope == "play":
                members = list(inventory.hosts)
                return _diagnose(inventory, members, executor, max_concurrent_per_upstream), members
            members = neighbours(host, inventory, configured)
            found = _diagnose(inventory, members, executor, max_concurrent_per_upstream)
            # This host's upstream as configured is compared with it: when its fresh facts name an
            # inventory host the first pass did not read, read the neighbourhood again with it.
            evidence = found.evidence.get(host)
            if evidence is not None:
                server = configured_server(evidence.facts)
                upstream = inventory.host_for_server(server)
                if upstream is not None and upstream in inventory.hosts and upstream not in members:
                    members = neighbours(host, inventory, {**configured, host: server})
                    found = _diagnose(inventory, members, executor, max_concurrent_per_upstream)
            return found, members

        first, members = diagnose()
        warnings = _not_read(first, members, host)
        if host in first.unreachable or host in first.failed:
            status: verdict.Verdict = verdict.UNREACHABLE if host in first.unreachable else verdict.FAILED
            error = first.unreachable.get(host) or first.failed[host]
            return HostDiagnosis(host, status, document(first)[host], [], members, warnings, error)
        if not fix:
            return HostDiagnosis(host, first.verdict_of(host), document(first)[host], [], members, warnings)
        mine = Diagnosis(
            evidence=first.evidence,
            findings={host: first.findings.get(host, [])},
            order=[host],
        )
        fixes = fix_fleet(
            inventory,
            mine,
            executor=executor,
            check=check,
            arguments=dict(arguments or {}),
            max_concurrent_per_upstream=max_concurrent_per_upstream,
        )
        after = first if check else diagnose()[0]
    status = verdicts_with_fixes(after, fixes).get(host, verdict.SKIPPED)
    if host in after.unreachable:
        status = verdict.UNREACHABLE
    findings = document(after, fixes, before=None if check else first)[host]
    return HostDiagnosis(host, status, findings, _fix_list(fixes, host), members, warnings)


def _diagnose(inventory: Inventory, members: Sequence[str], executor: HostExecutor, limit: int) -> Diagnosis:
    hosts = [inventory.hosts[name] for name in members]
    return diagnose_fleet(inventory, hosts, executor=executor, max_concurrent_per_upstream=limit)


def _not_read(diagnosis: Diagnosis, members: Sequence[str], host: str) -> list[str]:
    """A warning for each other server that could not be read: the checks comparing with it did
    not run."""
    missing = {**diagnosis.unreachable, **diagnosis.failed}
    return [
        f"{name} could not be read ({missing[name]}); the checks comparing {host} with it did not run"
        for name in members
        if name != host and name in missing
    ]


def _fix_list(fixes: Fixes, host: str) -> list[dict[str, Any]]:
    return [
        {"operation": r.operation, "checks": list(r.checks), "status": r.status, "message": r.message}
        for r in fixes.get(host, [])
    ]


def diagnose_task(
    host: Host,
    args: Mapping[str, Any],
    hostvars: Mapping[str, Mapping[str, Any]],
    play_hosts: Sequence[str],
    *,
    check: bool = False,
    play_password: str | None = None,
    deadline: float = 120.0,
) -> dict[str, Any]:
    """The ``wsus_diagnose`` task on ``host`` (``args``: ``scope``, ``fix``, ``max_concurrent_per_upstream``,
    ``poll_interval``), as Ansible's result. The play's hosts come from ``hostvars``; what their
    ``wsus_facts`` say of their configured upstreams widens the neighbourhood. Never raises."""
    try:
        args = native(args)
        names = list(dict.fromkeys([*play_hosts, host.name]))
        inventory = play_inventory(hostvars, names, play_password)
        configured = {}
        if args.get("scope", "neighbours") == "neighbours":
            for name in names:
                value = hostvars[name].get(FACTS_VAR)
                if isinstance(value, Mapping):
                    configured[name] = configured_server(value)
        fix_arguments = {k: args[k] for k in ("poll_interval",) if args.get(k) is not None}
        diagnosed = diagnose_host(
            host.name,
            inventory,
            configured=configured,
            scope=str(args.get("scope", "neighbours")),
            fix=bool(args.get("fix", False)),
            check=check,
            arguments=fix_arguments,
            max_concurrent_per_upstream=int(args.get("max_concurrent_per_upstream", 1)),
            deadline=deadline,
        )
    except Exception as exc:
        return error_result(exc)
    return dict(plain(diagnosed.to_result()))
