"""What the collection's plugins do once in Ansible's controller process, so its forks inherit it.

ansible-core runs each task on each host in a worker process forked from the controller's main
process, and its strategies (linear, free) import the task's action plugin in that main process
first, to read its class (``action_loader.get(..., class_only=True)``): the plugin's module-level
imports happen once, before any fork. A Session's own once-per-process work, though, happens when
the first Session of a process is made: in Ansible, in every worker, once per task per host.

``prepare_controller`` does the part of it that is a plain cache (the snippet files read and
parsed; the installed pypsrp and pyspnego versions, which ``importlib.metadata`` finds by scanning
every site directory and parsing METADATA; whether this Python's header parser agrees with
wsusauto's) when the plugin is imported, so every worker inherits it. A few ms of CPU per task per
host (bench/README.md, "The collection"). It patches nothing in the controller's process: the
speed-ups that replace functions of http.client and pyspnego are still installed by the first
Session of each worker, in the worker only.
"""

from __future__ import annotations

from wsusauto.client import http_headers
from wsusauto.client.snippets import registry
from wsusauto.client.speedups import CHECKED_AGAINST, version_checked


def prepare_controller() -> None:
    """Fill the caches every Session reads (idempotent, cheap after the first call)."""
    registry()
    for distribution in CHECKED_AGAINST:
        version_checked(distribution)
    http_headers.agrees_with_this_python()  # the check only: the parser is installed by a Session


__all__ = ["prepare_controller"]
