"""The lab's synchronization engine: a started sync runs for a while, then succeeds or fails.

A root syncs from a simulated Microsoft Update catalog; a downstream server pulls from its
upstream's SUSDB (in this process, or read-only from another lab process's file), and a replica
also takes its approvals and computer groups. Progress advances with the clock; the sync ends the
first time anyone looks after its duration (``SyncDurationSeconds``, per server). Updates live in
SUSDB's tbUpdate: a root imports the catalog (its languages), a downstream server its upstream's
updates, then approved updates' files are downloaded unless something blocks BITS (the content
directory's Read permissions, a proxy without Range headers while BitsDownloadPriorityForeground is
0). Failures on demand and from state: BITS not running, ``transient_sync_failure`` (the next N syncs
fail as if the upstream were unreachable), an upstream that is not a lab server (the name does not
resolve), an upstream that stores updates differently (the hierarchy's storage option must be the
same), approved updates that failed here and the upstream does not have, and the model faults of
wsusauto/lab/faults.py (seeded by wsusauto/lab/evidence.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import threading
from collections.abc import Mapping
from typing import Any

from wsusauto.lab import locale as lab_locale
from wsusauto.lab import peers as lab_peers
from wsusauto.lab.catalog import catalog, updates_for
from wsusauto.lab.model.schedule import next_sync_time
from wsusauto.lab.model.server import WsusServerModel, computer_groups, content_read_missing, update_row

DEFAULT_DURATION_SECONDS = 3.0
# legacy_wsus2 on a replica: the lab's choice for "a WSUS 2.0 replica times out when synchronizing"
# ("Issues with Synchronization", KB 910847): the sync runs this many times its duration, then ends
# Failed with UssCommunicationError and .NET's "The operation has timed out".
LEGACY_TIMEOUT_FACTOR = 5
TIMEOUT_TEXT = "WebException: The operation has timed out"
BITS_NOT_RUNNING_TEXT = (
    "The Background Intelligent Transfer Service (BITS) is not running; WSUS cannot synchronize or "
    "download update files until BITS runs."
)
# Lab wording, marked as such: the real texts of events 10021/10022 are unknown (wsus-api.md 5).
CATALOG_SYNC_FAILED_10021 = (
    "[lab text] The catalog was last synchronized successfully more than 1 day ago; the last "
    "catalog synchronization failed. Check the upstream server and proxy settings."
)
CATALOG_SYNC_FAILED_10022 = (
    "[lab text] The last catalog synchronization failed: the update source returned an internal error "
    "(UssInternalError). Check the upstream server and proxy settings."
)
CATALOG_SYNC_FAILED_TEXT = (
    "The catalog synchronization failed: the update source returned an internal error while sending "
    "the catalog."
)
RANGE_364_HEAD = (
    "Content file download failed. Reason: The server does not support the necessary HTTP protocol. "
    "Background Intelligent Transfer Service (BITS) requires that the server support the Range "
    "protocol header."
)
# Event 364 on a localized Windows: KB 922330's English text, the lab's translations of it, and the
# labels of the file names that follow.
RANGE_364 = {
    "en-US": (RANGE_364_HEAD, "Source File:", "Destination File:"),
    "de-DE": (
        "Fehler beim Herunterladen der Inhaltsdatei. Ursache: Der Server unterstützt das erforderliche "
        "HTTP-Protokoll nicht. Der Intelligente Hintergrundübertragungsdienst (BITS) erfordert, dass der "
        "Server den Range-Protokollheader unterstützt.",
        "Quelldatei:",
        "Zieldatei:",
    ),
    "fr-FR": (
        "Échec du téléchargement du fichier de contenu. Raison : le serveur ne prend pas en charge le "
        "protocole HTTP nécessaire. Le service de transfert intelligent en arrière-plan (BITS) exige que "
        "le serveur prenne en charge l'en-tête de protocole Range.",
        "Fichier source :",
        "Fichier de destination :",
    ),
}


_locks: dict[int, threading.RLock] = {}
_locks_guard = threading.Lock()


def _lock(server: WsusServerModel) -> threading.RLock:
    # A sync's state is read, then written: one thread at a time per server (pipelines and the ticker).
    with _locks_guard:
        return _locks.setdefault(id(server), threading.RLock())


# StartSynchronization() returns before the sync shows: "the agent runs in a separate process"
# (wsus-api.md 1.3, bb313415). The lab's sync starts this many of its seconds later, at random; until
# then the status stays NotProcessing and the last synchronization is still the previous one.
START_DELAY_SECONDS = (1.0, 4.0)
STARTS_AT = "LabSyncStartsAt"  # when the requested sync starts (ISO, the lab's clock), or None
STARTS_MANUALLY = "LabSyncStartsManually"


def locked(server: WsusServerModel) -> threading.RLock:
    """Hold to read a server's sync state in one piece (nothing ends or starts meanwhile)."""
    return _lock(server)


