"""A WSUS server's state as typed, read-only values, parsed from the ``get_facts`` snippet.

Field names follow the WSUS API's member names (in snake_case); the raw hashtable keys are the API's
own names. Parsing is strict: a missing key or a value of the wrong type is a ``FactsError`` naming
the key, because every later decision (diffs, checks, plans) trusts these values.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wsusauto.errors import FactsError

SETUP_REGISTRY_PATH = r"HKLM:\SOFTWARE\Microsoft\Update Services\Server\Setup"

# Events the checks read: 364 content download failed (Range header), 10012 ACLs,
# 10021/10022 catalog sync health, 10041/10042 disk space, 386 sync completed with failure.
DEFAULT_EVENT_IDS = (364, 386, 10012, 10021, 10022, 10041, 10042)
DEFAULT_SERVICE_NAMES = ("WsusService", "BITS", "W3SVC", "MSSQL$MICROSOFT##WID", "MSSQL$MICROSOFT##SSEE")


def facts_parameters(
    *,
    history_count: int = 10,
    event_lookback_hours: int = 72,
    event_ids: tuple[int, ...] = DEFAULT_EVENT_IDS,
    max_events: int = 50,
    service_names: tuple[str, ...] = DEFAULT_SERVICE_NAMES,
) -> dict[str, Any]:
    """The parameters of ``get_facts`` with the toolkit's defaults."""
    return {
        "HistoryCount": history_count,
        "EventLookbackHours": event_lookback_hours,
        "EventIds": list(event_ids),
        "MaxEvents": max_events,
        "ServiceNames": list(service_names),
        "SetupRegistryPath": SETUP_REGISTRY_PATH,
    }


@dataclass(frozen=True)
class UpdateError:
    """One update whose metadata failed to import (SynchronizationUpdateErrorInfo)."""

    update_id: str  # the update's Guid (the UpdateRevisionId's UpdateId), lower case
    revision_number: int  # the revision that failed (the UpdateRevisionId's RevisionNumber)
    error: str  # SynchronizationUpdateError name
    error_text: str


@dataclass(frozen=True)
class SyncInfo:
    result: str  # SynchronizationResult name: NeverRun, Succeeded, Failed, ...
    error: str  # SynchronizationError name: NotApplicable, UssNotFound, ...
    error_text: str
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    started_manually: bool
    update_errors: tuple[UpdateError, ...]

    @property
    def duration(self) -> dt.timedelta | None:
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time


@dataclass(frozen=True)
class SyncProgress:
    total_items: int
    processed_items: int
    phase: str


@dataclass(frozen=True)
class ServerStatus:
    update_count: int
    approved_update_count: int
    not_approved_update_count: int
    declined_update_count: int
    updates_with_server_errors_count: int
    updates_needing_files_count: int
    computer_target_count: int


@dataclass(frozen=True)
class ServiceState:
    state: str  # Win32_Service.State: Running, Stopped, ...
    start_mode: str  # Win32_Service.StartMode: Auto, Manual, Disabled


@dataclass(frozen=True)
class AccessRule:
    identity_reference: str  # the account's name in the server's language; decide by ``sid``
    file_system_rights: str
    access_control_type: str
    is_inherited: bool
    sid: str = ""  # the account's SID, e.g. S-1-5-20 (NETWORK SERVICE in every language)


# WSUS's built-in computer groups by their fixed ids: their names are localized ("Alle Computer").
ALL_COMPUTERS_GROUP_ID = "a0a08746-4dbe-4a37-9adf-9e7652c0b421"
UNASSIGNED_COMPUTERS_GROUP_ID = "b73ca6ed-5727-47f3-84de-015e03f6a88a"
BUILTIN_GROUP_IDS = frozenset({ALL_COMPUTERS_GROUP_ID, UNASSIGNED_COMPUTERS_GROUP_ID})


@dataclass(frozen=True)
class Event:
    id: int
    time_created: dt.datetime | None
    message: str


