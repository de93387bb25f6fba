"""Update source and replica mode ("Running WSUS 3.0 SP2 in Replica Mode"; wsus-api.md 1.2, 1.2a).

- ``update_source``: Microsoft Update, or an upstream WSUS server with port and SSL.
- ``replica``: designate or release a replica. Save() refuses a replica that syncs from Microsoft
  Update, so a replica needs an upstream first, and a replica is released before its server is
  switched to Microsoft Update.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.errors import UsageError
from wsusauto.operations.base import (
    READY_TIMEOUT_SECONDS,
    Argument,
    Change,
    ChangePlan,
    Operation,
    OperationRefused,
)
from wsusauto.operations.group import TaskGroup
from wsusauto.state.facts import Facts


def _port(value: int) -> str | None:
    return None if 1 <= value <= 65535 else "a TCP port is 1 to 65535"


def _host_name(value: str) -> str | None:
    if not value.strip() or any(c.isspace() for c in value) or len(value) > 255:
        return "an upstream server name is a host name or address, without spaces"
    return None


class _PlacesInHierarchy(Operation):
    """An operation that moves its host in the hierarchy (its upstream or its replica mode)."""

    shapes_hierarchy = True

    def prepare_fleet(self, group: TaskGroup) -> Mapping[str, Mapping[str, Any]]:
        """Refuse a play that leaves one hierarchy with two update storage options: "the entire
        hierarchy must use the same update storage option or else synchronizations fail"
        ("Synchronization issues"). Decided from the play's facts and the intended hierarchy, before
        any change."""
        trees: dict[str, dict[str, bool]] = {}
        for host, known in group.facts.items():
            root, _ = group.root_of(host)
            trees.setdefault(root, {})[host] = known.host_binaries_on_microsoft_update
        for root, storage in trees.items():
            if len(set(storage.values())) > 1:
                local = sorted(h for h, on_mu in storage.items() if not on_mu)
                remote = sorted(h for h, on_mu in storage.items() if on_mu)
                raise UsageError(
                    f"{group.play_where}: the hierarchy under {root} mixes update storage options "
                    f"(local: {', '.join(local)}; on Microsoft Update: {', '.join(remote)}). "
                    "The whole hierarchy must use the same storage option or synchronizations fail; "
                    "nothing was changed. The storage_option task (playbooks/storage-option.yml) sets one "
                    "option across it; name the option (storage) where the root is outside the inventory"
                )
        return group.args


class UpdateSource(_PlacesInHierarchy):
    name = "update_source"
    arguments = {
        "source": Argument(str, required=True, choices=("microsoft_update", "upstream")),
        "upstream": Argument(str, check=_host_name),
        "port": Argument(int, check=_port),
        "ssl": Argument(bool),
    }

    def check_combination(self, args: dict[str, Any], where: str) -> None:
        if args["source"] == "upstream" and "upstream" not in args:
            raise UsageError(f"{where}: update_source with source: upstream needs upstream: <server name>")
        if args["source"] == "microsoft_update" and {"upstream", "port", "ssl"} & set(args):
            raise UsageError(
                f"{where}: update_source with source: microsoft_update takes no upstream, port or ssl"
            )

    def intended_node(
        self, args: Mapping[str, Any], upstream: str | None, replica: bool
    ) -> tuple[str | None, bool]:
        return (args["upstream"] if args["source"] == "upstream" else None), replica

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        wanted: dict[str, Any] = {}
        if args["source"] == "microsoft_update":
            if facts.is_replica_server:
                raise OperationRefused(
                    f"{facts.host} is a replica; a replica syncs from its upstream server. Release it first "
                    "(replica: enabled: false), then switch it to Microsoft Update"
                )
            wanted["SyncFromMicrosoftUpdate"] = True
        else:
            wanted["SyncFromMicrosoftUpdate"] = False
            wanted["UpstreamWsusServerName"] = args["upstream"]
            if "port" in args:
                wanted["UpstreamWsusServerPortNumber"] = args["port"]
            if "ssl" in args:
                wanted["UpstreamWsusServerUseSsl"] = args["ssl"]
        current = {
            "SyncFromMicrosoftUpdate": facts.sync_from_microsoft_update,
            "UpstreamWsusServerName": facts.upstream_wsus_server_name,
            "UpstreamWsusServerPortNumber": facts.upstream_wsus_server_port_number,
            "UpstreamWsusServerUseSsl": facts.upstream_wsus_server_use_ssl,
        }
        changes = tuple(Change(m, current[m], v) for m, v in wanted.items() if current[m] != v)
        parameters = {
            "Members": [c.member for c in changes],
            "SyncFromMicrosoftUpdate": wanted["SyncFromMicrosoftUpdate"],
            "UpstreamWsusServerName": wanted.get("UpstreamWsusServerName", ""),
            "UpstreamWsusServerPortNumber": wanted.get("UpstreamWsusServerPortNumber", 0),
            "UpstreamWsusServerUseSsl": wanted.get("UpstreamWsusServerUseSsl", False),
            "ReadyTimeoutSeconds": READY_TIMEOUT_SECONDS,
        }
        return ChangePlan(changes, "set_update_source", parameters)


class Replica(_PlacesInHierarchy):
    name = "replica"
    arguments = {"enabled": Argument(bool, required=True)}

    def intended_node(
        self, args: Mapping[str, Any], upstream: str | None, replica: bool
    ) -> tuple[str | None, bool]:
        return upstream, args["enabled"]

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        enabled = args["enabled"]
        if enabled == facts.is_replica_server:
            return ChangePlan(())
        if enabled and facts.sync_from_microsoft_update:
            raise OperationRefused(
                f"{facts.host} syncs from Microsoft Update; a replica syncs from an upstream WSUS server. "
                "Set its update source to the upstream server first (update_source: source: upstream)"
            )
        changes = (Change("IsReplicaServer", facts.is_replica_server, enabled),)
        return ChangePlan(
            changes, "set_replica", {"IsReplicaServer": enabled, "ReadyTimeoutSeconds": READY_TIMEOUT_SECONDS}
        )