def start(server: WsusServerModel, manual: bool = True) -> bool:
    """StartSynchronization(): the sync is requested and starts a few seconds later. False when one
    is running or already requested."""
    with _lock(server):
        state = server.members("SynchronizationStatus", STARTS_AT)
        if state["SynchronizationStatus"] != "NotProcessing" or state[STARTS_AT]:
            return False
        now = server.clock()
        delay = random.Random(f"{server.name}/start/{now.isoformat()}").uniform(*START_DELAY_SECONDS)
        server.set(**{STARTS_AT: (now + dt.timedelta(seconds=delay)).isoformat(), STARTS_MANUALLY: manual})
        return True


def _start_requested(server: WsusServerModel, starts_at: str | None) -> None:
    """The requested sync starts once its moment has come (at that moment, however late we look)."""
    if not starts_at:
        return
    due = dt.datetime.fromisoformat(starts_at)
    if server.clock() < due:
        return
    manual = bool(server.get(STARTS_MANUALLY))
    server.set(**{STARTS_AT: None})
    _start(server, manual, at=due)  # a scheduled sync that began meanwhile takes its place


def _start(server: WsusServerModel, manual: bool, at: dt.datetime | None = None) -> bool:
    if server.get("SynchronizationStatus") != "NotProcessing":
        return False
    total = len(catalog())
    server.set(
        SynchronizationStatus="Running",
        # A scheduled sync starts at its planned moment, even when the lab's ticker notices it late.
        SyncStartedAt=(at or server.clock()).isoformat(),
        SyncStartedManually=manual,
        SynchronizationProgress={"TotalItems": total, "ProcessedItems": 0, "Phase": "Updates"},
    )
    return True


def advance(server: WsusServerModel, peers: Mapping[str, WsusServerModel]) -> None:
    """Bring a running sync up to the clock: progress, or its end."""
    with _lock(server):
        _advance(server, peers)


def _advance(server: WsusServerModel, peers: Mapping[str, WsusServerModel]) -> None:
    state = server.members("SynchronizationStatus", STARTS_AT)
    if state[STARTS_AT]:
        _start_requested(server, state[STARTS_AT])
        state = server.members("SynchronizationStatus", STARTS_AT)
    if state["SynchronizationStatus"] != "Running":
        return  # the usual case, answered without reading the whole configuration
    config = server.config()
    started = dt.datetime.fromisoformat(config["SyncStartedAt"])
    now = server.clock()
    duration = float(config.get("SyncDurationSeconds", DEFAULT_DURATION_SECONDS))
    if "legacy_wsus2" in server.faults and config["IsReplicaServer"]:
        duration *= LEGACY_TIMEOUT_FACTOR
    elapsed = (now - started).total_seconds()
    progress = dict(config["SynchronizationProgress"])
    if elapsed < duration:
        progress["ProcessedItems"] = int(progress["TotalItems"] * elapsed / duration)
        server.set(SynchronizationProgress=progress)
        return
    result, error, text, changes = _outcome(server, config, peers)
    server.set(
        SynchronizationStatus="NotProcessing",
        SynchronizationProgress={"TotalItems": 0, "ProcessedItems": 0, "Phase": "NotProcessing"},
        **changes,
    )
    end = started + dt.timedelta(seconds=duration)
    manual = bool(config.get("SyncStartedManually", True))
    errors = import_errors(server) if result == "Succeeded" else []
    server.record_sync(
        result, error, text, start=started, end=end, started_manually=manual, update_errors=errors
    )
    if not manual:
        _after_scheduled_sync(server, config, result, end)