@dataclass(frozen=True)
class Facts:
    host: str
    name: str
    port_number: int
    version: str
    server_protocol_version: str
    # update source
    sync_from_microsoft_update: bool
    upstream_wsus_server_name: str
    upstream_wsus_server_port_number: int
    upstream_wsus_server_use_ssl: bool
    is_replica_server: bool
    # proxy (the password itself is never readable; only whether one is set)
    use_proxy: bool
    proxy_name: str
    proxy_server_port: int
    use_separate_proxy_for_ssl: bool
    ssl_proxy_name: str
    ssl_proxy_server_port: int
    anonymous_proxy_access: bool
    proxy_user_name: str
    proxy_user_domain: str
    has_proxy_password: bool
    allow_proxy_credentials_over_non_ssl: bool
    # storage and languages
    host_binaries_on_microsoft_update: bool
    download_update_binaries_as_needed: bool
    get_content_from_mu: bool
    # None where the API lacks the member (older WSUS keep it only in SUSDB.dbo.tbConfigurationC)
    bits_download_priority_foreground: bool | None
    all_update_languages_enabled: bool
    enabled_update_languages: tuple[str, ...]
    update_server_configuration_state: str
    # subscription (times of day are UTC)
    synchronize_automatically: bool
    synchronize_automatically_time_of_day: dt.time
    number_of_synchronizations_per_day: int
    next_synchronization_time: dt.datetime | None
    synchronization_status: str
    synchronization_progress: SyncProgress
    last_synchronization_info: SyncInfo | None
    synchronization_history: tuple[SyncInfo, ...]
    update_server_status: ServerStatus
    computer_target_groups: Mapping[str, tuple[str, ...]]  # group name -> computers (FullDomainName)
    computer_target_group_ids: Mapping[str, str]  # group name -> IComputerTargetGroup.Id (lower case)
    services: Mapping[str, ServiceState]
    content_dir: str
    content_dir_acl: tuple[AccessRule, ...]
    sql_server_name: str
    database_server_name: str
    database_name: str
    is_using_windows_internal_database: bool
    events: tuple[Event, ...]
    # what the server runs on: $PSVersionTable.PSVersion, Win32_OperatingSystem Caption and Version
    ps_version: str = ""
    os_caption: str = ""
    os_version: str = ""

    @property
    def database_kind(self) -> str:
        """Where SUSDB lives, from the setup key's SqlServerName (wsus-api.md section 4): 'WID'
        (2012 and later), 'SSEE' (WSUS 3.0's internal database) or 'SQL Server'."""
        name = self.sql_server_name.upper()
        return "WID" if "##WID" in name else "SSEE" if "##SSEE" in name else "SQL Server"

    @property
    def update_source(self) -> str:
        """'Microsoft Update' or 'name:port' (with '(SSL)') of the upstream server."""
        if self.sync_from_microsoft_update:
            return "Microsoft Update"
        ssl = " (SSL)" if self.upstream_wsus_server_use_ssl else ""
        return f"{self.upstream_wsus_server_name}:{self.upstream_wsus_server_port_number}{ssl}"

    def group_name(self, group_id: str) -> str | None:
        """The name this server shows for the group with ``group_id`` (None: no such group)."""
        for name, found in self.computer_target_group_ids.items():
            if found == group_id:
                return name
        return None

    @property
    def all_computers(self) -> tuple[str, ...]:
        """Every computer that reported to this server: the All Computers group, found by its id."""
        name = self.group_name(ALL_COMPUTERS_GROUP_ID)
        return self.computer_target_groups.get(name, ()) if name is not None else ()

    @property
    def stores_updates_locally(self) -> bool:
        # HostBinariesOnMicrosoftUpdate = true means clients download from Microsoft Update.
        return not self.host_binaries_on_microsoft_update


