# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""wsus_computer_groups: computers in and out of a computer group (wsusauto's ``computer_groups``)."""

from __future__ import annotations

from ansible_collections.wsusauto.wsus.plugins.plugin_utils.wsus_action import WsusAction


class ActionModule(WsusAction):
    operation = "computer_groups"
    argument_spec = {
        "group": {"type": "str", "required": True},
        "computers": {"type": "list", "elements": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "from_group": {"type": "str"},
        "create": {"type": "bool"},
    }
