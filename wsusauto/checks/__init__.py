"""Troubleshooting checks: Microsoft's troubleshooting procedures as pure functions, evidence in,
findings out.

    from wsusauto.checks import run_checks
    findings = run_checks(fleet)          # host -> [Finding], every host of the fleet

Each check has a stable id (the ``check`` of its findings), a title, the document and section its
remedy comes from, and, where Microsoft documents one, the operation that fixes it. When a more specific
finding explains a host's failed last synchronization (the check lists that SynchronizationError
in ``explains``), the failure becomes part of that finding's evidence instead of a finding of its
own: one problem, one finding.
"""

from __future__ import annotations

from wsusauto.checks.base import Check, Finding, Fleet, HostEvidence
from wsusauto.checks.content import FAILED_DOWNLOADS, fold_failed_downloads
from wsusauto.checks.hierarchy import APPROVALS_MISMATCH, HIERARCHY, SCHEDULE_COLLISIONS, STORAGE_OPTION
from wsusauto.checks.network import UPSTREAM_NAME, UPSTREAM_PORT
from wsusauto.checks.proxy import PROXY_SETTINGS
from wsusauto.checks.services import BITS_SERVICE_CHECK, CONTENT_PERMISSIONS, RANGE_PROTOCOL
from wsusauto.checks.sync import (
    CATALOG_SYNC_EVENTS,
    LAST_SYNC_ERROR,
    LEGACY_REPLICA_TIMEOUT,
    UPDATES_MISSING_UPSTREAM,
)

CHECKS: tuple[Check, ...] = (
    LAST_SYNC_ERROR,
    PROXY_SETTINGS,
    UPSTREAM_PORT,
    UPSTREAM_NAME,
    CONTENT_PERMISSIONS,
    UPDATES_MISSING_UPSTREAM,
    STORAGE_OPTION,
    BITS_SERVICE_CHECK,
    RANGE_PROTOCOL,
    FAILED_DOWNLOADS,
    APPROVALS_MISMATCH,
    CATALOG_SYNC_EVENTS,
    SCHEDULE_COLLISIONS,
    LEGACY_REPLICA_TIMEOUT,
    HIERARCHY,
)
BY_ID = {check.id: check for check in CHECKS}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def checks_explaining(error: str) -> list[str]:
    """The ids of the checks whose findings can explain a synchronization failing with ``error``."""
    return [check.id for check in CHECKS if error in check.explains]


def check_host(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    findings = [finding for check in CHECKS for finding in check.run(evidence, fleet)]
    findings = fold_failed_downloads(evidence.facts, findings)
    last = evidence.facts.last_synchronization_info
    if last is not None and last.result == "Failed":
        explaining = [f for f in findings if last.error in BY_ID[f.check].explains]
        if explaining:
            failure = {"result": last.result, "error": last.error, "error_text": last.error_text}
            findings = [
                Finding(
                    f.check,
                    f.host,
                    f.severity,
                    f.title,
                    {**f.evidence, "last_sync": failure} if f in explaining else f.evidence,
                    f.remedy,
                    f.source,
                    f.fix,
                )
                for f in findings
                if f.check != LAST_SYNC_ERROR.id
            ]
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], CHECKS.index(BY_ID[f.check])))


def run_checks(fleet: Fleet) -> dict[str, list[Finding]]:
    """Every host's findings (an empty list for a healthy server), in the fleet's order."""
    return {host: check_host(evidence, fleet) for host, evidence in fleet.hosts.items()}


__all__ = [
    "BY_ID",
    "CHECKS",
    "Check",
    "Finding",
    "Fleet",
    "HostEvidence",
    "check_host",
    "checks_explaining",
    "run_checks",
]
