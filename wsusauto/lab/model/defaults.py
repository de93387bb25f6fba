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


VERSIONS = {
    "2022": VersionPreset("10.0.20348.1", "1.20", 8530, True),
    "2019": VersionPreset("10.0.17763.678", "1.20", 8530, True),
    "2016": VersionPreset("10.0.14393.0", "1.20", 8530, True),
    "2012R2": VersionPreset("6.3.9600.16384", "1.20", 8530, True),
    "2008R2": VersionPreset("3.2.7600.226", "1.8", 80, False),
}
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
        return VersionPreset(version, "1.20" if wid else "1.8", 8530 if wid else 80, wid)
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

# Accepted in a topology's `initial` but stored in their own tables.
TABLE_KEYS = ("Services", "ContentDirAcl")

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
