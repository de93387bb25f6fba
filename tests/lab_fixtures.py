"""Helpers for tests that drive the real pypsrp client against an in-process lab."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wsusauto.config.inventory import Inventory, inventory_from_dict
from wsusauto.lab.runtime import Lab
from wsusauto.lab.topology import topology_from_dict

# Each lab gets its own /24 in 127.0.0.0/8 so tests never share an address (ports stay 5985/5986).
# The second octet comes from the process id, so two test runs on one machine do not collide either.
_process_octet = 16 + os.getpid() % 200
_next_subnet = [1]  # the third octet of this process's next free /24


def next_first_address(servers: int = 1) -> str:
    """The first address of a fresh /24 of this process's; a lab of more than 254 servers runs on
    into the next ones, so those are taken too (never past .254: the next octet is another run's)."""
    span = -(-servers // 254)
    third = _next_subnet[0]
    if third + span - 1 > 254:
        third = 1
    _next_subnet[0] = third + span if third + span <= 254 else 1
    return f"127.{_process_octet}.{third}.1"


def small_topology(count: int = 3, **per_server: Any) -> Any:
    servers = [{"name": "wsus-root"}]
    for i in range(1, count):
        servers.append({"name": f"wsus-{i:02d}", "upstream": "wsus-root", "replica": True})
    for server in servers:
        server.update(per_server.get(server["name"], {}))
    return topology_from_dict({"servers": servers}, "<test topology>")


@contextmanager
def running_lab(tmp_path: Path, topology: Any = None, **options: Any) -> Iterator[Lab]:
    lab = Lab(topology or small_topology(), tmp_path / "state", first_address=next_first_address(), **options)
    with lab:
        yield lab


def record_scripts(lab: Lab, monkeypatch: Any) -> list[str]:
    """The script text of every pipeline an in-process lab runs from now on, in order (the
    handlers answer as before; ``monkeypatch`` puts them back after the test)."""
    scripts: list[str] = []
    answer = type(lab.handlers).__call__

    def recording(self: Any, invocation: Any) -> Any:
        scripts.append(invocation.script)
        return answer(self, invocation)

    monkeypatch.setattr(type(lab.handlers), "__call__", recording)
    return scripts


def lab_inventory(lab: Lab, **options: Any) -> Inventory:
    return inventory_from_dict(lab.inventory(**options), "<lab inventory>")


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``wsusauto ARGS`` as a user runs it: a new process, the real console script's main()."""
    return subprocess.run(
        [sys.executable, "-m", "wsusauto.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
