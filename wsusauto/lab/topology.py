"""Lab topologies: which servers to simulate, their starting state and the intended hierarchy.

servers:
  - name: wsus-root
  - name: wsus-eu
    upstream: wsus-root             # intended hierarchy -> wsus_upstream in the inventory
    replica: true                   # -> wsus_replica
    version: "2019"                 # optional: 2022, 2019, 2016, 2012r2, 3.0-sp2 or a dotted version
    tools: [sqlcmd]                 # optional: SQL command-line tools installed (osql, sqlcmd)
    locale: de-DE                   # optional: en-US (default), de-DE or fr-FR: the Windows language
    initial: {HostBinariesOnMicrosoftUpdate: true}   # optional: initial state, API member names
    faults: [slow, {name: transient_sync_failure, attempts: 1}]
    auth_methods: [kerberos]        # optional: what its WinRM accepts (default: basic, ntlm, kerberos)

`initial` also takes, besides API member names, the lab's own state: Services ({name: {State,
StartMode}}), ContentDirAcl (a list of Get-Acl rules), BitsDownloadPriorityForeground (bool: the
SUSDB tbConfigurationC column), SqlServerName (the setup key's value: where SUSDB lives; by default
the version's internal database, MICROSOFT##WID or <NAME>\\MICROSOFT##SSEE; another machine's name
puts SUSDB on a remote SQL Server) and LabApiBitsForeground (bool: the API has
IUpdateServerConfiguration.BitsDownloadPriorityForeground; no preset has it, wsus-api.md is unsure).

`version` is a preset (3.0-sp2: WSUS 3.0 SP2 on Windows Server 2008 R2 with PowerShell 2.0 and
SUSDB in SSEE; 2012r2: PowerShell 4.0; 2016, 2019, 2022: PowerShell 5.1; 2012 and later on WID) or
a dotted WSUS version. `tools` lists the SQL command-line tools installed: `osql` (WSUS 2.0's
%ProgramFiles%\\Update Services\\tools\\osql\\osql.exe) and `sqlcmd` (on the PATH); default none, as
on every preset, e.g. `tools: [sqlcmd]`.

`initial` also takes UsingSSL (0 or 1), the setup key's value: with 1 the server serves its
administration API over SSL only; TargetDir (the setup key's WSUS installation folder, default
C:\\Program Files\\Update Services), whose Tools folder holds WsusUtil.exe; LabWsusUtil (bool,
default true): false, WsusUtil.exe is not there; and LabEventHistoryAllUpdates (bool, default false:
GetUpdateEventHistory with Guid.Empty as the update names no update's events, the stricter reading of
an undocumented case; true: every update's). `locale` is the language Windows was installed in: account,
computer group and service names and event texts follow it; SIDs, ids and service names do not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from wsusauto.config.yamlfile import parse_yaml, read_file
from wsusauto.errors import UsageError
from wsusauto.lab import locale as lab_locale
from wsusauto.lab.faults import FaultSpec, parse_faults
from wsusauto.lab.model import defaults
from wsusauto.lab.model.schedule import parse_time_of_day

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$")
_SERVER_KEYS = {
    "name",
    "upstream",
    "replica",
    "initial",
    "faults",
    "version",
    "tools",
    "locale",
    "auth_methods",
}
# What a lab server's WinRM accepts: Basic (over HTTPS), NTLM, Kerberos (the last two also inside
# Negotiate). A domain that disables NTLM leaves [kerberos].
AUTH_METHODS = ("basic", "ntlm", "kerberos")


@dataclass(frozen=True)
class ServerSpec:
    name: str
    upstream: str | None = None
    replica: bool = False
    initial: Mapping[str, Any] = field(default_factory=dict)
    faults: tuple[FaultSpec, ...] = ()
    version: str | None = None
    tools: tuple[str, ...] = ()  # the SQL command-line tools installed (defaults.SQL_TOOLS)
    locale: str = lab_locale.DEFAULT_LOCALE
    auth_methods: tuple[str, ...] = AUTH_METHODS


@dataclass(frozen=True)
class Topology:
    servers: tuple[ServerSpec, ...]
    source: str = "<topology>"

    def server(self, name: str) -> ServerSpec:
        for spec in self.servers:
            if spec.name == name:
                return spec
        raise KeyError(name)


def load_topology(path: str | Path | None) -> Topology:
    """Read a topology file; ``None`` gives the default fleet (1 root, 3 regional, 12 branch)."""
    if path is None:
        text = (resources.files("wsusauto.lab") / "default_topology.yml").read_text(encoding="utf-8")
        source = "<default topology>"
    else:
        source = str(path)
        text = read_file(path, "topology")
    return topology_from_dict(parse_yaml(text, source), source)


_ENUMS = {
    "UpdateServerConfigurationState": ("Ready", "ProcessingSave", "SynchronizationInProgress"),
    "SynchronizationStatus": ("NotProcessing", "Running", "Stopping"),
}
_PORTS = ("UpstreamWsusServerPortNumber", "ProxyServerPort", "SslProxyServerPort")
_SERVICE_STATES = ("Running", "Stopped")
_START_MODES = ("Auto", "Manual", "Disabled")
_ACL_KEYS = {"IdentityReference": str, "FileSystemRights": str, "AccessControlType": str, "IsInherited": bool}


def initial_members() -> dict[str, type]:
    """The API member names a topology's ``initial`` accepts, with their value types."""
    return {
        **{k: t for k, (t, _d) in defaults.CONFIGURATION.items()},
        "Services": dict,
        "ContentDirAcl": list,
        "BitsDownloadPriorityForeground": bool,
        **defaults.LAB_CAPABILITIES,
        **defaults.SETUP_KEY_VALUES,
    }


