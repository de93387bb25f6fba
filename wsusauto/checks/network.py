"""Checks from the downstream server's side of the wire: does the upstream's name resolve there, is
it the upstream's real name, and does the upstream's port answer."""

from __future__ import annotations

import ipaddress

from wsusauto.checks.base import (
    DOC_ISSUES_WITH_SYNCHRONIZATION,
    Check,
    Finding,
    Fleet,
    HostEvidence,
    UpstreamProbe,
)


def _short(name: str) -> str:
    return name.split(".")[0].lower()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _upstream_name(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    facts, probe = evidence.facts, evidence.upstream_probe
    if facts.sync_from_microsoft_update or probe is None:
        return []
    configured = facts.upstream_wsus_server_name
    upstream = fleet.upstream_of(evidence.host) or fleet.hosts.get(evidence.intended_upstream or "")
    real_name = upstream.facts.name if upstream else None
    address = upstream.address if upstream and _is_ip(upstream.address) else None
    name_matches = (
        real_name is None
        or _short(configured) == _short(real_name)
        or (_is_ip(configured) and upstream is not None and configured == upstream.address)
    )
    details = {
        "configured_name": configured,
        "resolved": probe.resolved,
        "addresses": list(probe.addresses),
        "resolve_error": probe.resolve_error,
        "upstream_server_name": real_name,
        "upstream_address": address,
    }
    work_around = (
        f" As a work-around, use the upstream server's IP address ({address}) as the upstream name."
        if address
        else " As a work-around, use a different name resolution service or the upstream's IP address."
    )
    if not probe.resolved and not probe.through_proxy:  # through a proxy, the proxy resolves it
        return [
            UPSTREAM_NAME.finding(
                evidence,
                "error",
                f"the upstream name {configured!r} does not resolve from this server",
                details,
                "Make sure the upstream server's name is spelled correctly and is the name of the upstream "
                "WSUS server"
                + (f" ({real_name})" if real_name and not name_matches else "")
                + "; the ping test with the same name fails here, so name resolution is the problem."
                + work_around,
            )
        ]
    if not name_matches:
        return [
            UPSTREAM_NAME.finding(
                evidence,
                "warning",
                f"the configured upstream name {configured!r} is not the upstream server's name "
                f"{real_name!r}",
                details,
                "The name that you enter in the WSUS console on the downstream WSUS server must match the "
                f"name of the upstream WSUS server: set the update source to {real_name} "
                "(playbooks/set-update-source.yml)." + work_around,
            )
        ]
    return []


UPSTREAM_NAME = Check(
    "upstream-name",
    "The upstream server's name resolves from the downstream server and is the upstream's real name",
    f"{DOC_ISSUES_WITH_SYNCHRONIZATION}: Check the name of the upstream WSUS server",
    _upstream_name,
    explains=frozenset({"UssNotFound", "UssCommunicationError"}),
)


def _proxy_path(evidence: HostEvidence, probe: UpstreamProbe) -> list[Finding]:
    """Through a proxy, the proxy's name and port are what this server must reach."""
    details = {
        "upstream": probe.name,
        "upstream_port": probe.port,
        "through_proxy": True,
        "proxy": probe.proxy_name,
        "proxy_port": probe.proxy_port,
        "proxy_addresses": list(probe.proxy_addresses),
    }
    settings = (
        "Check the proxy settings in the WSUS console (Options, Update Source and Proxy Server: "
        "playbooks/set-proxy.yml) and that the proxy server runs; the upstream's port itself is tried by "
        "the proxy, not from this server."
    )
    if not probe.proxy_resolved:
        return [
            UPSTREAM_PORT.finding(
                evidence,
                "error",
                f"this server goes through the proxy {probe.proxy_name!r}, whose name does not resolve here",
                {**details, "resolve_error": probe.proxy_resolve_error},
                settings,
            )
        ]
    if probe.port_open:
        return []
    return [
        UPSTREAM_PORT.finding(
            evidence,
            "error",
            f"this server goes through the proxy {probe.proxy_name}, whose port {probe.proxy_port} does "
            "not answer",
            {**details, "connect_error": probe.connect_error},
            settings,
        )
    ]


def _upstream_port(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    facts, probe = evidence.facts, evidence.upstream_probe
    if facts.sync_from_microsoft_update or probe is None:
        return []
    if probe.through_proxy:
        return _proxy_path(evidence, probe)
    if not probe.port_tested or probe.port_open:
        return []
    upstream = fleet.upstream_of(evidence.host)
    real_port = upstream.facts.port_number if upstream else None
    remedy = (
        f"Open TCP port {probe.port} from this server to {probe.name} (firewalls between the two), and "
        "check that the upstream's WSUS service and web site are running."
    )
    if real_port is not None and real_port != probe.port:
        remedy = (
            f"The upstream server listens on port {real_port}, not {probe.port}: set the update source's "
            f"port to {real_port} (playbooks/set-update-source.yml). " + remedy
        )
    return [
        UPSTREAM_PORT.finding(
            evidence,
            "error",
            f"port {probe.port} of the upstream {probe.name} does not answer from this server",
            {
                "upstream": probe.name,
                "port": probe.port,
                "use_ssl": facts.upstream_wsus_server_use_ssl,
                "addresses": list(probe.addresses),
                "connect_error": probe.connect_error,
                "upstream_port_number": real_port,
            },
            remedy,
        )
    ]


UPSTREAM_PORT = Check(
    "upstream-port",
    "The upstream server's port is reachable from the downstream server",
    f"{DOC_ISSUES_WITH_SYNCHRONIZATION}: Check the firewall settings",
    _upstream_port,
    # ProxyError: a proxy this server cannot reach (the port tried is the proxy's then).
    explains=frozenset({"UssNotFound", "UssCommunicationError", "ProxyError"}),
)
