# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""wsus_diagnose: the host's troubleshooting findings, compared with the servers around it, and with
``fix: true`` the documented fixes (wsusauto's ``diagnose``; the plain-Python side is
wsusauto.ansible.diagnose)."""

from __future__ import annotations

import typing as t

from ansible_collections.wsusauto.wsus.plugins.plugin_utils.wsus_action import WsusAction
from ansible_collections.wsusauto.wsus.plugins.plugin_utils.wsus_play import (
    fallback_password,
    play_hosts,
    play_vars,
)

try:
    from wsusauto.ansible.diagnose import diagnose_task
except ImportError:  # the base class reports the missing library when the task runs
    pass


class ActionModule(WsusAction):
    operation = ""  # diagnose_fleet and fix_fleet over the host and its neighbours, not one operation
    argument_spec = {
        "fix": {"type": "bool", "default": False},
        "scope": {"type": "str", "default": "neighbours", "choices": ["neighbours", "play"]},
        "max_concurrent_per_upstream": {"type": "int", "default": 1},
        "poll_interval": {"type": "str"},
    }

    def run_on_host(
        self, args: dict[str, t.Any], host: t.Any, task_vars: dict[str, t.Any]
    ) -> dict[str, t.Any]:
        return diagnose_task(
            host,
            args,
            play_vars(self, host, task_vars),
            play_hosts(task_vars),
            check=bool(self._task.check_mode),
            play_password=fallback_password(self, task_vars),
            deadline=self.deadline,
        )
