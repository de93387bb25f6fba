"""The documented fixes, as idempotent operations (check mode, diff, verify like the others).

- ``bits_service``: BITS' startup type not Disabled (Manual, as the seed sets it) and running; the
  WSUS service automatic and running, restarted when BITS needed repair; then a synchronization.
- ``bits_foreground``: BitsDownloadPriorityForeground=1 (the Range-header fix), through the API
  where the server has the member, else stop WsusService, osql or sqlcmd on SUSDB, start it again
  (also when the SQL step failed); then a synchronization.
- ``content_permissions``: Read for NETWORK SERVICE and Users on the update storage folder.

After a repair, the seeds' last step is "retry synchronization": ``synchronize`` (default true)
runs one synchronization and waits for it; its failure fails the task with the sync's error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.checks.services import BITS_SERVICE, NETWORK_SERVICE, USERS, WSUS_SERVICE, has_read
from wsusauto.facts import SETUP_REGISTRY_PATH, Facts, gather_facts
from wsusauto.operations.base import READY_TIMEOUT_SECONDS, Argument, Change, Operation, OperationResult, Plan
from wsusauto.operations.synchronize import Synchronize, _check_duration

# The SUSDB instances of the Windows Internal Database (2012+) and SSEE (WSUS 3.0 on 2008/R2), as
# named pipes (wsus-api.md section 4).
WID_PIPE = r"np:\\.\pipe\MICROSOFT##WID\tsql\query"
SSEE_PIPE = r"np:\\.\pipe\MSSQL$MICROSOFT##SSEE\sql\query"

_SYNC_ARGUMENTS = {
    "synchronize": Argument(bool),  # default true: the seeds' "retry synchronization"
    "sync_timeout": Argument(str, check=_check_duration),  # default 2h
    "poll_interval": Argument(str, check=_check_duration),  # default 30s
}


class _Fix(Operation):
    """A repair whose success is followed by one synchronization (unless ``synchronize: false``)."""

    def run(
        self, session: Any, args: Mapping[str, Any], *, check: bool = False, facts: Facts | None = None
    ) -> OperationResult:
        result = super().run(session, args, check=check, facts=facts)
        if check or not result.changed or not args.get("synchronize", True):
            return result
        sync = Synchronize(retries=0).run(
            session,
            {
                "timeout": args.get("sync_timeout", "2h"),
                "poll_interval": args.get("poll_interval", "30s"),
            },
        )
        return OperationResult(
            self.name,
            True,
            result.changes,
            result.warnings,
            message=f"{result.message}; then {sync.message}",
            facts=sync.facts,
            failed=sync.failed,
            details={"synchronization": dict(sync.details)},
        )


def _service_changes(facts: Facts) -> list[Change]:
    services = facts.services
    bits, wsus = services.get(BITS_SERVICE), services.get(WSUS_SERVICE)
    changes = []
    if bits is not None and bits.start_mode == "Disabled":
        changes.append(Change(f"Services[{BITS_SERVICE}].StartMode", "Disabled", "Manual"))
    if bits is not None and bits.state != "Running":
        changes.append(Change(f"Services[{BITS_SERVICE}].State", bits.state, "Running"))
    if wsus is not None and wsus.start_mode != "Auto":
        changes.append(Change(f"Services[{WSUS_SERVICE}].StartMode", wsus.start_mode, "Auto"))
    if wsus is not None and wsus.state != "Running":
        changes.append(Change(f"Services[{WSUS_SERVICE}].State", wsus.state, "Running"))
    return changes


class BitsService(_Fix):
    name = "bits_service"
    arguments = dict(_SYNC_ARGUMENTS)

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> Plan:
        changes = _service_changes(facts)
        return Plan(
            tuple(changes),
            "repair_bits_service",
            {"BitsServiceName": BITS_SERVICE, "WsusServiceName": WSUS_SERVICE},
        )

    def took(self, after: Facts, change: Change) -> bool:
        return not any(c.member == change.member for c in _service_changes(after))


class BitsForeground(_Fix):
    name = "bits_foreground"
    arguments = dict(_SYNC_ARGUMENTS)
    MEMBER = "BitsDownloadPriorityForeground"

    def _parameters(self, read_only: bool) -> dict[str, Any]:
        return {
            "WsusServiceName": WSUS_SERVICE,
            "SetupRegistryPath": SETUP_REGISTRY_PATH,
            "WidPipe": WID_PIPE,
            "SseePipe": SSEE_PIPE,
            "ReadyTimeoutSeconds": READY_TIMEOUT_SECONDS,
            "ReadOnly": read_only,
        }

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> Plan:
        if facts.bits_download_priority_foreground is True:
            return Plan(())
        # None: the API does not expose the member; the snippet reads SUSDB before it writes.
        return Plan(
            (Change(self.MEMBER, facts.bits_download_priority_foreground, True),),
            "set_bits_foreground",
            self._parameters(read_only=False),
        )

    def run(
        self, session: Any, args: Mapping[str, Any], *, check: bool = False, facts: Facts | None = None
    ) -> OperationResult:
        current = facts if facts is not None else gather_facts(session)
        if current.bits_download_priority_foreground is None:
            # Only SUSDB knows: ask it (read only), so check mode and the diff tell the truth.
            state = session.invoke("set_bits_foreground", **self._parameters(read_only=True))
            if state["Before"]:
                return OperationResult(
                    self.name,
                    False,
                    facts=current,
                    check_mode=check,
                    message=f"already as wanted ({self.MEMBER} is 1 in SUSDB, read with {state['Method']})",
                )
        return super().run(session, args, check=check, facts=current)

    def took(self, after: Facts, change: Change) -> bool:
        # Where the API lacks the member, the snippet verified the row itself (or raised).
        return after.bits_download_priority_foreground in (True, None)


def _missing_read(facts: Facts) -> list[str]:
    if not facts.stores_updates_locally:
        return []
    return [
        identity for identity in (NETWORK_SERVICE, USERS) if not has_read(facts.content_dir_acl, identity)
    ]


class ContentPermissions(Operation):
    name = "content_permissions"
    arguments: Mapping[str, Argument] = {}

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> Plan:
        missing = _missing_read(facts)
        return Plan(
            tuple(Change(f"ContentDirAcl[{identity}]", "no Read", "ReadAndExecute") for identity in missing),
            "grant_content_read",
            {"SetupRegistryPath": SETUP_REGISTRY_PATH, "Identities": missing},
        )

    def took(self, after: Facts, change: Change) -> bool:
        identity = change.member[len("ContentDirAcl[") : -1]
        return has_read(after.content_dir_acl, identity)
