"""``synchronize``: run a synchronization the documented way, and wait for it.

``StartSynchronization()`` returns at once, before the sync shows: it runs in the WSUS service and
starts a moment later. So the last synchronization's Id is noted before the start, and the result
read afterwards counts only when it belongs to a newer synchronization (``OwnSync``); a start that
never shows within ``start_timeout`` is a failure, never the previous sync's result. Then: poll
status and progress with short calls until it ends or the deadline passes, read its result, error
and per-update errors. A sync already running is joined. A failed sync follows the documented
policy (``wsusauto.sync_retry``): causes that can pass are retried twice, ~15 minutes apart; then the
server waits for its next scheduled time, which the result names (UTC and the local zone) with what
to check. Causes retrying cannot fix fail at once. Every attempt is in the result. Transport retries
(a dropped connection) stay in the Session and never count as attempts.

The journal hears of each attempt as it happens (through the executor's ``HostContext``): an
``applying`` line right before StartSynchronization() (with the attempt's number), an ``attempt``
line as it ends (the shape of the result's ``attempts``). A run stopped in between (Ctrl+C) leaves
the ``applying`` line alone: that synchronization was started and goes on on the server. Once the
run is stopping, the poll loop leaves at its next poll and no attempt starts.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wsusauto.checks import Finding, Fleet, HostEvidence, check_host, checks_explaining
from wsusauto.errors import HostError, RemoteError, ServerBusy
from wsusauto.operations.base import (
    READY_TIMEOUT_SECONDS,
    Argument,
    ChangePlan,
    Operation,
    OperationResult,
    invoke_when_ready,
)
from wsusauto.operations.context import DETACHED, HostContext
from wsusauto.operations.group import TaskGroup
from wsusauto.state.facts import Facts, gather_facts
from wsusauto.state.probes import probe_upstream
from wsusauto.sync_retry import (
    DOCUMENTED_INTERVAL,
    DOCUMENTED_RETRIES,
    Attempt,
    PolicyOutcome,
    SyncFailed,
    SyncRetryPolicy,
    SyncStopped,
    what_to_check,
)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h)?$")


def parse_duration(text: str | int | float) -> dt.timedelta:
    match = _DURATION.match(str(text).strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m or 2h")
    value = float(match[1])
    return dt.timedelta(seconds=value * {"s": 1, "m": 60, "h": 3600, None: 1}[match[2]])


def _check_duration(text: str) -> str | None:
    try:
        parse_duration(text)
    except ValueError as exc:
        return str(exc)
    return None


@dataclass
class OwnSync:
    """Tells this start's synchronization from the one before it.

    ``previous_id`` is the last synchronization's Id (ISynchronizationInfo.Id) read before the start.
    A poll shows ours running (any status but NotProcessing), ended (the last synchronization now has
    another Id), or not yet: the start has not shown, or it ran and its result is not written yet.
    """

    previous_id: str
    seen_running: bool = False

    def observe(self, status: Mapping[str, Any]) -> str:
        """``running``, ``ended`` or ``not yet`` for one get_synchronization_status answer."""
        if status["SynchronizationStatus"] != "NotProcessing":
            self.seen_running = True
            return "running"
        if str(status["LastSynchronizationInfo"]["Id"]).lower() != self.previous_id.lower():
            return "ended"
        return "not yet"


# Added by the fleet step when the play holds this server's upstream: the upstream's
# HostBinariesOnMicrosoftUpdate, read from its facts before any change.
UPSTREAM_STORAGE = "_upstream_stores_on_microsoft_update"


def _storage(on_microsoft_update: bool) -> str:
    return "on Microsoft Update" if on_microsoft_update else "locally"


def attempt_fields(attempt: Attempt) -> dict[str, Any]:
    """One attempt as the result's ``attempts`` list and the journal's ``attempt`` line show it."""
    return {
        "attempt": attempt.number,
        "started": attempt.started,
        "ended": attempt.ended,
        "result": attempt.result,
        "error": attempt.error,
        "error_text": attempt.error_text,
        "synchronization_id": attempt.synchronization_id,  # ISynchronizationInfo.Id: which sync
    }


class Synchronize(Operation):
    name = "synchronize"
    arguments = {
        "timeout": Argument(str, check=_check_duration),  # per attempt; default 2h
        "start_timeout": Argument(str, check=_check_duration),  # for the sync to show; default 5m
        "poll_interval": Argument(str, check=_check_duration),  # default 30s
        "retry_interval": Argument(str, check=_check_duration),  # default: the documented 15 minutes
        "category_only": Argument(bool),
    }
    uses_upstream_slot = True  # an attempt pulls from the upstream server

    def prepare_fleet(self, group: TaskGroup) -> Mapping[str, Mapping[str, Any]]:
        """Each host's upstream storage option, when the play read the upstream's facts: a failed sync
        between servers that store updates differently fails at once with that cause."""
        prepared: dict[str, Mapping[str, Any]] = {}
        for host, args in group.args.items():
            upstream = group.upstream_of.get(host)
            known = group.facts.get(upstream) if upstream is not None else None
            prepared[host] = (
                args if known is None else {**args, UPSTREAM_STORAGE: known.host_binaries_on_microsoft_update}
            )
        return prepared

    @staticmethod
    def _storage_mismatch(session: Any, args: Mapping[str, Any], facts: Facts | None) -> str:
        """Why a failed sync cannot succeed when retried, if the facts show this server and its
        upstream store updates differently ("Synchronization issues": "the entire hierarchy must use
        the same update storage option or else synchronizations fail"); else ''. Decided by the two
        servers' HostBinariesOnMicrosoftUpdate, never by the error's (localized) text."""
        if UPSTREAM_STORAGE not in args:
            return ""
        try:
            here = (facts if facts is not None else gather_facts(session)).host_binaries_on_microsoft_update
        except HostError:
            return ""  # unknown: the sync's own failure stands, and is retried as any upstream error
        upstream = args[UPSTREAM_STORAGE]
        if here == upstream:
            return ""
        return (
            f"the hierarchy does not use one update storage option: this server stores updates "
            f"{_storage(here)}, its upstream server {_storage(upstream)}"
        )

    def __init__(
        self,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        retries: int = DOCUMENTED_RETRIES,
    ) -> None:
        self.retries = retries  # the documented two; a fix's "retry synchronization" is one attempt
        # The poll and retry waits: by default the run's own (``context.sleep``, which returns early
        # when the run is stopped; time.sleep when used as a library). A sleep given here (a test's
        # fake time) replaces it; the run being stopped is still seen at the next poll.
        self.sleep = sleep
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        return ChangePlan(())  # an action, not a state: run() does the work

    @staticmethod
    def _explain(session: Any, facts: Facts, error: str) -> list[Finding]:
        """The findings of this server's own checks that explain a sync failing with ``error`` (the
        checks that compare it with other servers need ``wsusauto diagnose``)."""
        wanted = set(checks_explaining(error))
        if not wanted:
            return []
        try:
            probe = probe_upstream(session, facts) if wanted & {"upstream-name", "upstream-port"} else None
        except RemoteError:
            probe = None
        evidence = HostEvidence(session.name, facts, upstream_probe=probe)
        return [f for f in check_host(evidence, Fleet({session.name: evidence})) if f.check in wanted]

    def _stopped(self, outcome: PolicyOutcome, details: dict[str, Any]) -> OperationResult:
        """The run was stopped: nothing more is asked of the server (no facts read either)."""
        running = outcome.left_running
        if running is None:
            message = (
                f"stopped before attempt {len(outcome.attempts) + 1} started; "
                "no synchronization of this run is left running"
            )
        else:
            details["left_running"] = {"attempt": running.number, "started": running.started}
            message = (
                f"stopped; the synchronization started at {running.started:%Y-%m-%d %H:%M:%S} UTC "
                f"(attempt {running.number}) was left running on the server, where it goes on"
            )
        return OperationResult(self.name, running is not None, failed=True, details=details, message=message)

    def _ended_as_stopped(self, outcome: PolicyOutcome, details: dict[str, Any]) -> OperationResult:
        """The policy was done, but the run stopped before the server's state was read back."""
        last = outcome.attempts[-1]
        if outcome.succeeded:
            message = f"synchronized in {len(outcome.attempts)} attempt(s)"
        else:
            message = f"synchronization failed: {last.error} ({last.error_text}); {outcome.gave_up}"
        return OperationResult(
            self.name,
            True,
            failed=not outcome.succeeded,
            details=details,
            message=f"{message}; the run was stopped before the server's state was read back",
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
        if check:
            return OperationResult(self.name, True, check_mode=True, message="would synchronize")
        timeout = parse_duration(args.get("timeout", "2h")).total_seconds()
        poll = parse_duration(args.get("poll_interval", "30s")).total_seconds()
        start_timeout = parse_duration(args.get("start_timeout", "5m")).total_seconds()
        interval = parse_duration(args["retry_interval"]) if "retry_interval" in args else DOCUMENTED_INTERVAL
        progress: list[dict[str, Any]] = []
        sleep = self.sleep or context.sleep

        def attempt() -> str:
            parameters = {
                "CategoryOnly": bool(args.get("category_only", False)),
                "ReadyTimeoutSeconds": READY_TIMEOUT_SECONDS,
            }
            try:
                started = invoke_when_ready(session, "start_synchronization", parameters, sleep)
            except ServerBusy as busy:  # a configuration save kept processing: try again later
                raise SyncFailed("ServerBusy", busy.reason) from None
            own = OwnSync(
                str(started["PreviousSynchronizationId"]),
                seen_running=started["SynchronizationStatus"] != "NotProcessing",  # joined
            )
            deadline = time.monotonic() + timeout
            quiet_since = time.monotonic()  # since when no sync of ours has been seen running
            while True:
                if context.stopping():  # the sync goes on on the server; nobody waits for it now
                    raise SyncStopped
                # Polling changes nothing, so a dropped connection is retried by the Session, briefly,
                # and never counts as a synchronization attempt.
                status = session.invoke("get_synchronization_status", read_only=True, MaxUpdateErrors=20)
                seen = own.observe(status)
                if seen == "ended":
                    break
                now = time.monotonic()
                if seen == "running":
                    progress.append(dict(status["SynchronizationProgress"]))
                    quiet_since = now
                elif now - quiet_since >= start_timeout:
                    previous = status["LastSynchronizationInfo"]
                    if own.seen_running:
                        raise SyncFailed(
                            "NoResult",
                            f"the synchronization ended, but {start_timeout:g} s later the last "
                            f"synchronization is still the previous one ({own.previous_id})",
                        )
                    raise SyncFailed(
                        "NotStarted",
                        f"StartSynchronization() returned, but no synchronization started within "
                        f"{start_timeout:g} s; the last one is still the previous one "
                        f"({own.previous_id}, started {previous['StartTime'] or 'never'}), whose result "
                        "is not this start's",
                    )
                if now >= deadline:
                    raise SyncFailed(
                        "Timeout", f"still {status['SynchronizationStatus']} after {timeout:g} s"
                    )
                sleep(poll)
            last = status["LastSynchronizationInfo"]
            if last["Result"] != "Succeeded":
                errors = "; ".join(
                    f"{e['UpdateId']} revision {e['RevisionNumber']}: {e['Error']}"
                    for e in last.get("UpdateErrors") or []
                )
                raise SyncFailed(
                    last["Error"],
                    last["ErrorText"] + (f" (update errors: {errors})" if errors else ""),
                    synchronization_id=str(last["Id"]),
                    permanent_cause=self._storage_mismatch(session, args, facts),
                )
            return str(last["Id"])

        outcome = SyncRetryPolicy(interval=interval, retries=self.retries).run(
            attempt,
            clock=self.clock,
            sleep=sleep,
            context=context,
            on_start=lambda number, started: context.record(
                "applying", action="StartSynchronization", attempt=number, started=started
            ),
            on_attempt=lambda ended: context.record("attempt", **attempt_fields(ended)),
        )
        details: dict[str, Any] = {
            "attempts": [attempt_fields(a) for a in outcome.attempts],
            "progress_samples": len(progress),
            "last_progress": progress[-1] if progress else None,  # items processed / total, phase
        }
        if outcome.stopped:
            return self._stopped(outcome, details)
        try:
            after = gather_facts(session)
        except Exception:
            if not context.stopping():
                raise
            return self._ended_as_stopped(outcome, details)  # the stop closed the session under the read
        if outcome.succeeded:
            return OperationResult(
                self.name,
                True,
                facts=after,
                details=details,
                message=f"synchronized in {len(outcome.attempts)} attempt(s); "
                f"{after.update_server_status.update_count} updates",
            )
        last = outcome.attempts[-1]
        message = f"synchronization failed: {last.error} ({last.error_text}); {outcome.gave_up}"
        if outcome.retryable:
            nxt = after.next_synchronization_time
            message += (
                f"; the server tries again at its next scheduled time, {nxt:%Y-%m-%d %H:%M} UTC"
                f" ({nxt.astimezone():%H:%M %Z} local)"
                if nxt
                else "; the server has no automatic schedule, so it will not try again by itself"
            )
            details["next_synchronization_time"] = nxt
        explained = self._explain(session, after, last.error)
        details["explained_by"] = [finding.to_dict() for finding in explained]
        if explained:
            message += ". Explained by " + "; ".join(f"{f.check}: {f.title}" for f in explained)
        else:
            message += f". Check {what_to_check(last.error)}"
            candidates = checks_explaining(last.error)
            if candidates:
                message += f" (wsusauto diagnose runs {', '.join(candidates)})"
        return OperationResult(self.name, True, facts=after, failed=True, details=details, message=message)
