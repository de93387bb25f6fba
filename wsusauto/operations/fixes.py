"""The documented fixes, as idempotent operations (check mode, diff, verify like the others).

- ``bits_service``: BITS' startup type not Disabled (Manual, as "Issues with Synchronization" sets
  it) and running (restarted if it ran already: "restart both the BITS service and the WSUS
  service"); the WSUS service automatic and running, restarted if it ran; then a synchronization.
- ``bits_foreground``: BitsDownloadPriorityForeground=1 (the Range-header fix), through the API
  where the server has the member, else stop WsusService, set it in SUSDB with osql ("Synchronization
  issues"), sqlcmd or .NET's SqlClient (whichever the server has, in that order), start it again
  (also when the SQL step failed) and read the value back; then a synchronization. SUSDB on another
  machine cannot be reached from the WinRM session (a second hop carries no credentials): the result
  fails and says to run the SQL step on that machine.
- ``content_permissions``: Read for NETWORK SERVICE and Users on the update storage folder.

Each of them then resumes the downloads that failed while the cause stood (they stay failed until
resumed, whatever fixed the cause; wsusauto.operations.downloads), also when the cause itself was
already repaired. After a repair, the documents' last step is "retry synchronization":
``synchronize`` (default true) runs one synchronization and waits for it; its failure fails the
task with the sync's error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from wsusauto.checks.services import BITS_SERVICE, WSUS_SERVICE, has_read, missing_read
from wsusauto.operations.base import (
    READY_TIMEOUT_SECONDS,
    Argument,
    Change,
    ChangePlan,
    Operation,
    OperationRefused,
    OperationResult,
    invoke_when_ready,
)
from wsusauto.operations.context import DETACHED, HostContext
from wsusauto.operations.downloads import MEMBER as FAILED_DOWNLOADS
from wsusauto.operations.downloads import ResumeDownloads, with_resumed_downloads
from wsusauto.operations.synchronize import Synchronize, _check_duration
from wsusauto.state.facts import SETUP_REGISTRY_PATH, AccessRule, Facts, ServiceState, gather_facts

# The SUSDB instances of the Windows Internal Database (2012+) and SSEE (WSUS 3.0 on 2008/R2), as
# named pipes (wsus-api.md section 4).
WID_PIPE = r"np:\\.\pipe\MICROSOFT##WID\tsql\query"
SSEE_PIPE = r"np:\\.\pipe\MSSQL$MICROSOFT##SSEE\sql\query"

_SYNC_ARGUMENTS = {
    "synchronize": Argument(bool),  # default true: the documents' "retry synchronization"
    "sync_timeout": Argument(str, check=_check_duration),  # default 2h
    "poll_interval": Argument(str, check=_check_duration),  # default 30s
}


class _ContentFix(Operation):
    """A repair of what blocks content downloads, followed by resuming the downloads that failed."""

    def repair(self, session: Any, args: Mapping[str, Any], *, check: bool, facts: Facts) -> OperationResult:
        return Operation.run(self, session, args, check=check, facts=facts)

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
        repaired = self.repair(session, args, check=check, facts=current)
        if self.cause_left(repaired):
            return repaired  # resumed downloads would only fail again
        return with_resumed_downloads(session, repaired, current, check=check, context=context)

    def cause_left(self, repaired: OperationResult) -> bool:
        """Whether the repair could not be made from here (the result says where it must be made)."""
        return False

    def simulate(self, facts: Facts, result: OperationResult) -> Facts:
        """Check mode: the facts after the repair (``repaired``) and the resumed downloads, so a later
        task of the host (the same fix, resume_downloads) plans on what a real run would read."""
        simulated = self.repaired(facts, result)
        if any(c.member == FAILED_DOWNLOADS for c in result.changes):
            simulated = ResumeDownloads().simulate(simulated, result)
        return simulated

    def repaired(self, facts: Facts, result: OperationResult) -> Facts:
        """The facts once the repair is made. Default: each change's member where the facts hold it."""
        return super().simulate(facts, result)


