"""Synchronizing a tree in hierarchy order: the run's makespan against its critical-path bound.

    .venv/bin/python bench/tree_sync.py [--duration 10] [--retry-interval 5] [--repeat 3]

A 13-server lab tree (root, three regions, three replicas each; the lab's clock 10x) runs
``synchronize`` in ``order: hierarchy`` with ``max_concurrent_per_upstream`` K (default 1); one
replica in each of two regions fails its first sync (the lab's ``transient_sync_failure``) and is
retried after ``--retry-interval`` seconds. From the same run's attempt times:

- makespan: the first attempt's start (the root's) to the last attempt's end;
- critical-path bound: what no schedule can beat with these attempt durations: for each server,
  its own span (its attempts and the retry waits between them) plus the larger of what its
  children need from its slots (the sum of their attempts / K: one upstream serves K syncs at a
  time) and the longest child's own bound; the root's is the bound (goal: makespan <= 1.1x it);
- barrier rounds, computed: what the earlier scheduler (hierarchy waves, each split into rounds of
  K children per upstream, each round waiting for its slowest member) would have taken with the
  same spans: the sum over rounds of the slowest member's span. Computed, not measured.

Attempt durations include the lab's start lag (1-4 of its seconds) and the polling; what the bound
leaves out is the client's own work between attempts (facts read after a sync, a host started).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wsusauto.config.inventory import inventory_from_dict
from wsusauto.config.playbook import playbook_from_data
from wsusauto.execution.runner import Runner
from wsusauto.lab.runtime import Lab
from wsusauto.lab.topology import topology_from_dict
from wsusauto.output.log import configure_logging

REGIONS = ("eu", "us", "apac")
FAULTY = ("wsus-eu-1", "wsus-us-2")
SCALE = 10  # the lab's clock, as in the synchronize tests

Span = tuple[dt.datetime, dt.datetime]


def topology() -> Any:
    servers: list[dict[str, Any]] = [{"name": "wsus-root"}]
    for region in REGIONS:
        servers.append({"name": f"wsus-{region}", "upstream": "wsus-root"})
    for region in REGIONS:
        servers += [
            {"name": f"wsus-{region}-{i}", "upstream": f"wsus-{region}", "replica": True} for i in (1, 2, 3)
        ]
    for server in servers:
        if "upstream" in server:
            server["initial"] = {
                "SyncFromMicrosoftUpdate": False,
                "UpstreamWsusServerName": server["upstream"],
            }
        if server["name"] in FAULTY:
            server["faults"] = [{"name": "transient_sync_failure", "attempts": 1}]
    return topology_from_dict({"servers": servers}, "<tree_sync bench>")


def critical_path(
    upstream_of: Mapping[str, str | None],
    attempts: Mapping[str, Sequence[Span]],
    k: int,
    interval: float,
) -> tuple[float, list[str]]:
    """This run's critical path: from the attempt that ended last, back through what each attempt
    waited for, to the root's first: the same host's previous attempt and the retry interval, its
    upstream's last attempt (a first attempt), or the attempt of a sibling that gave back the slot
    it needed (all K held until then). Seconds of attempts and retry intervals on it, and the path."""
    siblings: dict[str | None, list[str]] = {}
    for name, upstream in upstream_of.items():
        siblings.setdefault(upstream, []).append(name)

    def waited_for(host: str, number: int) -> tuple[str, int, float] | None:
        """The attempt (host, number) that this one waited for, and the retry interval if it counts."""
        start = attempts[host][number][0]
        options: list[tuple[dt.datetime, str, int, float]] = []
        upstream = upstream_of[host]
        if number > 0:
            ready = attempts[host][number - 1][1] + dt.timedelta(seconds=interval)
            options.append((ready, host, number - 1, interval))
        elif upstream is not None:
            options.append((attempts[upstream][-1][1], upstream, len(attempts[upstream]) - 1, 0.0))
        if upstream is not None:
            ended = [
                (end, other, j)
                for other in siblings[upstream]
                if other != host
                for j, (_, end) in enumerate(attempts[other])
                if end <= start
            ]
            if ended:
                end, other, j = max(ended)
                holding = sum(
                    1 for s in siblings[upstream] for a, b in attempts[s] if a < end <= b
                )  # slots held just before it gave its slot back
                if holding >= k:
                    options.append((end, other, j, 0.0))
        if not options:
            return None
        _, other, j, extra = max(options)
        return other, j, extra

    host, number = max(
        ((name, i) for name, spans in attempts.items() for i in range(len(spans))),
        key=lambda a: attempts[a[0]][a[1]][1],
    )
    total, path = 0.0, []
    step: tuple[str, int, float] | None = (host, number, 0.0)
    while step is not None:
        host, number, extra = step
        start, end = attempts[host][number]
        total += (end - start).total_seconds() + extra
        path.append(f"{host}#{number + 1}" + (f" +{extra:.2f}s" if extra else ""))
        step = waited_for(host, number)
    return total, path[::-1]


def lower_bound(
    upstream_of: Mapping[str, str | None], attempts: Mapping[str, Sequence[Span]], k: int
) -> float:
    """Seconds no schedule could beat with these attempts, knowing in advance which fail: for each
    server its own span (attempts and the waits between them) plus the larger of what its children
    need of its K slots (the sum of their attempts / K) and the longest child's own bound."""
    children: dict[str | None, list[str]] = {}
    for name, upstream in upstream_of.items():
        children.setdefault(upstream, []).append(name)

    def span(name: str) -> float:
        return (attempts[name][-1][1] - attempts[name][0][0]).total_seconds()

    def busy(name: str) -> float:
        return sum((end - start).total_seconds() for start, end in attempts[name])

    def bound(name: str) -> float:
        below = children.get(name, [])
        if not below:
            return span(name)
        return span(name) + max(sum(busy(c) for c in below) / k, max(bound(c) for c in below))

    return max(bound(root) for root in children[None])