class _Reader:
    """Strict typed access to the snippet's hashtable; errors name the key path."""

    def __init__(self, host: str, data: Mapping[str, Any], path: str = "") -> None:
        if not isinstance(data, Mapping):
            raise FactsError(host, f"facts{path or ''} is {type(data).__name__}, expected a hashtable")
        self.host, self.data, self.path = host, data, path

    def _get(self, key: str) -> Any:
        if key not in self.data:
            raise FactsError(self.host, f"facts are missing {self.path}{key}")
        return self.data[key]

    def _fail(self, key: str, expected: str, value: Any) -> FactsError:
        return FactsError(self.host, f"facts {self.path}{key} is {value!r}, expected {expected}")

    def text(self, key: str) -> str:
        value = self._get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._fail(key, "a string", value)
        return value

    def guid(self, key: str) -> str:
        """A Guid as text, lower case. An UpdateRevisionId cast to [string] gives its class name,
        not the Guid: that is refused here, not carried on as an id."""
        value = self.text(key)
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise self._fail(key, "a Guid", value) from None

    def integer(self, key: str) -> int:
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._fail(key, "an integer", value)
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false", value)
        return value

    def optional_flag(self, key: str) -> bool | None:
        value = self._get(key)
        if value is None or value == "":
            return None  # PowerShell's $null arrives as None (or an empty string)
        if not isinstance(value, bool):
            raise self._fail(key, "true, false or null", value)
        return value

    def moment(self, key: str) -> dt.datetime | None:
        value = self._get(key)
        if value in (None, ""):
            return None
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        if not isinstance(value, str):
            raise self._fail(key, "an ISO time", value)
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self._fail(key, "an ISO time", value) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)

    def time_of_day(self, key: str) -> dt.time:
        value = self.text(key)
        try:
            hours, minutes, seconds = (int(part) for part in value.split(":"))
            return dt.time(hours, minutes, seconds)
        except ValueError:
            raise self._fail(key, "a time of day hh:mm:ss", value) from None

    def array(self, key: str) -> list[Any]:
        value = self._get(key)
        if value is None or value == "":
            return []  # PowerShell hands an empty array over as $null or an empty string
        if isinstance(value, Mapping | str):
            return [value]  # a one-element array unrolled by the pipeline
        if not isinstance(value, list | tuple):
            raise self._fail(key, "a list", value)
        return list(value)

    def sub(self, key: str) -> _Reader:
        return _Reader(self.host, self._get(key), f"{self.path}{key}.")

    def optional_sub(self, key: str) -> _Reader | None:
        value = self._get(key)
        if value in (None, ""):
            return None
        return _Reader(self.host, value, f"{self.path}{key}.")

    def items(self, key: str) -> list[_Reader]:
        return [_Reader(self.host, item, f"{self.path}{key}[{i}].") for i, item in enumerate(self.array(key))]


def _sync_info(r: _Reader) -> SyncInfo:
    return SyncInfo(
        result=r.text("Result"),
        error=r.text("Error"),
        error_text=r.text("ErrorText"),
        start_time=r.moment("StartTime"),
        end_time=r.moment("EndTime"),
        started_manually=r.flag("StartedManually"),
        update_errors=tuple(
            UpdateError(e.guid("UpdateId"), e.integer("RevisionNumber"), e.text("Error"), e.text("ErrorText"))
            for e in r.items("UpdateErrors")
        ),
    )


def _group_ids(r: _Reader) -> dict[str, str]:
    raw = r._get("ComputerTargetGroupIds") or {}
    if not isinstance(raw, Mapping):
        raise FactsError(r.host, f"facts ComputerTargetGroupIds is {raw!r}, expected a hashtable")
    ids = r.sub("ComputerTargetGroupIds")
    return {str(name): ids.text(name).lower() for name in raw}


def _groups(r: _Reader) -> dict[str, tuple[str, ...]]:
    raw = r._get("ComputerTargetGroups") or {}
    if not isinstance(raw, Mapping):
        raise FactsError(r.host, f"facts ComputerTargetGroups is {raw!r}, expected a hashtable")
    groups = r.sub("ComputerTargetGroups")
    return {str(name): tuple(str(c) for c in groups.array(name)) for name in raw}


