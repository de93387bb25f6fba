"""One verdict per host, one exit code for a fleet: the same for every command and the library.

``run``, ``facts``, ``diagnose``, ``diagnose --fix`` and ``report`` each end with a set of hosts and
what became of each. This module alone says what that is (the host's *verdict*) and which exit code a
set of verdicts gives, so the same fleet state exits the same way whichever command looked at it.

Verdicts, as Ansible counts hosts:

- ``ok``: the host answered and nothing was wrong; ``changed``: and something was changed;
- ``skipped``: nothing ran on it by design (``when:``, a failed upstream in hierarchy order);
- ``failed``: the host answered but something on it failed (a snippet's remote error, facts whose
  shape is wrong, an operation that refused or failed);
- ``unreachable``: nothing ran on it: it did not answer, answered too late, or refused the
  credentials (``errors.NEVER_RAN``).

Exit codes (``wsusauto.exitcodes``, ``ansible-playbook``'s): 0 when every host is ok, changed or
skipped; 2 when a host failed; 4 when a host was unreachable, whatever else happened (4 wins over 2);
1 for bad input (nothing ran, so there are no verdicts) and 99 when the user stopped the command.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from wsusauto import exitcodes
from wsusauto.errors import NEVER_RAN, UsageError, WsusAutoError

Verdict = Literal["ok", "changed", "skipped", "failed", "unreachable"]

OK: Final = "ok"
CHANGED: Final = "changed"
SKIPPED: Final = "skipped"
FAILED: Final = "failed"
UNREACHABLE: Final = "unreachable"
VERDICTS: tuple[Verdict, ...] = (OK, CHANGED, SKIPPED, FAILED, UNREACHABLE)

# How bad each verdict is: a host's verdict is the worst of what happened to it.
_RANK: dict[str, int] = {SKIPPED: 0, OK: 1, CHANGED: 2, FAILED: 3, UNREACHABLE: 4}

# A task's status as the runner records it (Ansible's recap counters) -> the verdict it stands for:
# an error a task ignores (``ignore_errors``) or a rescued one does not fail the host.
_TASK_STATUS: dict[str, Verdict] = {
    "ok": OK,
    "changed": CHANGED,
    "skipped": SKIPPED,
    "failed": FAILED,
    "unreachable": UNREACHABLE,
    "ignored": OK,
    "rescued": OK,
}


def of_error(error: BaseException | None) -> Verdict:
    """A host's verdict from the error its work ended with (None: it ended well): unreachable when
    nothing ran (no answer, or the credentials refused), else failed."""
    if error is None:
        return OK
    return UNREACHABLE if isinstance(error, NEVER_RAN) else FAILED


def of_task_status(status: str) -> Verdict:
    """The verdict one task's status stands for; an unknown status is a bug, never a quiet ok."""
    try:
        return _TASK_STATUS[status]
    except KeyError:
        raise ValueError(f"unknown task status {status!r}") from None


def worst(verdicts: Iterable[str]) -> Verdict:
    """One host's verdict from everything that happened to it (its tasks, its fixes, its
    diagnosis): the worst of them; nothing at all is ``skipped`` (nothing ran)."""
    result: Verdict = SKIPPED
    for verdict in verdicts:
        checked = _checked(verdict)
        if _RANK[checked] > _RANK[result]:
            result = checked
    return result


def exit_code(verdicts: Iterable[str], *, aborted: bool = False, interrupted: bool = False) -> int:
    """The exit code of a command from its hosts' verdicts: 99 when the user stopped it
    (``interrupted``), whatever the hosts' verdicts; else 4 when any host was unreachable, else 2
    when any failed (or the run was ``aborted``, e.g. by ``max_fail_percentage``), else 0."""
    seen = {_checked(v) for v in verdicts}
    if interrupted:
        return exitcodes.INTERRUPTED
    if UNREACHABLE in seen:
        return exitcodes.HOST_UNREACHABLE
    if FAILED in seen or aborted:
        return exitcodes.HOST_FAILED
    return exitcodes.OK


def exit_code_of_exception(error: BaseException) -> int:
    """The exit code of a command that ended with ``error`` instead of verdicts: 99 interrupted,
    1 bad input (nothing ran), 250 an error wsusauto did not expect (a bug)."""
    if isinstance(error, KeyboardInterrupt):
        return exitcodes.INTERRUPTED
    if isinstance(error, UsageError | WsusAutoError):
        return exitcodes.USAGE
    return exitcodes.UNEXPECTED


def _checked(verdict: str) -> Verdict:
    for known in VERDICTS:
        if verdict == known:
            return known
    raise ValueError(f"unknown verdict {verdict!r}; one of {', '.join(VERDICTS)}")


__all__ = [
    "CHANGED",
    "FAILED",
    "OK",
    "SKIPPED",
    "UNREACHABLE",
    "VERDICTS",
    "Verdict",
    "exit_code",
    "exit_code_of_exception",
    "of_error",
    "of_task_status",
    "worst",
]
