"""Lab throughput: pipelines per second per lab process, and client CPU per facts call.

    .venv/bin/python bench/lab_throughput.py [--hosts 20] [--calls 10] [--threads 4] [--auth ntlm]

The lab runs in one worker process (so its CPU is measured apart from the client's, from
/proc/<pid>/stat); the client is this process. The machine is noisy (2 shared cores), so besides
absolute figures the script reports ratios against a baseline measured in the same run: one WSMan
round trip that does no PSRP work (pypsrp's ``RunspacePool.is_alive()``, a WS-Management Get).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wsusauto.client.session import Session
from wsusauto.config.inventory import inventory_from_dict
from wsusauto.lab.runtime import Lab
from wsusauto.lab.topology import topology_from_dict
from wsusauto.output.log import configure_logging
from wsusauto.state.facts import gather_facts

_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def measure(hosts: int, calls: int, threads: int, auth: str, protocol: str) -> dict[str, float]:
    servers = [{"name": f"bench-{i:03d}"} for i in range(hosts)]
    topology = topology_from_dict({"servers": servers}, "<bench>")
    with (
        tempfile.TemporaryDirectory() as tmp,
        Lab(topology, Path(tmp), first_address="127.0.200.1", workers=1) as lab,
    ):
        worker_pid = lab._processes[0].pid
        inventory = inventory_from_dict(lab.inventory(auth=auth, protocol=protocol))
        sessions = [Session(h.name, inventory.connection_options(h)) for h in inventory.hosts.values()]
        for session in sessions:
            session.open()

        def run(work, per_session: int) -> tuple[float, float, float]:
            chunks = [sessions[i::threads] for i in range(threads)]

            def worker(chunk: list[Session]) -> None:
                for _ in range(per_session):
                    for session in chunk:
                        work(session)

            server_before, client_before = process_cpu_seconds(worker_pid), time.process_time()
            started = time.perf_counter()
            pool = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
            for thread in pool:
                thread.start()
            for thread in pool:
                thread.join()
            wall = time.perf_counter() - started
            return (
                wall,
                time.process_time() - client_before,
                process_cpu_seconds(worker_pid) - server_before,
            )

        baseline_wall, baseline_client, baseline_server = run(lambda s: s._pool.is_alive(), calls)
        facts_wall, facts_client, facts_server = run(gather_facts, calls)
        for session in sessions:
            session.close()
    operations = hosts * calls
    return {
        "operations": operations,
        "facts_per_second": operations / facts_wall,
        "server_cpu_ms_per_facts": 1000 * facts_server / operations,
        "client_cpu_ms_per_facts": 1000 * facts_client / operations,
        "pipelines_per_server_cpu_second": operations / facts_server if facts_server else float("inf"),
        "baseline_roundtrips_per_second": operations / baseline_wall,
        "client_cpu_ratio_vs_baseline": facts_client / baseline_client if baseline_client else float("nan"),
        "server_cpu_ratio_vs_baseline": facts_server / baseline_server if baseline_server else float("nan"),
        "wall_ratio_vs_baseline": facts_wall / baseline_wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--calls", type=int, default=10, help="facts calls per host")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--auth", default="ntlm", choices=["ntlm", "negotiate", "basic"])
    parser.add_argument("--protocol", default=None, choices=["http", "https"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    configure_logging("console", "warning")
    protocol = args.protocol or ("https" if args.auth == "basic" else "http")
    runs = [measure(args.hosts, args.calls, args.threads, args.auth, protocol) for _ in range(args.repeat)]
    print(
        f"lab throughput: {args.hosts} hosts x {args.calls} facts calls, {args.threads} client threads, "
        f"{args.auth} over {protocol}, {args.repeat} runs (median, min-max)"
    )
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(f"  {key:34s} {statistics.median(values):10.2f}   ({min(values):.2f}-{max(values):.2f})")


if __name__ == "__main__":
    main()
