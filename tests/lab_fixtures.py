"""Helpers for tests that drive the real pypsrp client against an in-process lab.

Tests start labs through ``tests/conftest.py``'s ``make_lab`` (a lab per test) and ``make_module_lab``
(a lab the module's tests share), both a :class:`LabFactory`; ``running_lab`` is the same start as a
context manager, for a lab that must stop at a given point of a test (a restart on the same state).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from wsusauto.config.inventory import Inventory, inventory_from_dict
from wsusauto.lab.runtime import Lab
from wsusauto.lab.topology import Topology, topology_from_dict

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
    """A started lab of ``topology`` (default ``small_topology()``) with its state in
    ``tmp_path/state``, on a fresh /24 of its own; ``options`` go to :class:`Lab`."""
    topology = topology or small_topology()
    first_address = next_first_address(len(topology.servers))
    with Lab(topology, tmp_path / "state", first_address=first_address, **options) as lab:
        yield lab


class LabFactory:
    """Starts labs, each in a directory of its own under ``directory``, and stops every lab it
    started on ``close()`` (conftest's fixtures close it when their scope ends)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._labs = ExitStack()
        self._started = 0

    def __call__(self, topology: Topology | Mapping[str, Any] | None = None, **options: Any) -> Lab:
        """A started lab of ``topology``: a :class:`Topology`, a topology document as the lab's YAML
        holds it (``{"servers": [...]}``), or None for ``small_topology()``. ``options`` go to
        :class:`Lab`: ``time_scale=10`` (its clock 10x), ``kerberos=True``, ``workers=2``, ..."""
        if isinstance(topology, Mapping):
            topology = topology_from_dict(topology, "<test topology>")
        self._started += 1
        directory = self._directory / f"lab-{self._started}"
        return self._labs.enter_context(running_lab(directory, topology, **options))

    def close(self) -> None:
        self._labs.close()


def inventory_file(lab: Lab, name: str = "inventory.yml", **options: Any) -> Path:
    """The lab's inventory written next to its state (``options`` as for ``Lab.inventory``), for the
    CLI's ``-i``."""
    return lab.write_inventory(lab.state_dir.parent / name, **options)


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
