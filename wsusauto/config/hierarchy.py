"""The intended WSUS hierarchy of an inventory: validation and waves, pure logic.

A hierarchy is a forest: each server names at most one upstream. Before anything is changed the
whole hierarchy is checked, so a wrong inventory never half-applies:

- a server cannot be its own upstream, and upstream links cannot form a cycle;
- an upstream must be a host of the inventory, unless it is declared external
  (``wsus_upstream_external: true``: a server this inventory does not manage);
- a replica needs an upstream (a replica of Microsoft Update does not exist).

Waves order the servers from the roots down: wave 0 syncs from Microsoft Update (or an external
upstream), wave n from a server of wave n-1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wsusauto.errors import UsageError


@dataclass(frozen=True)
class Node:
    name: str
    upstream: str | None = None
    replica: bool = False
    external_upstream: bool = False


def validate(nodes: Sequence[Node], source: str = "<inventory>") -> None:
    """Raise one UsageError listing every problem; return None when the hierarchy is sound."""
    by_name = {node.name: node for node in nodes}
    problems: list[str] = []
    for node in nodes:
        if node.upstream is None:
            if node.replica:
                problems.append(
                    f"host {node.name} is a replica (wsus_replica: true) but has no wsus_upstream"
                )
            continue
        if node.upstream == node.name:
            problems.append(f"host {node.name} names itself as its upstream")
        elif node.upstream not in by_name and not node.external_upstream:
            problems.append(
                f"host {node.name}: upstream {node.upstream!r} is not in the inventory; add it, or set "
                "wsus_upstream_external: true if another team runs that server"
            )
    for cycle in _cycles(by_name):
        problems.append("upstream cycle: " + " -> ".join([*cycle, cycle[0]]))
    if problems:
        raise UsageError(f"{source}: " + "; ".join(problems))


def _cycles(by_name: Mapping[str, Node]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in by_name:
        path: list[str] = []
        current: str | None = start
        while current is not None and current in by_name and state.get(current) != 2:
            if state.get(current) == 1:
                cycle = path[path.index(current) :]
                if len(cycle) > 1:  # a self-loop is reported on its own
                    cycles.append(cycle)
                break
            state[current] = 1
            path.append(current)
            upstream = by_name[current].upstream
            current = upstream if upstream != current else None
        for name in path:
            state[name] = 2
    return cycles


def waves(nodes: Sequence[Node]) -> list[list[str]]:
    """Servers grouped by depth from the roots, each wave in input order. Call ``validate`` first."""
    by_name = {node.name: node for node in nodes}
    depth: dict[str, int] = {}

    def depth_of(name: str) -> int:
        if name not in depth:
            upstream = by_name[name].upstream
            depth[name] = 0 if upstream is None or upstream not in by_name else 1 + depth_of(upstream)
        return depth[name]

    result: list[list[str]] = []
    for node in nodes:
        level = depth_of(node.name)
        while len(result) <= level:
            result.append([])
        result[level].append(node.name)
    return result


def downstream_of(nodes: Sequence[Node], name: str) -> list[str]:
    """Every server below ``name`` (children, their children, ...), in wave order."""
    below: set[str] = {name}
    ordered: list[str] = []
    for wave in waves(nodes):
        for member in wave:
            upstream = next(n.upstream for n in nodes if n.name == member)
            if upstream in below and member not in below:
                below.add(member)
                ordered.append(member)
    return ordered
