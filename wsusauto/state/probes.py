"""The evidence snippets beyond facts: what a server sees of its upstream, and failed downloads.

Each function runs one read-only snippet on an open Session and returns the checks' evidence types
(``wsusauto.checks.base``). ``wsusauto.diagnose`` gathers them for a fleet; ``synchronize`` asks for
the upstream probe when a sync failed, to name the check that explains it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wsusauto.checks.base import FailedUpdate, InactiveApprovals, UpstreamCopy, UpstreamProbe
from wsusauto.state.facts import SETUP_REGISTRY_PATH, Facts

UPSTREAM_CONNECT_TIMEOUT_MS = 3000
MAX_FAILED_UPDATES = 50
# How far back get_failed_updates looks for download-failure events (364): a download that failed
# earlier than this and was never resumed is not listed (its count still shows in the server status).
FAILED_DOWNLOAD_LOOKBACK_DAYS = 365


def proxy_for_upstream(facts: Facts) -> tuple[str, int] | None:
    """The proxy WSUS goes through to reach its upstream server (None: a direct connection): the
    separate SSL proxy for an SSL upstream when one is set, else the proxy."""
    if not facts.use_proxy:
        return None
    if facts.upstream_wsus_server_use_ssl and facts.use_separate_proxy_for_ssl:
        return facts.ssl_proxy_name, facts.ssl_proxy_server_port
    return facts.proxy_name, facts.proxy_server_port


def probe_upstream(
    session: Any, facts: Facts, timeout_ms: int = UPSTREAM_CONNECT_TIMEOUT_MS
) -> UpstreamProbe | None:
    """Resolve the configured upstream name and try its port from this server, or the proxy's port
    when the server goes through one (None: syncs from MU)."""
    if facts.sync_from_microsoft_update or not facts.upstream_wsus_server_name:
        return None
    proxy_name, proxy_port = proxy_for_upstream(facts) or ("", 0)
    raw = session.invoke(
        "test_upstream_connection",
        read_only=True,
        UpstreamName=facts.upstream_wsus_server_name,
        Port=facts.upstream_wsus_server_port_number,
        ProxyName=proxy_name,
        ProxyPort=proxy_port,
        TimeoutMilliseconds=timeout_ms,
    )
    return UpstreamProbe(
        name=str(raw["UpstreamName"]),
        port=int(raw["Port"]),
        resolved=bool(raw["Resolved"]),
        addresses=_addresses(raw.get("Addresses")),
        resolve_error=str(raw.get("ResolveError") or ""),
        port_tested=bool(raw["PortTested"]),
        port_open=bool(raw["PortOpen"]),
        connect_error=str(raw.get("ConnectError") or ""),
        through_proxy=bool(raw["ThroughProxy"]),
        proxy_name=str(raw.get("ProxyName") or ""),
        proxy_port=int(raw.get("ProxyPort") or 0),
        proxy_resolved=bool(raw.get("ProxyResolved")),
        proxy_addresses=_addresses(raw.get("ProxyAddresses")),
        proxy_resolve_error=str(raw.get("ProxyResolveError") or ""),
    )


def _addresses(value: Any) -> tuple[str, ...]:
    return tuple(str(a) for a in as_list(value))


def as_list(value: Any) -> list[Any]:
    """A snippet's array as a list: PowerShell unrolls a one-element array (into its one hashtable
    or string) and hands an empty one over as $null."""
    if value in (None, ""):
        return []
    return [value] if isinstance(value, Mapping | str) else list(value)


def failed_updates(session: Any, facts: Facts) -> tuple[tuple[FailedUpdate, ...], int]:
    """The updates whose download failed on this server (only asked when its status counts some)."""
    if facts.update_server_status.updates_with_server_errors_count == 0:
        return (), 0
    raw = session.invoke(
        "get_failed_updates",
        read_only=True,
        MaxUpdates=MAX_FAILED_UPDATES,
        LookbackDays=FAILED_DOWNLOAD_LOOKBACK_DAYS,
    )
    updates = tuple(
        FailedUpdate(str(u["UpdateId"]).lower(), str(u["Title"])) for u in as_list(raw["FailedUpdates"])
    )
    return updates, int(raw["FailedUpdateCount"])


def upstream_copies(session: Any, update_ids: Sequence[str]) -> dict[str, UpstreamCopy]:
    raw = session.invoke("find_updates", read_only=True, UpdateIds=list(update_ids))
    return {
        str(u["UpdateId"]).lower(): UpstreamCopy(
            str(u["UpdateId"]).lower(), str(u["Title"]), str(u["State"]), bool(u["IsDeclined"])
        )
        for u in as_list(raw["Found"])
    }


def inactive_approvals(session: Any) -> InactiveApprovals:
    """``wsusutil listinactiveapprovals`` on this server (the tool from the setup key's TargetDir)."""
    raw = session.invoke("list_inactive_approvals", read_only=True, SetupRegistryPath=SETUP_REGISTRY_PATH)
    lines = as_list(raw["Lines"])
    return InactiveApprovals(str(raw["Tool"]), int(raw["ExitCode"]), tuple(str(line) for line in lines))
