"""What a freshly installed WSUS server looks like: the lab's starting state, by Windows version.

Every lab server starts unconfigured: standalone, syncing from Microsoft Update, content stored
locally, manual synchronization. Keys are the WSUS API's member names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from wsusauto.errors import UsageError


@dataclass(frozen=True)
class VersionPreset:
    version: str  # IUpdateServer.Version
    protocol: str
    port: int
    wid: bool  # Windows Internal Database (2012+) vs SQL Server Embedded Edition (WSUS 3.0 on 2008/R2)
    ps_version: str  # $PSVersionTable.PSVersion of the Windows PowerShell that ships with the OS
    os_caption: str  # Win32_OperatingSystem.Caption
    os_version: str  # Win32_OperatingSystem.Version
    # Whether IUpdateServerConfiguration has BitsDownloadPriorityForeground: wsus-api.md marks it
    # UNSURE (no Microsoft page; only community scripts use it), so no preset has it: the stricter
    # lab. A topology's `initial: {LabApiBitsForeground: true}` gives it to a server.
    api_bits_foreground: bool = False


# The WSUS versions users run, each on the Windows Server it ships with. No preset has osql or sqlcmd:
# WSUS 3.0 SP2 and the WSUS role of 2012 and later install neither (osql came with WSUS 2.0, under
# %ProgramFiles%\Update Services\tools\osql); a topology's server key `tools` installs them.
VERSIONS = {
    "2022": VersionPreset(
        "10.0.20348.1",
        "1.20",
        8530,
        True,
        "5.1.20348.1",
        "Microsoft Windows Server 2022 Standard",
        "10.0.20348",
    ),
    "2019": VersionPreset(
        "10.0.17763.678",
        "1.20",
        8530,
        True,
        "5.1.17763.1",
        "Microsoft Windows Server 2019 Standard",
        "10.0.17763",
    ),
    "2016": VersionPreset(
        "10.0.14393.0",
        "1.20",
        8530,
        True,
        "5.1.14393.0",
        "Microsoft Windows Server 2016 Standard",
        "10.0.14393",
    ),
    "2012r2": VersionPreset(
        "6.3.9600.16384", "1.20", 8530, True, "4.0", "Microsoft Windows Server 2012 R2 Standard", "6.3.9600"
    ),
    "3.0-sp2": VersionPreset(
        "3.2.7600.226", "1.8", 80, False, "2.0", "Microsoft Windows Server 2008 R2 Standard", "6.1.7601"
    ),
}
# Older spellings of the presets (topologies written before 3.0-sp2 had its name).
ALIASES = {"2008r2": "3.0-sp2"}
SQL_TOOLS = ("osql", "sqlcmd")
DEFAULT_VERSION = "2019"


def preset(version: str | None, where: str) -> VersionPreset:
    if version is None:
        return VERSIONS[DEFAULT_VERSION]
    key = ALIASES.get(version.lower(), version.lower())
    if key in VERSIONS:
        return VERSIONS[key]
    parts = version.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        major, build = int(parts[0]), int(parts[2])
        # The OS of a dotted version: the preset of the same WSUS generation (by its build).
        if major >= 10:
            base = VERSIONS["2022" if build >= 20348 else "2019" if build >= 17763 else "2016"]
        elif major == 6 and int(parts[1]) == 2:  # WSUS 6.2: Windows Server 2012, PowerShell 3.0
            base = replace(
                VERSIONS["2012r2"],
                ps_version="3.0",
                os_caption="Microsoft Windows Server 2012 Standard",
                os_version="6.2.9200",
            )
        else:
            base = VERSIONS["2012r2" if major >= 6 else "3.0-sp2"]
        return replace(base, version=version)
    raise UsageError(f"{where}: version {version!r} is not one of {', '.join(VERSIONS)} or a dotted version")


# API member -> (type, default). Types drive topology validation of `initial` values.
CONFIGURATION: dict[str, tuple[type, Any]] = {
    "SyncFromMicrosoftUpdate": (bool, True),
    "UpstreamWsusServerName": (str, ""),
    "UpstreamWsusServerPortNumber": (int, 8530),
    "UpstreamWsusServerUseSsl": (bool, False),
    "IsReplicaServer": (bool, False),
    "UseProxy": (bool, False),
    "ProxyName": (str, ""),
    "ProxyServerPort": (int, 80),
    "UseSeparateProxyForSsl": (bool, False),
    "SslProxyName": (str, ""),
    "SslProxyServerPort": (int, 443),
    "AnonymousProxyAccess": (bool, True),
    "ProxyUserName": (str, ""),
    "ProxyUserDomain": (str, ""),
    "AllowProxyCredentialsOverNonSsl": (bool, False),
    "HostBinariesOnMicrosoftUpdate": (bool, False),
    "DownloadUpdateBinariesAsNeeded": (bool, True),
    "GetContentFromMU": (bool, False),
    "AllUpdateLanguagesEnabled": (bool, False),
    "EnabledUpdateLanguages": (list, ["en"]),
    "UpdateServerConfigurationState": (str, "Ready"),
    "SynchronizeAutomatically": (bool, False),
    "SynchronizeAutomaticallyTimeOfDay": (str, "00:00:00"),
    "NumberOfSynchronizationsPerDay": (int, 1),
    "SynchronizationStatus": (str, "NotProcessing"),
    # Lab only: how many (real) seconds one synchronization of this server takes.
    "SyncDurationSeconds": (int, 3),
    "SynchronizationProgress": (dict, {"TotalItems": 0, "ProcessedItems": 0, "Phase": "NotProcessing"}),
    "ContentDir": (str, "C:\\WSUS"),
    # The setup key's TargetDir: the WSUS installation folder; WsusUtil.exe is in its Tools folder.
    "TargetDir": (str, "C:\\Program Files\\Update Services"),
    # group name -> computers (FullDomainName); every computer is also in "All Computers".
    "ComputerTargetGroups": (dict, {"All Computers": [], "Unassigned Computers": []}),
    "UpdateServerStatus": (
        dict,
        {
            "UpdateCount": 0,
            "ApprovedUpdateCount": 0,
            "NotApprovedUpdateCount": 0,
            "DeclinedUpdateCount": 0,
            "UpdatesWithServerErrorsCount": 0,
            "UpdatesNeedingFilesCount": 0,
            "ComputerTargetCount": 0,
        },
    ),
}

# Accepted in a topology's `initial` but stored in their own tables (BitsDownloadPriorityForeground:
# the tbConfigurationC column) or fixed by the version unless given (the Lab* capability above, and
# the setup key's SqlServerName: another machine's name puts SUSDB on a remote SQL Server).
TABLE_KEYS = ("Services", "ContentDirAcl", "BitsDownloadPriorityForeground")
LAB_CAPABILITIES: dict[str, type] = {
    "LabApiBitsForeground": bool,
    "SqlServerName": str,
    "LabWsusUtil": bool,
    "LabEventHistoryAllUpdates": bool,
}
# LabWsusUtil (default true): WSUS installed WsusUtil.exe in <TargetDir>\Tools; false: it is not there.
# LabEventHistoryAllUpdates (default false): IUpdateServer.GetUpdateEventHistory with Guid.Empty as the
# update returns every update's events; false, the stricter reading (wsus-api.md: UNSURE), none.

# Values of the setup key (HKLM\SOFTWARE\Microsoft\Update Services\Server\Setup) a topology's
# `initial` may give besides ContentDir: UsingSSL 1 = the administration API is served over SSL only
# (its PortNumber is the server's PortNumber). Absent: 0.
SETUP_KEY_VALUES: dict[str, type] = {"UsingSSL": int}

# Win32_Service DisplayName per language: wsusauto.lab.locale.
DEFAULT_SERVICES = {
    "WsusService": ("Running", "Auto"),
    "BITS": ("Running", "Manual"),
    "W3SVC": ("Running", "Auto"),
}

# Root of the content directory: Read for Users and NETWORK SERVICE ("BITS will fail if these
# permissions are not set", Issues with Update Storage, WSUS 3.0 SP2).
# The lab gives NETWORK SERVICE Full Control: at least the Read the root needs, and the Full Control
# WSUSContent needs.
DEFAULT_CONTENT_ACL = [
    ("NT AUTHORITY\\SYSTEM", "FullControl", "Allow", True),
    ("BUILTIN\\Administrators", "FullControl", "Allow", True),
    ("NT AUTHORITY\\NETWORK SERVICE", "FullControl", "Allow", False),
    ("BUILTIN\\Users", "ReadAndExecute, Synchronize", "Allow", True),
]
