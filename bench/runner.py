"""The runner against a per-task-connection baseline: a 5-task playbook over many lab hosts.

    .venv/bin/python bench/runner.py [--hosts 200] [--forks 20] [--repeat 3]

wsusauto keeps one Session (one RunspacePool) per host for the whole run (with 200 hosts, spread
over two client processes by default) and plans every task
from facts it already holds. The baseline does what Ansible's psrp connection does per task: a new
WSMan connection, authentication and RunspacePool for every task on every host, at the same
concurrency, running the same operation code. Both sides run on a converged fleet (a warm-up run
applies the playbook first), so each task reads and compares and changes nothing.
Goal (issue 3): wsusauto's wall time <= 0.5 x the baseline's.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wsusauto.client.session import Session
from wsusauto.config.inventory import inventory_from_dict
from wsusauto.config.playbook import playbook_from_data
from wsusauto.execution.runner import Runner
from wsusauto.lab.runtime import Lab
from wsusauto.lab.topology import topology_from_dict
from wsusauto.operations import get_operation
from wsusauto.output.log import configure_logging

TASKS = [
    {"name": "status", "status": {}},
    {"name": "schedule", "schedule": {"automatic": True, "time": "03:00", "per_day": 1}},
    {"name": "no proxy", "proxy": {"enabled": False}},
    {"name": "not a replica", "replica": {"enabled": False}},
    {"name": "from Microsoft Update", "update_source": {"source": "microsoft_update"}},
]
PLAYBOOK = playbook_from_data([{"name": "bench", "hosts": "all", "tasks": TASKS}], "<bench>")


def client_cpu() -> float:
    """This process's CPU plus that of its finished children (the runner's worker processes are
    joined at the end of a run; the lab's workers are still running, so they are not counted)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run_wsusauto(inventory, forks: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), client_cpu()
    result = Runner(inventory, PLAYBOOK, forks=forks).run()
    assert result.exit_code == 0, result.recap
    return time.perf_counter() - wall, client_cpu() - cpu


def run_baseline(inventory, forks: int) -> tuple[float, float]:
    prepared = [
        (get_operation(op), get_operation(op).validate(t[op], "bench"))
        for t in TASKS
        for op in t
        if op != "name"
    ]

    def host(name: str) -> None:
        for operation, args in prepared:
            with Session(name, inventory.connection_options(inventory.hosts[name])) as session:
                operation.run(session, args)

    wall, cpu = time.perf_counter(), client_cpu()
    with ThreadPoolExecutor(max_workers=forks) as pool:
        list(pool.map(host, list(inventory.hosts)))
    return time.perf_counter() - wall, client_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="lab worker processes")
    args = parser.parse_args()
    configure_logging("console", "warning")
    servers = [{"name": f"bench-{i:03d}"} for i in range(args.hosts)]
    with (
        tempfile.TemporaryDirectory() as tmp,
        Lab(
            topology_from_dict({"servers": servers}),
            Path(tmp),
            first_address="127.0.210.1",
            workers=args.workers,
        ) as lab,
    ):
        inventory = inventory_from_dict(lab.inventory())
        run_wsusauto(inventory, args.forks)  # warm-up: converge the fleet
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(run_wsusauto(inventory, args.forks))
            theirs.append(run_baseline(inventory, args.forks))
    host_tasks = args.hosts * len(TASKS)
    print(f"runner: {args.hosts} hosts x {len(TASKS)} tasks, forks {args.forks}, {args.repeat} runs (median)")
    for label, runs in (("wsusauto (one session per host)", ours), ("baseline (new pool per task)", theirs)):
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(
            f"  {label:34s} wall {wall:7.2f} s   client CPU {1000 * cpu / host_tasks:6.2f} ms per host-task"
        )
    ratio = statistics.median(w for w, _ in ours) / statistics.median(w for w, _ in theirs)
    print(f"  wall ratio wsusauto / baseline: {ratio:.2f} (goal <= 0.50)")


if __name__ == "__main__":
    main()
