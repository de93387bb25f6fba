"""One simulated WSUS server: its state in SUSDB, read and changed through API member names."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wsusauto.lab import locale as lab_locale
from wsusauto.lab.catalog import catalog, updates_for
from wsusauto.lab.model import defaults
from wsusauto.lab.model.schedule import next_sync_time
from wsusauto.lab.model.store import EVENT_PROVIDER, SusDb
from wsusauto.lab.sqlserver import sql_instance

SCM_PROVIDER = "Service Control Manager"  # System log: 7036 state changes, 7040 start type changes
# SUSDB's own update events (IUpdateEvent, source Server), kept apart from the Application log.
UPDATE_EVENT_SOURCE = "WSUS server update events"
DOWNLOAD_FAILED_EVENT = 364  # WsusEventId.ContentSynchronizationFileDownloadFailed

Clock = Callable[[], dt.datetime]

_PASSWORD_KEY = "ProxyPassword"  # tbConfiguration row of the write-only proxy password
# Until when (ISO, the lab's clock) the last configuration Save() is still processing.
SAVE_PROCESSING_UNTIL = "LabSaveProcessingUntil"
_MISSING = object()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# "Issues with Synchronization" and "Synchronization issues": the update storage folder needs at least
# Read for the network service (S-1-5-20) and for users (S-1-5-32-545), whatever Windows calls them.
CONTENT_READERS = ("S-1-5-20", "S-1-5-32-545")
READ_RIGHTS = ("Read", "ReadAndExecute", "Modify", "FullControl", "ReadData", "ListDirectory")


def acl_grants_read(rules: list[tuple[str, str, str, bool]], identity: str) -> bool:
    """An allowing rule with a Read-ish right for this account (compared by SID: an account's name
    in any of the lab's languages, or its SID), as grant_content_read.ps1 tests it."""
    sid = lab_locale.sid_of(identity)
    return any(
        kind == "Allow"
        and lab_locale.sid_of(who) == sid
        and any(right.strip() in READ_RIGHTS for right in rights.split(","))
        for who, rights, kind, _inherited in rules
    )


def content_read_missing(server: WsusServerModel) -> list[str]:
    rules = server.db.content_acl()
    return [identity for identity in CONTENT_READERS if not acl_grants_read(rules, identity)]


def computer_groups(groups: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Groups as WSUS shows them: every computer in All Computers; ungrouped ones in Unassigned."""
    result = {name: list(members) for name, members in groups.items()}
    everyone = sorted(
        {c for members in result.values() for c in members} | set(result.get("All Computers", []))
    )
    grouped = {
        c
        for name, members in result.items()
        if name not in ("All Computers", "Unassigned Computers")
        for c in members
    }
    result["All Computers"] = everyone
    result["Unassigned Computers"] = [c for c in everyone if c not in grouped]
    return result


class WsusServerModel:
    """A lab WSUS server. The proxy password is write-only: stored, never returned."""

    def __init__(
        self,
        name: str,
        state_dir: Path,
        *,
        version: str | None = None,
        tools: tuple[str, ...] = (),
        initial: Mapping[str, Any] | None = None,
        faults: Mapping[str, dict[str, Any]] | None = None,
        clock: Clock | None = None,
        locale: str | None = None,
    ) -> None:
        self.name = name
        self._locale = locale or lab_locale.DEFAULT_LOCALE
        self.clock = clock or utc_now
        # The other lab servers in this process (set by the lab): what this server reaches by name.
        self.lab_peers: Mapping[str, WsusServerModel] = {}
        # The sync ticker's memo: (SUSDB revision, when something can next be due); see sync._tick.
        self.tick_quiet: tuple[int, dt.datetime | None] | None = None
        self.db = SusDb(Path(state_dir) / name / "SUSDB.sqlite")
        if self.db.is_new:
            previous: dict[str, Any] = {}
            self._initialise(version, {"LabSqlTools": list(tools), **dict(initial or {})})
        else:
            previous = self.db.faults()
            # A SUSDB from an older lab may lack identity members added since: fill those in only.
            stored = self.db.all_config()
            missing = {k: v for k, v in self._identity(version).items() if k not in stored}
            if missing:
                self.db.set_many(missing)
        self._backfill_updates()
        # Faults come from the topology on every start: they describe this run, not the server.
        # Those it did not have before get their evidence seeded by the lab (wsusauto.lab.evidence),
        # once: a restart with the same faults does not undo a fix.
        faults = dict(faults or {})
        self.new_faults = {n: a for n, a in faults.items() if n not in previous}
        self.db.replace_faults(faults)

    def _identity(self, version: str | None) -> dict[str, Any]:
        """What setup fixes: the version, the port, where SUSDB lives (WID on 2012+, SSEE before)."""
        preset = defaults.preset(version, f"server {self.name}")
        return {
            "Name": self.name,
            "PortNumber": preset.port,
            "Version": preset.version,
            "ServerProtocolVersion": preset.protocol,
            "SqlServerName": "MICROSOFT##WID" if preset.wid else f"{self.name.upper()}\\MICROSOFT##SSEE",
            "DatabaseName": "SUSDB",
            "IsUsingWindowsInternalDatabase": True,  # WID and SSEE are both the internal database
            "LabApiBitsForeground": preset.api_bits_foreground,
            "LabSqlTools": [],  # the SQL command-line tools installed: none unless the topology says
            "LabPSVersion": preset.ps_version,
            "LabOSCaption": preset.os_caption,
            "LabOSVersion": preset.os_version,
            # The language Windows was installed in: account, group and service names, event texts.
            "LabLocale": self._locale,
            _PASSWORD_KEY: "",
        }

    def _initialise(self, version: str | None, initial: dict[str, Any]) -> None:
        values = copy.deepcopy({name: default for name, (_type, default) in defaults.CONFIGURATION.items()})
        values.update(self._identity(version))
        values["ServerId"] = str(uuid.uuid4()).upper()
        services = dict(defaults.DEFAULT_SERVICES)
        # SUSDB's instance runs here unless SqlServerName puts it on another machine.
        sql_server = str(initial.get("SqlServerName") or values["SqlServerName"])
        instance = sql_instance(sql_server, self.name)
        if instance.service:
            services[instance.service] = ("Running", "Auto")
        values["IsUsingWindowsInternalDatabase"] = instance.internal
        for name, spec in (initial.pop("Services", None) or {}).items():
            services[name] = (spec.get("State", "Running"), spec.get("StartMode", "Auto"))
        acl = defaults.DEFAULT_CONTENT_ACL
        if "ContentDirAcl" in initial:
            acl = [
                (
                    r["IdentityReference"],
                    r["FileSystemRights"],
                    r.get("AccessControlType", "Allow"),
                    bool(r.get("IsInherited", False)),
                )
                for r in initial.pop("ContentDirAcl")
            ]
        if "BitsDownloadPriorityForeground" in initial:
            self.db.set_bits_foreground(bool(initial.pop("BitsDownloadPriorityForeground")))
        if "ComputerTargetGroups" in initial:
            values["ComputerTargetGroups"] = computer_groups(initial.pop("ComputerTargetGroups"))
        if "UpdateServerStatus" in initial:
            values["UpdateServerStatus"] = {
                **values["UpdateServerStatus"],
                **initial.pop("UpdateServerStatus"),
            }
        if "SynchronizationProgress" in initial:
            values["SynchronizationProgress"] = {
                **values["SynchronizationProgress"],
                **initial.pop("SynchronizationProgress"),
            }
        values.update(copy.deepcopy(initial))
        for name, (state, mode) in services.items():
            self.db.set_service(name, state, mode)
        self.db.replace_content_acl(list(acl))
        # Configuration last: ServerId marks the SUSDB initialised (is_new), so a lab stopped halfway
        # through starts over next time.
        self.db.set_many(values)

    def _backfill_updates(self) -> None:
        """A SUSDB from before the update table (or an ``initial`` UpdateServerStatus) has counts
        only: make update rows that give the same counts (catalog updates, this server's languages
        first)."""
        status = dict(self.get("UpdateServerStatus"))
        total = int(status.get("UpdateCount", 0))
        if total <= 0 or self.db.updates():
            return
        c = self.config()
        languages = None if c["AllUpdateLanguagesEnabled"] else list(c["EnabledUpdateLanguages"])
        first = updates_for(languages)
        chosen = (first + [u for u in catalog(max(300, total)) if u not in first])[:total]
        approved = min(total, int(status.get("ApprovedUpdateCount", 0)))
        declined = min(total - approved, int(status.get("DeclinedUpdateCount", 0)))
        failed = min(approved, int(status.get("UpdatesWithServerErrorsCount", 0)))
        needing = min(approved - failed, int(status.get("UpdatesNeedingFilesCount", 0)))
        rows = []
        for index, update in enumerate(chosen):
            is_approved = index < approved
            state = "NotReady"
            if is_approved:
                state = "Failed" if index < failed else "NotReady" if index < failed + needing else "Ready"
            rows.append(update_row(update, state, is_approved, approved <= index < approved + declined))
        self.upsert_updates(rows)

    def flush(self) -> None:
        """Checkpoint SUSDB's WAL into the main file. Every change is already committed when the
        call that made it returns; this is only for copying the file while the lab runs."""
        self.db.checkpoint()

    def close(self) -> None:
        self.db.close()

    # -- state -------------------------------------------------------------------------------

    def get(self, member: str) -> Any:
        """One stored member by its API name (the proxy password is write-only: never returned)."""
        if member == _PASSWORD_KEY:
            raise KeyError(f"{_PASSWORD_KEY} is write-only; ask has_proxy_password")
        value = self.db.get(member, _MISSING)
        if value is _MISSING:
            # A state directory made by an older lab lacks members added since.
            _type, default = defaults.CONFIGURATION.get(member, (object, None))
            return copy.deepcopy(default)
        return value

    def config(self) -> dict[str, Any]:
        """Every stored member by API name, defaults for those an older SUSDB lacks; no password."""
        stored = self.db.all_config()
        stored.pop(_PASSWORD_KEY, None)
        # In the defaults' order, as before; a default is copied only for a member SUSDB lacks.
        values = {
            member: stored.pop(member) if member in stored else copy.deepcopy(default)
            for member, (_type, default) in defaults.CONFIGURATION.items()
        }
        values.update(stored)
        return values

    def members(self, *names: str) -> dict[str, Any]:
        """Some members, as ``config()`` has them (defaults where SUSDB lacks one), at a fraction
        of its cost: the ticker asks every server a few members several times a second."""
        if _PASSWORD_KEY in names:
            raise KeyError(f"{_PASSWORD_KEY} is write-only; ask has_proxy_password")
        stored = self.db.get_many(names)
        return {
            name: stored[name]
            if name in stored
            else copy.deepcopy(defaults.CONFIGURATION.get(name, (object, None))[1])
            for name in names
        }

    def set(self, **members: Any) -> None:
        if _PASSWORD_KEY in members:
            raise KeyError(f"set the proxy password with set_proxy_password, not set({_PASSWORD_KEY}=...)")
        self.db.set_many(members)

    def set_proxy_password(self, password: str) -> None:
        """IUpdateServerConfiguration.SetProxyPassword: stored, never read back; '' clears it."""
        self.db.set_many({_PASSWORD_KEY: password})

    @property
    def has_proxy_password(self) -> bool:
        return bool(self.db.get(_PASSWORD_KEY))

    @property
    def faults(self) -> dict[str, dict[str, Any]]:
        return self.db.faults()

    def set_service(self, name: str, state: str, start_mode: str) -> None:
        self.db.set_service(name, state, start_mode)

    @property
    def locale(self) -> str:
        return str(self.db.get("LabLocale", None) or lab_locale.DEFAULT_LOCALE)

    def service_display_name(self, name: str) -> str:
        wsus3 = str(self.get("Version")).split(".")[0] in ("2", "3")  # "Update Services"
        return lab_locale.service_display_name(name, self.locale, wsus3=wsus3)

    def change_service(self, name: str, *, state: str | None = None, start_mode: str | None = None) -> None:
        """What the Service Control Manager does, with its System log events: 7036 for a state
        change ("The X service entered the running state."), 7040 for a start type change."""
        services = self.db.services()
        old_state, old_mode = services[name]
        new_state, new_mode = state or old_state, start_mode or old_mode
        self.db.set_service(name, new_state, new_mode)
        display = self.service_display_name(name)
        if new_mode != old_mode:
            self.add_event(
                7040,
                lab_locale.start_type_message(display, old_mode, new_mode, self.locale),
                provider=SCM_PROVIDER,
            )
        if new_state != old_state:
            self.add_event(
                7036, lab_locale.service_state_message(display, new_state, self.locale), provider=SCM_PROVIDER
            )

    def service_events(self, limit: int = 50) -> list[tuple[int, str, str]]:
        """The Service Control Manager's events, newest first (the lab's System log)."""
        return self.db.events([7036, 7040], "", limit, provider=SCM_PROVIDER)

    # -- updates and tbConfigurationC ----------------------------------------------------------

    def updates(self) -> list[dict[str, Any]]:
        return self.db.updates()

    def upsert_updates(self, rows: list[dict[str, Any]]) -> None:
        failing = {r["UpdateId"] for r in rows if r["State"] == "Failed"}
        already = {r["UpdateId"] for r in self.db.updates_by_id(sorted(failing)) if r["State"] == "Failed"}
        self.db.upsert_updates(rows)
        # A download that fails leaves a server update event 364 naming its update in SUSDB (what
        # IUpdateServer.GetUpdateEventHistory returns), apart from the Application log's text.
        now = iso(self.clock())
        for update_id in sorted(failing - already):
            self.db.add_event(DOWNLOAD_FAILED_EVENT, now, update_id, provider=UPDATE_EVENT_SOURCE)
        self.refresh_status()

    def download_failure_events(self, since: dt.datetime) -> list[str]:
        """The update ids of the server's download-failure events since ``since``, newest first."""
        rows = self.db.events([DOWNLOAD_FAILED_EVENT], iso(since), 1_000_000, provider=UPDATE_EVENT_SOURCE)
        return [message for _id, _time, message in rows]

    def refresh_status(self) -> None:
        """UpdateServerStatus follows the update table (ComputerTargetCount is kept)."""
        status = dict(self.get("UpdateServerStatus"))
        status.update(self.db.update_counts())
        self.db.set_many({"UpdateServerStatus": status})

    @property
    def bits_foreground(self) -> bool:
        """SUSDB.dbo.tbConfigurationC.BitsDownloadPriorityForeground."""
        return self.db.bits_foreground()

    def set_bits_foreground(self, value: bool) -> None:
        self.db.set_bits_foreground(value)

    def add_event(
        self,
        event_id: int,
        message: str,
        when: dt.datetime | None = None,
        provider: str = EVENT_PROVIDER,
    ) -> None:
        """Write an Application log event (provider 'Windows Server Update Services' by default)."""
        self.db.add_event(event_id, iso(when or self.clock()), message, provider)

    def record_sync(
        self,
        result: str,
        error: str = "NotApplicable",
        error_text: str = "",
        *,
        start: dt.datetime,
        end: dt.datetime,
        started_manually: bool,
        update_errors: list[dict[str, str]] | None = None,
    ) -> None:
        self.db.add_sync(
            {
                "Result": result,
                "Error": error,
                "ErrorText": error_text,
                "StartTime": iso(start),
                "EndTime": iso(end),
                "StartedManually": started_manually,
                "UpdateErrors": list(update_errors or []),
            }
        )

    def last_synchronization_id(self) -> str:
        """ISynchronizationInfo.Id of the last synchronization, a Guid as [string] writes it (Guid.Empty
        when none ever ran): the same for the same sync, whoever asks."""
        number = self.db.last_sync_number()
        if number is None:
            return str(uuid.UUID(int=0))
        return str(uuid.uuid5(uuid.UUID(str(self.get("ServerId"))), f"synchronization/{number}"))

    def configuration_state(self) -> str:
        """GetUpdateServerConfigurationState(): ProcessingSave while the last configuration save is
        processing (wsusauto.lab.saves); a state the topology gave (``initial``) stays as given."""
        stored = self.members("UpdateServerConfigurationState", SAVE_PROCESSING_UNTIL)
        if stored["UpdateServerConfigurationState"] != "Ready":
            return str(stored["UpdateServerConfigurationState"])
        until = stored[SAVE_PROCESSING_UNTIL]
        if until and self.clock() < dt.datetime.fromisoformat(until):
            return "ProcessingSave"
        return "Ready"

    def next_synchronization_time(self) -> dt.datetime | None:
        config = self.members(
            "SynchronizeAutomatically", "SynchronizeAutomaticallyTimeOfDay", "NumberOfSynchronizationsPerDay"
        )
        return next_sync_time(
            self.clock(),
            config["SynchronizeAutomatically"],
            config["SynchronizeAutomaticallyTimeOfDay"],
            config["NumberOfSynchronizationsPerDay"],
        )

    # -- the facts snippet's view ------------------------------------------------------------

    def localized_groups(self, groups: Mapping[str, list[str]]) -> dict[str, Any]:
        """ComputerTargetGroups (display name -> computers) and ComputerTargetGroupIds (display name
        -> id) as get_facts reads them: the built-in groups under their names in this locale."""
        return {
            "ComputerTargetGroups": {
                lab_locale.group_name(key, self.locale): list(members) for key, members in groups.items()
            },
            "ComputerTargetGroupIds": {
                lab_locale.group_name(key, self.locale): lab_locale.group_id(key) for key in groups
            },
        }

    def content_acl_rules(self) -> list[dict[str, Any]]:
        """The content folder's rules as get_facts and grant_content_read report them: the account
        as this Windows names it, and its SID."""
        return [
            {
                "IdentityReference": lab_locale.account_name(i, self.locale),
                "Sid": lab_locale.sid_of(i),
                "FileSystemRights": r,
                "AccessControlType": t,
                "IsInherited": h,
            }
            for i, r, t, h in self.db.content_acl()
        ]

    def facts(
        self,
        *,
        history_count: int,
        event_ids: list[int],
        event_lookback_hours: int,
        max_events: int,
        service_names: list[str],
    ) -> dict[str, Any]:
        c = self.config()
        history = self.db.sync_history(history_count)
        last = self.db.sync_history(1)
        never: dict[str, Any] = {
            "Result": "NeverRun",
            "Error": "NotApplicable",
            "ErrorText": "",
            "StartTime": None,
            "EndTime": None,
            "StartedManually": False,
            "UpdateErrors": [],
        }
        since = iso(self.clock() - dt.timedelta(hours=event_lookback_hours))
        next_time = self.next_synchronization_time()
        wanted = {n.lower() for n in service_names}
        return {
            "Name": c["Name"],
            "PortNumber": c["PortNumber"],
            "Version": c["Version"],
            "ServerProtocolVersion": c["ServerProtocolVersion"],
            **{
                member: c[member]
                for member in (
                    "SyncFromMicrosoftUpdate",
                    "UpstreamWsusServerName",
                    "UpstreamWsusServerPortNumber",
                    "UpstreamWsusServerUseSsl",
                    "IsReplicaServer",
                    "UseProxy",
                    "ProxyName",
                    "ProxyServerPort",
                    "UseSeparateProxyForSsl",
                    "SslProxyName",
                    "SslProxyServerPort",
                    "AnonymousProxyAccess",
                    "ProxyUserName",
                    "ProxyUserDomain",
                    "AllowProxyCredentialsOverNonSsl",
                    "HostBinariesOnMicrosoftUpdate",
                    "DownloadUpdateBinariesAsNeeded",
                    "GetContentFromMU",
                    "AllUpdateLanguagesEnabled",
                    "EnabledUpdateLanguages",
                    "SynchronizeAutomatically",
                    "SynchronizeAutomaticallyTimeOfDay",
                    "NumberOfSynchronizationsPerDay",
                    "SynchronizationStatus",
                    "ContentDir",
                    "SqlServerName",
                )
            },
            **self.localized_groups(c["ComputerTargetGroups"]),
            "UpdateServerConfigurationState": self.configuration_state(),
            "HasProxyPassword": self.has_proxy_password,
            # Probed with Get-Member: only where the API has the member (LabApiBitsForeground).
            "BitsDownloadPriorityForeground": self.bits_foreground if c.get("LabApiBitsForeground") else None,
            "NextSynchronizationTime": iso(next_time) if next_time else None,
            "SynchronizationProgress": dict(c["SynchronizationProgress"]),
            "LastSynchronizationInfo": last[0] if last else never,
            "SynchronizationHistory": history,
            "UpdateServerStatus": dict(c["UpdateServerStatus"]),
            "Services": {
                name: {"State": state, "StartMode": mode}
                for name, (state, mode) in self.db.services().items()
                if name.lower() in wanted
            },
            "ContentDirAcl": self.content_acl_rules(),
            "DatabaseServerName": c["SqlServerName"],
            "DatabaseName": c["DatabaseName"],
            "IsUsingWindowsInternalDatabase": c["IsUsingWindowsInternalDatabase"],
            "PSVersion": c["LabPSVersion"],
            "OSCaption": c["LabOSCaption"],
            "OSVersion": c["LabOSVersion"],
            "Events": [
                {"Id": i, "TimeCreated": t, "Message": m}
                for i, t, m in self.db.events(event_ids, since, max_events)
            ],
        }


def update_row(update: Any, state: str, approved: bool = False, declined: bool = False) -> dict[str, Any]:
    """A tbUpdate row for a catalog update."""
    return {
        "UpdateId": update.id,
        "Title": update.title,
        "Product": update.product,
        "Classification": update.classification,
        "Language": update.language,
        "SizeBytes": update.size_bytes,
        "State": state,
        "IsApproved": approved,
        "IsDeclined": declined,
        "ApprovalActive": True,
    }
