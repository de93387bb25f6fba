"""Faults the lab can inject, by name, with their arguments.

Endpoint faults act on the WinRM endpoint (the transport); model faults act on the simulated WSUS
server and are stored in its SUSDB for the sync engine and checks to read. Later issues register
theirs here; an unknown name is an error that lists the known ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wsusauto.errors import UsageError


@dataclass(frozen=True)
class FaultType:
    name: str
    kind: str  # "endpoint" or "model"
    arguments: Mapping[str, tuple[type, Any]] = field(default_factory=dict)  # name -> (type, default)
    description: str = ""


@dataclass(frozen=True)
class FaultSpec:
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EndpointFaultSettings:
    down: bool = False
    slow_seconds: float = 0.0
    http_status: int | None = None
    auth_reject: bool = False
    reset_on_receive: int = 0
    reset_skip: int = 0
    reset_match: str = ""
    unresponsive: bool = False


REGISTRY: dict[str, FaultType] = {}


def register(fault: FaultType) -> FaultType:
    REGISTRY[fault.name] = fault
    return fault


register(FaultType("endpoint_down", "endpoint", description="the endpoint refuses connections"))
register(FaultType("slow", "endpoint", {"seconds": (float, 5.0)}, "each pipeline waits this long first"))
register(
    FaultType(
        "unresponsive",
        "endpoint",
        description="the endpoint accepts connections and reads requests but never answers (a hung "
        "WinRM service, a firewall dropping packets after the handshake): clients wait for their timeouts",
    )
)
register(FaultType("http_500", "endpoint", description="every request gets HTTP 500 with a WSMan fault"))
register(FaultType("http_503", "endpoint", description="every request gets HTTP 503 Service Unavailable"))
register(FaultType("auth_reject", "endpoint", description="every authentication is refused"))
register(
    FaultType(
        "reset_on_receive",
        "endpoint",
        {"count": (int, 1), "skip": (int, 0), "match": (str, "")},
        "the connection is reset in the middle of the next `count` pipeline Receives (after `skip`; "
        "only pipelines whose script contains `match`, e.g. Save()): the pipeline ran on the server, "
        "its output is lost",
    )
)
register(
    FaultType(
        "wsus_pool_stopped",
        "model",
        description="IIS's WsusPool application pool is stopped: WinRM answers, but every call to the "
        "administration API (AdminProxy.GetUpdateServer) fails with HTTP 503 (wsus-api.md: a stopped "
        "WsusPool gives HTTP 503), so every snippet that connects to WSUS fails on the server",
    )
)
# Synchronization faults, read by the lab's sync engine (wsusauto/lab/sync.py).
register(
    FaultType("upstream_down", "model", description="on an upstream: downstream syncs cannot connect to it")
)
register(
    FaultType(
        "upstream_unresolvable",
        "model",
        description="on an upstream: its name does not resolve from downstream servers",
    )
)
register(
    FaultType(
        "proxy_credentials_expired",
        "model",
        description="this server's authenticating proxy rejects its (expired) password with HTTP 407: "
        "seeds the proxy settings and a failed sync; syncs fail until a new password is set",
    )
)
register(
    FaultType(
        "proxy_down",
        "model",
        description="this server goes through a proxy (seeds the proxy settings when it has none) that "
        "does not answer on its port: syncs fail with ProxyError",
    )
)
register(
    FaultType(
        "storage_mismatch",
        "model",
        description="this server's update storage option (HostBinariesOnMicrosoftUpdate) is set "
        "opposite to its upstream's, so its syncs fail",
    )
)
register(
    FaultType(
        "updates_missing_upstream",
        "model",
        {"attempts": (int, 1), "on_upstream": (bool, True)},
        "approved updates here are in state Failed (their files could not be retrieved from the "
        "upstream); on_upstream: true, the upstream has them (transient: the next N syncs fail, then "
        "they download); false, it does not (every sync fails until they are declined or the upstream "
        "gets them)",
    )
)
register(
    FaultType(
        "transient_sync_failure",
        "model",
        {"attempts": (int, 1)},
        "the next N synchronizations fail with a transient upstream error",
    )
)
# Troubleshooting faults (issue 6): each seeds its evidence when a server starts with it and did not
# have it before (wsusauto/lab/evidence.py), and changes what the server does afterwards.
register(
    FaultType(
        "bits_disabled",
        "model",
        description="BITS is Stopped with startup type Disabled; syncs fail while BITS is not running, "
        "and so do downloads: those updates stay Failed until resumed (resume_downloads)",
    )
)
register(
    FaultType(
        "content_acl_missing",
        "model",
        description="the update storage folder lost its NETWORK SERVICE and Users rules (event 10012); "
        "update files fail to download while they lack Read, and stay Failed until resumed",
    )
)
register(
    FaultType(
        "range_header_unsupported",
        "model",
        description="the proxy does not support HTTP Range headers: while tbConfigurationC."
        "BitsDownloadPriorityForeground is 0, update files fail to download (event 364) and stay Failed "
        "until resumed",
    )
)
register(
    FaultType(
        "language_changed_on_parent",
        "model",
        description="on a parent: its languages changed after its first sync, so it has inactive "
        "approvals and its replicas get fewer approved updates",
    )
)
register(
    FaultType(
        "catalog_sync_failed",
        "model",
        description="the last catalog sync failed (events 10021, 10022); syncs fail with UssInternalError",
    )
)
register(
    FaultType(
        "legacy_wsus2",
        "model",
        description="the server runs WSUS 2.0 before SP1 (2.0.0.2472, port 80); as a replica its syncs "
        "time out",
    )
)
register(
    FaultType(
        "update_import_errors",
        "model",
        {"count": (int, 2)},
        "this server's syncs succeed, but `count` updates' metadata fails to import "
        "(ISynchronizationInfo.UpdateErrors: SynchronizationUpdateError DependencyNotFound); seeds one "
        "such sync",
    )
)
register(
    FaultType(
        "sql_update_fails",
        "model",
        description="the SQL step of the BitsDownloadPriorityForeground fix (osql/sqlcmd) exits 1",
    )
)


def parse_faults(items: Any, where: str) -> tuple[FaultSpec, ...]:
    """Topology syntax: a list of names or mappings ``{name: slow, seconds: 2}``."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise UsageError(
            f"{where}: faults must be a list of names or {{name: ..., <argument>: ...}} mappings"
        )
    specs = []
    for item in items:
        if isinstance(item, str):
            name, given = item, {}
        elif isinstance(item, Mapping) and "name" in item:
            name, given = str(item["name"]), {k: v for k, v in item.items() if k != "name"}
        else:
            raise UsageError(f"{where}: fault {item!r} must be a name or a mapping with 'name'")
        fault = REGISTRY.get(name)
        if fault is None:
            raise UsageError(f"{where}: unknown fault {name!r}; known faults: {', '.join(sorted(REGISTRY))}")
        arguments = {}
        for key, value in given.items():
            if key not in fault.arguments:
                allowed = ", ".join(fault.arguments) or "none"
                raise UsageError(f"{where}: fault {name!r} has no argument {key!r} (it takes: {allowed})")
            wanted, _default = fault.arguments[key]
            if (isinstance(value, bool) and wanted is not bool) or not isinstance(
                value, (int, float) if wanted is float else wanted
            ):
                raise UsageError(f"{where}: fault {name!r}: {key} must be a {wanted.__name__}, not {value!r}")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise UsageError(f"{where}: fault {name!r}: {key} cannot be negative ({value})")
            arguments[key] = wanted(value)
        for key, (_type, default) in fault.arguments.items():
            arguments.setdefault(key, default)
        specs.append(FaultSpec(name, arguments))
    return tuple(specs)


def endpoint_fault_settings(faults: Iterable[FaultSpec]) -> EndpointFaultSettings:
    names = {f.name: f.arguments for f in faults}
    status = 500 if "http_500" in names else 503 if "http_503" in names else None
    return EndpointFaultSettings(
        down="endpoint_down" in names,
        slow_seconds=float(names["slow"]["seconds"]) if "slow" in names else 0.0,
        http_status=status,
        auth_reject="auth_reject" in names,
        reset_on_receive=int(names["reset_on_receive"]["count"]) if "reset_on_receive" in names else 0,
        reset_skip=int(names["reset_on_receive"]["skip"]) if "reset_on_receive" in names else 0,
        reset_match=str(names["reset_on_receive"]["match"]) if "reset_on_receive" in names else "",
        unresponsive="unresponsive" in names,
    )


def model_faults(faults: Iterable[FaultSpec]) -> dict[str, dict[str, Any]]:
    return {f.name: dict(f.arguments) for f in faults if REGISTRY[f.name].kind == "model"}
