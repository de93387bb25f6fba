"""One Ansible task of the collection, in plain Python: a host's Session, one operation, a result.

The base action plugin (``collection/plugins/plugin_utils/wsus_action.py``) checks the task's
arguments with Ansible's argument spec, templates the host's connection vars and calls
``run_task``; everything after that is here, so it is tested without Ansible and the ``wsusauto``
command and the collection run an operation the same way (``run_operation``: the same arguments
check, the same plans in check mode).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.ansible.connection import open_session
from wsusauto.ansible.results import error_result, facts_result, operation_result
from wsusauto.config.inventory import Host
from wsusauto.operations import run_operation


def run_task(
    operation: str,
    args: Mapping[str, Any],
    host: Host,
    *,
    check: bool = False,
    diff: bool = False,
    with_facts: bool = False,
    deadline: float = 120.0,
) -> dict[str, Any]:
    """Run ``operation`` with ``args`` on ``host`` over a Session of its own (closed before this
    returns) and give Ansible's result; ``with_facts`` adds the server's facts as read by the
    operation (``ansible_facts.wsus_facts``). Never raises for what the host or the arguments do:
    an error is the result (failed, or unreachable when nothing ran)."""
    try:
        with open_session(host, deadline=deadline) as session:
            outcome = run_operation(session, operation, args, check=check)
    except Exception as exc:
        return error_result(exc)
    result = operation_result(outcome, diff=diff)
    if with_facts and outcome.facts is not None:
        result.update(facts_result(outcome.facts))
    return result


__all__ = ["run_task"]
