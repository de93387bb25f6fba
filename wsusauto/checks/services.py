"""Checks of the server itself: the BITS and WSUS services, the content folder's permissions, and
the Range-header download failure BITS reports behind some proxies."""

from __future__ import annotations

from collections.abc import Iterable

from wsusauto.checks.base import (
    DOC_ISSUES_WITH_SYNCHRONIZATION,
    DOC_SYNCHRONIZATION_ISSUES,
    Check,
    Finding,
    Fleet,
    HostEvidence,
)
from wsusauto.state.facts import AccessRule, Facts

BITS_SERVICE = "BITS"
WSUS_SERVICE = "WsusService"


def _bits_service(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    services = evidence.facts.services
    bits, wsus = services.get(BITS_SERVICE), services.get(WSUS_SERVICE)
    problems = []
    if bits is None:
        problems.append(("error", "the BITS service is not installed or not reported"))
    else:
        if bits.start_mode == "Disabled":
            problems.append(("error", "the BITS service is disabled"))
        if bits.state != "Running":
            problems.append(
                (
                    "warning" if bits.start_mode != "Disabled" else "error",
                    f"the BITS service is {bits.state.lower()}",
                )
            )
    if wsus is not None:
        if wsus.state != "Running":
            problems.append(("error", f"the WSUS service is {wsus.state.lower()}"))
        if wsus.start_mode != "Auto":
            problems.append(
                ("warning", f"the WSUS service starts {wsus.start_mode.lower()}, not automatically")
            )
    if not problems:
        return []
    severity = "error" if any(s == "error" for s, _ in problems) else "warning"
    return [
        BITS_SERVICE_CHECK.finding(
            evidence,
            severity,
            "; ".join(text for _, text in problems),
            {
                name: {"state": state.state, "start_mode": state.start_mode}
                for name, state in ((BITS_SERVICE, bits), (WSUS_SERVICE, wsus))
                if state is not None
            },
            "If the BITS service was disabled during synchronization, synchronization will fail. Set the "
            "Background Intelligent Transfer Service's startup type to Manual and start it, restart the "
            "WSUS service, and retry the synchronization; make sure both start on reboot (the fix: "
            "playbooks/fix-bits-service.yml, or wsusauto diagnose --fix).",
        )
    ]


BITS_SERVICE_CHECK = Check(
    "bits-service",
    "BITS disabled or stopped; BITS and WSUS service start types",
    f"{DOC_ISSUES_WITH_SYNCHRONIZATION}: Restart the BITS service",
    _bits_service,
    fix="bits_service",
    explains=frozenset({"Unknown"}),
)

# The accounts the update storage folder must let read, by SID: their names depend on the language
# Windows was installed in (NT-AUTORITÄT\NETZWERKDIENST, BUILTIN\Utilisateurs); the SIDs do not. The
# labels are for messages only.
NETWORK_SERVICE_SID = "S-1-5-20"
USERS_SID = "S-1-5-32-545"
CONTENT_READERS = {NETWORK_SERVICE_SID: "NETWORK SERVICE", USERS_SID: "Users"}
READ_RIGHTS = {"Read", "ReadAndExecute", "Modify", "FullControl", "ReadData", "ListDirectory"}


def has_read(acl: Iterable[AccessRule], sid: str) -> bool:
    """An allowing rule with a Read-ish right for the account ``sid``, as the fix reads it."""
    for rule in acl:
        if rule.access_control_type != "Allow" or rule.sid.upper() != sid.upper():
            continue
        if {right.strip() for right in rule.file_system_rights.split(",")} & READ_RIGHTS:
            return True
    return False


def missing_read(acl: Iterable[AccessRule]) -> list[str]:
    """The SIDs of CONTENT_READERS that no rule lets read."""
    rules = list(acl)
    return [sid for sid in CONTENT_READERS if not has_read(rules, sid)]


def _content_permissions(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    facts = evidence.facts
    if not facts.stores_updates_locally:
        return []
    missing = missing_read(facts.content_dir_acl)
    if not missing:
        return []
    role = "downstream" if not facts.sync_from_microsoft_update else "upstream"
    who = " and ".join(f"{CONTENT_READERS[sid]} ({sid})" for sid in missing)
    return [
        CONTENT_PERMISSIONS.finding(
            evidence,
            "error",
            f"{who} cannot read the update storage folder {facts.content_dir}",
            {
                "content_dir": facts.content_dir,
                "missing_read": missing,
                "acl": [
                    {
                        "identity": r.identity_reference,
                        "sid": r.sid,
                        "rights": r.file_system_rights,
                        "type": r.access_control_type,
                        "inherited": r.is_inherited,
                    }
                    for r in facts.content_dir_acl
                ],
                "role": role,
            },
            "The folder to which you download update files needs at least Read permissions for the "
            "network service and for users, on upstream and downstream servers alike; BITS fails "
            "without them (the fix: playbooks/fix-content-permissions.yml, or wsusauto diagnose --fix).",
        )
    ]


CONTENT_PERMISSIONS = Check(
    "content-permissions",
    "Read for NETWORK SERVICE and Users on the update storage folder",
    f"{DOC_ISSUES_WITH_SYNCHRONIZATION}: Verify that users and the network service have Read permissions "
    "to the local update storage directory",
    _content_permissions,
    fix="content_permissions",
)

RANGE_EVENT_ID = 364  # WsusEventId.ContentSynchronizationFileDownloadFailed


def _other_download_cause(facts: Facts) -> bool:
    """A documented cause of failed content downloads that is not the proxy: the content folder's
    Read permissions, or BITS not running. Those have their own checks and fixes."""
    bits = facts.services.get(BITS_SERVICE)
    bits_down = bits is not None and (bits.state != "Running" or bits.start_mode == "Disabled")
    return bits_down or bool(missing_read(facts.content_dir_acl))


def _range_protocol(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    # Decided by the event id and the server's state, never by the event's text: Windows writes the
    # message in its own language ("Fehler beim Herunterladen der Inhaltsdatei ...").
    facts = evidence.facts
    events = [e for e in facts.events if e.id == RANGE_EVENT_ID]
    if not events or facts.bits_download_priority_foreground is True:
        return []  # fixed; downloads that failed before are failed-downloads' to report
    status = facts.update_server_status
    if status.updates_needing_files_count == 0 and status.updates_with_server_errors_count == 0:
        return []  # the files have arrived since: the event is history
    if facts.stores_updates_locally and _other_download_cause(facts):
        return []  # downloads fail for a reason another check names and fixes first
    newest = events[0]
    return [
        RANGE_PROTOCOL.finding(
            evidence,
            "error",
            "content downloads fail (event 364) and no other cause is found: BITS needs the Range "
            "header, which a proxy without HTTP 1.1 does not support (the event's text says so)",
            {
                "event_id": RANGE_EVENT_ID,
                "event_count": len(events),
                "newest_event": newest.time_created.isoformat() if newest.time_created else None,
                "message": newest.message[:600],
                "updates_needing_files": status.updates_needing_files_count,
                "bits_download_priority_foreground": facts.bits_download_priority_foreground,
                "database": facts.database_kind,
                "sql_server_name": facts.sql_server_name,
            },
            "The proxy environment does not support HTTP 1.1. Make BITS download in the foreground "
            "(BitsDownloadPriorityForeground=1): net stop WSUSService; osql -S <instance> -E -b -n -Q "
            '"USE SUSDB update tbConfigurationC set BitsDownloadPriorityForeground=1"; net start '
            "WSUSService; then synchronize (the fix: playbooks/fix-range-header.yml, or wsusauto "
            "diagnose --fix; it uses the API where the server has the setting, else osql, sqlcmd or .NET's "
            "SqlClient over the internal database's named pipe; SUSDB on another SQL Server needs the SQL "
            "step run on that machine).",
        )
    ]


RANGE_PROTOCOL = Check(
    "range-protocol",
    "Content file download failed: the server must support the Range protocol header",
    f"{DOC_SYNCHRONIZATION_ISSUES}: If you are unable to download update files to your local WSUS "
    "server, your server might not support the necessary HTTP protocol",
    _range_protocol,
    fix="bits_foreground",
)
