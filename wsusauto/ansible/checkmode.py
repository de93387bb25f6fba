"""Check mode across a host's tasks: each task plans on the state the tasks before it would leave.

``wsusauto run --check`` plans each task of a play on facts the earlier tasks' planned changes were
applied to (``Operation.simulate``): "point at the upstream server", then "become a replica" reports
two changes, where the second, planned on the real server (still on Microsoft Update), would be
refused. Ansible runs each task in a process of its own, so the changes a check-mode task planned
travel to the host's next task as a fact, ``wsusauto_check_changes``: the scope they belong to (this
``ansible-playbook`` process and play: a play reads the servers afresh, as a ``wsusauto run`` play
does) and the planned changes, operation by operation, as plain values. The next check-mode task
reads the server's facts, replays those changes on them and plans on the result. A change outside
that scope (another run, a fact cache) is ignored; a task that really ran drops them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from wsusauto.operations import Change, OperationResult, get_operation
from wsusauto.output.jsonable import to_jsonable
from wsusauto.state.facts import Facts

CHECK_CHANGES = "wsusauto_check_changes"


def carried_changes(state: Any, scope: str) -> list[Mapping[str, Any]]:
    """The planned changes ``state`` (the fact, or None) carries for ``scope``; [] for another
    scope or anything that is not this module's shape."""
    if not isinstance(state, Mapping) or state.get("scope") != scope:
        return []
    changes = state.get("changes")
    if not isinstance(changes, list):
        return []
    return [c for c in changes if isinstance(c, Mapping) and {"operation", "member", "after"} <= set(c)]


def replay(facts: Facts, changes: Sequence[Mapping[str, Any]]) -> Facts:
    """``facts`` as the carried changes would leave them, each through its operation's simulate."""
    for entry in changes:
        change = Change(str(entry["member"]), _value(entry, "before"), _value(entry, "after"))
        name = str(entry["operation"])
        facts = get_operation(name).simulate(facts, OperationResult(name, True, (change,), check_mode=True))
    return facts


def with_planned(changes: Sequence[Mapping[str, Any]], result: OperationResult, scope: str) -> dict[str, Any]:
    """The fact's new value: the changes carried so far and those ``result`` planned."""
    planned = [_entry(result.operation, c) for c in result.changes]
    return {"scope": scope, "changes": [*changes, *planned]}


def _entry(operation: str, change: Change) -> dict[str, Any]:
    entry = {
        "operation": operation,
        "member": change.member,
        "before": to_jsonable(change.before),
        "after": to_jsonable(change.after),
    }
    # JSON has no time of day: say which values were one, so the replay gets the same value back.
    times = [side for side in ("before", "after") if isinstance(getattr(change, side), dt.time)]
    if times:
        entry["times"] = times
    return entry


def _value(entry: Mapping[str, Any], side: str) -> Any:
    value = entry.get(side)
    if side in entry.get("times", ()) and isinstance(value, str):
        return dt.time.fromisoformat(value)
    if isinstance(value, list):
        return tuple(value)
    return value


__all__ = ["CHECK_CHANGES", "carried_changes", "replay", "with_planned"]
