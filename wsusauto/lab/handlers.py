"""Script handlers: what each shipped snippet does on a lab server.

The lab answers a script only when its text is exactly a shipped snippet (or Ansible's form of it:
the snippet, a newline and ``exit $LASTEXITCODE``), so a snippet edited without its handler fails
loudly. Anything else gets PowerShell's own "is not recognized" error.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from wsusauto.client.snippets import Snippet, SnippetRegistry, registry
from wsusauto.lab import evidence, peers, powershell2, saves, sqltools, sync, update_api, update_errors
from wsusauto.lab import locale as lab_locale
from wsusauto.lab.connection import check_connection
from wsusauto.lab.faults import model_faults
from wsusauto.lab.invocation import Invocation, ScriptError, SecureValue, not_recognized
from wsusauto.lab.member_compare import snippet_differs
from wsusauto.lab.model.server import Clock, WsusServerModel, acl_grants_read, computer_groups
from wsusauto.lab.topology import Topology

ANSIBLE_SUFFIX = "\nexit $LASTEXITCODE"
SETUP_REGISTRY_PATH = r"HKLM:\SOFTWARE\Microsoft\Update Services\Server\Setup"

Handler = Callable[[WsusServerModel, dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {}
# The script text being answered, for the few handlers whose outcome depends on how the script is
# written (set_computer_group_membership: how it finds the All Computers group).
CURRENT_SCRIPT: ContextVar[str] = ContextVar("CURRENT_SCRIPT", default="")


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


def _setup_key(path: str) -> None:
    """Get-ItemProperty -Path <the setup key>: errors as PowerShell gives them."""
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


@handles("get_facts")
def get_facts(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    # The snippet's order of failure: Get-ItemProperty on the setup key, then Get-WinEvent.
    _setup_key(p["SetupRegistryPath"])
    if p["MaxEvents"] < 1:
        raise ScriptError(
            f"Cannot validate argument on parameter 'MaxEvents'. The {p['MaxEvents']} argument is less "
            "than the minimum allowed range of 1. Supply an argument that is greater than or equal to 1 "
            "and then try the command again.",
            error_id="ParameterArgumentValidationError,Microsoft.PowerShell.Commands.GetWinEventCommand",
            category="InvalidData",
            exception_type="System.Management.Automation.ParameterBindingValidationException",
        )
    facts = server.facts(
        history_count=p["HistoryCount"],
        event_ids=list(p["EventIds"] or []),
        event_lookback_hours=p["EventLookbackHours"],
        max_events=p["MaxEvents"],
        service_names=list(p["ServiceNames"] or []),
    )
    # UpdateErrors hold objects: each one as the snippet's own text reads it.
    text = registry()["get_facts"].text
    for info in [facts["LastSynchronizationInfo"], *facts["SynchronizationHistory"]]:
        info["UpdateErrors"] = update_errors.project(text, info["UpdateErrors"])
    return facts


def _busy_refusal(
    server: WsusServerModel, method: str, refuse: Callable[[], None], sync_too: bool = True
) -> None:
    """The snippets' try/catch around Save() or StartSynchronization(): a refusal while the server
    is busy becomes their "WSUS busy (retry later)" text; any other error stands."""
    try:
        refuse()
    except ScriptError as error:
        busy = saves.refused_text(server, method, waits_for_sync=sync_too)
        raise ScriptError(busy) if busy else error from None


def _save_configuration(server: WsusServerModel, changes: dict[str, Any], timeout: int) -> None:
    """Save-WhenReady $config: wait (bounded) for the server to be free, then Save() with its
    documented refusals (wsus-api.md 1.2a); a save then processes for a while."""
    saves.wait_until_ready(server, timeout)
    _busy_refusal(server, "Save", lambda: saves.refuse_configuration_save(server))
    merged = {**server.config(), **changes}
    if merged["SyncFromMicrosoftUpdate"] and merged["IsReplicaServer"]:
        raise saves.invalid_operation("Save", "A replica server cannot synchronize from Microsoft Update.")
    if not merged["SyncFromMicrosoftUpdate"] and not merged["UpstreamWsusServerName"]:
        raise saves.invalid_operation("Save", "The upstream server name cannot be empty.")
    if merged["UseProxy"] and not merged["ProxyName"]:
        raise saves.invalid_operation("Save", "The address of the proxy server cannot be empty.")
    if merged["UseProxy"] and not merged["AnonymousProxyAccess"] and not merged["ProxyUserName"]:
        raise saves.invalid_operation("Save", "The proxy user name cannot be empty.")
    if merged["HostBinariesOnMicrosoftUpdate"] and not merged["AllUpdateLanguagesEnabled"]:
        raise saves.invalid_operation(
            "Save", "Storing updates on Microsoft Update requires all update languages."
        )
    server.set(**changes)
    saves.begin_save_processing(server)


def _apply_members(server: WsusServerModel, p: dict[str, Any], members: dict[str, str]) -> list[str]:
    """Compare the named members (parameter -> member) with the server; return those that differ."""
    changed = []
    for member in p["Members"] or []:
        if member not in members.values():
            raise ScriptError(f"The snippet cannot set the member '{member}'.")
        # As the snippet's own -ne/-cne decides (PowerShell's -ne ignores case).
        if snippet_differs(CURRENT_SCRIPT.get(), member, server.get(member), p[member]):
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


@handles("set_storage_option")
def set_storage_option(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    # Save() refuses HostBinariesOnMicrosoftUpdate without all languages (_save_configuration).
    changed = []
    if server.get("HostBinariesOnMicrosoftUpdate") != p["HostBinariesOnMicrosoftUpdate"]:
        _save_configuration(
            server,
            {"HostBinariesOnMicrosoftUpdate": p["HostBinariesOnMicrosoftUpdate"]},
            int(p["ReadyTimeoutSeconds"] or 0),
        )
        changed = ["HostBinariesOnMicrosoftUpdate"]
    c = server.config()
    return {
        "Changed": changed,
        "HostBinariesOnMicrosoftUpdate": c["HostBinariesOnMicrosoftUpdate"],
        "AllUpdateLanguagesEnabled": c["AllUpdateLanguagesEnabled"],
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
            password = p["ProxyPassword"].reveal() if p["ProxyPassword"] is not None else ""
            server.set_proxy_password(password)
            # proxy_credentials_expired: a new password is what "Issues with Synchronization" asks for.
            server.set(LabProxyPasswordExpired=False)
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
        saves.wait_until_ready(server, int(p["ReadyTimeoutSeconds"] or 0))
        _busy_refusal(server, "Save", lambda: saves.refuse_subscription_save(server))
        server.set(**{m: wanted[m] for m in changed})
    c = server.config()
    return {"Changed": changed, **{m: c[m] for m in wanted}}


def _finds_all_computers(script: str, locale: str) -> bool:
    """Whether the script's loop over GetComputerTargetGroups() finds the All Computers group on a
    Windows in ``locale``: by its fixed id always, by a display name only where it is that name."""
    code = re.sub(r"<#.*?#>|#[^\n]*", " ", script, flags=re.DOTALL)
    if lab_locale.BUILTIN_GROUP_IDS[lab_locale.ALL_COMPUTERS] in code.lower() and re.search(
        r"\$group\.Id\s+-eq\s+\$\w+", code, re.IGNORECASE
    ):
        return True
    shown = lab_locale.group_name(lab_locale.ALL_COMPUTERS, locale).lower()
    return any(n.lower() == shown for n in re.findall(r"\$group\.Name\s+-eq\s+'([^']*)'", code, re.I))


@handles("set_computer_group_membership")
def set_computer_group_membership(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    groups = {name: list(members) for name, members in server.config()["ComputerTargetGroups"].items()}
    # The script names groups as this Windows shows them (-eq: case-insensitive); the lab keeps the
    # built-in groups under fixed keys.
    shown = {lab_locale.group_name(key, server.locale).lower(): key for key in groups}
    given, given_source = str(p["GroupName"]), str(p["RemoveFromGroupName"])
    name = shown.get(given.lower(), given)
    source = shown.get(given_source.lower(), given_source)
    to_add = [str(c) for c in p["ComputerNames"] or []]
    to_remove = [str(c) for c in p["RemoveComputerNames"] or []]
    if source and source not in groups:
        raise ScriptError(f"The group '{given_source}' does not exist.")
    if not _finds_all_computers(CURRENT_SCRIPT.get(), server.locale):
        # $allComputers stayed $null, so $allComputers.GetComputerTargets() fails before any change.
        raise ScriptError(
            "You cannot call a method on a null-valued expression.",
            error_id="InvokeMethodOnNull",
            category="InvalidOperation",
        )
    known = {c.lower(): c for c in groups.get(lab_locale.ALL_COMPUTERS, [])}
    for computer in to_add + to_remove:
        if computer.lower() not in known:
            raise ScriptError(f"The computer '{computer}' has not reported to this WSUS server.")
    created = False
    added = []
    if name:
        if name not in groups:
            if server.get("IsReplicaServer"):
                raise ScriptError(
                    f"The group '{given}' does not exist. A replica server inherits its computer groups "
                    "from its upstream server: create the group there."
                )
            if not p["CreateGroup"]:
                raise ScriptError(f"The group '{given}' does not exist.")
            groups[name] = []
            created = True
        _refuse_builtin_group(name, given, "AddComputerTarget")
        for computer in to_add:
            if computer.lower() not in {c.lower() for c in groups[name]}:
                groups[name].append(known[computer.lower()])
                added.append(computer)
    removed = []
    if source:
        _refuse_builtin_group(source, given_source, "RemoveComputerTarget")
        for computer in to_remove:
            members = {c.lower(): c for c in groups[source]}
            if computer.lower() in members:
                groups[source].remove(members[computer.lower()])
                removed.append(computer)
    server.set(ComputerTargetGroups=computer_groups(groups))
    return {"Created": created, "Added": added, "Removed": removed}


def _refuse_builtin_group(key: str, shown: str, method: str) -> None:
    """WSUS keeps All Computers and Unassigned Computers itself; the lab, unsure what the API says
    when asked to change them by hand, refuses (stricter)."""
    if key in lab_locale.BUILTIN_GROUP_IDS:
        raise ScriptError(
            f'Exception calling "{method}" with "1" argument(s): "The computer group \'{shown}\' is '
            'managed by WSUS; its membership cannot be changed."',
            error_id="InvalidOperationException",
            category="InvalidOperation",
            exception_type="System.Management.Automation.MethodInvocationException",
        )


@handles("start_synchronization")
def start_synchronization(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    previous = server.last_synchronization_id()
    if server.get("SynchronizationStatus") != "NotProcessing":
        return {
            "Started": False,
            "SynchronizationStatus": server.get("SynchronizationStatus"),
            "PreviousSynchronizationId": previous,
        }
    saves.wait_until_ready(server, int(p["ReadyTimeoutSeconds"] or 0), waits_for_sync=False)
    previous = server.last_synchronization_id()
    method = "StartSynchronizationForCategoryOnly" if p["CategoryOnly"] else "StartSynchronization"

    def start() -> None:
        saves.refuse_start(server, method)
        if not sync.start(server, manual=True):  # the ticker started a scheduled one meanwhile
            raise saves.invalid_operation(
                method, "The synchronization cannot be started because of its current state."
            )

    _busy_refusal(server, method, start, sync_too=False)
    return {
        "Started": True,
        # Still NotProcessing: the sync starts a few seconds later (wsusauto.lab.sync.start).
        "SynchronizationStatus": server.get("SynchronizationStatus"),
        "PreviousSynchronizationId": previous,
    }


@handles("get_synchronization_status")
def get_synchronization_status(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    with sync.locked(server):  # the status, the last sync and its Id in one piece
        facts = server.facts(
            history_count=1, event_ids=[], event_lookback_hours=1, max_events=1, service_names=[]
        )
        sync_id = server.last_synchronization_id()
    last = {"Id": sync_id, **facts["LastSynchronizationInfo"]}
    stored = list(last["UpdateErrors"])[: max(0, p["MaxUpdateErrors"])]
    last["UpdateErrors"] = update_errors.project(registry()["get_synchronization_status"].text, stored)
    return {
        "SynchronizationStatus": facts["SynchronizationStatus"],
        "SynchronizationProgress": facts["SynchronizationProgress"],
        "LastSynchronizationInfo": last,
        "NextSynchronizationTime": facts["NextSynchronizationTime"],
    }


# -- troubleshooting: the upstream's name and port ---------------------------------------------


def _dotnet_error(method: str, arguments: int, message: str) -> str:
    # A .NET exception from a method call, as PowerShell words it ($_.Exception.Message).
    return f'Exception calling "{method}" with "{arguments}" argument(s): "{message}"'


def _configured_proxies(server: WsusServerModel) -> dict[str, set[int]]:
    """The proxies this server is configured with, by lower-case name, and the ports they answer on:
    the lab's model of a proxy is that the one a server is set up to use exists in its network."""
    c = server.members("ProxyName", "ProxyServerPort", "SslProxyName", "SslProxyServerPort")
    proxies: dict[str, set[int]] = {}
    for name, port in ((c["ProxyName"], c["ProxyServerPort"]), (c["SslProxyName"], c["SslProxyServerPort"])):
        if name and str(name).strip():
            proxies.setdefault(str(name).strip().lower(), set()).add(int(port or 0))
    return proxies


