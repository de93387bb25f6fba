# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""wsus_update_source: Microsoft Update or an upstream WSUS server (wsusauto's ``update_source``)."""

from __future__ import annotations

from ansible_collections.wsusauto.wsus.plugins.plugin_utils.wsus_action import WsusAction


class ActionModule(WsusAction):
    operation = "update_source"
    argument_spec = {
        "source": {"type": "str", "required": True, "choices": ["microsoft_update", "upstream"]},
        "upstream": {"type": "str"},
        "port": {"type": "int"},
        "ssl": {"type": "bool"},
    }
    argument_rules = {"required_if": [["source", "upstream", ["upstream"]]]}
