"""Checks on what synchronizations left behind: the last sync's error, catalog-sync health events,
updates the upstream lacks, and WSUS 2.0 replicas that time out."""

from __future__ import annotations

from wsusauto.checks.base import (
    DOC_ISSUES_WITH_SYNCHRONIZATION,
    Check,
    FailedUpdate,
    Finding,
    Fleet,
    HostEvidence,
)
from wsusauto.sync_retry import SyncFailed, reason, what_to_check

_MAX_LISTED = 10  # updates named in one finding's evidence; the count says how many in all


def _last_sync_error(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    last = evidence.facts.last_synchronization_info
    if last is None or last.result not in ("Failed", "Succeeded"):
        return []
    if last.result == "Succeeded" and not last.update_errors:
        return []
    details = {
        "result": last.result,
        "error": last.error,
        "error_text": last.error_text,
        "start_time": last.start_time.isoformat() if last.start_time else None,
        "end_time": last.end_time.isoformat() if last.end_time else None,
        "update_errors": [
            {
                "update_id": e.update_id,
                "revision_number": e.revision_number,
                "error": e.error,
                "error_text": e.error_text,
            }
            for e in last.update_errors[:_MAX_LISTED]
        ],
        "update_error_count": len(last.update_errors),
    }
    if last.result == "Succeeded":
        return [
            LAST_SYNC_ERROR.finding(
                evidence,
                "warning",
                f"the last synchronization succeeded, but {len(last.update_errors)} update(s) failed "
                "to import",
                details,
                "Updates that fail to import (a dependency not found, invalid metadata) are retried by the "
                "next synchronization; if they keep failing, check that the upstream server has them "
                "(updates-missing-upstream).",
            )
        ]
    cause = reason(SyncFailed(last.error, last.error_text))
    return [
        LAST_SYNC_ERROR.finding(
            evidence,
            "error",
            f"the last synchronization failed: {last.error}",
            details,
            "In the console, Synchronizations, select the failed synchronization and read its Details "
            f"(the error above is that text). Cause: {cause}. Check {what_to_check(last.error)}.",
        )
    ]


LAST_SYNC_ERROR = Check(
    "last-sync-error",
    "The last synchronization's result, error and per-update errors",
    f"{DOC_ISSUES_WITH_SYNCHRONIZATION}: Check the error in the synchronization's Details pane",
    _last_sync_error,
)


CATALOG_EVENT_IDS = (10021, 10022)


def _catalog_sync_events(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    facts = evidence.facts
    succeeded = [
        info.end_time
        for info in facts.synchronization_history
        if info.result == "Succeeded" and info.end_time is not None
    ]
    last_success = max(succeeded) if succeeded else None
    events = [
        e
        for e in facts.events
        if e.id in CATALOG_EVENT_IDS
        and (last_success is None or e.time_created is None or e.time_created > last_success)
    ]
    if not events:
        return []
    newest = events[0]
    return [
        CATALOG_SYNC_EVENTS.finding(
            evidence,
            "warning",
            "the last catalog synchronization failed "
            f"(event {', '.join(str(i) for i in sorted({e.id for e in events}))})",
            {
                "events": [
                    {
                        "id": e.id,
                        "time": e.time_created.isoformat() if e.time_created else None,
                        "message": e.message[:500],
                    }
                    for e in events[:_MAX_LISTED]
                ],
                "last_successful_sync": last_success.isoformat() if last_success else None,
                "newest_event": newest.time_created.isoformat() if newest.time_created else None,
                "update_source": facts.update_source,
                "use_proxy": facts.use_proxy,
            },
            "Check your upstream server and proxy settings in the WSUS administration console (Options, "
            "then Update Source and Proxy Server): the upstream name and port (upstream-name, "
            "upstream-port) and the proxy (proxy-settings).",
        )
    ]


CATALOG_SYNC_EVENTS = Check(
    "catalog-sync-events",
    "Catalog synchronization failures in the event log (events 10021, 10022)",
    f"{DOC_ISSUES_WITH_SYNCHRONIZATION}: The last catalog synchronization failed",
    _catalog_sync_events,
    # The catalog sync's failure is what events 10021/10022 report (an upstream internal error).
    explains=frozenset({"UssInternalError"}),
)


def lacking_upstream(evidence: HostEvidence) -> list[FailedUpdate] | None:
    """The updates whose download failed here that the upstream server does not have (None: the
    upstream was not asked). The check below and ``decline_missing_updates`` both decide by this."""
    copies = evidence.upstream_copies
    if copies is None:
        return None
    return [u for u in evidence.failed_updates if u.update_id.lower() not in copies]


def _updates_missing_upstream(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    if not evidence.failed_updates or evidence.facts.sync_from_microsoft_update:
        return []
    upstream = evidence.facts.upstream_wsus_server_name
    listed = [{"update_id": u.update_id, "title": u.title} for u in evidence.failed_updates[:_MAX_LISTED]]
    base = {
        "upstream": upstream,
        "failed_update_count": evidence.failed_update_count,
        "failed_updates": listed,
    }
    copies = evidence.upstream_copies
    if copies is None:
        return [
            UPDATES_MISSING_UPSTREAM.finding(
                evidence,
                "warning",
                f"{evidence.failed_update_count} update(s) failed to download; the upstream could not "
                "be asked",
                base,
                f"Note the updates marked with a red X on this server's Updates page and check whether they "
                f"exist on {upstream} (its Updates page); the upstream was not reachable or not in the "
                "inventory, so wsusauto could not compare.",
            )
        ]
    missing = lacking_upstream(evidence) or []
    failed_there = [
        u
        for u in evidence.failed_updates
        if u.update_id.lower() in copies and copies[u.update_id.lower()].state == "Failed"
    ]
    available = [
        u
        for u in evidence.failed_updates
        if u.update_id.lower() in copies and copies[u.update_id.lower()].state != "Failed"
    ]
    findings = []
    if missing:
        findings.append(
            UPDATES_MISSING_UPSTREAM.finding(
                evidence,
                "error",
                f"{len(missing)} update(s) failed to download because {upstream} does not have them",
                {
                    **base,
                    "missing_on_upstream": [
                        {"update_id": u.update_id, "title": u.title} for u in missing[:_MAX_LISTED]
                    ],
                },
                f"Either specify the missing updates (their products and classifications) on {upstream} "
                "and synchronize it from its update source, or, if they are not needed, "
                + (
                    "cancel and decline them, which a replica cannot do: it inherits approvals and "
                    f"declines from {upstream}, so here only the first way is open."
                    if evidence.facts.is_replica_server
                    else "cancel them on this server and then decline them (playbooks/decline-missing-"
                    "updates.yml names them or takes all of them; diagnose --fix never declines updates)."
                ),
            )
        )
    if failed_there:
        findings.append(
            UPDATES_MISSING_UPSTREAM.finding(
                evidence,
                "warning",
                f"{len(failed_there)} update(s) failed to download here and on {upstream} too",
                {
                    **base,
                    "failed_on_upstream": [
                        {"update_id": u.update_id, "title": u.title} for u in failed_there[:_MAX_LISTED]
                    ],
                },
                f"{upstream} could not download these updates' files either: repair it first (diagnose it), "
                "then synchronize this server again.",
            )
        )
    if available:
        findings.append(
            UPDATES_MISSING_UPSTREAM.finding(
                evidence,
                "info",
                f"{len(available)} update(s) failed to download, but {upstream} has them now (transient)",
                {
                    **base,
                    "available_on_upstream": [
                        {"update_id": u.update_id, "title": u.title} for u in available[:_MAX_LISTED]
                    ],
                },
                "The error is transient: the updates were probably downloaded to the upstream server after "
                "this server asked for them. It resolves itself at the next synchronization.",
            )
        )
    return findings


UPDATES_MISSING_UPSTREAM = Check(
    "updates-missing-upstream",
    "Updates whose download failed on a downstream server, compared with its upstream server",
    f"{DOC_ISSUES_WITH_SYNCHRONIZATION}: On a downstream WSUS server, check that the updates are "
    "available on the upstream WSUS server",
    _updates_missing_upstream,
)


# WSUS 2.0 RTM is 2.0.0.2472; Service Pack 1 (2.0.0.2620) fixed the replica time-outs (KB 910847).
WSUS2_SP1 = (2, 0, 0, 2620)


def _version(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return None


def _legacy_replica_timeout(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    facts = evidence.facts
    version = _version(facts.version)
    if not facts.is_replica_server or version is None or version[:1] != (2,) or version >= WSUS2_SP1:
        return []
    return [
        LEGACY_REPLICA_TIMEOUT.finding(
            evidence,
            "warning",
            f"a WSUS 2.0 replica before Service Pack 1 ({facts.version}) can time out when synchronizing",
            {"version": facts.version, "is_replica_server": True, "fixed_in": "2.0.0.2620 (WSUS 2.0 SP1)"},
            "This issue has been fixed in WSUS 2.0 Service Pack 1 and in WSUS 3.0: install WSUS 2.0 SP1 "
            "or upgrade the server (KB 910847, 'Time-out error when approving multiple updates').",
        )
    ]


LEGACY_REPLICA_TIMEOUT = Check(
    "legacy-replica-timeout",
    "WSUS 2.0 replicas before SP1 time out when synchronizing",
    f"{DOC_ISSUES_WITH_SYNCHRONIZATION}: A WSUS 2.0 replica times out when synchronizing",
    _legacy_replica_timeout,
)