def _proxy_address(name: str) -> str:
    # A documentation address (TEST-NET-2, RFC 5737), the same for a name every time.
    return f"198.51.100.{int(hashlib.sha1(name.encode()).hexdigest(), 16) % 250 + 1}"


def _resolve(server: WsusServerModel, name: str) -> tuple[list[str], str]:
    """[System.Net.Dns]::GetHostAddresses(name) from this server: (addresses, error message)."""
    name = name.strip()
    if peers.is_address(name):
        return [str(ipaddress.ip_address(name))], ""  # a literal needs no name service
    if name.lower() in _configured_proxies(server):
        return [_proxy_address(name.lower())], ""
    target = peers.find(server, server.lab_peers, name or server.name)
    if target is not None and "upstream_unresolvable" not in target.faults():
        address = target.config().get("LabAddress") or (
            server.get("LabAddress") if target.name == server.name else None
        )
        if address:
            return [address], ""
    return [], _dotnet_error("GetHostAddresses", 1, "No such host is known")


def _connect(
    server: WsusServerModel, name: str, address: str, port: int, timeout_ms: int
) -> tuple[bool, str]:
    """A TcpClient to (name, port) from this server: (answered, error message)."""
    if not 0 <= port <= 65535:
        return False, _dotnet_error(
            "BeginConnect",
            4,
            "Specified argument was out of the range of valid values.\r\nParameter name: port",
        )
    refused = _dotnet_error(
        "EndConnect",
        1,
        f"No connection could be made because the target machine actively refused it {address}:{port}",
    )
    proxies = _configured_proxies(server)
    if name.strip().lower() in proxies:
        answers = port in proxies[name.strip().lower()] and "proxy_down" not in server.faults
        return (True, "") if answers else (False, refused)
    # GetHostAddresses('') gives this machine's own addresses: an empty name is this server.
    target = peers.find(server, server.lab_peers, name.strip() or server.name)
    if (
        target is not None
        and "upstream_down" not in target.faults()
        and port == int(target.config().get("PortNumber", 8530))
    ):
        return True, ""
    if target is not None or ipaddress.ip_address(address).is_loopback:
        return False, refused
    return False, f"no answer within {timeout_ms} ms"  # an address outside the lab: nothing answers


