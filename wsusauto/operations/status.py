"""``status``: read a server's facts and report them; changes nothing (fleet-status playbook)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.operations.base import ChangePlan, Operation
from wsusauto.state.facts import Facts


class Status(Operation):
    name = "status"
    arguments = {}

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        return ChangePlan(())