# The server's own schedule: a random offset on every scheduled start; a failed scheduled sync is
# retried twice at about fifteen minutes, then waits for the next scheduled time
# ("Running WSUS 3.0 SP2 in Replica Mode", "Issues with Synchronization").
SCHEDULE_OFFSET = dt.timedelta(minutes=30)
RETRY_INTERVAL = dt.timedelta(minutes=15)
RETRY_JITTER = dt.timedelta(minutes=1)
SCHEDULED_RETRIES = 2


def _schedule_key(config: Mapping[str, Any]) -> str:
    return (
        f"{config['SynchronizeAutomatically']}/{config['SynchronizeAutomaticallyTimeOfDay']}/"
        f"{config['NumberOfSynchronizationsPerDay']}"
    )


def _next_scheduled(server: WsusServerModel, after: dt.datetime, rng: random.Random) -> dt.datetime | None:
    config = server.config()
    planned = next_sync_time(
        after,
        config["SynchronizeAutomatically"],
        config["SynchronizeAutomaticallyTimeOfDay"],
        config["NumberOfSynchronizationsPerDay"],
    )
    if planned is None:
        return None
    return planned + dt.timedelta(seconds=rng.uniform(0, SCHEDULE_OFFSET.total_seconds()))


def _after_scheduled_sync(
    server: WsusServerModel, config: Mapping[str, Any], result: str, end: dt.datetime
) -> None:
    retries_left = int(config.get("ScheduledRetriesLeft", SCHEDULED_RETRIES))
    rng = random.Random(f"{server.name}/{end.isoformat()}")
    if result != "Succeeded" and retries_left > 0:
        jitter = rng.uniform(-RETRY_JITTER.total_seconds(), RETRY_JITTER.total_seconds())
        server.set(
            NextScheduledRun=(end + RETRY_INTERVAL + dt.timedelta(seconds=jitter)).isoformat(),
            ScheduledRetriesLeft=retries_left - 1,
        )
        return
    following = _next_scheduled(server, end, rng)
    server.set(
        NextScheduledRun=following.isoformat() if following else None, ScheduledRetriesLeft=SCHEDULED_RETRIES
    )


def tick(server: WsusServerModel, peers: Mapping[str, WsusServerModel]) -> None:
    """What the WSUS service does on its own: finish running syncs, start scheduled ones (and retries)."""
    with _lock(server):
        _tick(server, peers)


# What a tick needs to decide whether anything is due; most ticks on most servers find nothing.
_TICK_MEMBERS = (
    "SynchronizationStatus",
    "SynchronizeAutomatically",
    "SynchronizeAutomaticallyTimeOfDay",
    "NumberOfSynchronizationsPerDay",
    "NextScheduledRun",
    "ScheduleKey",
    STARTS_AT,
)


