"""What every operation shares: arguments checked up front, a plan from facts, apply, verify.

An operation is desired state for a few WSUS settings. ``plan`` is pure (facts + arguments ->
changes and the snippet call that makes them); ``run`` reads facts, plans, applies with the
smallest snippet unless in check mode, then reads the facts again and checks that every change took.
Only the settings the caller named are ever touched.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wsusauto.config.secrets import Secret
from wsusauto.errors import ServerBusy, UsageError, WsusAutoError
from wsusauto.operations.context import DETACHED, HostContext
from wsusauto.operations.group import TaskGroup
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
    """The changes an operation would make and the one snippet call that makes them. A plan with
    changes always names its snippet: a run either applies it or, in check mode only, reports it."""

    changes: tuple[Change, ...]
    snippet: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.changes and self.snippet is None:
            raise ValueError(
                f"a plan that changes {', '.join(c.member for c in self.changes)} names the snippet "
                "that makes the changes"
            )


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

    # -- what a playbook run asks of an operation around its hosts' runs -------------------------
    # The executor calls these hooks and names no operation: what an operation needs of the play or
    # of the fleet lives in its own module. Every default does nothing, so an operation that needs
    # nothing overrides none of them.

    # Play keywords a task of this operation reads: the run gives each to the task as the argument of
    # the same name before the arguments are checked (a playbook task never sets one itself).
    play_settings: tuple[str, ...] = ()

    # Whether a task of this operation can move its host in the hierarchy (``intended_node``): a play
    # with such a task has its intended hierarchy checked (cycles, unknown upstreams) before any
    # server is contacted, as a play in hierarchy order always has.
    shapes_hierarchy = False

    def intended_node(
        self, args: Mapping[str, Any], upstream: str | None, replica: bool
    ) -> tuple[str | None, bool]:
        """Where this task puts its host in the hierarchy: from the host's upstream server name as
        the inventory or an earlier task left it (None: Microsoft Update) and its replica mode, the
        same after the task. Default: unchanged."""
        return upstream, replica

    def prepare_fleet(self, group: TaskGroup) -> Mapping[str, Mapping[str, Any]]:
        """The fleet-wide step before any change: called once per task of a play, with every host that
        runs it (``group.args``), the intended hierarchy and the facts of the play's hosts. Returns
        each host's arguments, with what the operation needs from the fleet added (a plan over all
        of them, another server's facts). A play that cannot go on raises ``UsageError`` naming
        ``group.play_where`` and saying "nothing was changed". Default: the arguments as they are."""
        return group.args

    # A playbook run diagnoses the play's hosts once (wsusauto.diagnose) after the fleet steps when
    # one of its tasks' operations sets this, and gives each such task ``with_diagnosis``'s arguments.
    uses_diagnosis = False

    def diagnosis_upstream_limit(self, args: Mapping[str, Any]) -> int:
        """The syncs per upstream server at a time the diagnosis checks schedules against (the largest
        over the play's tasks counts). Default: one."""
        return 1

    def with_diagnosis(self, args: Mapping[str, Any], host: str, diagnosis: Any) -> Mapping[str, Any]:
        """What the task needs of the fleet's diagnosis (a ``wsusauto.diagnose.Diagnosis``), added to
        its arguments. Default: nothing."""
        return args

    # Whether the operation makes its host's upstream server work for it while it runs (a
    # synchronization pulls from the upstream): the executor then gives it a slot at the upstream
    # (``max_concurrent_per_upstream`` at a time) that it holds through ``HostContext.upstream_slot()``.
    uses_upstream_slot = False

    def simulate(self, facts: Facts, result: OperationResult) -> Facts:
        """Check mode: the facts a real run would read back after ``result`` (which was planned, not
        applied), so the host's next task plans on them. Default: each change's member set to its new
        value, where the facts hold that member."""
        return simulate_changes(facts, result.changes)

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        raise NotImplementedError

    def took(self, after: Facts, change: Change) -> bool:
        """Whether the facts read back after applying show ``change``; override for other members."""
        return _took(after, change)

    def verify(self, session: Any, plan: ChangePlan, after: Facts) -> None:
        """After applying ``plan``: refuse the result unless the facts read back show every change.
        Default: each change checked by ``took``."""
        missed = [c.member for c in plan.changes if not self.took(after, c)]
        if missed:
            raise OperationRefused(f"{session.name}: {', '.join(missed)} did not take effect on the server")

    def message(self, plan: ChangePlan, outcome: str) -> str:
        """The result's one line for ``outcome``: "unchanged", "would change" (check mode) or
        "changed"; override where the action reads better in its own words."""
        members = ", ".join(c.member for c in plan.changes)
        return {"unchanged": "already as wanted", "would change": f"would change {members}"}.get(
            outcome, f"changed {members}"
        )

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
                message=self.message(plan, "unchanged"),
            )
        if check:
            return OperationResult(
                self.name,
                True,
                plan.changes,
                plan.warnings,
                check_mode=True,
                message=self.message(plan, "would change"),
            )
        assert plan.snippet is not None  # a plan with changes names its snippet (ChangePlan)
        invoke_when_ready(session, plan.snippet, plan.parameters)
        after = gather_facts(session)
        self.verify(session, plan, after)
        return OperationResult(
            self.name,
            True,
            plan.changes,
            plan.warnings,
            facts=after,
            message=self.message(plan, "changed"),
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


def simulate_changes(facts: Facts, changes: Sequence[Change]) -> Facts:
    """The facts a real run would read back after ``changes`` (check mode plans on these)."""
    updates: dict[str, Any] = {}
    for change in changes:
        if change.member == "ProxyPassword":
            updates["has_proxy_password"] = change.after == "(set)"
        elif change.member.startswith("ComputerTargetGroups["):
            groups = dict(updates.get("computer_target_groups", facts.computer_target_groups))
            groups[change.member[len("ComputerTargetGroups[") : -1]] = tuple(change.after)
            updates["computer_target_groups"] = groups
        elif change.member in _FACT_FIELDS:
            value = change.after
            if isinstance(value, dt.time):
                value = value.replace(tzinfo=None)
            updates[_FACT_FIELDS[change.member]] = value
    return dataclasses.replace(facts, **updates)
