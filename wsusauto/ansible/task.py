"""One Ansible task of the collection, in plain Python: a host's Session, one operation, a result.

The base action plugin (``collection/plugins/plugin_utils/wsus_action.py``) checks the task's
arguments with Ansible's argument spec, templates the host's connection vars and calls
``run_task``; everything after that is here, so it is tested without Ansible and the ``wsusauto``
command and the collection run an operation the same way (``run_operation``: the same arguments
check, the same plans in check mode, on the state the host's earlier check-mode tasks would leave:
``wsusauto.ansible.checkmode``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.ansible.checkmode import CHECK_CHANGES, carried_changes, replay, with_planned
from wsusauto.ansible.connection import open_session
from wsusauto.ansible.results import error_result, facts_result, operation_result
from wsusauto.ansible.values import native
from wsusauto.config.inventory import Host
from wsusauto.operations import run_operation
from wsusauto.state.facts import gather_facts


def run_task(
    operation: str,
    args: Mapping[str, Any],
    host: Host,
    *,
    check: bool = False,
    diff: bool = False,
    with_facts: bool = False,
    deadline: float = 120.0,
    carried: Any = None,
    scope: str | None = None,
    check_run: bool = False,
) -> dict[str, Any]:
    """Run ``operation`` with ``args`` on ``host`` over a Session of its own (closed before this
    returns) and give Ansible's result; ``with_facts`` adds the server's facts as the operation read
    them (``ansible_facts.wsus_facts``). ``carried`` is the host's ``wsusauto_check_changes`` fact
    (or None) and ``scope`` this run and play's name for it (``checkmode``); without a scope (a
    task delegated to another host) nothing is carried. ``check_run``: the run itself is in check
    mode (``--check``), so a task that really runs in it (``check_mode: false``, often a read such as
    ``wsus_facts``) leaves the earlier tasks' planned changes for the next check-mode task, as the
    real run would have made them; in a real run, a real task drops what a ``check_mode: true`` task
    planned (that never happens). Never raises for what the host or the
    arguments do: an error is the result (failed, or unreachable when nothing ran)."""
    changes = carried_changes(native(carried), scope) if check and scope is not None else []
    try:
        with open_session(host, deadline=deadline) as session:
            facts = replay(gather_facts(session), changes) if changes else None
            outcome = run_operation(session, operation, native(args), check=check, facts=facts)
    except Exception as exc:
        return error_result(exc)
    result = operation_result(outcome, diff=diff)
    ansible_facts: dict[str, Any] = {}
    if with_facts and outcome.facts is not None:
        ansible_facts.update(facts_result(outcome.facts)["ansible_facts"])
    if scope is None:
        pass  # the facts Ansible keeps are another host's: nothing of this host's to carry there
    elif check and outcome.changed and not outcome.failed:
        ansible_facts[CHECK_CHANGES] = with_planned(changes, outcome, scope)
    elif not check and not check_run and carried is not None:
        ansible_facts[CHECK_CHANGES] = None  # a real run: what a check-mode task planned never happens
    if ansible_facts:
        result["ansible_facts"] = ansible_facts
    return result


__all__ = ["run_task"]
