"""A user's script imports the library's entry points from ``wsusauto`` itself, whichever package
of the layout holds them, and ``import wsusauto`` alone loads no WinRM client (the command's start
and the lab's servers import it)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import wsusauto

# what a playbook's work takes from Python (README: the library examples)
ENTRY_POINTS = {
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


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_each_entry_point_is_the_object_its_module_defines(name):
    assert getattr(wsusauto, name) is getattr(importlib.import_module(ENTRY_POINTS[name]), name)
    assert name in wsusauto.__all__ and name in dir(wsusauto)


def test_from_wsusauto_import_star_gives_every_entry_point():
    namespace: dict = {}
    exec("from wsusauto import *", namespace)
    assert set(ENTRY_POINTS) | {"__version__"} <= set(namespace)


def test_a_name_that_is_no_entry_point_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Plan'"):
        getattr(wsusauto, "Plan")  # noqa: B009  (the operations' old class name: not exported)


def test_importing_wsusauto_loads_no_winrm_client():
    code = (
        "import sys, wsusauto; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pypsrp', 'spnego', 'requests') "
        "or m.startswith(('wsusauto.client', 'wsusauto.execution'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout
