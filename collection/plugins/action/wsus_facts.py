# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""wsus_facts: the WSUS server's facts under ansible_facts.wsus_facts (wsusauto's ``status``)."""

from __future__ import annotations

from ansible_collections.wsusauto.wsus.plugins.plugin_utils.wsus_action import WsusAction


class ActionModule(WsusAction):
    operation = "status"
    argument_spec = {}
    with_facts = True
