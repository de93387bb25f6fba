"""The prepare phase of a playbook run: what is decided before a play's hosts run.

Before any server is contacted (``prepare_play``): every task for every host of the play (``when``,
expressions, the play settings its operation reads, argument checks), the intended hierarchy (each
inventory host's upstream and replica mode once the play's tasks are done, computed once per play,
and checked when a task moves a host in it or the play runs in hierarchy order), and the order the
hosts run in. A mistake stops the run here.

After the play's facts are read and before any change (``run_fleet_steps``): each task's fleet step
(``Operation.prepare_fleet``), once per task with every host that runs it, then the fleet's
diagnosis for the operations that read it (``Operation.uses_diagnosis``). A fleet step may refuse
the play; nothing has changed then.

This module names no operation: what an operation needs of the play or the fleet is its own hooks
(``wsusauto.operations.base.Operation``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wsusauto.config.hierarchy import Node, validate, waves
from wsusauto.config.inventory import Inventory
from wsusauto.config.playbook import Play
from wsusauto.config.playvars import PlayVariables
from wsusauto.config.secrets import Secret
from wsusauto.config.templating import condition_holds, render_arguments
from wsusauto.execution.hostwork import PreparedTask
from wsusauto.operations import get_operation
from wsusauto.operations.group import TaskGroup
from wsusauto.state.facts import Facts

# Diagnoses the given hosts of the play at most ``limit`` syncs per upstream at a time (the runner's
# wsusauto.diagnose.diagnose_fleet with its sessions): a ``wsusauto.diagnose.Diagnosis``.
DiagnoseFleet = Callable[[Sequence[str], int], Any]


@dataclass(frozen=True)
class PreparedPlay:
    play: Play
    hosts: list[str]  # the play's hosts, in the order they run
    tasks: dict[str, list[PreparedTask]]  # host -> its tasks (args None: skipped by `when`)
    nodes: tuple[Node, ...]  # the intended hierarchy: every inventory host once the play's tasks are done
    upstream_of: Mapping[str, str | None]  # the same as host -> upstream host

    def waves(self) -> list[list[str]]:
        """The intended hierarchy's levels, roots first (hosts outside the play included)."""
        return waves(list(self.nodes))


def prepare_play(inventory: Inventory, play: Play, limit: str | None = None) -> PreparedPlay:
    """Resolve, check and order one play; raises UsageError before any server is contacted."""
    selected = inventory.select(play.hosts)
    if limit:
        allowed = {h.name for h in inventory.select(limit)}
        selected = [h for h in selected if h.name in allowed]
    tasks: dict[str, list[PreparedTask]] = {}
    scope = PlayVariables(inventory)
    for host in selected:
        variables = scope.for_host(host, play.vars, play.where)
        per_host = []
        for task in play.tasks:
            where = f"{task.where}, host {host.name}"
            if not condition_holds(task.when, variables, where):
                per_host.append(PreparedTask(task, None))
                continue
            operation = get_operation(task.operation)
            secrets = [name for name, a in operation.arguments.items() if a.kind is Secret]
            raw = render_arguments(task.args, variables, where, secrets)
            for setting in operation.play_settings:
                raw[setting] = getattr(play, setting)
            per_host.append(PreparedTask(task, operation.validate(raw, where)))
        tasks[host.name] = per_host
    nodes = tuple(intended_hierarchy(inventory, tasks))
    moves = any(
        get_operation(p.task.operation).shapes_hierarchy
        for per_host in tasks.values()
        for p in per_host
        if p.args is not None
    )
    if moves or play.order != "inventory":
        validate(list(nodes), f"{play.where}: intended hierarchy")
    hosts = [h.name for h in selected]
    if play.order != "inventory":
        ranked = [name for wave in waves(list(nodes)) for name in wave if name in tasks]
        hosts = ranked if play.order == "hierarchy" else list(reversed(ranked))
    return PreparedPlay(play, hosts, tasks, nodes, {n.name: n.upstream for n in nodes})


def intended_hierarchy(inventory: Inventory, tasks: Mapping[str, Sequence[PreparedTask]]) -> list[Node]:
    """Every inventory host's place once its tasks are done, each task asked in order
    (``Operation.intended_node``); upstream server names resolved to inventory hosts."""
    nodes = []
    for host in inventory.hosts.values():
        upstream, replica = host.upstream, host.replica
        for prepared in tasks.get(host.name, []):
            if prepared.args is not None:
                operation = get_operation(prepared.task.operation)
                upstream, replica = operation.intended_node(prepared.args, upstream, replica)
        external = bool(host.vars.get("wsus_upstream_external", False))
        nodes.append(Node(host.name, inventory.host_for_server(upstream), replica, external))
    return nodes


def run_fleet_steps(
    prepared: PreparedPlay, facts: Mapping[str, Any], diagnose: DiagnoseFleet
) -> dict[str, list[PreparedTask]]:
    """Each host's tasks with what their operations need of the fleet, before any change.

    ``facts``: host -> what reading its facts gave (Facts, or why not); only Facts are shown to the
    fleet steps. Raises UsageError when a fleet step refuses the play (nothing was changed)."""
    known = {h: f for h, f in facts.items() if isinstance(f, Facts)}
    tasks = {name: list(prepared.tasks[name]) for name in prepared.hosts}
    for index, task in enumerate(prepared.play.tasks):
        running = {name: tasks[name][index].args for name in prepared.hosts}
        group = {name: args for name, args in running.items() if args is not None}
        if not group:
            continue
        operation = get_operation(task.operation)
        given = operation.prepare_fleet(
            TaskGroup(task.where, prepared.play.where, group, prepared.upstream_of, known)
        )
        for name in group:
            tasks[name][index] = PreparedTask(task, given[name])
    return _with_diagnosis(tasks, diagnose)


def _with_diagnosis(
    tasks: dict[str, list[PreparedTask]], diagnose: DiagnoseFleet
) -> dict[str, list[PreparedTask]]:
    """Diagnose the play's hosts once when an operation reads the diagnosis (the checks compare
    servers with each other, so no host can be diagnosed alone) and give each such task its part."""
    readers = [
        (name, index, p.task, p.args)
        for name, per_host in tasks.items()
        for index, p in enumerate(per_host)
        if p.args is not None and get_operation(p.task.operation).uses_diagnosis
    ]
    if not readers:
        return tasks
    limit = max(get_operation(task.operation).diagnosis_upstream_limit(args) for _, _, task, args in readers)
    diagnosis = diagnose(list(tasks), limit)
    for name, index, task, args in readers:
        tasks[name][index] = PreparedTask(
            task, get_operation(task.operation).with_diagnosis(args, name, diagnosis)
        )
    return tasks
