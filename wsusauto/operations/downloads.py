"""``resume_downloads``: try again the update files whose download failed.

An update whose files could not be downloaded is in state Failed and "remains in this state until"
its download is resumed (UpdateState, WSUS API reference): repairing BITS, the update storage
folder's permissions or the Range header, and synchronizing, leave it failed. The documented fixes
therefore end by resuming the downloads (``with_resumed_downloads``), and a failed download whose
cause was fixed by hand has this operation of its own (IUpdateServer.ResumeAllDownloads()).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.operations.base import Change, ChangePlan, Operation, OperationRefused, OperationResult
from wsusauto.operations.context import DETACHED, HostContext
from wsusauto.state.facts import Facts, gather_facts

MEMBER = "UpdatesWithServerErrorsCount"


class ResumeDownloads(Operation):
    name = "resume_downloads"
    arguments: Mapping[str, Any] = {}

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        failed = facts.update_server_status.updates_with_server_errors_count
        if failed == 0:
            return ChangePlan(())
        return ChangePlan((Change(MEMBER, failed, 0),), "resume_downloads", {"ReadOnly": False})

    def run(
        self,
        session: Any,
        args: Mapping[str, Any],
        *,
        check: bool = False,
        facts: Facts | None = None,
        context: HostContext = DETACHED,
    ) -> OperationResult:
        current = facts if facts is not None else gather_facts(session)
        plan = self.plan(current, args)
        if not plan.changes:
            return OperationResult(
                self.name, False, facts=current, check_mode=check, message="no failed download"
            )
        failed = plan.changes[0].before
        if check:
            return OperationResult(
                self.name,
                True,
                plan.changes,
                check_mode=True,
                message=f"would resume {failed} failed download(s)",
            )
        session.invoke(plan.snippet, **plan.parameters)
        after = gather_facts(session)
        still = after.update_server_status.updates_with_server_errors_count
        if still:
            raise OperationRefused(
                f"{session.name}: {still} of {failed} resumed download(s) failed again: what blocks them "
                "(BITS, the update storage folder's permissions, the Range header, the upstream server) "
                "is still there; wsusauto diagnose names it"
            )
        return OperationResult(
            self.name, True, plan.changes, facts=after, message=f"resumed {failed} failed download(s)"
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
