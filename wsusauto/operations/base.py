"""What every operation shares: arguments checked up front, a plan from facts, apply, verify.

An operation is desired state for a few WSUS settings. ``plan`` is pure (facts + arguments ->
changes and the snippet call that makes them); ``run`` reads facts, plans, applies with the
smallest snippet unless in check mode, then reads the facts again and checks that every change took.
Only the settings the caller named are ever touched.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wsusauto.config.secrets import Secret
from wsusauto.errors import ServerBusy, UsageError, WsusAutoError
from wsusauto.operations.context import DETACHED, HostContext
from wsusauto.state.facts import Facts, gather_facts

# How long a writing snippet waits for a running synchronization or a previous configuration save
# to finish (WSUS: a save processes for up to three minutes) before it gives up as busy; at run time
# the host's wsus_busy_wait (same default) decides (invoke_when_ready).
READY_TIMEOUT_SECONDS = 180


def _fits_in_a_call(session: Any) -> int:
    # A fifth of one call's deadline (at least 1.5 s) stays for the call itself, so a snippet gives
    # up as busy before the call would be cut off as if the host had stopped answering.
    deadline = float(getattr(session, "default_deadline", 120.0))
    return max(0, int(deadline - max(1.5, deadline / 5)))


def invoke_when_ready(
    session: Any, snippet: str, parameters: Mapping[str, Any], sleep: Callable[[float], None] = time.sleep
) -> Any:
    """Run a writing snippet that waits for WSUS to be free (its ``ReadyTimeoutSeconds``).

    The host's busy wait (``wsus_busy_wait``, default 180 s) is the budget. One call waits as long
    as fits in its deadline; while WSUS stays busy beyond that, the call is made again (a busy
    snippet changed nothing), until the budget is spent and the ServerBusy stands. The budget is
    spent by the clock or by the seconds the calls were given to wait plus the pauses, whichever
    comes first: a server that answers busy sooner than asked (or a ``sleep`` that does not sleep)
    cannot make this loop call it without end."""
    if "ReadyTimeoutSeconds" not in parameters:
        return session.invoke(snippet, **parameters)
    budget = float(getattr(getattr(session, "options", None), "busy_wait", READY_TIMEOUT_SECONDS))
    ends = time.monotonic() + budget
    waited = 0.0  # seconds the calls were allowed to wait, and the pauses between them
    while True:
        left = min(ends - time.monotonic(), budget - waited)
        wait = min(math.ceil(max(0.0, left)), _fits_in_a_call(session))
        try:
            return session.invoke(snippet, **{**parameters, "ReadyTimeoutSeconds": wait})
        except ServerBusy:
            waited += wait
            if time.monotonic() + 1 > ends or waited + 1 > budget:
                raise
            sleep(1)
            waited += 1


class OperationRefused(WsusAutoError):
    """The server's state or a documented rule forbids the change; nothing was changed."""


@dataclass(frozen=True)
class Change:
    member: str  # the WSUS API member (or "ProxyPassword" for the write-only password)
    before: Any
    after: Any


@dataclass(frozen=True)
class ChangePlan:
    changes: tuple[Change, ...]
    snippet: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class OperationResult:
    operation: str
    changed: bool
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    message: str = ""
    facts: Facts | None = None  # the server's state after the operation (None in check mode)
    check_mode: bool = False
    failed: bool = False  # an action that ran and failed (e.g. a synchronization), with details
    details: Mapping[str, Any] = field(default_factory=dict)  # e.g. the synchronization's attempts

    @property
    def diff(self) -> dict[str, dict[str, Any]]:
        """Ansible's shape: ``{"before": {member: value}, "after": {member: value}}``."""
        return {
            "before": {c.member: c.before for c in self.changes},
            "after": {c.member: c.after for c in self.changes},
        }


@dataclass(frozen=True)
class Argument:
    kind: type | tuple[type, ...]
    required: bool = False
    choices: tuple[Any, ...] = ()
    check: Callable[[Any], str | None] | None = None  # returns an error text or None


