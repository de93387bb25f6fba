"""What a freshly installed WSUS server looks like: the lab's starting state, by Windows version.

Every lab server starts unconfigured: standalone, syncing from Microsoft Update, content stored
locally, manual synchronization. Keys are the WSUS API's member names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wsusauto.errors import UsageError


@dataclass(frozen=True)
class VersionPreset:
    version: str
    protocol: str
    port: int
    wid: bool  # Windows Internal Database (2012+) vs SQL Server Embedded Edition (2008/R2)
    # The lab's choice, since wsus-api.md marks both UNSURE: whether IUpdateServerConfiguration has
    # BitsDownloadPriorityForeground (here: WSUS 10.x, Server 2016 and later), and which SQL
    # command-line tool is installed for the documented fix (osql ships with WSUS 2.0/3.0 under
    # %ProgramFiles%\Update Services\tools\osql; 2012 R2 has no osql, the lab gives it sqlcmd).
    # A topology's `initial` overrides both: LabApiBitsForeground (bool), LabSqlTools ([osql, sqlcmd]).
    api_bits_foreground: bool = False
    sql_tools: tuple[str, ...] = ()


VERSIONS = {
    "2022": VersionPreset("10.0.20348.1", "1.20", 8530, True, True, ()),
    "2019": VersionPreset("10.0.17763.678", "1.20", 8530, True, True, ()),
    "2016": VersionPreset("10.0.14393.0", "1.20", 8530, True, True, ()),
    "2012R2": VersionPreset("6.3.9600.16384", "1.20", 8530, True, False, ("sqlcmd",)),
    "2008R2": VersionPreset("3.2.7600.226", "1.8", 80, False, False, ("osql",)),
}
SQL_TOOLS = ("osql", "sqlcmd")
DEFAULT_VERSION = "2019"


def preset(version: str | None, where: str) -> VersionPreset:
    if version is None:
        return VERSIONS[DEFAULT_VERSION]
    if version in VERSIONS:
        return VERSIONS[version]
    parts = version.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        major = int(parts[0])
        wid = major >= 6
        return VersionPreset(
            version,
            "1.20" if wid else "1.8",
            8530 if wid else 80,
            wid,
            major >= 10,
            () if major >= 10 else ("sqlcmd",) if wid else ("osql",),
        )
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
# the tbConfigurationC column) or fixed by the version unless given (the Lab* capabilities above).
TABLE_KEYS = ("Services", "ContentDirAcl", "BitsDownloadPriorityForeground")
LAB_CAPABILITIES: dict[str, type] = {"LabApiBitsForeground": bool, "LabSqlTools": list}

# Values of the setup key (HKLM\SOFTWARE\Microsoft\Update Services\Server\Setup) a topology's
# `initial` may give besides ContentDir: UsingSSL 1 = the administration API is served over SSL only
# (its PortNumber is the server's PortNumber). Absent: 0.
SETUP_KEY_VALUES: dict[str, type] = {"UsingSSL": int}

# Win32_Service DisplayName, for the Service Control Manager's 7036/7040 messages.
SERVICE_DISPLAY_NAMES = {
    "WsusService": "WSUS Service",  # "Update Services" on WSUS 3.0 (SSEE), see display_name()
    "BITS": "Background Intelligent Transfer Service",
    "W3SVC": "World Wide Web Publishing Service",
    "MSSQL$MICROSOFT##WID": "Windows Internal Database",
    "MSSQL$MICROSOFT##SSEE": "Windows Internal Database (MICROSOFT##SSEE)",
}

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
