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
    kerberos: bool = False,
    krb5_conf_out: str | None = None,
) -> None:
    topology = load_topology(topology_path)
    if workers is None:
        workers = default_workers(len(topology.servers))
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    lab = Lab(
        topology,
        state_dir,
        first_address=first_address,
        workers=workers,
        time_scale=time_scale,
        kerberos=kerberos,
    )
    try:
        lab.start()
        if inventory_out:
            lab.write_inventory(inventory_out, auth=auth, protocol=protocol)
        realm = ""
        if lab.realm is not None:
            krb5_conf = lab.realm.krb5_conf
            if krb5_conf_out:
                krb5_conf = Path(krb5_conf_out)
                krb5_conf.parent.mkdir(parents=True, exist_ok=True)
                krb5_conf.write_text(lab.realm.krb5_conf.read_text(encoding="utf-8"), encoding="utf-8")
            realm = (
                f", Kerberos realm {lab.realm.realm} (KDC {lab.realm.address}:{lab.realm.port}; "
                f"export KRB5_CONFIG={krb5_conf}; "
                f"keytab for {lab.realm.user_principal}: {lab.realm.user_keytab})"
            )
        first, last = lab.endpoints[0].address, lab.endpoints[-1].address
        print(
            f"ready: {len(lab.endpoints)} WSUS servers on {first}..{last} "
            f"ports {lab.http_port}/{lab.https_port}"
            f"{', inventory ' + str(inventory_out) if inventory_out else ''}{realm}",
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
