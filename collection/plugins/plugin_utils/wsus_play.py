# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""The play's other hosts, for the fleet plugins (wsus_synchronize, wsus_diagnose, wsus_stagger_plan).

Ansible runs a task on each host in a worker process of its own; what such a task knows of the
other hosts is ``hostvars`` (each host's variables, templated on access in that host's context) and
``ansible_play_hosts``. ``PlayVars`` hands wsusauto (``wsusauto.ansible.fleet``) each play host's
variables as plain values, read when first asked for and only those it uses: how to connect
(``wsusauto.ansible.connection``), the hierarchy (``wsus_upstream``, ``wsus_replica``, ...) and the
facts a ``wsus_facts`` task of the play left (``ansible_facts.wsus_facts``). This task's own host
comes from the task's vars (play and task vars included), as the base class reads it; another
host's play vars are not in ``hostvars`` (Ansible's own rule), so connection vars belong in the
inventory (host or group vars).
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible import constants as C

try:
    from wsusauto.ansible.facts_vars import FACTS_VAR
    from wsusauto.ansible.fleet import HIERARCHY_VARS, variable_names
except ImportError:  # the base class reports the missing library when the task runs
    FACTS_VAR = "wsus_facts"
    HIERARCHY_VARS = ()

    def variable_names(names: t.Iterable[str]) -> list[str]:
        return []


def play_hosts(task_vars: Mapping[str, t.Any]) -> list[str]:
    """The play's hosts still running (Ansible's ``ansible_play_hosts``: ``--limit`` applied, failed
    and unreachable hosts gone), in inventory order."""
    return [str(name) for name in task_vars.get("ansible_play_hosts") or ()]


def facts_of(variables: Mapping[str, t.Any]) -> t.Any:
    """The ``wsus_facts`` a host's variables hold: under ``ansible_facts`` (where Ansible keeps every
    fact), else as a top-level variable (facts injected as vars)."""
    facts = variables.get("ansible_facts")
    if isinstance(facts, Mapping) and facts.get(FACTS_VAR):
        return facts[FACTS_VAR]
    return variables.get(FACTS_VAR)


class PlayVars(Mapping):
    """Host name -> the variables wsusauto's fleet functions read of it, read on first access."""

    def __init__(self, task_vars: Mapping[str, t.Any], own_name: str, own_vars: Mapping[str, t.Any]) -> None:
        self._hostvars = task_vars.get("hostvars") or {}
        self._own_name = own_name
        self._read: dict[str, dict[str, t.Any]] = {own_name: dict(own_vars)}

    def __getitem__(self, name: str) -> dict[str, t.Any]:
        if name not in self._read:
            if name not in self._hostvars:
                raise KeyError(name)
            variables = self._hostvars[name]  # templates each var on access, in that host's context
            picked = {n: variables[n] for n in variable_names(variables)}
            facts = facts_of(variables)
            if facts:
                picked[FACTS_VAR] = facts
            self._read[name] = picked
        return self._read[name]

    def __contains__(self, name: object) -> bool:
        return name == self._own_name or name in self._hostvars

    def __iter__(self) -> t.Iterator[str]:
        return iter(self._hostvars)

    def __len__(self) -> int:
        return len(self._hostvars)


def fallback_password(action: t.Any, task_vars: Mapping[str, t.Any]) -> str | None:
    """``-k``'s password, the fallback for the play's other hosts whose vars name no password source.

    Ansible's play context holds the task host's own ``ansible_password`` (or ``ansible_ssh_pass``)
    when that host's variables set one, in place of ``-k``'s: that password is this host's alone and
    never goes to another server (which host runs a ``run_once`` task decides nothing), so there is
    no fallback then."""
    password = action._play_context.password or None
    reached = action._task.delegate_to or task_vars.get("inventory_hostname")
    own = (task_vars.get("hostvars") or {}).get(reached)
    if password and own is not None and any(n in own for n in C.MAGIC_VARIABLE_MAPPING["password"]):
        return None
    return password


def own_vars(action: t.Any, host: t.Any, task_vars: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """This task's host as ``PlayVars`` gives it: its connection vars as the base class read them
    (``host.vars``, ``-k``'s password applied), its hierarchy vars and facts templated from the
    task's vars (a delegated task's: the vars of the host it is delegated to, as Ansible gives them)."""
    if action._task.delegate_to:
        task_vars = task_vars.get("ansible_delegated_vars", {}).get(action._task.delegate_to, task_vars)
    variables = dict(host.vars)
    for name in HIERARCHY_VARS:
        if name in task_vars:
            variables[name] = action._templar.template(task_vars[name])
    facts = facts_of({k: task_vars[k] for k in ("ansible_facts", FACTS_VAR) if k in task_vars})
    if facts:
        variables[FACTS_VAR] = action._templar.template(facts)
    return variables


def play_vars(action: t.Any, host: t.Any, task_vars: Mapping[str, t.Any]) -> PlayVars:
    """The play's hosts' variables for a fleet plugin's task on ``host``."""
    return PlayVars(task_vars, host.name, own_vars(action, host, task_vars))