def barrier_rounds(
    order: Sequence[str],
    upstream_of: Mapping[str, str | None],
    attempts: Mapping[str, Sequence[Span]],
    k: int,
) -> float:
    """Seconds the earlier scheduler would have taken: waves, rounds of K per upstream, each round
    as long as its slowest member's span."""
    depth: dict[str, int] = {}
    for name in order:
        upstream = upstream_of[name]
        depth[name] = 0 if upstream is None else depth[upstream] + 1
    total = 0.0
    for level in sorted(set(depth.values())):
        rounds: list[list[str]] = []
        seen: dict[str | None, int] = {}
        for name in (n for n in order if depth[n] == level):
            upstream = upstream_of[name]
            index = seen.get(upstream, 0) // k if upstream is not None else 0
            seen[upstream] = seen.get(upstream, 0) + 1
            while len(rounds) <= index:
                rounds.append([])
            rounds[index].append(name)
        for members in rounds:
            total += max((attempts[m][-1][1] - attempts[m][0][0]).total_seconds() for m in members)
    return total


def run_once(duration: float, retry_interval: float, k: int) -> dict[str, Any]:
    playbook = playbook_from_data(
        [
            {
                "name": "sync the tree",
                "hosts": "all",
                "order": "hierarchy",
                "max_concurrent_per_upstream": k,
                "tasks": [
                    {
                        "name": "synchronize",
                        "synchronize": {
                            "retry_interval": f"{retry_interval}s",
                            "poll_interval": "0.1s",
                            "timeout": "120s",
                        },
                    }
                ],
            }
        ],
        "<tree_sync bench>",
    )
    tree = topology()
    with (
        tempfile.TemporaryDirectory() as tmp,
        Lab(tree, Path(tmp), first_address="127.0.212.1", time_scale=SCALE) as lab,
    ):
        for server in lab.handlers.servers.values():
            server.set(SyncDurationSeconds=duration * SCALE)
        inventory = inventory_from_dict(lab.inventory())
        result = Runner(inventory, playbook, forks=20).run()
    assert result.exit_code == 0, result.recap
    attempts = {
        name: [(a["started"], a["ended"]) for a in results[0].details["attempts"]]
        for name, results in result.hosts.items()
    }
    assert all(len(attempts[name]) == 2 for name in FAULTY), attempts
    upstream_of = {s.name: s.upstream for s in tree.servers}
    order = [s.name for s in tree.servers]
    first = min(start for spans in attempts.values() for start, _ in spans)
    last = max(end for spans in attempts.values() for _, end in spans)
    # the shortest wait the retry policy draws (its jitter is 1/30 of the interval, at most 30 s)
    shortest_wait = retry_interval - min(30.0, retry_interval / 30)
    path, steps = critical_path(upstream_of, attempts, k, shortest_wait)
    return {
        "makespan": (last - first).total_seconds(),
        "path": path,
        "steps": steps,
        "lower": lower_bound(upstream_of, attempts, k),
        "barrier": barrier_rounds(order, upstream_of, attempts, k),
        "attempt": statistics.median(
            (end - start).total_seconds() for spans in attempts.values() for start, end in spans
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=1.0, help="real seconds each sync runs in the lab")
    parser.add_argument("--retry-interval", type=float, default=5.0, help="seconds between attempts")
    parser.add_argument("-k", type=int, default=1, help="max_concurrent_per_upstream")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    configure_logging("console", "warning")
    runs = [run_once(args.duration, args.retry_interval, args.k) for _ in range(args.repeat)]
    print(
        f"tree_sync: 13 servers, K={args.k}, syncs {args.duration:g} s, retry interval "
        f"{args.retry_interval:g} s, faults on {', '.join(FAULTY)}, {args.repeat} runs"
    )
    for run in runs:
        print(
            f"  makespan {run['makespan']:6.2f} s   critical path {run['path']:6.2f} s   "
            f"ratio {run['makespan'] / run['path']:5.3f}   lower bound {run['lower']:6.2f} s "
            f"({run['makespan'] / run['lower']:5.3f}x)   barrier rounds (computed) {run['barrier']:6.2f} s "
            f"({run['barrier'] / run['path']:5.3f}x the path)   median attempt {run['attempt']:5.2f} s"
        )
        print(f"    path: {' -> '.join(run['steps'])}")
    ratio = statistics.median(r["makespan"] / r["path"] for r in runs)
    print(f"  median ratio makespan / critical path: {ratio:.3f} (goal <= 1.1)")


if __name__ == "__main__":
    main()
