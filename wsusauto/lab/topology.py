"""Lab topologies: which servers to simulate, their starting state and the intended hierarchy.

servers:
  - name: wsus-root
  - name: wsus-eu
    upstream: wsus-root             # intended hierarchy -> wsus_upstream in the inventory
    replica: true                   # -> wsus_replica
    version: "2019"                 # optional: 2022, 2019, 2016, 2012R2, 2008R2 or a dotted version
    initial: {HostBinariesOnMicrosoftUpdate: true}   # optional: initial state, API member names
    faults: [slow, {name: transient_sync_failure, attempts: 1}]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from wsusauto.errors import UsageError
from wsusauto.lab.faults import FaultSpec, parse_faults
from wsusauto.lab.model import defaults
from wsusauto.lab.model.schedule import parse_time_of_day

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$")
_SERVER_KEYS = {"name", "upstream", "replica", "initial", "faults", "version"}


@dataclass(frozen=True)
class ServerSpec:
    name: str
    upstream: str | None = None
    replica: bool = False
    initial: Mapping[str, Any] = field(default_factory=dict)
    faults: tuple[FaultSpec, ...] = ()
    version: str | None = None


@dataclass(frozen=True)
class Topology:
    servers: tuple[ServerSpec, ...]
    source: str = "<topology>"

    def server(self, name: str) -> ServerSpec:
        for spec in self.servers:
            if spec.name == name:
                return spec
        raise KeyError(name)


def load_topology(path: str | Path | None) -> Topology:
    """Read a topology file; ``None`` gives the default fleet (1 root, 3 regional, 12 branch)."""
    if path is None:
        text = (resources.files("wsusauto.lab") / "default_topology.yml").read_text(encoding="utf-8")
        source = "<default topology>"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read topology {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise UsageError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return topology_from_dict(data, source)


def _check_initial(initial: Any, where: str) -> dict[str, Any]:
    if initial is None:
        return {}
    if not isinstance(initial, Mapping):
        raise UsageError(f"{where}: initial must be a mapping of API member names to values")
    known = {
        **{k: t for k, (t, _d) in defaults.CONFIGURATION.items()},
        "Services": dict,
        "ContentDirAcl": list,
    }
    checked: dict[str, Any] = {}
    for key, value in initial.items():
        if key not in known:
            raise UsageError(
                f"{where}: initial has unknown member {key!r}; known: {', '.join(sorted(known))}"
            )
        wanted = known[key]
        if isinstance(value, bool) != (wanted is bool) or not isinstance(value, wanted):
            raise UsageError(f"{where}: initial {key} must be a {wanted.__name__}, not {value!r}")
        if key == "SynchronizeAutomaticallyTimeOfDay":
            try:
                parse_time_of_day(value)
            except ValueError:
                raise UsageError(f"{where}: initial {key} must be hh:mm:ss (UTC), not {value!r}") from None
        if key == "NumberOfSynchronizationsPerDay" and not 1 <= value <= 24:
            raise UsageError(f"{where}: initial {key} must be 1 to 24, not {value}")
        checked[key] = value
    return checked


def topology_from_dict(data: Any, source: str = "<topology>") -> Topology:
    if not isinstance(data, Mapping) or not isinstance(data.get("servers"), list) or not data["servers"]:
        raise UsageError(f"{source}: a topology is a mapping with a non-empty 'servers' list")
    specs: list[ServerSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["servers"]):
        where = f"{source}: servers[{index}]"
        if not isinstance(entry, Mapping) or "name" not in entry:
            raise UsageError(f"{where}: each server is a mapping with at least a name")
        name = str(entry["name"])
        where = f"{source}: server {name}"
        if not _NAME.match(name):
            raise UsageError(f"{where}: a server name is letters, digits, '-' and '.' (up to 63)")
        if name in seen:
            raise UsageError(f"{where}: the name is used twice")
        seen.add(name)
        unknown = set(entry) - _SERVER_KEYS
        if unknown:
            raise UsageError(
                f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                f"a server takes {', '.join(sorted(_SERVER_KEYS))}"
            )
        replica = entry.get("replica", False)
        if not isinstance(replica, bool):
            raise UsageError(f"{where}: replica must be true or false")
        version = entry.get("version")
        if version is not None:
            version = str(version)
            defaults.preset(version, where)
        upstream = entry.get("upstream")
        specs.append(
            ServerSpec(
                name=name,
                upstream=str(upstream) if upstream is not None else None,
                replica=replica,
                initial=_check_initial(entry.get("initial"), where),
                faults=parse_faults(entry.get("faults"), where),
                version=version,
            )
        )
    for spec in specs:
        if spec.upstream is not None and spec.upstream not in seen:
            raise UsageError(
                f"{source}: server {spec.name}: upstream {spec.upstream!r} is not in the topology"
            )
        if spec.upstream == spec.name:
            raise UsageError(f"{source}: server {spec.name}: a server cannot be its own upstream")
    return Topology(tuple(specs), source)
