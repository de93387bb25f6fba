"""The documented synchronization retry policy, as tenacity objects.

"Running WSUS 3.0 SP2 in Replica Mode" and "Issues with Synchronization": if a replica fails to
synchronize with its upstream server, it will "retry the synchronization twice at approximately
fifteen-minute intervals"; if both retries fail, it waits for the next scheduled time.
So a failed sync whose cause can pass (upstream unreachable or busy, timeouts, catalog sync errors,
updates the upstream is still downloading) is tried again after ~15 minutes, at most twice. A
cause that waiting cannot fix (authentication, proxy credentials, incompatible protocol version,
configuration) fails at once with the reason. The interval is the only place 15 minutes is
written; labs and tests pass a shorter one, and inject the clock and sleep.

Run by the executor, each attempt holds a slot at the upstream server from its start until it has
ended, never during the wait before a retry; no attempt starts once the run is being stopped, and
the attempt running then is left running on the server (``PolicyOutcome.left_running``). The
caller hears of each attempt as it starts and as it ends (``on_start``, ``on_attempt``), so a
journal can say which synchronizations were started before the run knows how they end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

if TYPE_CHECKING:  # operations imports this module: the context is only a type here
    from wsusauto.operations.context import HostContext

DOCUMENTED_INTERVAL = dt.timedelta(minutes=15)
DOCUMENTED_RETRIES = 2

# SynchronizationError values (wsus-api.md section 3) whose cause can pass by itself.
TRANSIENT = {
    "UssNotFound": "the upstream server could not be reached",
    "UssBusy": "the upstream server was busy",
    "UssCommunicationError": "communication with the upstream server failed",
    "UssInternalError": "the upstream server had an internal error (catalog synchronization)",
    "UssOtherError": "the upstream server failed the synchronization",
    "LocalDBTooBusy": "the local database was too busy",
    "LocalUpdateMissingForApproval": "an approved update is missing here; the upstream may still be "
    "downloading it",
    "ImportUpdateError": "updates failed to import; the upstream may still be downloading them",
    "Unknown": "an unknown error",
    "Timeout": "the synchronization did not finish in time",
    "ServerBusy": "WSUS was still processing a configuration save and refused to start",
    "NotStarted": "the synchronization did not start after StartSynchronization() returned",
    "NoResult": "the synchronization ended without a result of its own",
}
# ... and those that retrying cannot fix, with what to check.
PERMANENT = {
    "DssAuthenticationError": "the upstream server refused this server's authentication",
    "ProxyError": "the proxy refused the connection or its credentials",
    "IncompatibleProtocolVersion": "this server's protocol version is incompatible with its upstream server",
    "IncompatibleProtocolVersionOnUss": "the upstream server's protocol version is incompatible",
    "LocalDBConnectFail": "this server cannot connect to its database (SUSDB)",
    "LocalDBOtherError": "this server's database (SUSDB) failed",
    "ConfigurationError": "the server's configuration is invalid",
    "UserCanceled": "the synchronization was canceled",
    "ApprovalError": "approvals from the upstream server could not be applied",
}
WHAT_TO_CHECK = {
    "UssNotFound": "the upstream name resolves from this server and its port answers "
    "(diagnose: upstream-name, upstream-port)",
    "UssCommunicationError": "the upstream port and SSL settings, and the proxy (diagnose: upstream-port, "
    "proxy-settings)",
    "ProxyError": "the proxy name, port and credentials (diagnose: proxy-settings)",
    "DssAuthenticationError": "that this server is allowed on its upstream server",
}


class SyncFailed(Exception):
    """One synchronization attempt ended in failure; ``error`` is a SynchronizationError name."""

    def __init__(
        self, error: str, error_text: str = "", synchronization_id: str = "", permanent_cause: str = ""
    ) -> None:
        super().__init__(f"{error}: {error_text}" if error_text else error)
        self.error = error
        self.error_text = error_text
        self.synchronization_id = synchronization_id  # ISynchronizationInfo.Id of the failed sync
        # A cause the caller established from the servers' facts (not from the error's text) that
        # retrying cannot fix, in words; empty when the error's value alone decides.
        self.permanent_cause = permanent_cause


class SyncStopped(Exception):
    """The run is being stopped: no attempt starts any more, and the one running is not waited for."""


# The proxy's HTTP status in a ProxyError's text: .NET words the rest in the server's language
# ("(407) Proxyauthentifizierung erforderlich"), so the status decides, not the words.
PROXY_AUTHENTICATION_REQUIRED = "(407)"


def proxy_rejected_credentials(error_text: str) -> bool:
    """Whether a ProxyError's text carries the proxy's 407: its credentials are missing or refused."""
    return PROXY_AUTHENTICATION_REQUIRED in error_text


def is_transient(failure: BaseException) -> bool:
    if not isinstance(failure, SyncFailed):
        return False
    if failure.permanent_cause:
        return False
    # Decided by the SynchronizationError value, never by the text around it: that is in the server's
    # language. An upstream error caused by a storage option mismatch cannot be told from another one
    # by its value; only the servers' facts tell it (synchronize compares the upstream's storage
    # option when the play knows it, and sets permanent_cause). Otherwise it is retried, as WSUS
    # itself retries it.
    if failure.error == "ProxyError" and not proxy_rejected_credentials(failure.error_text):
        return True  # a proxy that is down may come back; rejected credentials will not
    return failure.error in TRANSIENT


def reason(failure: SyncFailed) -> str:
    return (
        failure.permanent_cause
        or TRANSIENT.get(failure.error)
        or PERMANENT.get(failure.error)
        or failure.error
    )


@dataclass(frozen=True)
class Attempt:
    number: int  # 1 = the first try
    started: dt.datetime
    ended: dt.datetime
    result: str  # Succeeded | Failed
    error: str = "NotApplicable"
    error_text: str = ""
    synchronization_id: str = ""  # the server's Id of this attempt's synchronization, when known


@dataclass(frozen=True)
class StartedAttempt:
    """An attempt that was started and not seen ending: its synchronization may go on on the server."""

    number: int
    started: dt.datetime


@dataclass
class PolicyOutcome:
    succeeded: bool
    attempts: list[Attempt] = field(default_factory=list)  # the attempts that ended, in order
    gave_up: str = ""  # why no further attempt was made, in words
    retryable: bool = False
    stopped: bool = False  # the run was stopped before the policy was done
    left_running: StartedAttempt | None = None  # when stopped while an attempt ran


@dataclass(frozen=True)
class SyncRetryPolicy:
    interval: dt.timedelta = DOCUMENTED_INTERVAL
    retries: int = DOCUMENTED_RETRIES
    jitter: dt.timedelta = dt.timedelta(seconds=30)  # "approximately" fifteen minutes

    def retrying(self, sleep: Callable[[float], None], rng: random.Random | None = None) -> Retrying:
        chance = rng or random.Random()
        # At most 1/30 of the interval (30 s of 15 min): a 1 s lab interval must not wait 31 s.
        spread = min(self.jitter.total_seconds(), self.interval.total_seconds() / 30)

        def wait(state: RetryCallState) -> float:
            return max(0.0, self.interval.total_seconds() + chance.uniform(-spread, spread))

        return Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait,
            sleep=sleep,
            retry=retry_if_exception(is_transient),
            reraise=True,
        )

    def run(
        self,
        attempt: Callable[[], object],
        *,
        clock: Callable[[], dt.datetime],
        sleep: Callable[[float], None],
        rng: random.Random | None = None,
        context: HostContext | None = None,
        on_start: Callable[[int, dt.datetime], None] | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> PolicyOutcome:
        """Call ``attempt`` (one synchronization, raising SyncFailed; it may return the sync's Id)
        under the documented policy.

        With a ``context`` (the executor's), each attempt holds ``context.upstream_slot()`` from
        before ``on_start`` until after ``on_attempt``, and none starts once ``context.stopping()``;
        ``attempt`` raises SyncStopped to stop waiting for its synchronization, which the outcome
        then names as left running; so does any other error once the run is stopping (the run closes
        the sessions under running calls), while before that such an error is raised as it is.
        ``on_start(number, started)`` is called right before ``attempt``, ``on_attempt`` with each
        attempt as it ends (before the next one starts)."""
        outcome = PolicyOutcome(False)
        stopping = context.stopping if context is not None else (lambda: False)
        slot = context.upstream_slot if context is not None else contextlib.nullcontext

        def ended(record: Attempt) -> None:
            outcome.attempts.append(record)
            if on_attempt is not None:
                on_attempt(record)

        def one(number: int) -> object:
            if stopping():
                raise SyncStopped
            with slot():
                if stopping():  # stopped while waiting for the slot
                    raise SyncStopped
                started = clock()
                if on_start is not None:
                    on_start(number, started)
                try:
                    synchronization_id = attempt()
                except SyncFailed as failure:
                    ended(
                        Attempt(
                            number,
                            started,
                            clock(),
                            "Failed",
                            failure.error,
                            failure.error_text,
                            failure.synchronization_id,
                        )
                    )
                    raise
                except Exception as error:
                    if isinstance(error, SyncStopped) or stopping():  # or the run closed the session
                        outcome.left_running = StartedAttempt(number, started)
                        raise SyncStopped from None
                    raise
                ended(
                    Attempt(
                        number,
                        started,
                        clock(),
                        "Succeeded",
                        synchronization_id=str(synchronization_id or ""),
                    )
                )
                return synchronization_id

        try:
            for number, tenacity_attempt in enumerate(self.retrying(sleep, rng), 1):
                with tenacity_attempt:
                    try:
                        one(number)
                    except (SyncFailed, SyncStopped):
                        raise
                    except Exception:
                        if stopping():  # e.g. the slot refused because the run is stopping
                            raise SyncStopped from None
                        raise
        except SyncStopped:
            outcome.stopped = True
            return outcome
        except SyncFailed as failure:
            outcome.retryable = is_transient(failure)
            if outcome.retryable:
                outcome.gave_up = (
                    f"{reason(failure)}; tried {len(outcome.attempts)} times "
                    f"({self.retries} retries ~{self.interval.total_seconds() / 60:g} min apart)"
                )
            else:
                outcome.gave_up = f"{reason(failure)}: retrying cannot fix this"
            return outcome
        outcome.succeeded = True
        return outcome


def what_to_check(error: str) -> str:
    return WHAT_TO_CHECK.get(error, "the last synchronization's error text and the server's event log")