def _type_name(wanted: type) -> str:
    names = {bool: "a bool (true/false)", int: "an int", str: "a string", list: "a list", dict: "a mapping"}
    return names.get(wanted, f"a {wanted.__name__}")


def _is(value: Any, wanted: type) -> bool:
    # YAML's true/false are bools, and a bool is an int in Python: keep them apart.
    return isinstance(value, wanted) and (isinstance(value, bool) == (wanted is bool))


def _time_of_day(value: Any, key: str, where: str) -> str:
    if _is(value, int) and 0 <= value < 86400:
        # YAML 1.1 reads an unquoted 03:00:00 as the base-60 number 10800.
        return f"{value // 3600:02d}:{value // 60 % 60:02d}:{value % 60:02d}"
    try:
        if not isinstance(value, str) or len(value.split(":")) != 3:
            raise ValueError(value)
        seconds = int(parse_time_of_day(value).total_seconds())
    except ValueError:
        raise UsageError(f"{where}: initial {key} must be hh:mm:ss (UTC), not {value!r}") from None
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _check_services(value: Mapping[str, Any], where: str) -> dict[str, dict[str, str]]:
    checked = {}
    for name, spec in value.items():
        if not isinstance(spec, Mapping) or set(spec) - {"State", "StartMode"}:
            raise UsageError(f"{where}: initial Services.{name} must be a mapping of State and StartMode")
        state, mode = spec.get("State", "Running"), spec.get("StartMode", "Auto")
        if state not in _SERVICE_STATES:
            raise UsageError(
                f"{where}: initial Services.{name}.State must be "
                f"{' or '.join(_SERVICE_STATES)}, not {state!r}"
            )
        if mode not in _START_MODES:
            raise UsageError(
                f"{where}: initial Services.{name}.StartMode must be one of {', '.join(_START_MODES)}, "
                f"not {mode!r}"
            )
        checked[str(name)] = {"State": state, "StartMode": mode}
    return checked


def _check_acl(value: list[Any], where: str) -> list[dict[str, Any]]:
    checked = []
    for index, rule in enumerate(value):
        place = f"{where}: initial ContentDirAcl[{index}]"
        if not isinstance(rule, Mapping) or not {"IdentityReference", "FileSystemRights"} <= set(rule):
            raise UsageError(f"{place} must be a mapping with IdentityReference and FileSystemRights")
        for key, item in rule.items():
            if key not in _ACL_KEYS:
                raise UsageError(f"{place}: unknown key {key!r}; an entry takes {', '.join(_ACL_KEYS)}")
            if not _is(item, _ACL_KEYS[key]):
                raise UsageError(f"{place}: {key} must be {_type_name(_ACL_KEYS[key])}, not {item!r}")
        if rule.get("AccessControlType", "Allow") not in ("Allow", "Deny"):
            raise UsageError(f"{place}: AccessControlType must be Allow or Deny")
        checked.append(dict(rule))
    return checked


def _check_counts(key: str, value: Mapping[str, Any], where: str) -> dict[str, int]:
    known = defaults.CONFIGURATION[key][1]
    for name, item in value.items():
        if name not in known:
            raise UsageError(f"{where}: initial {key} has no {name!r}; it has {', '.join(known)}")
        wanted = type(known[name])
        if not _is(item, wanted) or (wanted is int and item < 0):
            raise UsageError(f"{where}: initial {key}.{name} must be {_type_name(wanted)}, not {item!r}")
    return dict(value)


