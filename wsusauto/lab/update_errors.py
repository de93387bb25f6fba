"""SynchronizationUpdateErrorInfo objects as the snippets read them.

``ISynchronizationInfo.UpdateErrors`` holds objects whose ``UpdateId`` is an UpdateRevisionId, not a
string: ``[string]$e.UpdateId`` is that class's name (Object.ToString), the update's Guid is
``$e.UpdateId.UpdateId`` and its revision ``$e.UpdateId.RevisionNumber``. The lab does not pretend to
know which of these a snippet wants: it reads, from the snippet's own text, the hashtable the
snippet builds for each error (``Key = [type]$var.Member.Member``) and evaluates each expression on
the modelled object, the way PowerShell would (a member the object lacks is $null).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from wsusauto.lab.invocation import ScriptError

UPDATE_REVISION_ID = "Microsoft.UpdateServices.Administration.UpdateRevisionId"

_LOOP = re.compile(r"foreach\s*\(\s*\$(?P<var>\w+)\s+in\s+\$\w+\.UpdateErrors\s*\)\s*\{", re.IGNORECASE)
_ENTRY = re.compile(r"^\s*(?P<key>\w+)\s*=\s*(?P<expr>.+?)\s*$")
_EXPRESSION = re.compile(r"^(?:\[(?P<cast>\w+)\])?\$(?P<var>\w+)(?P<members>(?:\.\w+)+)$")


class _RevisionId:
    """Microsoft.UpdateServices.Administration.UpdateRevisionId."""

    def __init__(self, update_id: str, revision: int) -> None:
        self.members = {"updateid": _Guid(update_id), "revisionnumber": int(revision)}

    def __str__(self) -> str:
        return UPDATE_REVISION_ID  # no ToString override: Object.ToString, the type's full name


class _Guid:
    def __init__(self, value: str) -> None:
        self.value = value.lower()
        self.members: dict[str, Any] = {}

    def __str__(self) -> str:
        return self.value


class _Info:
    """SynchronizationUpdateErrorInfo: UpdateId (UpdateRevisionId), Error (enum), ErrorText."""

    def __init__(self, stored: Mapping[str, Any]) -> None:
        self.members = {
            "updateid": _RevisionId(str(stored["UpdateId"]), int(stored.get("RevisionNumber", 0))),
            "error": str(stored["Error"]),
            "errortext": str(stored["ErrorText"]),
        }


@lru_cache(maxsize=16)
def _projection(snippet_text: str) -> tuple[str, tuple[tuple[str, str | None, tuple[str, ...]], ...]]:
    """(loop variable, ((key, cast, members), ...)) of the hashtable the snippet builds per error."""
    loop = _LOOP.search(snippet_text)
    if loop is None:
        raise ScriptError("The lab cannot find how this snippet reads ISynchronizationInfo.UpdateErrors.")
    start = snippet_text.index("@{", loop.end())
    end = snippet_text.index("}", start)
    entries = []
    for line in snippet_text[start + 2 : end].splitlines():
        entry = _ENTRY.match(line)
        if not entry:
            continue
        expression = _EXPRESSION.match(entry["expr"])
        if expression is None or expression["var"].lower() != loop["var"].lower():
            raise ScriptError(f"The lab does not model the expression {entry['expr']!r} on an update error.")
        members = tuple(m.lower() for m in expression["members"].split(".")[1:])
        entries.append((entry["key"], expression["cast"], members))
    return loop["var"], tuple(entries)


def _cast(cast: str | None, value: Any, expression: str) -> Any:
    kind = (cast or "").lower()
    if kind == "string":
        return "" if value is None else str(value)
    if kind in ("int", "int32"):
        if value is None:
            return 0
        if isinstance(value, int):
            return value
        raise ScriptError(
            f'Cannot convert the "{value}" value of type "{type(value).__name__}" to type "System.Int32".',
            error_id="InvalidCastException",
            category="InvalidArgument",
        )
    if isinstance(value, (_RevisionId, _Guid)):
        # An object handed to the caller unconverted: the lab models no serialization of it.
        raise ScriptError(f"The lab does not model {expression!r} without a cast: the value is an object.")
    return value


def project(snippet_text: str, stored: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each stored update error as the snippet's hashtable for it."""
    _var, entries = _projection(snippet_text)
    result = []
    for record in stored:
        row = {}
        for key, cast, members in entries:
            value: Any = _Info(record)
            for member in members:
                value = getattr(value, "members", {}).get(member)  # a missing member is $null
            row[key] = _cast(cast, value, f"{key}")
        result.append(row)
    return result
