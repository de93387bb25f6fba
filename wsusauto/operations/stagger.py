"""``stagger``: set each server's schedule from a fleet-wide stagger plan (wsusauto.stagger.planner).

The runner computes one plan for the play's hosts from the intended hierarchy and their facts
(sync durations), before any change; an infeasible window stops the play with the planner's advice.
Each host then gets the ``schedule`` change for its slot, so check mode and ``--diff`` show the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.errors import UsageError
from wsusauto.operations.base import Argument, ChangePlan, Operation
from wsusauto.operations.schedule import Schedule, _check_zone
from wsusauto.state.facts import Facts

SLOT = "_slot"  # injected by the runner: (time of day UTC "HH:MM:SS", syncs per day)


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
        SLOT: Argument(tuple),
    }

    def check_combination(self, args: dict[str, Any], where: str) -> None:
        from wsusauto.stagger.planner import window

        window(args["window"], args.get("timezone", "UTC"))  # a bad window is a usage error now

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        if SLOT not in args:
            raise UsageError("stagger runs in a playbook: the runner plans the whole fleet first")
        time_of_day, per_day = args[SLOT]
        return Schedule().plan(facts, {"automatic": True, "time": time_of_day, "per_day": per_day})
