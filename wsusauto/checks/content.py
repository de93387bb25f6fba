"""Failed content downloads: updates in state Failed stay there until their download is resumed.

The check ``failed-downloads`` reports them on a server where nothing else does: where a content
cause is still there (BITS, the storage folder's permissions, the Range header), they are that
finding's evidence (``fold_failed_downloads``), and on a downstream server the updates-missing-upstream
check compares them with the upstream server. A content cause's finding counts as resolved only when
the downloads it broke have recovered too (``content_recovered``).
"""

from __future__ import annotations

from wsusauto.checks.base import Check, Finding, Fleet, HostEvidence
from wsusauto.state.facts import Facts

# The checks whose cause makes BITS' downloads fail on the server itself.
CONTENT_CAUSES = frozenset({"bits-service", "content-permissions", "range-protocol"})
FAILED_DOWNLOADS_ID = "failed-downloads"
_MAX_LISTED = 10


def content_recovered(facts: Facts) -> bool:
    """No update in state Failed: every failed download was resumed and succeeded."""
    return facts.update_server_status.updates_with_server_errors_count == 0


def _failed_downloads(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    status = evidence.facts.update_server_status
    failed = status.updates_with_server_errors_count
    if failed == 0:
        return []
    return [
        FAILED_DOWNLOADS.finding(
            evidence,
            "warning",
            f"{failed} update(s) whose download failed stay failed until their downloads are resumed",
            {
                "updates_with_server_errors": failed,
                "updates_needing_files": status.updates_needing_files_count,
                "failed_updates": [
                    {"update_id": u.update_id, "title": u.title}
                    for u in evidence.failed_updates[:_MAX_LISTED]
                ],
            },
            "An update whose files could not be downloaded remains in state Failed until its download is "
            "resumed; a synchronization does not download it again. Once what blocked the download is "
            "fixed, resume the failed downloads (IUpdateServer.ResumeAllDownloads; the fix: wsusauto "
            "diagnose --fix, or the resume_downloads operation).",
        )
    ]


FAILED_DOWNLOADS = Check(
    FAILED_DOWNLOADS_ID,
    "Updates whose download failed (state Failed) until their downloads are resumed",
    "UpdateState.Failed and IUpdateServer.ResumeAllDownloads (WSUS administration API reference)",
    _failed_downloads,
    fix="resume_downloads",
)


def fold_failed_downloads(facts: Facts, findings: list[Finding]) -> list[Finding]:
    """One problem, one finding: failed downloads that a content cause or the upstream comparison
    explains are evidence of that finding, not a finding of their own."""
    causes = [f for f in findings if f.check in CONTENT_CAUSES]
    if causes:
        failed = facts.update_server_status.updates_with_server_errors_count
        return [
            Finding(
                f.check,
                f.host,
                f.severity,
                f.title,
                {**f.evidence, "failed_downloads": failed},
                f.remedy,
                f.source,
                f.fix,
            )
            if f in causes
            else f
            for f in findings
            # The cause here explains them, not an upstream that lacked them for a while or failed
            # them too (that upstream's own diagnosis names its cause); updates the upstream does not
            # have at all stay a finding: resuming cannot fetch them.
            if f.check != FAILED_DOWNLOADS_ID
            and not (f.check == "updates-missing-upstream" and f.severity != "error")
        ]
    if any(f.check == "updates-missing-upstream" for f in findings):
        return [f for f in findings if f.check != FAILED_DOWNLOADS_ID]
    return findings
