# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""wsus_schedule: the synchronization schedule (wsusauto's ``schedule``)."""

from __future__ import annotations

from ansible_collections.wsusauto.wsus.plugins.plugin_utils.wsus_action import WsusAction


class ActionModule(WsusAction):
    operation = "schedule"
    argument_spec = {
        "automatic": {"type": "bool"},
        "time": {"type": "str"},
        "timezone": {"type": "str"},
        "per_day": {"type": "int"},
    }
    argument_rules = {
        "required_one_of": [["automatic", "time", "per_day"]],
        "required_by": {"timezone": "time"},
    }