def parse_facts(host: str, raw: Any) -> Facts:
    """Build ``Facts`` from the ``get_facts`` output of ``host``."""
    r = _Reader(host, raw)
    progress = r.sub("SynchronizationProgress")
    status = r.sub("UpdateServerStatus")
    last = r.optional_sub("LastSynchronizationInfo")
    services_raw = r._get("Services") or {}
    if not isinstance(services_raw, Mapping):
        raise FactsError(host, f"facts Services is {services_raw!r}, expected a hashtable")
    services = {}
    for name in services_raw:
        s = r.sub("Services").sub(name)
        services[str(name)] = ServiceState(s.text("State"), s.text("StartMode"))
    return Facts(
        host=host,
        name=r.text("Name"),
        port_number=r.integer("PortNumber"),
        version=r.text("Version"),
        server_protocol_version=r.text("ServerProtocolVersion"),
        sync_from_microsoft_update=r.flag("SyncFromMicrosoftUpdate"),
        upstream_wsus_server_name=r.text("UpstreamWsusServerName"),
        upstream_wsus_server_port_number=r.integer("UpstreamWsusServerPortNumber"),
        upstream_wsus_server_use_ssl=r.flag("UpstreamWsusServerUseSsl"),
        is_replica_server=r.flag("IsReplicaServer"),
        use_proxy=r.flag("UseProxy"),
        proxy_name=r.text("ProxyName"),
        proxy_server_port=r.integer("ProxyServerPort"),
        use_separate_proxy_for_ssl=r.flag("UseSeparateProxyForSsl"),
        ssl_proxy_name=r.text("SslProxyName"),
        ssl_proxy_server_port=r.integer("SslProxyServerPort"),
        anonymous_proxy_access=r.flag("AnonymousProxyAccess"),
        proxy_user_name=r.text("ProxyUserName"),
        proxy_user_domain=r.text("ProxyUserDomain"),
        has_proxy_password=r.flag("HasProxyPassword"),
        allow_proxy_credentials_over_non_ssl=r.flag("AllowProxyCredentialsOverNonSsl"),
        host_binaries_on_microsoft_update=r.flag("HostBinariesOnMicrosoftUpdate"),
        download_update_binaries_as_needed=r.flag("DownloadUpdateBinariesAsNeeded"),
        get_content_from_mu=r.flag("GetContentFromMU"),
        bits_download_priority_foreground=r.optional_flag("BitsDownloadPriorityForeground"),
        all_update_languages_enabled=r.flag("AllUpdateLanguagesEnabled"),
        enabled_update_languages=tuple(str(x) for x in r.array("EnabledUpdateLanguages")),
        update_server_configuration_state=r.text("UpdateServerConfigurationState"),
        synchronize_automatically=r.flag("SynchronizeAutomatically"),
        synchronize_automatically_time_of_day=r.time_of_day("SynchronizeAutomaticallyTimeOfDay"),
        number_of_synchronizations_per_day=r.integer("NumberOfSynchronizationsPerDay"),
        next_synchronization_time=r.moment("NextSynchronizationTime"),
        synchronization_status=r.text("SynchronizationStatus"),
        synchronization_progress=SyncProgress(
            progress.integer("TotalItems"), progress.integer("ProcessedItems"), progress.text("Phase")
        ),
        last_synchronization_info=_sync_info(last) if last is not None else None,
        synchronization_history=tuple(_sync_info(h) for h in r.items("SynchronizationHistory")),
        update_server_status=ServerStatus(
            update_count=status.integer("UpdateCount"),
            approved_update_count=status.integer("ApprovedUpdateCount"),
            not_approved_update_count=status.integer("NotApprovedUpdateCount"),
            declined_update_count=status.integer("DeclinedUpdateCount"),
            updates_with_server_errors_count=status.integer("UpdatesWithServerErrorsCount"),
            updates_needing_files_count=status.integer("UpdatesNeedingFilesCount"),
            computer_target_count=status.integer("ComputerTargetCount"),
        ),
        computer_target_groups=_groups(r),
        computer_target_group_ids=_group_ids(r),
        services=services,
        content_dir=r.text("ContentDir"),
        content_dir_acl=tuple(
            AccessRule(
                a.text("IdentityReference"),
                a.text("FileSystemRights"),
                a.text("AccessControlType"),
                a.flag("IsInherited"),
                a.text("Sid").upper(),
            )
            for a in r.items("ContentDirAcl")
        ),
        sql_server_name=r.text("SqlServerName"),
        database_server_name=r.text("DatabaseServerName"),
        database_name=r.text("DatabaseName"),
        is_using_windows_internal_database=r.flag("IsUsingWindowsInternalDatabase"),
        events=tuple(
            Event(e.integer("Id"), e.moment("TimeCreated"), e.text("Message")) for e in r.items("Events")
        ),
        ps_version=r.text("PSVersion"),
        os_caption=r.text("OSCaption"),
        os_version=r.text("OSVersion"),
    )


def gather_facts(session: Any, **overrides: Any) -> Facts:
    """Run ``get_facts`` on an open ``Session`` and parse the result."""
    raw = session.invoke("get_facts", read_only=True, **facts_parameters(**overrides))
    return parse_facts(session.name, raw)
