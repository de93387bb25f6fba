"""The lab's synchronization engine: a started sync runs for a while, then succeeds or fails.

A root syncs from a simulated Microsoft Update catalog; a downstream server pulls from its
upstream's SUSDB (in this process, or read-only from another lab process's file), and a replica
also takes its approvals and computer groups. Progress advances with the clock; the sync ends the
first time anyone looks after its duration (``SyncDurationSeconds``, per server). Failures on
demand: ``transient_sync_failure`` (the next N syncs fail as if the upstream were unreachable), an
upstream that is not a lab server (the name does not resolve), and an upstream that stores updates
differently (the hierarchy's storage option must be the same).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections.abc import Mapping
from typing import Any

from wsusauto.lab.catalog import catalog, updates_for
from wsusauto.lab.model.schedule import next_sync_time
from wsusauto.lab.model.server import WsusServerModel, computer_groups
from wsusauto.lab.model.store import connect_read_only

DEFAULT_DURATION_SECONDS = 3.0


def _upstream_config(server: WsusServerModel, peers: Mapping[str, WsusServerModel], name: str) -> dict | None:
    short = name.split(".")[0]
    if short in peers:
        return peers[short].config()
    path = server.db.path.parent.parent / short / "SUSDB.sqlite"
    if not path.exists():
        return None
    with connect_read_only(path) as db:
        return {
            key: json.loads(value) for key, value in db.execute("SELECT name, value FROM tbConfiguration")
        }


def _upstream_faults(server: WsusServerModel, peers: Mapping[str, WsusServerModel], name: str) -> dict:
    short = name.split(".")[0]
    if short in peers:
        return peers[short].faults
    path = server.db.path.parent.parent / short / "SUSDB.sqlite"
    if not path.exists():
        return {}
    with connect_read_only(path) as db:
        return {n: json.loads(a) for n, a in db.execute("SELECT name, arguments FROM tbFault")}


_locks: dict[int, threading.RLock] = {}
_locks_guard = threading.Lock()


def _lock(server: WsusServerModel) -> threading.RLock:
    # A sync's state is read, then written: one thread at a time per server (pipelines and the ticker).
    with _locks_guard:
        return _locks.setdefault(id(server), threading.RLock())


def start(server: WsusServerModel, manual: bool = True) -> bool:
    """StartSynchronization(): False when one is already running."""
    with _lock(server):
        return _start(server, manual)


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
    config = server.config()
    if config["SynchronizationStatus"] != "Running":
        return
    started = dt.datetime.fromisoformat(config["SyncStartedAt"])
    now = server.clock()
    duration = float(config.get("SyncDurationSeconds", DEFAULT_DURATION_SECONDS))
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
    server.record_sync(result, error, text, start=started, end=end, started_manually=manual)
    if not manual:
        _after_scheduled_sync(server, config, result, end)


# The server's own schedule: a random offset on every scheduled start; a failed scheduled sync is
# retried twice at about fifteen minutes, then waits for the next scheduled time (seeds 000/001).
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


def _tick(server: WsusServerModel, peers: Mapping[str, WsusServerModel]) -> None:
    _advance(server, peers)
    config = server.config()
    now = server.clock()
    key = _schedule_key(config)
    if not config["SynchronizeAutomatically"]:
        if config.get("NextScheduledRun"):
            server.set(NextScheduledRun=None, ScheduleKey=key)
        return
    if config.get("ScheduleKey") != key or not config.get("NextScheduledRun"):
        following = _next_scheduled(server, now, random.Random(f"{server.name}/{now.isoformat()}"))
        server.set(
            NextScheduledRun=following.isoformat() if following else None,
            ScheduleKey=key,
            ScheduledRetriesLeft=SCHEDULED_RETRIES,
        )
        return
    if config["SynchronizationStatus"] == "NotProcessing" and now >= dt.datetime.fromisoformat(
        config["NextScheduledRun"]
    ):
        _start(server, manual=False, at=dt.datetime.fromisoformat(config["NextScheduledRun"]))


def _outcome(
    server: WsusServerModel, config: dict, peers: Mapping[str, WsusServerModel]
) -> tuple[str, str, str, dict[str, Any]]:
    faults = server.faults
    if "proxy_credentials_expired" in faults:
        return (
            "Failed",
            "ProxyError",
            "The remote server returned an error: (407) Proxy Authentication Required.",
            {},
        )
    if "storage_mismatch" in faults:
        return (
            "Failed",
            "UssOtherError",
            "The update storage option of this server differs from its upstream "
            "server's; the whole hierarchy must use the same storage option.",
            {},
        )
    if not config["SyncFromMicrosoftUpdate"]:
        upstream_faults = _upstream_faults(server, peers, config["UpstreamWsusServerName"])
        if "upstream_unresolvable" in upstream_faults:
            return (
                "Failed",
                "UssNotFound",
                f"WebException: The remote name could not be resolved: '{config['UpstreamWsusServerName']}'",
                {},
            )
        if "upstream_down" in upstream_faults:
            return (
                "Failed",
                "UssCommunicationError",
                "WebException: Unable to connect to the remote server",
                {},
            )
    missing_left = int(
        config.get("MissingUpstreamLeft", faults.get("updates_missing_upstream", {}).get("attempts", 0))
    )
    if missing_left > 0:
        return (
            "Failed",
            "LocalUpdateMissingForApproval",
            "Approved updates are not yet available on the upstream server.",
            {"MissingUpstreamLeft": missing_left - 1},
        )
    if "TransientFailuresLeft" in config:
        failures_left = int(config["TransientFailuresLeft"])
    else:  # first sync since the fault was set in the topology
        failures_left = int(server.faults.get("transient_sync_failure", {}).get("attempts", 0))
    if failures_left > 0:
        return (
            "Failed",
            "UssNotFound",
            "WebException: Unable to connect to the remote server",
            {"TransientFailuresLeft": failures_left - 1},
        )
    status = dict(config["UpdateServerStatus"])
    if config["SyncFromMicrosoftUpdate"]:
        languages = None if config["AllUpdateLanguagesEnabled"] else list(config["EnabledUpdateLanguages"])
        status["UpdateCount"] = len(updates_for(languages))
        status["NotApprovedUpdateCount"] = max(
            0, status["UpdateCount"] - status["ApprovedUpdateCount"] - status["DeclinedUpdateCount"]
        )
        return "Succeeded", "NotApplicable", "", {"UpdateServerStatus": status, "TransientFailuresLeft": 0}
    upstream = _upstream_config(server, peers, config["UpstreamWsusServerName"])
    if upstream is None:
        return (
            "Failed",
            "UssNotFound",
            f"WebException: The remote name could not be resolved: '{config['UpstreamWsusServerName']}'",
            {},
        )
    if upstream["HostBinariesOnMicrosoftUpdate"] != config["HostBinariesOnMicrosoftUpdate"]:
        return (
            "Failed",
            "UssOtherError",
            "The update storage option of this server differs from its upstream server's; the whole "
            "hierarchy must use the same storage option.",
            {},
        )
    upstream_status = upstream["UpdateServerStatus"]
    status["UpdateCount"] = upstream_status["UpdateCount"]
    changes: dict[str, Any] = {"UpdateServerStatus": status}
    if config["IsReplicaServer"]:
        status["ApprovedUpdateCount"] = upstream_status["ApprovedUpdateCount"]
        status["DeclinedUpdateCount"] = upstream_status["DeclinedUpdateCount"]
        inherited = {
            g: list(m)
            for g, m in upstream.get("ComputerTargetGroups", {}).items()
            if g not in ("All Computers", "Unassigned Computers")
        }
        own = config.get("ComputerTargetGroups", {})
        for group in inherited:
            inherited[group] = sorted(set(own.get(group, [])))  # the groups come down; members stay local
        merged = {**{g: m for g, m in own.items()}, **inherited}
        changes["ComputerTargetGroups"] = computer_groups(merged)
    status["NotApprovedUpdateCount"] = max(
        0, status["UpdateCount"] - status["ApprovedUpdateCount"] - status["DeclinedUpdateCount"]
    )
    return "Succeeded", "NotApplicable", "", changes
