"""wsusauto: automate fleets of WSUS servers over WinRM.

The library is the product; the ``wsusauto`` command is a thin shell over it. A script imports its
entry points from here, where they stay whichever package of the layout (client, config,
execution, ...) holds them:

    from wsusauto import Session, load_inventory, run_operation

They are imported on first use, so ``import wsusauto`` (the command's start, the lab's servers)
loads no WinRM client.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsusauto.client.session import Session
    from wsusauto.config.inventory import load_inventory
    from wsusauto.config.playbook import load_playbook
    from wsusauto.diagnose import diagnose_fleet, fix_fleet
    from wsusauto.execution.executor import HostExecutor
    from wsusauto.execution.fleet import collect_facts
    from wsusauto.execution.runner import Runner
    from wsusauto.operations import run_operation
    from wsusauto.state.facts import gather_facts

__version__ = "0.1.0"

# name -> the module that defines it
_ENTRY_POINTS = {
    "Session": "wsusauto.client.session",
    "load_inventory": "wsusauto.config.inventory",
    "load_playbook": "wsusauto.config.playbook",
    "Runner": "wsusauto.execution.runner",
    "HostExecutor": "wsusauto.execution.executor",
    "run_operation": "wsusauto.operations",
    "gather_facts": "wsusauto.state.facts",
    "collect_facts": "wsusauto.execution.fleet",
    "diagnose_fleet": "wsusauto.diagnose",
    "fix_fleet": "wsusauto.diagnose",
}

__all__ = [
    "HostExecutor",
    "Runner",
    "Session",
    "__version__",
    "collect_facts",
    "diagnose_fleet",
    "fix_fleet",
    "gather_facts",
    "load_inventory",
    "load_playbook",
    "run_operation",
]


def __getattr__(name: str) -> Any:
    """An entry point, imported from its module the first time it is asked for (PEP 562)."""
    module = _ENTRY_POINTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wsusauto' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # asked once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_ENTRY_POINTS})
