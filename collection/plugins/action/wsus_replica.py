# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""wsus_replica: designate or release a replica server (wsusauto's ``replica``)."""

from __future__ import annotations

from ansible_collections.wsusauto.wsus.plugins.plugin_utils.wsus_action import WsusAction


class ActionModule(WsusAction):
    operation = "replica"
    argument_spec = {"enabled": {"type": "bool", "required": True}}