class _Fix(_ContentFix):
    """A repair (and resumed downloads) followed by one synchronization (unless ``synchronize: false``)."""

    uses_upstream_slot = True  # its synchronization pulls from the upstream server, as synchronize's

    def run(
        self,
        session: Any,
        args: Mapping[str, Any],
        *,
        check: bool = False,
        facts: Facts | None = None,
        context: HostContext = DETACHED,
    ) -> OperationResult:
        result = super().run(session, args, check=check, facts=facts, context=context)
        if check:  # a real run would go on with the documents' "retry synchronization": say so
            if result.changed and not result.failed and args.get("synchronize", True):
                return dataclasses.replace(result, message=f"{result.message}; then would synchronize")
            return result
        return self._then_synchronize(session, args, result, context)

    def _then_synchronize(
        self, session: Any, args: Mapping[str, Any], result: OperationResult, context: HostContext
    ) -> OperationResult:
        if not result.changed or not args.get("synchronize", True):
            return result
        sync = Synchronize(retries=0).run(
            session,
            {
                "timeout": args.get("sync_timeout", "2h"),
                "poll_interval": args.get("poll_interval", "30s"),
            },
            context=context,
        )
        return OperationResult(
            self.name,
            True,
            result.changes,
            result.warnings,
            message=f"{result.message}; then {sync.message}",
            facts=sync.facts,
            failed=sync.failed,
            details={**result.details, "synchronization": dict(sync.details)},
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
    if changes:
        # "restart both the BITS service and the WSUS service": a running one is restarted.
        for name, state in ((BITS_SERVICE, bits), (WSUS_SERVICE, wsus)):
            if state is not None and state.state == "Running":
                changes.append(Change(f"Services[{name}].Restart", "Running", "Restarted"))
    return changes


class BitsService(_Fix):
    name = "bits_service"
    arguments = dict(_SYNC_ARGUMENTS)

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        changes = _service_changes(facts)
        return ChangePlan(
            tuple(changes),
            "repair_bits_service",
            {"BitsServiceName": BITS_SERVICE, "WsusServiceName": WSUS_SERVICE},
        )

    def took(self, after: Facts, change: Change) -> bool:
        return not any(c.member == change.member for c in _service_changes(after))

    def repaired(self, facts: Facts, result: OperationResult) -> Facts:
        # both services running, BITS no longer Disabled (Manual), WSUS automatic
        services = dict(facts.services)
        bits, wsus = services.get(BITS_SERVICE), services.get(WSUS_SERVICE)
        if bits is not None:
            services[BITS_SERVICE] = ServiceState(
                "Running", "Manual" if bits.start_mode == "Disabled" else bits.start_mode
            )
        if wsus is not None:
            services[WSUS_SERVICE] = ServiceState("Running", "Auto")
        return dataclasses.replace(facts, services=services)


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

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        if facts.bits_download_priority_foreground is True:
            return ChangePlan(())
        # None: the API does not expose the member; the snippet reads SUSDB before it writes.
        return ChangePlan(
            (Change(self.MEMBER, facts.bits_download_priority_foreground, True),),
            "set_bits_foreground",
            self._parameters(read_only=False),
        )

    def repair(self, session: Any, args: Mapping[str, Any], *, check: bool, facts: Facts) -> OperationResult:
        current = facts
        if current.bits_download_priority_foreground is not None:
            return super().repair(session, args, check=check, facts=current)
        # Only SUSDB knows: ask it (read only), so check mode and the diff tell the truth.
        state = session.invoke("set_bits_foreground", **self._parameters(read_only=True))
        if state["Method"] == "remote":
            return self._remote(state, current, check)
        if state["Before"]:
            return OperationResult(
                self.name,
                False,
                facts=current,
                check_mode=check,
                message=f"already as wanted ({self.MEMBER} is 1 in SUSDB, read with {state['Method']})",
                details={"method": state["Method"], "instance": state["Instance"]},
            )
        change = Change(self.MEMBER, False, True)
        if check:
            return OperationResult(
                self.name,
                True,
                (change,),
                check_mode=True,
                message=f"would change {self.MEMBER} in SUSDB (with {state['Method']})",
                details={"method": state["Method"], "instance": state["Instance"]},
            )
        applied = invoke_when_ready(session, "set_bits_foreground", self._parameters(read_only=False))
        if not applied["After"]:
            raise OperationRefused(
                f"{session.name}: {self.MEMBER} is still 0 in SUSDB after {applied['Method']} set it"
            )
        return OperationResult(
            self.name,
            True,
            (change,),
            facts=gather_facts(session),
            message=f"changed {self.MEMBER} in SUSDB with {applied['Method']} on {applied['Instance']}",
            details={"method": applied["Method"], "instance": applied["Instance"]},
        )

    def cause_left(self, repaired: OperationResult) -> bool:
        return repaired.details.get("method") == "remote"

    def _remote(self, state: Mapping[str, Any], facts: Facts, check: bool) -> OperationResult:
        """SUSDB on another machine: integrated security from inside the WinRM session would be a
        second hop, which carries no credentials, so the SQL step has to run on that machine."""
        host, instance = state["SqlHost"], state["Instance"]
        return OperationResult(
            self.name,
            False,
            warnings=(f"SUSDB is on {host}; the fix's SQL step must run there",),
            facts=facts,
            check_mode=check,
            failed=True,  # in check mode too: the fix cannot be done from here
            message=(
                f"SUSDB is on another machine ({instance}, the setup key's SqlServerName), which this "
                "WinRM session cannot reach with its credentials (a second hop carries none): on "
                f"{host}, stop WsusService on this server, run 'USE SUSDB update tbConfigurationC set "
                f"BitsDownloadPriorityForeground=1' against {instance} (osql/sqlcmd -E, as in "
                '"Synchronization issues"), then start WsusService again'
            ),
            details={"method": "remote", "instance": instance, "sql_host": host},
        )

    def took(self, after: Facts, change: Change) -> bool:
        # Where the API lacks the member, the snippet verified the row itself (or raised).
        return after.bits_download_priority_foreground in (True, None)

    def repaired(self, facts: Facts, result: OperationResult) -> Facts:
        # where the API has the member the facts show it set; else only SUSDB does (facts say None)
        if facts.bits_download_priority_foreground is None:
            return facts
        return dataclasses.replace(facts, bits_download_priority_foreground=True)


def _missing_read(facts: Facts) -> list[str]:
    if not facts.stores_updates_locally:
        return []
    return missing_read(facts.content_dir_acl)


class ContentPermissions(_ContentFix):
    name = "content_permissions"
    arguments: Mapping[str, Argument] = {}

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        missing = _missing_read(facts)
        return ChangePlan(
            tuple(Change(f"ContentDirAcl[{sid}]", "no Read", "ReadAndExecute") for sid in missing),
            "grant_content_read",
            {"SetupRegistryPath": SETUP_REGISTRY_PATH, "Sids": missing},
        )

    def took(self, after: Facts, change: Change) -> bool:
        sid = change.member[len("ContentDirAcl[") : -1]
        return has_read(after.content_dir_acl, sid)

    def repaired(self, facts: Facts, result: OperationResult) -> Facts:
        # the ReadAndExecute rule the snippet adds (inheritable by the folder's contents) per account
        sids = [
            c.member[len("ContentDirAcl[") : -1]
            for c in result.changes
            if c.member.startswith("ContentDirAcl[")
        ]
        granted = tuple(AccessRule(sid, "ReadAndExecute", "Allow", False, sid=sid) for sid in sids)
        return dataclasses.replace(facts, content_dir_acl=(*facts.content_dir_acl, *granted))