@handles("test_upstream_connection")
def test_upstream_connection(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    """The upstream's name resolved from this server, and a TcpClient to the upstream's port, or,
    through a proxy, the proxy's name and port: a lab server's name resolves to its lab address
    unless it has upstream_unresolvable, and its port answers when it is that server's PortNumber
    and it has no upstream_down; the proxy a server is configured with answers on its port."""
    name, port = p["UpstreamName"], int(p["Port"])
    proxy_name, proxy_port = p["ProxyName"], int(p["ProxyPort"])
    addresses, resolve_error = _resolve(server, name)
    through_proxy = bool(proxy_name.strip())
    proxy_addresses, proxy_error = _resolve(server, proxy_name) if through_proxy else ([], "")
    target_name, target_port, target = (
        (proxy_name, proxy_port, proxy_addresses) if through_proxy else (name, port, addresses)
    )
    port_open, connect_error = False, ""
    if target:
        port_open, connect_error = _connect(
            server, target_name, target[0], target_port, int(p["TimeoutMilliseconds"])
        )
    return {
        "UpstreamName": name,
        "Port": port,
        "Resolved": bool(addresses),
        "Addresses": addresses,
        "ResolveError": resolve_error,
        "ThroughProxy": through_proxy,
        "ProxyName": proxy_name,
        "ProxyPort": proxy_port,
        "ProxyResolved": bool(proxy_addresses),
        "ProxyAddresses": proxy_addresses,
        "ProxyResolveError": proxy_error,
        "PortTested": bool(target),
        "PortOpen": port_open,
        "ConnectError": connect_error,
    }


# -- troubleshooting: updates ------------------------------------------------------------------


@handles("get_failed_updates")
def get_failed_updates(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    # The download-failure events name the updates; each is fetched alone, counted while Failed.
    # When they name fewer than the status counts, the approved updates are searched too.
    status_count = int(server.get("UpdateServerStatus")["UpdatesWithServerErrorsCount"])
    failed: list[tuple[dict[str, Any], str]] = []
    seen: set[str] = set()
    for update_id in update_api.download_failure_update_ids(server, int(p["LookbackDays"])):
        key = update_id.lower()
        if key in seen:
            continue
        seen.add(key)
        update = update_api.get_update(server, key)
        if update is not None and update["State"] == "Failed":
            failed.append((update, "events"))
    searched_approved = len(failed) < status_count
    if searched_approved:
        for update in update_api.get_approved_updates(server):
            key = update["UpdateId"].lower()
            if update["State"] == "Failed" and key not in seen:
                seen.add(key)
                failed.append((update, "approved-updates"))
    return {
        "FailedUpdates": [
            {
                "UpdateId": u["UpdateId"].lower(),
                "Title": u["Title"],
                "IsApproved": u["IsApproved"],
                "ListedBy": listed_by,
            }
            for u, listed_by in failed[: max(0, int(p["MaxUpdates"]))]
        ],
        "FailedUpdateCount": len(failed),
        "UpdatesWithServerErrorsCount": status_count,
        "SearchedApprovedUpdates": searched_approved,
    }


@handles("find_updates")
def find_updates(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    found, seen = [], set()
    for asked in p["UpdateIds"] or []:
        key = update_api.guid(asked)  # [Guid]([string]$id): a malformed id stops the snippet
        if key in seen:
            continue
        seen.add(key)
        update = update_api.get_update(server, key)
        if update is not None:  # WsusObjectNotFoundException: not on this server
            found.append(
                {
                    "UpdateId": update["UpdateId"].lower(),
                    "Title": update["Title"],
                    "State": update["State"],
                    "IsDeclined": update["IsDeclined"],
                }
            )
    return {"Found": found}


@handles("decline_updates")
def decline_updates(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    if p["Apply"] and server.get("IsReplicaServer"):
        raise ScriptError(
            "This server is a replica: it inherits approvals and declines from its upstream server, so "
            "updates are declined there, not here."
        )
    fetched, unknown, seen = [], [], set()
    for asked in p["UpdateIds"] or []:
        key = update_api.guid(asked)
        if key in seen:
            continue
        seen.add(key)
        update = update_api.get_update(server, key)
        if update is None:  # WsusObjectNotFoundException
            unknown.append(key)
        else:
            fetched.append(update)
    if p["Apply"] and unknown:
        raise ScriptError(
            f"This server does not have the update(s) {', '.join(unknown)}; nothing was declined."
        )
    answers, changed_rows = [], []
    for update in fetched:
        declined = False
        if p["Apply"] and not update["IsDeclined"]:
            update = update_api.cancel_and_decline(update)
            changed_rows.append(update)
            declined = True
        answers.append(
            {
                "UpdateId": update["UpdateId"].lower(),
                "Title": update["Title"],
                "State": update["State"],
                "IsDeclined": update["IsDeclined"],
                "Declined": declined,
            }
        )
    if changed_rows:
        server.upsert_updates(changed_rows)
    return {"Updates": answers, "NotFound": unknown}


@handles("list_inactive_approvals")
def list_inactive_approvals(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    _setup_key(p["SetupRegistryPath"])
    target = str(server.get("TargetDir"))
    tool = target.rstrip("\\") + "\\Tools\\WsusUtil.exe"  # Join-Path, twice
    installed = server.get("LabWsusUtil")
    if installed is False:  # Test-Path finds nothing there: the snippet's own error
        raise ScriptError(f"WsusUtil.exe is not at {tool} (TargetDir in the setup key: '{target}').")
    # UNSURE: the tool's output format is not documented; the lab prints the title of each update
    # whose approval went inactive (approved, but its language is no longer enabled), one a line.
    inactive = [u["Title"] for u in server.updates() if u["IsApproved"] and not u["ApprovalActive"]]
    return {"Tool": tool, "ExitCode": 0, "Lines": inactive}


@handles("resume_downloads")
def resume_downloads(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    before = dict(server.get("UpdateServerStatus"))
    resumed = False
    if int(before["UpdatesWithServerErrorsCount"]) > 0 and not p["ReadOnly"]:
        sync.resume_downloads(server)  # IUpdateServer.ResumeAllDownloads()
        resumed = True
    after = server.get("UpdateServerStatus")
    return {
        "Resumed": resumed,
        "UpdatesWithServerErrorsCountBefore": int(before["UpdatesWithServerErrorsCount"]),
        "UpdatesNeedingFilesCountBefore": int(before["UpdatesNeedingFilesCount"]),
        "UpdatesWithServerErrorsCount": int(after["UpdatesWithServerErrorsCount"]),
        "UpdatesNeedingFilesCount": int(after["UpdatesNeedingFilesCount"]),
    }


# -- troubleshooting: services (Win32_Service, Set-/Start-/Stop-/Restart-Service) ---------------


def _wmi_service(server: WsusServerModel, name: str) -> tuple[str, str, str]:
    """The snippets' Get-ServiceState: Win32_Service by Name (-eq: case-insensitive)."""
    for service, (state, mode) in server.db.services().items():
        if service.lower() == str(name).lower():
            return service, state, mode
    raise ScriptError(f"The service '{name}' does not exist on this server.")


def _service_cmdlet(server: WsusServerModel, cmdlet: str, name: str) -> str:
    for service in server.db.services():
        if service.lower() == str(name).lower():
            return service
    raise ScriptError(
        f"Cannot find any service with service name '{name}'.",
        error_id=f"NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.{cmdlet}ServiceCommand",
        category="ObjectNotFound",
        exception_type="Microsoft.PowerShell.Commands.ServiceCommandException",
    )


def start_service(server: WsusServerModel, name: str) -> None:
    service = _service_cmdlet(server, "Start", name)
    state, mode = server.db.services()[service]
    if mode == "Disabled":
        raise ScriptError(
            f"Service '{server.service_display_name(service)} ({service})' cannot be started due to the "
            f"following error: Cannot start service {service} on computer '.'.",
            error_id="CouldNotStartService,Microsoft.PowerShell.Commands.StartServiceCommand",
            category="OpenError",
            exception_type="Microsoft.PowerShell.Commands.ServiceCommandException",
        )
    if state != "Running":
        server.change_service(service, state="Running")


def stop_service(server: WsusServerModel, name: str) -> None:
    service = _service_cmdlet(server, "Stop", name)
    if server.db.services()[service][0] != "Stopped":
        server.change_service(service, state="Stopped")


def restart_service(server: WsusServerModel, name: str) -> None:
    service = _service_cmdlet(server, "Restart", name)
    stop_service(server, service)
    start_service(server, service)


def set_service_startup(server: WsusServerModel, name: str, startup_type: str) -> None:
    service = _service_cmdlet(server, "Set", name)
    server.change_service(service, start_mode={"Automatic": "Auto"}.get(startup_type, startup_type))


@handles("repair_bits_service")
def repair_bits_service(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    bits_name, wsus_name = p["BitsServiceName"], p["WsusServiceName"]
    changed = []
    _name, bits_state, bits_mode = _wmi_service(server, bits_name)
    _name, wsus_state, wsus_mode = _wmi_service(server, wsus_name)
    if bits_mode == "Disabled" or bits_state != "Running" or wsus_mode != "Auto" or wsus_state != "Running":
        if bits_mode == "Disabled":
            set_service_startup(server, bits_name, "Manual")
            changed.append("BitsStartMode")
        if bits_state != "Running":
            start_service(server, bits_name)
            changed.append("BitsState")
        else:
            restart_service(server, bits_name)
            changed.append("BitsRestarted")
        if wsus_mode != "Auto":
            set_service_startup(server, wsus_name, "Automatic")
            changed.append("WsusStartMode")
        if wsus_state != "Running":
            start_service(server, wsus_name)
            changed.append("WsusState")
        else:
            restart_service(server, wsus_name)
            changed.append("WsusRestarted")
    _name, bits_state, bits_mode = _wmi_service(server, bits_name)
    _name, wsus_state, wsus_mode = _wmi_service(server, wsus_name)
    return {
        "Changed": changed,
        "BitsState": bits_state,
        "BitsStartMode": bits_mode,
        "WsusState": wsus_state,
        "WsusStartMode": wsus_mode,
    }


# -- troubleshooting: BitsDownloadPriorityForeground (the Range-header fix) ---------------------


def _susdb_query(
    server: WsusServerModel, method: str, tool: str, target: str, query: str, write: bool
) -> str:
    """The snippet's Invoke-SusdbQuery: the scalar read as text, or '' for a write."""
    if method == "sqlclient":
        try:
            return sqltools.sqlclient(
                server, f"Server={target};Database=SUSDB;Integrated Security=True", query, write
            )
        except ScriptError as error:
            raise ScriptError(f"sqlclient failed on {target}: {error.message}") from None
    code, output = sqltools.run_tool(server, tool, target, query)
    if code != 0:
        raise ScriptError(f"{method} failed on {target} (exit code {code}): {' '.join(output)}")
    return " ".join(output).strip()


@handles("set_bits_foreground")
def set_bits_foreground(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    if server.get("LabApiBitsForeground"):  # $config | Get-Member -Name BitsDownloadPriorityForeground
        before = server.bits_foreground
        if not before and not p["ReadOnly"]:
            _save_configuration(server, {}, int(p["ReadyTimeoutSeconds"] or 0))
            server.set_bits_foreground(True)
        after = server.bits_foreground
        return {
            "Method": "api",
            "Instance": "",
            "SqlHost": "",
            "Before": before,
            "After": after,
            "Changed": after != before,
        }

    _setup_key(p["SetupRegistryPath"])
    instance = sqltools.susdb_instance(server)
    if not instance.local:
        return {
            "Method": "remote",
            "Instance": instance.setting,
            "SqlHost": instance.host,
            "Before": None,
            "After": None,
            "Changed": False,
        }
    target = instance.setting
    if "##wid" in target.lower():
        target = p["WidPipe"]
    elif "##ssee" in target.lower():
        target = p["SseePipe"]
    read_query, update_query = sqltools.snippet_queries(registry()["set_bits_foreground"].text)
    tool = ""
    if sqltools.test_path(server, sqltools.OSQL_PATH):
        method, tool = "osql", sqltools.OSQL_PATH
    elif sqltools.get_command(server, "sqlcmd") is not None:
        method, tool = "sqlcmd", str(sqltools.get_command(server, "sqlcmd"))
    else:
        method = "sqlclient"
    before = _susdb_query(server, method, tool, target, read_query, False) in ("1", "True")
    after = before
    if not before and not p["ReadOnly"]:
        stop_service(server, p["WsusServiceName"])
        try:
            _susdb_query(server, method, tool, target, update_query, True)
        except ScriptError as error:
            raise ScriptError(f"{error.message}; the WSUS service was started again") from None
        finally:
            # Step 3 of "Synchronization issues", whatever happened in step 2.
            start_service(server, p["WsusServiceName"])
        after = _susdb_query(server, method, tool, target, read_query, False) in ("1", "True")
    return {
        "Method": method,
        "Instance": target,
        "SqlHost": instance.host,
        "Before": before,
        "After": after,
        "Changed": after != before,
    }


# -- troubleshooting: Read on the update storage folder -----------------------------------------


_SID = re.compile(r"^S-1-\d+(-\d+)*$", re.IGNORECASE)


@handles("grant_content_read")
def grant_content_read(server: WsusServerModel, p: dict[str, Any]) -> dict[str, Any]:
    _setup_key(p["SetupRegistryPath"])
    content_dir = str(server.get("ContentDir") or "")
    if not content_dir:
        raise ScriptError(
            f"The update storage folder '{content_dir}' (ContentDir) does not exist on this server."
        )
    rules = server.db.content_acl()
    changed = []
    for text in p["Sids"] or []:
        if not _SID.match(str(text)):
            raise ScriptError(
                'New-Object : Exception calling ".ctor" with "1" argument(s): "Value was invalid.\r\n'
                'Parameter name: sddlForm"',
                error_id="ConstructorInvokedThrowException,Microsoft.PowerShell.Commands.NewObjectCommand",
                category="InvalidOperation",
                exception_type="System.Management.Automation.MethodInvocationException",
            )
        sid = str(text).upper()
        if not acl_grants_read(rules, sid):
            # FileSystemAccessRule(sid, 'ReadAndExecute', ContainerInherit|ObjectInherit, None, Allow):
            # Get-Acl shows it as "ReadAndExecute, Synchronize", not inherited.
            rules.append((sid, "ReadAndExecute, Synchronize", "Allow", False))
            changed.append(sid)
    if changed:
        server.db.replace_content_acl(rules)
    return {"Changed": changed, "ContentDir": content_dir, "ContentDirAcl": server.content_acl_rules()}


class LabHandlers:
    """The ``ScriptHandler`` for a set of lab servers (one endpoint per server)."""

    def __init__(
        self, servers: Mapping[str, WsusServerModel], snippets: SnippetRegistry | None = None
    ) -> None:
        self.servers = dict(servers)
        self.snippets = snippets or registry()
        for server in self.servers.values():
            server.lab_peers = self.servers

    @classmethod
    def from_topology(
        cls,
        topology: Topology,
        state_dir: Path,
        *,
        names: Sequence[str] | None = None,
        clock: Clock | None = None,
        addresses: Mapping[str, str] | None = None,
    ) -> LabHandlers:
        """The models of the topology's servers (or those named), each with its endpoint address
        stored in SUSDB (``LabAddress``: other lab processes resolve its name to it), and the
        evidence of the faults each did not have before seeded, roots first."""
        servers = {}
        for spec in topology.servers:
            if names is not None and spec.name not in names:
                continue
            servers[spec.name] = WsusServerModel(
                spec.name,
                state_dir,
                version=spec.version,
                tools=spec.tools,
                initial=spec.initial,
                faults=model_faults(spec.faults),
                clock=clock,
                locale=spec.locale,
            )
            if addresses and spec.name in addresses:
                servers[spec.name].set(LabAddress=addresses[spec.name])
        handlers = cls(servers)
        evidence.seed_new_faults(handlers.servers)
        return handlers

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
        if str(server.get("LabPSVersion") or "").startswith("2."):
            powershell2.refuse_newer(script)
        parameters = bind_parameters(snippet, invocation.parameters)
        # The script's first call to the API: a server set up for SSL refuses a plain connection, and
        # none answers while its WsusPool is stopped.
        check_connection(
            script, server.get("UsingSSL") == 1, pool_stopped="wsus_pool_stopped" in server.faults
        )
        # The WSUS service works in the background; the lab catches up whenever a server is asked.
        sync.advance(server, self.servers)
        token = CURRENT_SCRIPT.set(script)
        try:
            return [HANDLERS[snippet.name](server, parameters)]
        finally:
            CURRENT_SCRIPT.reset(token)

    def ps_version(self, endpoint: str) -> str | None:
        """The endpoint's $PSVersionTable.PSVersion (the transport sends it to every new pool)."""
        server = self.servers.get(endpoint)
        return str(server.get("LabPSVersion") or "") or None if server is not None else None

    def tick(self) -> None:
        """Let every server's WSUS service do its own work (scheduled syncs and their retries)."""
        for server in list(self.servers.values()):
            sync.tick(server, self.servers)

    def close(self) -> None:
        for server in self.servers.values():
            server.close()
