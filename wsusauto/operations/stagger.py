"""``stagger``: set each server's schedule from a fleet-wide stagger plan (wsusauto.stagger.planner).

Its fleet step (``prepare_fleet``) computes one plan for the hosts that run the task with the same
arguments, from the intended hierarchy and their facts (sync durations), before any change; an
infeasible window stops the play with the planner's advice. Each host then gets the ``schedule``
change for its slot, so check mode and ``--diff`` show the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.errors import UsageError
from wsusauto.operations.base import Argument, ChangePlan, Operation
from wsusauto.operations.group import TaskGroup
from wsusauto.operations.schedule import Schedule, _check_zone
from wsusauto.state.facts import Facts

SLOT = "_slot"  # added by the fleet step: (time of day UTC "HH:MM:SS", syncs per day)


class Stagger(Operation):
    name = "stagger"
    arguments = {
        "window": Argument(str, required=True),
        "timezone": Argument(str, check=_check_zone),
        "max_concurrent_per_upstream": Argument(
            int, check=lambda k: None if k >= 1 else "must be at least 1"
        ),
        "per_day": Argument(int, check=lambda n: None if 1 <= n <= 24 else "syncs per day must be 1 to 24"),
        "offset": Argument(int, check=lambda m: None if m >= 0 else "must be 0 or more minutes"),
        "default_duration": Argument(int, check=lambda m: None if m >= 1 else "must be at least 1 minute"),
    }

    def check_combination(self, args: dict[str, Any], where: str) -> None:
        from wsusauto.stagger.planner import window

        window(args["window"], args.get("timezone", "UTC"))  # a bad window is a usage error now

    def prepare_fleet(self, group: TaskGroup) -> Mapping[str, Mapping[str, Any]]:
        """Give each host its slot from one plan over the hosts that run the task with the same
        arguments (templating can give hosts different windows: each such set is planned alone)."""
        alike: dict[tuple[tuple[str, Any], ...], list[str]] = {}
        for host, args in group.args.items():
            alike.setdefault(tuple(sorted(args.items())), []).append(host)
        planned: dict[str, Mapping[str, Any]] = {}
        for members in alike.values():
            slots = _slots(group, group.args[members[0]], members)
            for host in members:
                slot = slots[host]
                time_of_day = slot.time_of_day_utc.strftime("%H:%M:%S")
                planned[host] = {**group.args[host], SLOT: (time_of_day, slot.syncs_per_day)}
        return planned

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        if SLOT not in args:
            raise UsageError("stagger runs in a playbook: its fleet step plans the whole fleet first")
        time_of_day, per_day = args[SLOT]
        return Schedule().plan(facts, {"automatic": True, "time": time_of_day, "per_day": per_day})


def _slots(group: TaskGroup, args: Mapping[str, Any], members: list[str]) -> dict[str, Any]:
    from wsusauto.stagger.fleet import servers_from_facts
    from wsusauto.stagger.planner import StaggerPolicy, plan, window

    start, length = window(args["window"], args.get("timezone", "UTC"))
    policy = StaggerPolicy(
        window_start=int(start),
        window_length=length,
        syncs_per_day=args.get("per_day", 1),
        max_concurrent=args.get("max_concurrent_per_upstream", 1),
        offset=float(args.get("offset", 30)),
    )
    servers = servers_from_facts(
        {h: group.upstream_of.get(h) for h in members}, group.facts, float(args.get("default_duration", 30))
    )
    try:
        return plan(servers, policy).by_host()
    except UsageError as exc:
        raise UsageError(f"{group.where}: {exc}; nothing was changed") from None
