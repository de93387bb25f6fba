"""Planning time of the stagger planner for 100, 1,000 and 10,000 servers (goal: 10,000 in under a second).

    .venv/bin/python bench/stagger.py

Fleets have four tiers (a root, up to 10 regional servers, an area server per ~100 branches, and
branch replicas); the window is the whole day with K = 16, so every plan is feasible. The
baseline, in the same process, is the time to merely build the input list, so the ratio says how
much planning costs over touching the data.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wsusauto.stagger.planner import DAY, Server, StaggerPolicy, plan, worst_case_load


def fleet(size: int) -> list[Server]:
    areas = max(1, size // 100)
    regions = min(10, areas)
    servers = [Server("root", None, 40.0)]
    servers += [Server(f"region-{r:02d}", "root", 20.0) for r in range(regions)]
    servers += [Server(f"area-{a:03d}", f"region-{a % regions:02d}", 15.0) for a in range(areas)]
    servers += [
        Server(f"branch-{b:05d}", f"area-{b % areas:03d}", 5.0 + b % 7)
        for b in range(size - areas - regions - 1)
    ]
    return servers


def main() -> None:
    policy = StaggerPolicy(window_start=22 * 60, window_length=DAY, max_concurrent=16)
    print("stagger planner: plan time (median of 5), whole-day window, K = 16")
    for size in (100, 1_000, 10_000):
        baseline, planning = [], []
        for _ in range(5):
            started = time.perf_counter()
            servers = fleet(size)
            baseline.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = plan(servers, policy)
            planning.append(time.perf_counter() - started)
        assert max(worst_case_load(result).values()) <= policy.max_concurrent
        plan_s, base_s = statistics.median(planning), statistics.median(baseline)
        print(f"  {size:>6} servers: {plan_s * 1000:8.1f} ms   ({plan_s / base_s:5.1f}x building the input)")


if __name__ == "__main__":
    main()
