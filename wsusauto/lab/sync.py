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
from collections.abc import Mapping
from typing import Any

from wsusauto.lab.catalog import catalog, updates_for
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


def start(server: WsusServerModel, manual: bool = True) -> bool:
    """StartSynchronization(): False when one is already running."""
    if server.get("SynchronizationStatus") != "NotProcessing":
        return False
    total = len(catalog())
    server.set(
        SynchronizationStatus="Running",
        SyncStartedAt=server.clock().isoformat(),
        SyncStartedManually=manual,
        SynchronizationProgress={"TotalItems": total, "ProcessedItems": 0, "Phase": "Updates"},
    )
    return True


def advance(server: WsusServerModel, peers: Mapping[str, WsusServerModel]) -> None:
    """Bring a running sync up to the clock: progress, or its end."""
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
    server.record_sync(
        result,
        error,
        text,
        start=started,
        end=started + dt.timedelta(seconds=duration),
        started_manually=bool(config.get("SyncStartedManually", True)),
    )


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
