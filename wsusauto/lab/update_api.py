"""IUpdateServer's update lookups as a real server answers them, and what each one costs.

``GetUpdates()`` materialises an IUpdate object for every update on the server (tens of thousands
on a real one); ``GetUpdate(UpdateRevisionId)`` one, or throws WsusObjectNotFoundException. The lab
counts the objects each server materialised (``LabUpdatesMaterialised`` in its SUSDB), so a test can
tell a snippet that asks for what it needs from one that walks the whole catalog.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from wsusauto.lab.invocation import ScriptError
from wsusauto.lab.model.server import WsusServerModel

MATERIALISED = "LabUpdatesMaterialised"


def _count(server: WsusServerModel, objects: int) -> None:
    server.set(**{MATERIALISED: int(server.get(MATERIALISED) or 0) + objects})


def materialised(server: WsusServerModel) -> int:
    return int(server.get(MATERIALISED) or 0)


def get_updates(server: WsusServerModel) -> list[dict[str, Any]]:
    """IUpdateServer.GetUpdates(): every update, each one an object."""
    rows = server.updates()
    _count(server, len(rows))
    return rows


def guid(text: Any) -> str:
    """``[Guid]$text`` as PowerShell converts it (the formats .NET parses), lower-case 'D' form."""
    try:
        return str(uuid.UUID(str(text).strip()))
    except ValueError:
        raise ScriptError(
            f'Cannot convert value "{text}" to type "System.Guid". Error: "Guid should contain 32 digits '
            'with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."',
            error_id="InvalidCastParseTargetInvocation",
            category="InvalidArgument",
            exception_type="System.Management.Automation.RuntimeException",
        ) from None


def get_update(server: WsusServerModel, update_id: str) -> dict[str, Any] | None:
    """IUpdateServer.GetUpdate(UpdateRevisionId(guid)): the update, or None where the real call
    throws WsusObjectNotFoundException (the snippets catch exactly that)."""
    wanted = guid(update_id)
    for row in server.db.updates_by_id([wanted]):
        _count(server, 1)
        return row
    return None


def get_approved_updates(server: WsusServerModel) -> list[dict[str, Any]]:
    """IUpdateServer.GetUpdates(UpdateScope) with ApprovedStates = LatestRevisionApproved: the
    updates whose latest revision is approved (IsApproved, not declined), each one an object."""
    rows = server.db.approved_updates()
    _count(server, len(rows))
    return rows


# A topology's `initial: {LabEventHistoryAllUpdates: true}`: GetUpdateEventHistory with Guid.Empty
# returns every update's events. Microsoft's page for that overload only says the Guid names "the update
# whose ... events you want to get" and wsus-api.md marks "Guid.Empty means all updates" UNSURE, so by
# default the lab takes the stricter reading: Guid.Empty names no update, and no event comes back.
EVENT_HISTORY_ALL_UPDATES = "LabEventHistoryAllUpdates"


def download_failure_update_ids(server: WsusServerModel, lookback_days: int) -> list[str]:
    """GetUpdateEventHistory(now - days, now, Guid.Empty, Server, 364): the update each event
    names, newest first (an update may appear more than once); none unless the server's
    LabEventHistoryAllUpdates says Guid.Empty means every update."""
    if lookback_days < 0:
        raise ScriptError(
            'Exception calling "GetUpdateEventHistory" with "5" argument(s): "fromDate cannot be greater '
            'than toDate."',
            error_id="ArgumentOutOfRangeException",
            category="NotSpecified",
            exception_type="System.Management.Automation.MethodInvocationException",
        )
    if server.get(EVENT_HISTORY_ALL_UPDATES) is not True:
        return []
    since = server.clock() - dt.timedelta(days=lookback_days)
    return server.download_failure_events(since)


def cancel_and_decline(update: dict[str, Any]) -> dict[str, Any]:
    """IUpdate.CancelDownload() then IUpdate.Decline(), as the lab models them: a download that had
    not finished (NotReady) or had failed (Failed) is Canceled (UpdateState.Canceled); a declined
    update has no approval left. The row to store; the caller writes it."""
    state = "Canceled" if update["State"] in ("NotReady", "Failed") else update["State"]
    return {**update, "State": state, "IsDeclined": True, "IsApproved": False}
