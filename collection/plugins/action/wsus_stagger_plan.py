# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""wsus_stagger_plan: one stagger plan for the play's hosts, each host's slot in the result, for a
following wsus_schedule task (wsusauto's ``stagger`` fleet step; the plain-Python side is
wsusauto.ansible.stagger)."""

from __future__ import annotations

import typing as t

from ansible_collections.wsusauto.wsus.plugins.plugin_utils.wsus_action import WsusAction
from ansible_collections.wsusauto.wsus.plugins.plugin_utils.wsus_play import (
    fallback_password,
    play_hosts,
    play_vars,
)

try:
    from wsusauto.ansible.stagger import stagger_task
except ImportError:  # the base class reports the missing library when the task runs
    pass

NOT_RUN_ONCE = (
    "wsus_stagger_plan plans the whole play in one task: give it run_once: true (each host ran the "
    "same plan again, reading the facts it lacks each time)"
)


class ActionModule(WsusAction):
    operation = ""  # the stagger task's fleet step over the play's hosts, not one operation on one host
    argument_spec = {
        "window": {"type": "str", "required": True},
        "timezone": {"type": "str"},
        "max_concurrent_per_upstream": {"type": "int"},
        "per_day": {"type": "int"},
        "offset": {"type": "int"},
        "default_duration": {"type": "int"},
        "hosts": {"type": "list", "elements": "str"},
        "forks": {"type": "int", "default": 20},
    }

    def run_on_host(
        self, args: dict[str, t.Any], host: t.Any, task_vars: dict[str, t.Any]
    ) -> dict[str, t.Any]:
        plan_args = {k: v for k, v in args.items() if k not in ("hosts", "forks")}
        hosts = [str(h) for h in args.get("hosts") or play_hosts(task_vars)]
        result = stagger_task(
            plan_args,
            play_vars(self, host, task_vars),
            hosts,
            play_password=fallback_password(self, task_vars),
            forks=max(1, int(args.get("forks", 20))),
            deadline=self.deadline,
        )
        if not self._task.run_once:
            result.setdefault("warnings", []).append(NOT_RUN_ONCE)
        return result
