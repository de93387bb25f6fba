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


REGISTRY: dict[str, FaultType] = {}


def register(fault: FaultType) -> FaultType:
    REGISTRY[fault.name] = fault
    return fault


register(FaultType("endpoint_down", "endpoint", description="the endpoint refuses connections"))
register(FaultType("slow", "endpoint", {"seconds": (float, 5.0)}, "each pipeline waits this long first"))
register(FaultType("http_500", "endpoint", description="every request gets HTTP 500 with a WSMan fault"))
register(FaultType("http_503", "endpoint", description="every request gets HTTP 503 Service Unavailable"))
register(FaultType("auth_reject", "endpoint", description="every authentication is refused"))
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
        description="this server's proxy rejects its credentials (HTTP 407)",
    )
)
register(
    FaultType(
        "storage_mismatch",
        "model",
        description="this server's update storage option differs from its upstream's",
    )
)
register(
    FaultType(
        "updates_missing_upstream",
        "model",
        {"attempts": (int, 1)},
        "the next N syncs find approved updates the upstream has not downloaded yet",
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
            if isinstance(value, bool) or not isinstance(value, (int, float) if wanted is float else wanted):
                raise UsageError(f"{where}: fault {name!r}: {key} must be a {wanted.__name__}, not {value!r}")
            if isinstance(value, (int, float)) and value < 0:
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
    )


def model_faults(faults: Iterable[FaultSpec]) -> dict[str, dict[str, Any]]:
    return {f.name: dict(f.arguments) for f in faults if REGISTRY[f.name].kind == "model"}
