"""What every troubleshooting check shares: the evidence it reads and the finding it returns.

A check is pure: evidence in (each server's facts, what the server saw of its upstream, the
fleet's intended hierarchy), findings out. It never talks to a server; gathering the evidence is
``wsusauto.diagnose``'s job, and repairs are operations (``Finding.fix`` names one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wsusauto.state.facts import Facts

SEVERITIES = ("error", "warning", "info")

# Microsoft's documents the remedies come from, cited by title (and TechNet id) in every finding.
DOC_REPLICA_MODE = "Running WSUS 3.0 SP2 in Replica Mode (TechNet dd939893)"
DOC_ISSUES_WITH_SYNCHRONIZATION = "Issues with Synchronization (TechNet cc708514, WSUS 3.0 SP2)"
DOC_SYNCHRONIZATION_ISSUES = "Synchronization issues (TechNet cc708426)"


@dataclass(frozen=True)
class Finding:
    check: str  # the check's stable id, e.g. "bits-service"
    host: str
    severity: str  # error | warning | info
    title: str
    evidence: Mapping[str, Any]  # plain JSON values: what was seen, where
    remedy: str  # what to do, quoting or citing Microsoft's document
    source: str  # the document (by title) and section the remedy comes from
    fix: str | None = None  # the operation that applies the documented fix, if there is one

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "title": self.title,
            "evidence": dict(self.evidence),
            "remedy": self.remedy,
            "source": self.source,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class UpstreamProbe:
    """What a downstream server saw when it resolved its upstream's name and tried its port."""

    name: str
    port: int
    resolved: bool
    addresses: tuple[str, ...]
    resolve_error: str
    port_tested: bool
    port_open: bool
    connect_error: str
    # Through a proxy (UseProxy) WSUS connects to the proxy, which connects to the upstream: then the
    # port tried (port_tested, port_open, connect_error) is the proxy's, and the upstream's name
    # needs to resolve only at the proxy.
    through_proxy: bool = False
    proxy_name: str = ""
    proxy_port: int = 0
    proxy_resolved: bool = False
    proxy_addresses: tuple[str, ...] = ()
    proxy_resolve_error: str = ""


@dataclass(frozen=True)
class FailedUpdate:
    """An update whose files this server failed to download (the console's red X)."""

    update_id: str
    title: str


@dataclass(frozen=True)
class UpstreamCopy:
    """The upstream server's copy of an update a downstream server failed to download."""

    update_id: str
    title: str
    state: str  # UpdateState name on the upstream: Ready, NotReady, Failed, ...
    is_declined: bool


@dataclass(frozen=True)
class InactiveApprovals:
    """What ``wsusutil listinactiveapprovals`` printed on a server (its format is not documented:
    the lines as they came, for a person to read)."""

    tool: str  # the WsusUtil.exe that ran (<TargetDir>\Tools\WsusUtil.exe)
    exit_code: int
    lines: tuple[str, ...]


@dataclass(frozen=True)
class HostEvidence:
    host: str  # inventory name
    facts: Facts
    address: str = ""  # how the inventory reaches it (ansible_host): an IP is the documented work-around
    intended_upstream: str | None = None  # inventory host (wsus_upstream), None: Microsoft Update
    intended_replica: bool = False
    upstream_probe: UpstreamProbe | None = None  # None: syncs from Microsoft Update, or not probed
    failed_updates: tuple[FailedUpdate, ...] = ()
    failed_update_count: int = 0
    upstream_copies: Mapping[str, UpstreamCopy] | None = None  # update id -> copy; None: not looked up
    # On a parent whose replica's approved count differs from its own; None: not asked.
    inactive_approvals: InactiveApprovals | None = None
    inactive_approvals_error: str = ""  # why wsusutil listinactiveapprovals could not be run there
    probe_errors: tuple[str, ...] = ()  # evidence that could not be gathered, in words


@dataclass(frozen=True)
class Fleet:
    """Every reachable server's evidence, and who is whose upstream (configured, by inventory name)."""

    hosts: Mapping[str, HostEvidence]
    configured_upstream: Mapping[str, str | None] = field(default_factory=dict)
    max_concurrent_per_upstream: int = 1

    def upstream_of(self, host: str) -> HostEvidence | None:
        """The evidence of the server ``host`` syncs from (as configured), when the fleet has it."""
        name = self.configured_upstream.get(host)
        return self.hosts.get(name) if name else None

    def downstream_of(self, host: str) -> list[HostEvidence]:
        return [self.hosts[h] for h, up in self.configured_upstream.items() if up == host and h in self.hosts]


CheckFunction = Callable[[HostEvidence, Fleet], list[Finding]]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    source: str
    run: CheckFunction
    fix: str | None = None
    # SynchronizationError names a finding of this check explains: on a host where it fires, a
    # failed last synchronization with one of these errors is the symptom, not a separate finding.
    explains: frozenset[str] = frozenset()

    def finding(
        self, evidence: HostEvidence, severity: str, title: str, details: Mapping[str, Any], remedy: str
    ) -> Finding:
        if severity not in SEVERITIES:
            raise ValueError(f"severity {severity!r} is not one of {SEVERITIES}")
        return Finding(self.id, evidence.host, severity, title, dict(details), remedy, self.source, self.fix)
