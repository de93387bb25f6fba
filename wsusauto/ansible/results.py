"""wsusauto's outcomes as Ansible task results.

An ``OperationResult`` becomes ``changed``, ``failed``, ``msg``, ``warnings`` (Ansible's own key, shown
as ``[WARNING]`` lines), ``diff`` in Ansible's before/after shape only when the task asks for one
(``--diff`` or ``diff: true``), and its details (a synchronization's ``attempts``) as keys of their
own. An error becomes ``unreachable: true`` when ``execution/verdict.py`` counts it unreachable (the
host never answered, or refused the credentials: nothing ran), else ``failed: true``; either way
with one line in ``msg``.

No Secret value ever reaches a result: a ``Secret`` shows as its mask, and every known secret value
is scrubbed from every text (an error from the server that echoes one, a message).
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from wsusauto.config.secrets import MASK, Secret, scrub
from wsusauto.errors import HostError, WsusAutoError
from wsusauto.execution import verdict
from wsusauto.operations.base import OperationResult
from wsusauto.output.jsonable import to_jsonable
from wsusauto.state.facts import Facts

# Keys Ansible gives a meaning of its own: an operation's details never overwrite or fake them.
_ANSIBLE_KEYS = frozenset(
    {"changed", "failed", "msg", "diff", "warnings", "deprecations", "unreachable", "skipped", "exception"}
    | {"invocation", "rc", "results", "item", "ansible_facts"}
)

FACTS_KEY = "wsus_facts"


def plain(value: Any) -> Any:
    """``value`` as JSON's plain types (what Ansible templates, registers and prints), with every
    Secret masked and every known secret value scrubbed from text."""
    value = to_jsonable(value)
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def operation_result(result: OperationResult, *, diff: bool) -> dict[str, Any]:
    """The task result of an operation that ran (or was planned, in check mode)."""
    out: dict[str, Any] = {
        "changed": result.changed,
        "failed": result.failed,
        "msg": scrub(result.message),
    }
    if result.warnings:
        out["warnings"] = [scrub(w) for w in result.warnings]
    if diff and result.changes:
        out["diff"] = plain(result.diff)
    for key, value in result.details.items():
        if key in _ANSIBLE_KEYS or key.startswith(("_ansible", "ansible_")):
            continue
        out[key] = plain(value)
    return out


def facts_result(facts: Facts) -> dict[str, Any]:
    """``ansible_facts`` holding the server's facts under ``wsus_facts``, as plain values."""
    return {"ansible_facts": {FACTS_KEY: plain(facts)}}


def error_result(error: BaseException) -> dict[str, Any]:
    """The task result of an operation that raised ``error`` (nothing, or not all of it, ran)."""
    if isinstance(error, HostError):
        message = error.reason
    elif isinstance(error, WsusAutoError):
        message = str(error)
    else:  # a bug of wsusauto's or of a library below it: say so, with its traceback for -vvv
        message = f"unexpected error ({type(error).__name__}): {error}"
    out: dict[str, Any] = {"changed": False, "msg": scrub(message)}
    if verdict.of_error(error) == verdict.UNREACHABLE:
        out["unreachable"] = True
    else:
        out["failed"] = True
    if getattr(error, "retryable", False):  # WSUS was busy: nothing changed, the same task can succeed later
        out["retryable"] = True
    if not isinstance(error, WsusAutoError):
        out["exception"] = scrub("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    return out


__all__ = ["FACTS_KEY", "error_result", "facts_result", "operation_result", "plain"]
