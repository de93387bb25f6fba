# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""wsus_synchronize: run a synchronization and wait for it, under the documented retry policy
(wsusauto's ``synchronize``; the plain-Python side is wsusauto.ansible.synchronize)."""

from __future__ import annotations

import typing as t

from ansible_collections.wsusauto.wsus.plugins.plugin_utils.wsus_action import WsusAction
from ansible_collections.wsusauto.wsus.plugins.plugin_utils.wsus_play import play_hosts, play_vars

try:
    from wsusauto.ansible.synchronize import synchronize_task
except ImportError:  # the base class reports the missing library when the task runs
    pass


class ActionModule(WsusAction):
    operation = "synchronize"
    argument_spec = {
        "timeout": {"type": "str"},
        "start_timeout": {"type": "str"},
        "poll_interval": {"type": "str"},
        "retry_interval": {"type": "str"},
        "category_only": {"type": "bool", "default": False},
    }

    def run_on_host(
        self, args: dict[str, t.Any], host: t.Any, task_vars: dict[str, t.Any]
    ) -> dict[str, t.Any]:
        return synchronize_task(
            host,
            args,
            play_vars(self, host, task_vars),
            play_hosts(task_vars),
            check=bool(self._task.check_mode),
            deadline=self.deadline,
        )
