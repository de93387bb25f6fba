"""``wsus_stagger_plan``'s plain-Python side: one stagger plan for the play's hosts, each host's slot.

"Running WSUS 3.0 SP2 in Replica Mode": with many replicas on one upstream server, "you should not
schedule synchronization to run at the same time on each replica server". ``wsusauto run``'s
``stagger`` task plans the whole fleet in its fleet step (``Stagger.prepare_fleet``: the planner of
``wsusauto.stagger.planner`` over the intended hierarchy and each server's sync durations). An
Ansible task runs per host, so the plan is one task meant for ``run_once: true``: it runs that same
fleet step, unchanged, on a ``TaskGroup`` of the play's hosts, and returns every host's slot, which a
following ``wsus_schedule`` task applies (``time: "{{ plan.slots[inventory_hostname].time }}"``).

Where the facts come from (the planner needs each server's recent synchronization durations):
a host for which a ``wsus_facts`` task of the play left ``wsus_facts`` in ``hostvars`` is planned
from those (no connection); the others' facts are read here over their own Sessions, at ``forks``
hosts at a time. A host whose facts cannot be read either way is planned with the default duration
and named in a warning (``wsusauto plan-schedule`` does the same).

What the plan covers: the hosts given (by default ``ansible_play_hosts``: the play's hosts still
running, ``--limit`` applied). A sliced AWX job, or a run with ``--limit``, sees only its part of the
fleet and plans only that part, without the others' reservations on a shared upstream: plan in a
job that is not sliced, or give ``hosts`` (e.g. ``"{{ groups['wsus'] }}"``) explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wsusauto.ansible.fleet import (
    facts_reader,
    intended_upstreams,
    known_facts,
    play_inventory,
    session_factory,
)
from wsusauto.ansible.results import error_result, plain
from wsusauto.ansible.values import native
from wsusauto.config.inventory import Inventory
from wsusauto.operations.group import TaskGroup
from wsusauto.operations.stagger import SLOT, Stagger
from wsusauto.stagger.fleet import DEFAULT_DURATION, expected_duration
from wsusauto.state.facts import Facts

# Reads the facts of the given hosts over their Sessions: host -> Facts, or the error text.
ReadFacts = Callable[[Sequence[str]], Mapping[str, "Facts | str"]]


@dataclass(frozen=True)
class StaggerResult:
    slots: dict[
        str, dict[str, Any]
    ]  # host -> time (UTC HH:MM:SS), per_day, upstream, duration_minutes, facts_from
    warnings: list[str] = field(default_factory=list)

    def to_result(self) -> dict[str, Any]:
        """The Ansible result: nothing changed (a plan), each host's slot under ``slots``."""
        result: dict[str, Any] = {
            "changed": False,
            "slots": self.slots,
            "msg": f"planned {len(self.slots)} servers: "
            + ", ".join(f"{host} {slot['time']}Z" for host, slot in self.slots.items()),
        }
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result


def plan_slots(
    args: Mapping[str, Any],
    inventory: Inventory,
    hosts: Sequence[str],
    known: Mapping[str, Facts],
    read_facts: ReadFacts,
    where: str = "wsus_stagger_plan",
) -> StaggerResult:
    """Each of ``hosts``' slot from one plan (``args``: the ``stagger`` task's arguments, checked as
    ``wsusauto run`` checks them). ``known``: facts already at hand (from ``wsus_facts``);
    ``read_facts`` is called once with the hosts lacking them. Raises UsageError for bad arguments
    or a window that cannot hold the fleet (with the planner's advice)."""
    operation = Stagger()
    checked = operation.validate({k: v for k, v in args.items() if v is not None}, where)
    members = list(dict.fromkeys(hosts))
    facts = {host: known[host] for host in members if host in known}
    warnings = []
    lacking = [host for host in members if host not in facts]
    if lacking:
        for host, read in read_facts(lacking).items():
            if isinstance(read, Facts):
                facts[host] = read
            else:
                warnings.append(f"{host}: no facts ({read}); planned with the default duration")
    upstream_of = intended_upstreams(inventory)
    group = TaskGroup(where, where, {host: checked for host in members}, upstream_of, facts)
    planned = operation.prepare_fleet(group)
    default = float(checked.get("default_duration", DEFAULT_DURATION))
    slots = {}
    for host in members:
        time_of_day, per_day = planned[host][SLOT]
        upstream = upstream_of.get(host)
        slots[host] = {
            "time": time_of_day,  # UTC: what wsus_schedule's time takes (its timezone defaults to UTC)
            "per_day": per_day,
            # The upstream the plan spaced this server's syncs at (None: a root of the plan).
            "upstream": upstream if upstream in members else None,
            "duration_minutes": expected_duration(facts.get(host), default),
            # Where the duration came from: wsus_facts in hostvars, facts read here, or the default.
            "facts_from": "wsus_facts" if host in known else "read" if host in facts else "default",
        }
    return StaggerResult(slots, warnings)


def stagger_task(
    args: Mapping[str, Any],
    hostvars: Mapping[str, Mapping[str, Any]],
    hosts: Sequence[str],
    *,
    play_password: str | None = None,
    forks: int = 20,
    deadline: float = 120.0,
) -> dict[str, Any]:
    """The ``wsus_stagger_plan`` task: one plan for ``hosts`` from their variables in ``hostvars``
    (facts from ``wsus_facts`` there, else read over each host's Session), as Ansible's result.
    Never raises: bad arguments or a window too small are a failed result with the planner's advice."""
    try:
        inventory = play_inventory(hostvars, hosts, play_password)
        known = known_facts(hostvars, hosts)
        reader = facts_reader(inventory, session_factory(deadline), forks)
        planned = plan_slots(native(args), inventory, list(inventory.hosts), known, reader)
    except Exception as exc:
        return error_result(exc)
    return dict(plain(planned.to_result()))