def _tick(server: WsusServerModel, peers: Mapping[str, WsusServerModel]) -> None:
    # A tick that found nothing due left (the SUSDB revision it read, the moment something can next
    # be due, None for never) in server.tick_quiet: until either changes there is nothing to read.
    revision = server.db.revision  # read first: a write from here on makes what we find stale
    quiet = server.tick_quiet
    if quiet is not None and quiet[0] == revision and (quiet[1] is None or server.clock() < quiet[1]):
        return
    server.tick_quiet = None
    config = server.members(*_TICK_MEMBERS)
    if config["SynchronizationStatus"] == "Running" or config[STARTS_AT]:
        _advance(server, peers)
        config = server.members(*_TICK_MEMBERS)
    now = server.clock()
    # A requested sync that starts later: no quiet memo may sleep past its moment.
    requested = dt.datetime.fromisoformat(config[STARTS_AT]) if config[STARTS_AT] else None
    key = _schedule_key(config)
    if not config["SynchronizeAutomatically"]:
        if config.get("NextScheduledRun"):
            server.set(NextScheduledRun=None, ScheduleKey=key)
        elif config["SynchronizationStatus"] == "NotProcessing":
            server.tick_quiet = (revision, requested)
        return
    if config.get("ScheduleKey") != key or not config.get("NextScheduledRun"):
        following = _next_scheduled(server, now, random.Random(f"{server.name}/{now.isoformat()}"))
        server.set(
            NextScheduledRun=following.isoformat() if following else None,
            ScheduleKey=key,
            ScheduledRetriesLeft=SCHEDULED_RETRIES,
        )
        return
    planned = dt.datetime.fromisoformat(config["NextScheduledRun"])
    if config["SynchronizationStatus"] != "NotProcessing":
        return
    if now >= planned:
        _start(server, manual=False, at=planned)
    else:
        server.tick_quiet = (revision, min(planned, requested) if requested else planned)


def range_364_message(server: WsusServerModel, update: Mapping[str, Any]) -> str:
    """Event 364 as KB 922330 shows it, for one of this server's updates."""
    sha1 = hashlib.sha1(update["UpdateId"].encode()).hexdigest()
    kb = update["Title"].rsplit("(", 1)[-1].rstrip(")").lower()
    content = str(server.get("ContentDir")).rstrip("\\")
    head, source, destination = RANGE_364[server.locale]
    return (
        f"{head}\r\n{source} /msdownload/update/software/secu/2026/11/"
        f"windows10.0-{kb}-x64_{sha1}.cab {destination} "
        f"{content}\\WsusContent\\{sha1[-2:].upper()}\\{sha1.upper()}.cab."
    )


def download_content(server: WsusServerModel, when: dt.datetime | None = None) -> str | None:
    """The content phase: BITS downloads the files of approved updates, unless something blocks it.
    A blocked download fails: the update goes to state Failed and stays there, whatever fixes the
    cause, until its download is resumed (UpdateState.Failed "remains in this state until ...
    ResumeDownload"; see resume_downloads). Returns what blocked them (None: all downloaded)."""
    config = server.config()
    rows = server.updates()
    pending = [r for r in rows if r["IsApproved"] and not r["IsDeclined"] and r["State"] == "NotReady"]
    if not pending:
        return None
    blocked = None
    if not config["HostBinariesOnMicrosoftUpdate"]:  # files stored on Microsoft Update: none here
        if server.db.services().get("BITS", ("Running", "Manual"))[0] != "Running":
            blocked = "bits"
        elif content_read_missing(server):
            blocked = "content_acl"  # "The BITS service will fail if these permissions are not set"
        elif "range_header_unsupported" in server.faults and not server.bits_foreground:
            blocked = "range_header"
            server.add_event(364, range_364_message(server, pending[0]), when=when)
    state = "Ready" if blocked is None else "Failed"
    server.upsert_updates([{**r, "State": state} for r in pending])
    return blocked