class Operation:
    """Subclasses set ``name``, ``arguments`` and implement ``plan``."""

    name: str = ""
    arguments: Mapping[str, Argument] = {}

    def validate(self, args: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Check arguments before anything runs; one clear error naming the task and the fix."""
        if not isinstance(args, Mapping):
            raise UsageError(f"{where}: {self.name} takes a mapping of arguments")
        unknown = sorted(set(args) - set(self.arguments))
        if unknown:
            raise UsageError(
                f"{where}: {self.name} has no argument {', '.join(unknown)}; "
                f"it takes {', '.join(self.arguments)}"
            )
        checked: dict[str, Any] = {}
        for name, spec in self.arguments.items():
            if name not in args or args[name] is None:
                if spec.required:
                    raise UsageError(f"{where}: {self.name} needs the argument {name}")
                continue
            value = _coerce(args[name], spec.kind)
            if value is _BAD:
                kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
                if Secret in kinds:  # a password written where a secret goes: never repeat it
                    raise UsageError(
                        f"{where}: {self.name} argument {name} takes a secret: a password variable given "
                        "whole, such as '{{ ansible_password }}', never a value written out (it is not "
                        "repeated here)"
                    )
                raise UsageError(
                    f"{where}: {self.name} argument {name} must be "
                    f"{' or '.join(k.__name__ for k in kinds)}, not {args[name]!r}"
                )
            if spec.choices and value not in spec.choices:
                raise UsageError(
                    f"{where}: {self.name} argument {name} must be one of "
                    f"{', '.join(map(str, spec.choices))}, not {value!r}"
                )
            problem = spec.check(value) if spec.check else None
            if problem:
                raise UsageError(f"{where}: {self.name} argument {name}: {problem}")
            checked[name] = value
        self.check_combination(checked, where)
        return checked

    def check_combination(self, args: dict[str, Any], where: str) -> None:
        """Rules across arguments; override where needed."""

    def with_fleet(
        self,
        args: Mapping[str, Any],
        host: str,
        upstream_of: Mapping[str, str | None],
        facts: Mapping[str, Facts],
    ) -> Mapping[str, Any]:
        """A playbook run calls this for every task before any change, with the intended hierarchy
        (host -> its upstream host, None for a root) and the facts of the play's hosts: an operation
        that decides from other servers adds what it needs to its arguments. Default: nothing."""
        return args

    # A playbook run diagnoses the play's hosts first (wsusauto.diagnose) when one of its tasks'
    # operations sets this, and gives each such task ``with_diagnosis``'s arguments.
    uses_diagnosis = False

    def with_diagnosis(self, args: Mapping[str, Any], host: str, diagnosis: Any) -> Mapping[str, Any]:
        """What the task needs of the fleet's diagnosis (a ``wsusauto.diagnose.Diagnosis``), added to
        its arguments. Default: nothing."""
        return args

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        raise NotImplementedError

    def took(self, after: Facts, change: Change) -> bool:
        """Whether the facts read back after applying show ``change``; override for other members."""
        return _took(after, change)

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
                self.name,
                False,
                warnings=plan.warnings,
                facts=current,
                check_mode=check,
                message="already as wanted",
            )
        if check or plan.snippet is None:
            return OperationResult(
                self.name,
                True,
                plan.changes,
                plan.warnings,
                check_mode=True,
                message="would change " + ", ".join(c.member for c in plan.changes),
            )
        invoke_when_ready(session, plan.snippet, plan.parameters)
        after = gather_facts(session)
        missed = [c.member for c in plan.changes if not self.took(after, c)]
        if missed:
            raise OperationRefused(f"{session.name}: {', '.join(missed)} did not take effect on the server")
        return OperationResult(
            self.name,
            True,
            plan.changes,
            plan.warnings,
            facts=after,
            message="changed " + ", ".join(c.member for c in plan.changes),
        )


_BAD = object()


def _coerce(value: Any, kind: type | tuple[type, ...]) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for wanted in kinds:
        if wanted is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in (
                "true",
                "yes",
                "on",
                "false",
                "no",
                "off",
            ):
                return value.strip().lower() in ("true", "yes", "on")
        elif wanted is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value)
        elif wanted is str:
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value)
        elif wanted is Secret:
            if isinstance(value, Secret):
                return value
        elif isinstance(value, wanted):
            return value
    return _BAD


_FACT_FIELDS = {
    "SyncFromMicrosoftUpdate": "sync_from_microsoft_update",
    "UpstreamWsusServerName": "upstream_wsus_server_name",
    "UpstreamWsusServerPortNumber": "upstream_wsus_server_port_number",
    "UpstreamWsusServerUseSsl": "upstream_wsus_server_use_ssl",
    "IsReplicaServer": "is_replica_server",
    "UseProxy": "use_proxy",
    "ProxyName": "proxy_name",
    "ProxyServerPort": "proxy_server_port",
    "AnonymousProxyAccess": "anonymous_proxy_access",
    "ProxyUserName": "proxy_user_name",
    "ProxyUserDomain": "proxy_user_domain",
    "AllowProxyCredentialsOverNonSsl": "allow_proxy_credentials_over_non_ssl",
    "SynchronizeAutomatically": "synchronize_automatically",
    "SynchronizeAutomaticallyTimeOfDay": "synchronize_automatically_time_of_day",
    "NumberOfSynchronizationsPerDay": "number_of_synchronizations_per_day",
    "HostBinariesOnMicrosoftUpdate": "host_binaries_on_microsoft_update",
}


def fact_value(facts: Facts, member: str) -> Any:
    return getattr(facts, _FACT_FIELDS[member])


def _took(after: Facts, change: Change) -> bool:
    if change.member.startswith("ComputerTargetGroups["):
        group = change.member[len("ComputerTargetGroups[") : -1]
        now = {c.lower() for c in after.computer_target_groups.get(group, ())}
        joined = {c.lower() for c in change.after} - {c.lower() for c in change.before}
        left = {c.lower() for c in change.before} - {c.lower() for c in change.after}
        return joined <= now and not left & now
    if change.member == "ProxyPassword":
        return bool(after.has_proxy_password == (change.after != "(none)"))
    if change.member not in _FACT_FIELDS:
        return True
    return bool(fact_value(after, change.member) == change.after)
