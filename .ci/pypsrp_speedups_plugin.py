"""A pytest plugin that runs pypsrp's own test suite with wsusauto's speed-ups installed.

``.ci/pypsrp_suite.sh`` loads it (``-p pypsrp_speedups_plugin``) for the second of its two runs of
pypsrp's tests; it is imported before pypsrp's test modules, so they meet pypsrp as a wsusauto
process has it, and more:

- every ``Serializer`` pypsrp or its tests make is wsusauto's ``LeanSerializer`` (the name is
  replaced in pypsrp's modules, so pypsrp's serializer tests test the lean reader and writer);
- every ``RunspacePool`` is tuned as ``Session`` tunes it before opening (``tune_pool``);
- every ``PowerShell`` gets shallow command copies before it is invoked, as ``Session`` does;
- pyspnego derives LM and NT hashes through the memoized functions (installed; pypsrp's suite
  runs no NTLM login outside its integration tests, so tests/unit/test_pypsrp_tuning.py and the
  lab tests are what exercise them);
- ``http.client`` parses response headers with wsusauto's parser.

It refuses to run (exit status 3) when the speed-ups would stay off, for instance on a pypsrp of
another minor version: that run would be stock, and prove nothing. At the end it says how many
objects each speed-up reached, so a run that did not exercise them shows.
"""

from __future__ import annotations

import sys
from typing import Any

import pypsrp.serializer
import pytest
from pypsrp.powershell import PowerShell, RunspacePool

from wsusauto.client import http_headers, speedups
from wsusauto.client.clixml import LeanSerializer

reached = {
    "pypsrp modules serializing lean": 0,
    "lean serializers": 0,
    "tuned pools": 0,
    "shallow command copies": 0,
}


def _install() -> None:
    off = [name for name in speedups.CHECKED_AGAINST if not speedups.version_checked(name)]
    if off:
        pytest.exit(f"the speed-ups stay off for this {', '.join(off)}: a sped-up run would be stock", 3)
    if not http_headers.install():
        pytest.exit("wsusauto's header parser refused this Python: a sped-up run would be stock", 3)
    speedups.memoize_password_hashes()

    stock = pypsrp.serializer.Serializer
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == "pypsrp" and getattr(module, "Serializer", None) is stock:
            module.Serializer = LeanSerializer  # type: ignore[attr-defined]
            reached["pypsrp modules serializing lean"] += 1

    pool_init = RunspacePool.__init__

    def tuned_pool_init(self: RunspacePool, *args: Any, **kwargs: Any) -> None:
        pool_init(self, *args, **kwargs)
        speedups.tune_pool(self.connection, self)
        reached["tuned pools"] += 1
        reached["lean serializers"] += type(self._serializer) is LeanSerializer

    RunspacePool.__init__ = tuned_pool_init  # type: ignore[method-assign]

    begin_invoke = PowerShell.begin_invoke

    def begin_invoke_with_shallow_copies(self: PowerShell, *args: Any, **kwargs: Any) -> Any:
        speedups.cheap_command_copies(self)
        reached["shallow command copies"] += any(
            type(command) is speedups._ShallowCopiedCommand for command in self.commands
        )
        return begin_invoke(self, *args, **kwargs)

    PowerShell.begin_invoke = begin_invoke_with_shallow_copies  # type: ignore[method-assign]


_install()


def pytest_report_header() -> str:
    return "wsusauto speed-ups installed (.ci/pypsrp_speedups_plugin.py)"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    reached["test modules serializing lean"] = sum(
        getattr(module, "Serializer", None) is LeanSerializer
        for name, module in list(sys.modules.items())
        if name.split(".")[-1].startswith("test_")
    )
    counts = ", ".join(f"{name}: {count}" for name, count in reached.items())
    terminalreporter.write_line(f"wsusauto speed-ups reached: {counts}")
