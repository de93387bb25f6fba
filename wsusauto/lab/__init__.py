"""The lab: simulated WSUS servers behind real WinRM endpoints (WS-Management + PSRP) on loopback.

Only the CLI's lab commands, the demo, benchmarks and tests import this package.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Lab", "load_topology"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing a submodule (the transport, the model) does not pull in everything.
    if name == "Lab":
        from wsusauto.lab.runtime import Lab

        return Lab
    if name == "load_topology":
        from wsusauto.lab.topology import load_topology

        return load_topology
    raise AttributeError(name)