def resume_downloads(server: WsusServerModel) -> int:
    """IUpdateServer.ResumeAllDownloads(): every failed download is tried again (BITS then downloads
    them, or they fail again while the cause stands). Returns how many were resumed."""
    failed = [r for r in server.updates() if r["State"] == "Failed" and not r["IsDeclined"]]
    if not failed:
        return 0
    config = server.config()
    missing: set[str] = set()
    if not config["SyncFromMicrosoftUpdate"]:
        # An update its upstream does not have cannot be downloaded from there: it fails again.
        upstream = lab_peers.find(server, server.lab_peers, config["UpstreamWsusServerName"])
        there = {u["UpdateId"] for u in upstream.updates()} if upstream is not None else set()
        missing = {r["UpdateId"] for r in failed} - there
    server.upsert_updates([{**r, "State": "NotReady"} for r in failed if r["UpdateId"] not in missing])
    download_content(server)
    return len(failed)


def _fail(
    error: str, text: str, changes: dict[str, Any] | None = None
) -> tuple[str, str, str, dict[str, Any]]:
    return "Failed", error, text, changes or {}


def _outcome(
    server: WsusServerModel, config: dict[str, Any], peers: Mapping[str, WsusServerModel]
) -> tuple[str, str, str, dict[str, Any]]:
    faults = server.faults
    bits = server.db.services().get("BITS", ("Running", "Manual"))
    if bits[0] != "Running":
        download_content(server)  # BITS cannot download either: pending files fail
        return _fail("Unknown", BITS_NOT_RUNNING_TEXT)
    if (
        "proxy_credentials_expired" in faults
        and config["UseProxy"]
        and config.get("LabProxyPasswordExpired", True)
    ):
        return _fail("ProxyError", lab_locale.proxy_407_text(server.locale))
    if "proxy_down" in faults and config["UseProxy"]:
        return _fail("ProxyError", "WebException: Unable to connect to the remote server (the proxy server)")
    if "catalog_sync_failed" in faults:
        server.add_event(10021, CATALOG_SYNC_FAILED_10021)
        return _fail("UssInternalError", CATALOG_SYNC_FAILED_TEXT)
    if "legacy_wsus2" in faults and config["IsReplicaServer"]:
        return _fail("UssCommunicationError", TIMEOUT_TEXT)
    upstream = None
    if not config["SyncFromMicrosoftUpdate"]:
        name = config["UpstreamWsusServerName"]
        upstream = lab_peers.find(server, peers, name)
        upstream_faults = upstream.faults() if upstream is not None else {}
        if upstream is None or "upstream_unresolvable" in upstream_faults:
            return _fail("UssNotFound", f"WebException: The remote name could not be resolved: '{name}'")
        if "upstream_down" in upstream_faults:
            return _fail("UssCommunicationError", "WebException: Unable to connect to the remote server")
    missing_left = int(config.get("MissingUpstreamLeft", 0))
    if missing_left > 0:
        return _fail(
            "LocalUpdateMissingForApproval",
            "Approved updates are not yet available on the upstream server.",
            {"MissingUpstreamLeft": missing_left - 1},
        )
    if "TransientFailuresLeft" in config:
        failures_left = int(config["TransientFailuresLeft"])
    else:  # first sync since the fault was set in the topology
        failures_left = int(faults.get("transient_sync_failure", {}).get("attempts", 0))
    if failures_left > 0:
        return _fail(
            "UssNotFound",
            "WebException: Unable to connect to the remote server",
            {"TransientFailuresLeft": failures_left - 1},
        )
    if upstream is None:
        import_catalog(server)
        download_content(server)
        return "Succeeded", "NotApplicable", "", {"TransientFailuresLeft": 0}
    upstream_config = upstream.config()
    if upstream_config["HostBinariesOnMicrosoftUpdate"] != config["HostBinariesOnMicrosoftUpdate"]:
        return _fail(
            "UssOtherError",
            "The update storage option of this server differs from its upstream server's; the whole "
            "hierarchy must use the same storage option.",
        )
    missing = import_from_upstream(server, config, upstream.updates())
    changes: dict[str, Any] = {"TransientFailuresLeft": 0}
    if config["IsReplicaServer"]:
        inherited = {
            g: list(m)
            for g, m in upstream_config.get("ComputerTargetGroups", {}).items()
            if g not in ("All Computers", "Unassigned Computers")
        }
        own = config.get("ComputerTargetGroups", {})
        for group in inherited:
            inherited[group] = sorted(set(own.get(group, [])))  # the groups come down; members stay local
        merged = {**{g: m for g, m in own.items()}, **inherited}
        changes["ComputerTargetGroups"] = computer_groups(merged)
    download_content(server)
    if missing:
        return _fail(
            "LocalUpdateMissingForApproval",
            f"{len(missing)} approved update(s) do not exist on the upstream server "
            f"{config['UpstreamWsusServerName']}: {', '.join(r['Title'] for r in missing[:3])}"
            + (" ..." if len(missing) > 3 else ""),
            changes,
        )
    return "Succeeded", "NotApplicable", "", changes


