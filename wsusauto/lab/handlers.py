"""Script handlers: what each shipped snippet does on a lab server.

The lab answers a script only when its text is exactly a shipped snippet (or Ansible's form of it:
the snippet, a newline and ``exit $LASTEXITCODE``), so a snippet edited without its handler fails
loudly. Anything else gets PowerShell's own "is not recognized" error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from wsusauto.lab.faults import model_faults
from wsusauto.lab.invocation import Invocation, ScriptError, not_recognized
from wsusauto.lab.model.server import Clock, WsusServerModel
from wsusauto.lab.topology import Topology
from wsusauto.snippets import SnippetRegistry, registry

ANSIBLE_SUFFIX = "\nexit $LASTEXITCODE"
SETUP_REGISTRY_PATH = r"HKLM:\SOFTWARE\Microsoft\Update Services\Server\Setup"

Handler = Callable[[WsusServerModel, dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {}


def handles(snippet_name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        HANDLERS[snippet_name] = func
        return func

    return register


def _registry_path_error(path: str) -> ScriptError:
    return ScriptError(
        f"Cannot find path '{path}' because it does not exist.",
        error_id="PathNotFound,Microsoft.PowerShell.Commands.GetItemPropertyCommand",
        category="ObjectNotFound",
        exception_type="System.Management.Automation.ItemNotFoundException",
    )


@handles("get_facts")
def get_facts(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    path = str(p["SetupRegistryPath"])
    if path.lower() != SETUP_REGISTRY_PATH.lower():
        raise _registry_path_error(path)
    return server.facts(
        history_count=int(p["HistoryCount"] or 0),
        event_ids=[int(i) for i in p["EventIds"] or []],
        event_lookback_hours=int(p["EventLookbackHours"] or 0),
        max_events=int(p["MaxEvents"] or 0),
        service_names=[str(n) for n in p["ServiceNames"] or []],
    )


class LabHandlers:
    """The ``ScriptHandler`` for a set of lab servers (one endpoint per server)."""

    def __init__(
        self, servers: Mapping[str, WsusServerModel], snippets: SnippetRegistry | None = None
    ) -> None:
        self.servers = dict(servers)
        self.snippets = snippets or registry()

    @classmethod
    def from_topology(
        cls,
        topology: Topology,
        state_dir: Path,
        *,
        names: Sequence[str] | None = None,
        clock: Clock | None = None,
    ) -> LabHandlers:
        servers = {}
        for spec in topology.servers:
            if names is not None and spec.name not in names:
                continue
            servers[spec.name] = WsusServerModel(
                spec.name,
                state_dir,
                version=spec.version,
                initial=spec.initial,
                faults=model_faults(spec.faults),
                clock=clock,
            )
        return cls(servers)

    def __call__(self, invocation: Invocation) -> list[Any]:
        script = invocation.script
        if script.endswith(ANSIBLE_SUFFIX):
            script = script[: -len(ANSIBLE_SUFFIX)]
        snippet = self.snippets.by_text(script)
        if snippet is None or snippet.name not in HANDLERS:
            raise not_recognized(invocation.script)
        server = self.servers.get(invocation.endpoint)
        if server is None:
            raise ScriptError(f"The lab has no WSUS server named {invocation.endpoint!r}.")
        parameters = {name: invocation.parameters.get(name) for name in snippet.parameter_names}
        return [HANDLERS[snippet.name](server, parameters)]

    def close(self) -> None:
        for server in self.servers.values():
            server.close()
