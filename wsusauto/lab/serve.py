"""``wsusauto lab serve``: run the lab until SIGINT or SIGTERM."""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
from pathlib import Path

from wsusauto.lab.runtime import Lab
from wsusauto.lab.topology import load_topology

ENDPOINTS_PER_WORKER = 100


def default_workers(endpoint_count: int) -> int:
    """0 (serve in this process) for small fleets; else one worker per 100 endpoints, at most one per CPU."""
    if endpoint_count <= ENDPOINTS_PER_WORKER:
        return 0
    return max(1, min(os.cpu_count() or 1, math.ceil(endpoint_count / ENDPOINTS_PER_WORKER)))


def serve_forever(
    *,
    topology_path: str | None,
    state_dir: Path,
    inventory_out: str | None,
    workers: int | None,
    first_address: str,
    auth: str,
    protocol: str,
    time_scale: float = 1.0,
) -> None:
    topology = load_topology(topology_path)
    if workers is None:
        workers = default_workers(len(topology.servers))
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    lab = Lab(topology, state_dir, first_address=first_address, workers=workers, time_scale=time_scale)
    try:
        lab.start()
        if inventory_out:
            lab.write_inventory(inventory_out, auth=auth, protocol=protocol)
        first, last = lab.endpoints[0].address, lab.endpoints[-1].address
        print(
            f"ready: {len(lab.endpoints)} WSUS servers on {first}..{last} "
            f"ports {lab.http_port}/{lab.https_port}"
            f"{', inventory ' + str(inventory_out) if inventory_out else ''}",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        lab.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("stopped", flush=True)
    sys.stdout.flush()
