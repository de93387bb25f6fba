"""``status``: read a server's facts and report them; changes nothing (fleet-status playbook)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.facts import Facts
from wsusauto.operations.base import Operation, Plan


class Status(Operation):
    name = "status"
    arguments = {}

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> Plan:
        return Plan(())
