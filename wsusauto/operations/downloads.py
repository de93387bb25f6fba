"""``resume_downloads``: try again the update files whose download failed.

An update whose files could not be downloaded is in state Failed and "remains in this state until"
its download is resumed (UpdateState, WSUS API reference): repairing BITS, the update storage
folder's permissions or the Range header, and synchronizing, leave it failed. The documented fixes
therefore end by resuming the downloads (``with_resumed_downloads``), and a failed download whose
cause was fixed by hand has this operation of its own (IUpdateServer.ResumeAllDownloads()).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from wsusauto.operations.base import Change, ChangePlan, Operation, OperationRefused, OperationResult
from wsusauto.operations.context import DETACHED, HostContext
from wsusauto.state.facts import Facts

MEMBER = "UpdatesWithServerErrorsCount"


class ResumeDownloads(Operation):
    name = "resume_downloads"
    arguments: Mapping[str, Any] = {}

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        failed = facts.update_server_status.updates_with_server_errors_count
        if failed == 0:
            return ChangePlan(())
        return ChangePlan((Change(MEMBER, failed, 0),), "resume_downloads", {"ReadOnly": False})

    def message(self, plan: ChangePlan, outcome: str) -> str:
        if outcome == "unchanged":
            return "no failed download"
        failed = plan.changes[0].before
        return f"{'would resume' if outcome == 'would change' else 'resumed'} {failed} failed download(s)"

    def simulate(self, facts: Facts, result: OperationResult) -> Facts:
        # Check mode: a later task (a second resume, a report) sees the downloads resumed.
        status = dataclasses.replace(facts.update_server_status, updates_with_server_errors_count=0)
        return dataclasses.replace(facts, update_server_status=status)

    def verify(self, session: Any, plan: ChangePlan, after: Facts) -> None:
        still = after.update_server_status.updates_with_server_errors_count
        if still:
            raise OperationRefused(
                f"{session.name}: {still} of {plan.changes[0].before} resumed download(s) failed again: "
                "what blocks them (BITS, the update storage folder's permissions, the Range header, the "
                "upstream server) is still there; wsusauto diagnose names it"
            )


def with_resumed_downloads(
    session: Any,
    repaired: OperationResult,
    facts: Facts,
    *,
    check: bool,
    context: HostContext = DETACHED,
) -> OperationResult:
    """A content fix's result followed by resuming the downloads that failed while it was broken."""
    if repaired.failed:
        return repaired
    resumed = ResumeDownloads().run(session, {}, check=check, facts=repaired.facts or facts, context=context)
    if not resumed.changed:
        return repaired
    message = resumed.message if not repaired.changed else f"{repaired.message}; then {resumed.message}"
    return OperationResult(
        repaired.operation,
        True,
        (*repaired.changes, *resumed.changes),
        repaired.warnings,
        message=message,
        facts=resumed.facts,
        check_mode=check,
        details=dict(repaired.details),
    )