IMPORT_ERROR_TEXT = "The update could not be imported: an update it depends on was not found."


def import_errors(server: WsusServerModel) -> list[dict[str, Any]]:
    """The updates whose metadata failed to import in a sync (fault update_import_errors): each as
    SUSDB keeps it, the update's Guid and revision (a SynchronizationUpdateErrorInfo's UpdateId is
    an UpdateRevisionId), the SynchronizationUpdateError name and its text."""
    count = int(server.faults.get("update_import_errors", {}).get("count", 0))
    if count <= 0:
        return []
    return [
        {
            "UpdateId": update.id,
            "RevisionNumber": 200 + number,
            "Error": "DependencyNotFound",
            "ErrorText": IMPORT_ERROR_TEXT,
        }
        for number, update in enumerate(catalog()[-count:])
    ]


def import_catalog(server: WsusServerModel) -> None:
    """A root's metadata sync: the catalog's updates in its enabled languages that it lacks."""
    config = server.config()
    languages = None if config["AllUpdateLanguagesEnabled"] else list(config["EnabledUpdateLanguages"])
    known = {r["UpdateId"] for r in server.updates()}
    server.upsert_updates([update_row(u, "NotReady") for u in updates_for(languages) if u.id not in known])


def import_from_upstream(
    server: WsusServerModel, config: Mapping[str, Any], upstream_rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A downstream server's metadata sync from its upstream's updates; a replica also takes the
    upstream's active approvals and its declines ("replica servers synchronize only active
    approvals"). A failed update the upstream has is downloaded again. Returns the approved updates
    that failed here and that the upstream does not have."""
    own = {r["UpdateId"]: r for r in server.updates()}
    there = {u["UpdateId"] for u in upstream_rows}
    missing_then = set(config.get("LabFailedMissingUpstream") or [])
    transient = missing_then & there
    rows = []
    for update in upstream_rows:
        mine = own.get(update["UpdateId"])
        row = dict(
            mine
            or {
                **update,
                "State": "NotReady",
                "IsApproved": False,
                "IsDeclined": False,
                "ApprovalActive": True,
            }
        )
        if config["IsReplicaServer"]:
            row["IsApproved"] = update["IsApproved"] and update["ApprovalActive"]
            row["IsDeclined"] = update["IsDeclined"]
        if row["State"] == "Failed" and update["UpdateId"] in transient:
            # "Issues with Synchronization": an update the upstream did not have yet when this
            # server asked "will resolve itself the next time the downstream server synchronizes".
            # Any other failed download stays failed until it is resumed.
            row["State"] = "NotReady"
        if mine is None or row != mine:
            rows.append(row)
    if rows:
        server.upsert_updates(rows)
    if transient:
        server.set(LabFailedMissingUpstream=sorted(missing_then - transient))
    return [
        r
        for r in own.values()
        if r["UpdateId"] not in there and r["State"] == "Failed" and r["IsApproved"] and not r["IsDeclined"]
    ]
