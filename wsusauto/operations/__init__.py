"""Desired-state operations: facts + wish -> Change -> apply with the smallest snippet -> read again.

from wsusauto.operations import run_operation
result = run_operation(session, "update_source", {"source": "upstream", "upstream": "wsus-root"})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.errors import UsageError
from wsusauto.operations.base import Change, ChangePlan, Operation, OperationRefused, OperationResult
from wsusauto.operations.computer_groups import ComputerGroups
from wsusauto.operations.configuration import Replica, UpdateSource
from wsusauto.operations.context import DETACHED, HostContext
from wsusauto.operations.decline import DeclineMissingUpdates
from wsusauto.operations.diagnose import Diagnose
from wsusauto.operations.downloads import ResumeDownloads
from wsusauto.operations.fixes import BitsForeground, BitsService, ContentPermissions
from wsusauto.operations.proxy import Proxy
from wsusauto.operations.schedule import Schedule
from wsusauto.operations.stagger import Stagger
from wsusauto.operations.status import Status
from wsusauto.operations.storage import StorageOption
from wsusauto.operations.synchronize import Synchronize
from wsusauto.state.facts import Facts

OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        UpdateSource(),
        Replica(),
        Proxy(),
        Schedule(),
        StorageOption(),
        ComputerGroups(),
        Stagger(),
        Synchronize(),
        Status(),
        Diagnose(),
        BitsService(),
        BitsForeground(),
        ContentPermissions(),
        DeclineMissingUpdates(),
        ResumeDownloads(),
    )
}


def get_operation(name: str, where: str = "") -> Operation:
    try:
        return OPERATIONS[name]
    except KeyError:
        prefix = f"{where}: " if where else ""
        raise UsageError(
            f"{prefix}unknown operation {name!r}; known: {', '.join(sorted(OPERATIONS))}"
        ) from None


def run_operation(
    session: Any,
    name: str,
    args: Mapping[str, Any],
    *,
    check: bool = False,
    context: HostContext = DETACHED,
    facts: Facts | None = None,
) -> OperationResult:
    """Validate ``args`` and run one operation on an open Session (the library's one-liner); it plans
    on ``facts`` when given (check mode's simulated state), else on the facts it reads."""
    operation = get_operation(name)
    validated = operation.validate(args, f"{session.name}: {name}")
    return operation.run(session, validated, check=check, facts=facts, context=context)


__all__ = [
    "DETACHED",
    "OPERATIONS",
    "Change",
    "ChangePlan",
    "HostContext",
    "Operation",
    "OperationRefused",
    "OperationResult",
    "get_operation",
    "run_operation",
]