def _check_initial(initial: Any, where: str) -> dict[str, Any]:
    if initial is None:
        return {}
    if not isinstance(initial, Mapping):
        raise UsageError(f"{where}: initial must be a mapping of API member names to values")
    known = initial_members()
    checked: dict[str, Any] = {}
    for key, value in initial.items():
        # The known names are the WSUS API's member names the lab models (plus Services, ContentDirAcl).
        if key not in known:
            raise UsageError(
                f"{where}: initial has unknown member {key!r}; known: {', '.join(sorted(known))}"
            )
        wanted = known[key]
        if key == "SynchronizeAutomaticallyTimeOfDay":
            value = _time_of_day(value, key, where)
        elif not _is(value, wanted):
            raise UsageError(f"{where}: initial {key} must be {_type_name(wanted)}, not {value!r}")
        if key == "NumberOfSynchronizationsPerDay" and not 1 <= value <= 24:
            raise UsageError(f"{where}: initial {key} must be 1 to 24, not {value}")
        if key in _PORTS and not 1 <= value <= 65535:
            raise UsageError(f"{where}: initial {key} must be a port number 1 to 65535, not {value}")
        if key in _ENUMS and value not in _ENUMS[key]:
            raise UsageError(f"{where}: initial {key} must be one of {', '.join(_ENUMS[key])}, not {value!r}")
        if key == "EnabledUpdateLanguages" and not all(isinstance(v, str) for v in value):
            raise UsageError(f"{where}: initial {key} must be a list of language codes such as en, de")
        if key == "ComputerTargetGroups" and not all(
            isinstance(v, list) and all(isinstance(c, str) for c in v) for v in value.values()
        ):
            raise UsageError(f"{where}: initial {key} must map group names to lists of computer names")
        if key == "UsingSSL" and value not in (0, 1):
            raise UsageError(f"{where}: initial {key} must be 0 or 1 (1: the API is served over SSL only)")
        if key == "Services":
            value = _check_services(value, where)
        elif key == "ContentDirAcl":
            value = _check_acl(value, where)
        elif key in ("UpdateServerStatus", "SynchronizationProgress"):
            value = _check_counts(key, value, where)
        checked[key] = value
    return checked


def _auth_methods(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return AUTH_METHODS
    if not isinstance(value, list) or not value or not all(v in AUTH_METHODS for v in value):
        raise UsageError(f"{where}: auth_methods must be a non-empty list of {', '.join(AUTH_METHODS)}")
    return tuple(m for m in AUTH_METHODS if m in value)


def topology_from_dict(data: Any, source: str = "<topology>") -> Topology:
    if not isinstance(data, Mapping) or not isinstance(data.get("servers"), list) or not data["servers"]:
        raise UsageError(f"{source}: a topology is a mapping with a non-empty 'servers' list")
    specs: list[ServerSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["servers"]):
        where = f"{source}: servers[{index}]"
        if not isinstance(entry, Mapping) or "name" not in entry:
            raise UsageError(f"{where}: each server is a mapping with at least a name")
        name = str(entry["name"])
        where = f"{source}: server {name}"
        if not _NAME.match(name):
            raise UsageError(f"{where}: a server name is letters, digits, '-' and '.' (up to 63)")
        if name in seen:
            raise UsageError(f"{where}: the name is used twice")
        seen.add(name)
        unknown = set(entry) - _SERVER_KEYS
        if unknown:
            raise UsageError(
                f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                f"a server takes {', '.join(sorted(_SERVER_KEYS))}"
            )
        replica = entry.get("replica", False)
        if not isinstance(replica, bool):
            raise UsageError(f"{where}: replica must be true or false")
        version = entry.get("version")
        if version is not None:
            version = str(version)
            defaults.preset(version, where)
        tools = entry.get("tools") or []
        if not isinstance(tools, list) or not all(t in defaults.SQL_TOOLS for t in tools):
            raise UsageError(
                f"{where}: tools must be a list of {' and '.join(defaults.SQL_TOOLS)}, not {tools!r}"
            )
        upstream = entry.get("upstream")
        specs.append(
            ServerSpec(
                name=name,
                upstream=str(upstream) if upstream is not None else None,
                replica=replica,
                initial=_check_initial(entry.get("initial"), where),
                faults=parse_faults(entry.get("faults"), where),
                version=version,
                tools=tuple(tools),
                locale=lab_locale.check_locale(entry.get("locale", lab_locale.DEFAULT_LOCALE), where),
                auth_methods=_auth_methods(entry.get("auth_methods"), where),
            )
        )
    for spec in specs:
        if spec.upstream is not None and spec.upstream not in seen:
            raise UsageError(
                f"{source}: server {spec.name}: upstream {spec.upstream!r} is not in the topology"
            )
        if spec.upstream == spec.name:
            raise UsageError(f"{source}: server {spec.name}: a server cannot be its own upstream")
        if spec.replica and spec.upstream is None:
            raise UsageError(
                f"{source}: server {spec.name}: a replica copies an upstream server; give it an upstream"
            )
    upstream_of = {spec.name: spec.upstream for spec in specs}
    for spec in specs:
        chain = [spec.name]
        upstream = upstream_of[spec.name]
        while upstream is not None:
            chain.append(upstream)
            upstream = upstream_of[upstream]
            if chain[-1] == spec.name:
                raise UsageError(
                    f"{source}: server {spec.name}: the upstream chain is a cycle ({' -> '.join(chain)})"
                )
            if len(chain) > len(specs):
                break  # a cycle further up; reported when the loop reaches that server
    return Topology(tuple(specs), source)
