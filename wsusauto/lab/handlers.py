"""Script handlers: what each shipped snippet does on a lab server.

The lab answers a script only when its text is exactly a shipped snippet (or Ansible's form of it:
the snippet, a newline and ``exit $LASTEXITCODE``), so a snippet edited without its handler fails
loudly. Anything else gets PowerShell's own "is not recognized" error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from wsusauto.lab import sync
from wsusauto.lab.faults import model_faults
from wsusauto.lab.invocation import Invocation, ScriptError, SecureValue, not_recognized
from wsusauto.lab.model.server import Clock, WsusServerModel, computer_groups
from wsusauto.lab.topology import Topology
from wsusauto.snippets import Snippet, SnippetRegistry, registry

ANSIBLE_SUFFIX = "\nexit $LASTEXITCODE"
SETUP_REGISTRY_PATH = r"HKLM:\SOFTWARE\Microsoft\Update Services\Server\Setup"

Handler = Callable[[WsusServerModel, dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {}


def handles(snippet_name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        HANDLERS[snippet_name] = func
        return func

    return register


def _transformation_error(name: str, value: Any, ps_type: str, reason: str) -> ScriptError:
    return ScriptError(
        f"Cannot process argument transformation on parameter '{name}'. Cannot convert value "
        f'"{value}" to type "{ps_type}". Error: "{reason}"',
        error_id="ParameterArgumentTransformationError",
        category="InvalidData",
        exception_type="System.Management.Automation.ParameterBindingArgumentTransformationException",
    )


def _convert(name: str, ps_type: str, value: Any) -> Any:
    """One value as PowerShell binds it to ``[ps_type]$name`` (scalar types the snippets use)."""
    base = ps_type.lower()
    if base in ("int", "int32", "long", "int64"):
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return round(value)  # .NET rounds half to even, as Python does
        try:
            return int(str(value).strip())
        except ValueError:
            raise _transformation_error(
                name, value, "System.Int32", "Input string was not in a correct format."
            ) from None
    if base == "string":
        if isinstance(value, bool):
            return "True" if value else "False"
        return str(value)
    if base in ("bool", "switch"):
        if isinstance(value, (bool, int, float)):
            return bool(value)
        raise _transformation_error(
            name,
            value,
            "System.Boolean",
            "Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.",
        )
    return value


def bind_parameters(snippet: Snippet, given: Mapping[str, Any]) -> dict[str, Any]:
    """The snippet's parameters as its param() block sees them: an omitted [int] is 0, an omitted
    [string] is '', an omitted [bool] is $false, an omitted array or object is $null; values are
    converted to the declared type, and a scalar given for an array becomes a one-item array."""
    bound: dict[str, Any] = {}
    for parameter in snippet.parameters:
        ps_type = parameter.ps_type
        is_array = ps_type.endswith("[]")
        base = ps_type[:-2] if is_array else ps_type
        value = given.get(parameter.name)
        if value is None:
            defaults = {"int": 0, "int32": 0, "long": 0, "int64": 0, "string": "", "bool": False}
            bound[parameter.name] = None if is_array else defaults.get(base.lower())
        elif is_array:
            items = value if isinstance(value, (list, tuple)) else [value]
            bound[parameter.name] = [_convert(parameter.name, base, item) for item in items]
        else:
            bound[parameter.name] = _convert(parameter.name, base, value)
    return bound


def _registry_path_error(path: str) -> ScriptError:
    return ScriptError(
        f"Cannot find path '{path}' because it does not exist.",
        error_id="PathNotFound,Microsoft.PowerShell.Commands.GetItemPropertyCommand",
        category="ObjectNotFound",
        exception_type="System.Management.Automation.ItemNotFoundException",
    )


@handles("get_facts")
def get_facts(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    # The snippet's order of failure: Get-ItemProperty on the setup key, then Get-WinEvent.
    path = p["SetupRegistryPath"]
    if path.rstrip("\\").lower() != SETUP_REGISTRY_PATH.lower():
        if not path:
            raise ScriptError(
                "Cannot bind argument to parameter 'Path' because it is an empty string.",
                error_id="ParameterArgumentValidationErrorEmptyStringNotAllowed,"
                "Microsoft.PowerShell.Commands.GetItemPropertyCommand",
                category="InvalidData",
                exception_type="System.Management.Automation.ParameterBindingValidationException",
            )
        raise _registry_path_error(path)
    if p["MaxEvents"] < 1:
        raise ScriptError(
            f"Cannot validate argument on parameter 'MaxEvents'. The {p['MaxEvents']} argument is less "
            "than the minimum allowed range of 1. Supply an argument that is greater than or equal to 1 "
            "and then try the command again.",
            error_id="ParameterArgumentValidationError,Microsoft.PowerShell.Commands.GetWinEventCommand",
            category="InvalidData",
            exception_type="System.Management.Automation.ParameterBindingValidationException",
        )
    return server.facts(
        history_count=p["HistoryCount"],
        event_ids=list(p["EventIds"] or []),
        event_lookback_hours=p["EventLookbackHours"],
        max_events=p["MaxEvents"],
        service_names=list(p["ServiceNames"] or []),
    )


def _invalid_operation(message: str) -> ScriptError:
    # What a .NET InvalidOperationException looks like after PowerShell wraps a method call.
    return ScriptError(
        f'Exception calling "Save" with "0" argument(s): "{message}"',
        error_id="InvalidOperationException",
        category="InvalidOperation",
        exception_type="System.Management.Automation.MethodInvocationException",
    )


def _save_configuration(server: WsusServerModel, changes: dict[str, Any], timeout: int) -> None:
    """IUpdateServerConfiguration.Save() with its documented refusals (wsus-api.md 1.2a)."""
    if server.get("SynchronizationStatus") != "NotProcessing":
        raise ScriptError(
            "A synchronization is in progress; WSUS saves no configuration change until it ends."
        )
    waited = 0
    while server.get("UpdateServerConfigurationState") != "Ready":
        if waited >= timeout:
            raise ScriptError(
                f"The configuration state is still {server.get('UpdateServerConfigurationState')} "
                f"after {waited} s; a previous save is still processing."
            )
        time.sleep(1)
        waited += 1
    merged = {**server.config(), **changes}
    if merged["SyncFromMicrosoftUpdate"] and merged["IsReplicaServer"]:
        raise _invalid_operation("A replica server cannot synchronize from Microsoft Update.")
    if not merged["SyncFromMicrosoftUpdate"] and not merged["UpstreamWsusServerName"]:
        raise _invalid_operation("The upstream server name cannot be empty.")
    if merged["UseProxy"] and not merged["ProxyName"]:
        raise _invalid_operation("The address of the proxy server cannot be empty.")
    if merged["UseProxy"] and not merged["AnonymousProxyAccess"] and not merged["ProxyUserName"]:
        raise _invalid_operation("The proxy user name cannot be empty.")
    if merged["HostBinariesOnMicrosoftUpdate"] and not merged["AllUpdateLanguagesEnabled"]:
        raise _invalid_operation("Storing updates on Microsoft Update requires all update languages.")
    server.set(**changes)


def _apply_members(server: WsusServerModel, p: dict[str, Any], members: dict[str, str]) -> list[str]:
    """Compare the named members (parameter -> member) with the server; return those that differ."""
    changed = []
    for member in p["Members"] or []:
        if member not in members.values():
            raise ScriptError(f"The snippet cannot set the member '{member}'.")
        if server.get(member) != p[member]:
            changed.append(member)
    return changed


@handles("set_update_source")
def set_update_source(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    members = {
        m: m
        for m in (
            "SyncFromMicrosoftUpdate",
            "UpstreamWsusServerName",
            "UpstreamWsusServerPortNumber",
            "UpstreamWsusServerUseSsl",
        )
    }
    changed = _apply_members(server, p, members)
    if changed:
        _save_configuration(server, {m: p[m] for m in changed}, int(p["ReadyTimeoutSeconds"] or 0))
    c = server.config()
    return {"Changed": changed, **{m: c[m] for m in members}, "IsReplicaServer": c["IsReplicaServer"]}


@handles("set_replica")
def set_replica(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    changed = []
    if server.get("IsReplicaServer") != p["IsReplicaServer"]:
        if p["IsReplicaServer"] and server.get("SyncFromMicrosoftUpdate"):
            raise ScriptError(
                "A replica synchronizes from an upstream WSUS server; set the update source to the "
                "upstream server first."
            )
        _save_configuration(
            server, {"IsReplicaServer": p["IsReplicaServer"]}, int(p["ReadyTimeoutSeconds"] or 0)
        )
        changed = ["IsReplicaServer"]
    c = server.config()
    return {
        "Changed": changed,
        "IsReplicaServer": c["IsReplicaServer"],
        "SyncFromMicrosoftUpdate": c["SyncFromMicrosoftUpdate"],
        "UpstreamWsusServerName": c["UpstreamWsusServerName"],
    }


_PROXY_MEMBERS = (
    "UseProxy",
    "ProxyName",
    "ProxyServerPort",
    "AnonymousProxyAccess",
    "ProxyUserName",
    "ProxyUserDomain",
    "AllowProxyCredentialsOverNonSsl",
)


@handles("set_proxy")
def set_proxy(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    changed = _apply_members(server, p, {m: m for m in _PROXY_MEMBERS})
    if p["SetPassword"]:
        secret = p["ProxyPassword"]
        if secret is not None and not isinstance(secret, SecureValue):
            raise ScriptError(
                "Cannot convert the value to type System.Security.SecureString.",
                error_id="ParameterArgumentTransformationError",
                category="InvalidData",
            )
        changed.append("ProxyPassword")
    if changed:
        _save_configuration(
            server, {m: p[m] for m in changed if m != "ProxyPassword"}, int(p["ReadyTimeoutSeconds"] or 0)
        )
        if p["SetPassword"]:
            server.set_proxy_password(p["ProxyPassword"].reveal() if p["ProxyPassword"] is not None else "")
    c = server.config()
    return {
        "Changed": changed,
        **{m: c[m] for m in _PROXY_MEMBERS},
        "HasProxyPassword": server.has_proxy_password,
    }


@handles("set_schedule")
def set_schedule(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    seconds = int(p["TimeOfDaySeconds"] or 0)
    if not 0 <= seconds < 86400:
        raise ScriptError(
            "SynchronizeAutomaticallyTimeOfDay must be less than one day.",
            error_id="ArgumentOutOfRangeException",
            category="InvalidArgument",
        )
    time_of_day = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    wanted = {
        "SynchronizeAutomatically": p["SynchronizeAutomatically"],
        "SynchronizeAutomaticallyTimeOfDay": time_of_day,
        "NumberOfSynchronizationsPerDay": p["NumberOfSynchronizationsPerDay"],
    }
    changed = []
    for member in p["Members"] or []:
        if member not in wanted:
            raise ScriptError(f"set_schedule cannot set the member '{member}'.")
        if member == "NumberOfSynchronizationsPerDay" and not 1 <= int(wanted[member]) <= 24:
            raise ScriptError(
                "NumberOfSynchronizationsPerDay must be between 1 and 24.",
                error_id="ArgumentOutOfRangeException",
                category="InvalidArgument",
            )
        if server.get(member) != wanted[member]:
            changed.append(member)
    if changed:
        server.set(**{m: wanted[m] for m in changed})
    c = server.config()
    return {"Changed": changed, **{m: c[m] for m in wanted}}


@handles("set_computer_group_membership")
def set_computer_group_membership(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    groups = {name: list(members) for name, members in server.config()["ComputerTargetGroups"].items()}
    name = str(p["GroupName"])
    created = False
    if name not in groups:
        if server.get("IsReplicaServer"):
            raise ScriptError(
                f"The group '{name}' does not exist. A replica server inherits its computer groups "
                "from its upstream server: create the group there."
            )
        if not p["CreateGroup"]:
            raise ScriptError(f"The group '{name}' does not exist.")
        groups[name] = []
        created = True
    known = {c.lower(): c for c in groups.get("All Computers", [])}
    added = []
    for computer in p["ComputerNames"] or []:
        if str(computer).lower() not in known:
            raise ScriptError(f"The computer '{computer}' has not reported to this WSUS server.")
        if str(computer).lower() not in {c.lower() for c in groups[name]}:
            groups[name].append(known[str(computer).lower()])
            added.append(computer)
    server.set(ComputerTargetGroups=computer_groups(groups))
    return {"Created": created, "Added": added}


@handles("start_synchronization")
def start_synchronization(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    started = sync.start(server, manual=True)
    return {"Started": started, "SynchronizationStatus": server.get("SynchronizationStatus")}


@handles("get_synchronization_status")
def get_synchronization_status(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    facts = server.facts(
        history_count=1, event_ids=[], event_lookback_hours=1, max_events=1, service_names=[]
    )
    last = dict(facts["LastSynchronizationInfo"])
    last["UpdateErrors"] = list(last["UpdateErrors"])[: max(0, p["MaxUpdateErrors"])]
    return {
        "SynchronizationStatus": facts["SynchronizationStatus"],
        "SynchronizationProgress": facts["SynchronizationProgress"],
        "LastSynchronizationInfo": last,
        "NextSynchronizationTime": facts["NextSynchronizationTime"],
    }


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
        parameters = bind_parameters(snippet, invocation.parameters)
        # The WSUS service works in the background; the lab catches up whenever a server is asked.
        sync.advance(server, self.servers)
        return [HANDLERS[snippet.name](server, parameters)]

    def tick(self) -> None:
        """Let every server's WSUS service do its own work (scheduled syncs and their retries)."""
        for server in list(self.servers.values()):
            sync.tick(server, self.servers)

    def close(self) -> None:
        for server in self.servers.values():
            server.close()
