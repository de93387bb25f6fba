"""What a model fault leaves on a server when it starts with it: the evidence a troubleshooter finds.

A server seeds a fault's evidence only when it starts with a fault it did not have in its stored
faults before (``WsusServerModel.new_faults``), so restarting the lab with the same faults never
undoes a fix. What each fault does afterwards lives in the sync engine (wsusauto/lab/sync.py) and in
the handlers; see the fault descriptions in wsusauto/lab/faults.py.

Texts of events whose real wording is unknown (10012, 10021, 10022: wsus-api.md section 5) start
with "[lab text]".
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from wsusauto.lab import locale as lab_locale
from wsusauto.lab import peers as lab_peers
from wsusauto.lab import sync
from wsusauto.lab.model.server import CONTENT_READERS, WsusServerModel

PENDING_FILES = 12  # approved updates whose files a blocked server still needs
PARENT_APPROVED = 40  # language_changed_on_parent: approvals on the parent ...
INACTIVE_APPROVALS = 6  # ... of which inactive: its replicas get 34
MISSING_UPDATES = 5  # updates_missing_upstream: updates in state Failed on the downstream server
EXPIRED_PROXY_PASSWORD = "lab-expired-proxy-password"
# Event 10012 in the server's language (lab wording: the real text is not documented).
ACL_10012 = {
    "en-US": "[lab text] The WSUS content directory is not accessible: {network_service} and {users} need "
    "at least Read permission on the update storage folder {content}.",
    "de-DE": "[Labortext] Auf das WSUS-Inhaltsverzeichnis kann nicht zugegriffen werden: {network_service} "
    "und {users} benötigen mindestens Leseberechtigung für den Updatespeicherordner {content}.",
    "fr-FR": "[texte du labo] Le répertoire de contenu WSUS n'est pas accessible : {network_service} et "
    "{users} doivent disposer au moins de l'autorisation Lecture sur le dossier de stockage des mises à "
    "jour {content}.",
}
LEGACY_WSUS2 = {
    "Version": "2.0.0.2472",  # WSUS 2.0 before Service Pack 1
    "ServerProtocolVersion": "1.0",
    "PortNumber": 80,
    "LabApiBitsForeground": False,
    "LabSqlTools": ["osql"],
}

Seeder = Callable[[WsusServerModel, dict[str, Any], Mapping[str, WsusServerModel]], None]
SEEDERS: dict[str, Seeder] = {}


def seeds(name: str) -> Callable[[Seeder], Seeder]:
    def register(func: Seeder) -> Seeder:
        SEEDERS[name] = func
        return func

    return register


def _depth(server: WsusServerModel, servers: Mapping[str, WsusServerModel]) -> int:
    depth, seen, current = 0, {server.name}, server
    while not current.get("SyncFromMicrosoftUpdate"):
        upstream = lab_peers.find(current, servers, current.get("UpstreamWsusServerName"))
        if upstream is None or upstream.model is None or upstream.name in seen:
            break
        seen.add(upstream.name)
        current, depth = upstream.model, depth + 1
    return depth


def seed_new_faults(servers: Mapping[str, WsusServerModel]) -> None:
    """Seed the evidence of every server's new faults, upstream servers first."""
    for server in sorted(servers.values(), key=lambda s: _depth(s, servers)):
        for name, arguments in server.new_faults.items():
            seeder = SEEDERS.get(name)
            if seeder is not None:
                seeder(server, dict(arguments), servers)
        server.new_faults = {}


# -- helpers ------------------------------------------------------------------------------------


def _upstream(server: WsusServerModel, servers: Mapping[str, WsusServerModel]) -> lab_peers.Peer | None:
    if server.get("SyncFromMicrosoftUpdate"):
        return None
    return lab_peers.find(server, servers, server.get("UpstreamWsusServerName"))


def ensure_updates(
    server: WsusServerModel, servers: Mapping[str, WsusServerModel], _seen: frozenset[str] = frozenset()
) -> None:
    """A server that never imported updates gets what its sync would import (and that sync in its
    history): the evidence of a content fault needs updates to exist."""
    if server.updates() or server.name in _seen:
        return
    upstream = _upstream(server, servers)
    if upstream is not None and upstream.model is not None:
        ensure_updates(upstream.model, servers, _seen | {server.name})
    rows = upstream.updates() if upstream is not None else []
    if rows:
        sync.import_from_upstream(server, server.config(), rows)
    else:
        sync.import_catalog(server)
    past_sync(server, "Succeeded", ended=server.clock() - dt.timedelta(hours=6), minutes=4)


def past_sync(
    server: WsusServerModel,
    result: str,
    error: str = "NotApplicable",
    text: str = "",
    *,
    ended: dt.datetime,
    minutes: int = 3,
) -> None:
    """A scheduled synchronization in the server's history that ended at ``ended``."""
    server.record_sync(
        result, error, text, start=ended - dt.timedelta(minutes=minutes), end=ended, started_manually=False
    )


def ensure_pending(
    server: WsusServerModel, servers: Mapping[str, WsusServerModel], count: int = PENDING_FILES
) -> None:
    """At least ``count`` approved updates whose files are not downloaded (state NotReady). On a
    replica the approvals came from its parent: they are approved up the chain too, so a content
    fault's evidence never looks like an approvals mismatch."""
    rows = [r for r in server.updates() if not r["IsDeclined"] and r["State"] != "Failed"]
    pending = [r for r in rows if r["IsApproved"] and r["State"] == "NotReady"]
    changes: list[dict[str, Any]] = []
    for row in rows:
        if len(pending) + len(changes) >= count:
            break
        if row in pending:
            continue
        changes.append({**row, "IsApproved": True, "State": "NotReady"})
    if changes:
        server.upsert_updates(changes)
        _approve_upstream(server, servers, {row["UpdateId"] for row in changes})


def fail_pending(server: WsusServerModel) -> None:
    """The pending downloads were tried while the fault stood, and failed: state Failed (which
    only a resumed download leaves)."""
    pending = [
        r for r in server.updates() if r["IsApproved"] and not r["IsDeclined"] and r["State"] == "NotReady"
    ]
    server.upsert_updates([{**r, "State": "Failed"} for r in pending])


def _approve_upstream(server: WsusServerModel, servers: Mapping[str, WsusServerModel], ids: set[str]) -> None:
    seen = {server.name}
    while server.get("IsReplicaServer"):
        upstream = _upstream(server, servers)
        if upstream is None or upstream.model is None or upstream.name in seen:
            return
        server, seen = upstream.model, seen | {upstream.name}
        # The parent approved them and has their files (a healthy parent needs none).
        rows = [
            {**r, "IsApproved": True, "State": "Ready" if r["State"] == "NotReady" else r["State"]}
            for r in server.updates()
            if r["UpdateId"] in ids and not r["IsApproved"]
        ]
        if rows:
            server.upsert_updates(rows)


# -- the faults ---------------------------------------------------------------------------------


@seeds("bits_disabled")
def _bits_disabled(
    server: WsusServerModel, args: dict[str, Any], servers: Mapping[str, WsusServerModel]
) -> None:
    server.change_service("BITS", state="Stopped", start_mode="Disabled")
    ensure_updates(server, servers)
    ensure_pending(server, servers)
    fail_pending(server)


@seeds("content_acl_missing")
def _content_acl_missing(
    server: WsusServerModel, args: dict[str, Any], servers: Mapping[str, WsusServerModel]
) -> None:
    server.db.replace_content_acl(
        [rule for rule in server.db.content_acl() if lab_locale.sid_of(rule[0]) not in CONTENT_READERS]
    )
    server.add_event(
        10012,
        ACL_10012[server.locale].format(
            content=server.get("ContentDir"),
            network_service=lab_locale.account_name("S-1-5-20", server.locale),
            users=lab_locale.account_name("S-1-5-32-545", server.locale),
        ),
        when=server.clock() - dt.timedelta(minutes=10),
    )
    ensure_updates(server, servers)
    ensure_pending(server, servers)
    fail_pending(server)


@seeds("range_header_unsupported")
def _range_header_unsupported(
    server: WsusServerModel, args: dict[str, Any], servers: Mapping[str, WsusServerModel]
) -> None:
    server.set_bits_foreground(False)
    ensure_updates(server, servers)
    ensure_pending(server, servers)
    pending = [r for r in server.updates() if r["IsApproved"] and r["State"] == "NotReady"]
    server.add_event(
        364, sync.range_364_message(server, pending[0]), when=server.clock() - dt.timedelta(minutes=30)
    )
    fail_pending(server)


@seeds("language_changed_on_parent")
def _language_changed_on_parent(
    server: WsusServerModel, args: dict[str, Any], servers: Mapping[str, WsusServerModel]
) -> None:
    ensure_updates(server, servers)
    languages = list(server.get("EnabledUpdateLanguages"))
    added = next((lang for lang in ("de", "fr", "ja", "en") if lang not in languages), None)
    server.set(
        LabLanguagesAtFirstSync=languages,
        EnabledUpdateLanguages=languages + ([added] if added else []),
    )
    rows = [r for r in server.updates() if not r["IsDeclined"]]
    approved = [r for r in rows if r["IsApproved"]]
    more = [{**r, "IsApproved": True} for r in rows if not r["IsApproved"]][
        : max(0, PARENT_APPROVED - len(approved))
    ]
    approved = [*approved, *more]
    # The approvals that went inactive: language-specific updates first.
    inactive = sorted(approved, key=lambda r: r["Language"] == "all")[:INACTIVE_APPROVALS]
    inactive_ids = {r["UpdateId"] for r in inactive}
    server.upsert_updates(
        [
            {
                **r,
                "State": "Ready" if r["State"] == "NotReady" else r["State"],
                "ApprovalActive": r["UpdateId"] not in inactive_ids,
            }
            for r in approved
        ]
    )
    server.set(InactiveApprovalCount=len(inactive_ids))
    # Its replicas synchronized since, and got only the active approvals.
    rows = server.updates()
    for replica in servers.values():
        if replica is server or not replica.get("IsReplicaServer"):
            continue
        upstream = _upstream(replica, servers)
        if upstream is None or upstream.name != server.name:
            continue
        sync.import_from_upstream(replica, replica.config(), rows)
        sync.download_content(replica)
        past_sync(replica, "Succeeded", ended=replica.clock() - dt.timedelta(hours=2))


@seeds("catalog_sync_failed")
def _catalog_sync_failed(
    server: WsusServerModel, args: dict[str, Any], servers: Mapping[str, WsusServerModel]
) -> None:
    failed_at = server.clock() - dt.timedelta(hours=1)
    past_sync(server, "Failed", "UssInternalError", sync.CATALOG_SYNC_FAILED_TEXT, ended=failed_at)
    server.add_event(10021, sync.CATALOG_SYNC_FAILED_10021, when=failed_at)
    server.add_event(10022, sync.CATALOG_SYNC_FAILED_10022, when=failed_at + dt.timedelta(minutes=1))


@seeds("legacy_wsus2")
def _legacy_wsus2(
    server: WsusServerModel, args: dict[str, Any], servers: Mapping[str, WsusServerModel]
) -> None:
    # WSUS 2.0 kept SUSDB in WMSDE, instance <host>\WSUS (KB 922330: osql -S %Computername%\WSUS).
    server.set(
        **LEGACY_WSUS2, SqlServerName=f"{server.name.upper()}\\WSUS", IsUsingWindowsInternalDatabase=False
    )
    server.set_service("MSSQL$WSUS", "Running", "Auto")


@seeds("proxy_credentials_expired")
def _proxy_credentials_expired(
    server: WsusServerModel, args: dict[str, Any], servers: Mapping[str, WsusServerModel]
) -> None:
    c = server.config()
    server.set(
        UseProxy=True,
        ProxyName=c["ProxyName"] or "proxy.corp.example",
        ProxyServerPort=c["ProxyServerPort"] if c["ProxyName"] else 8080,
        AnonymousProxyAccess=False,
        ProxyUserName=c["ProxyUserName"] or "svc-wsus-proxy",
        ProxyUserDomain=c["ProxyUserDomain"] or "CORP",
        LabProxyPasswordExpired=True,
    )
    server.set_proxy_password(EXPIRED_PROXY_PASSWORD)
    past_sync(
        server,
        "Failed",
        "ProxyError",
        lab_locale.proxy_407_text(server.locale),
        ended=server.clock() - dt.timedelta(hours=1),
        minutes=1,
    )


PROXY_UNREACHABLE = "WebException: Unable to connect to the remote server (the proxy server)"


@seeds("proxy_down")
def _proxy_down(
    server: WsusServerModel, args: dict[str, Any], servers: Mapping[str, WsusServerModel]
) -> None:
    c = server.config()
    if not (c["UseProxy"] and c["ProxyName"]):
        server.set(
            UseProxy=True, ProxyName="proxy.corp.example", ProxyServerPort=8080, AnonymousProxyAccess=True
        )
    past_sync(
        server,
        "Failed",
        "ProxyError",
        PROXY_UNREACHABLE,
        ended=server.clock() - dt.timedelta(hours=1),
        minutes=1,
    )


@seeds("storage_mismatch")
def _storage_mismatch(
    server: WsusServerModel, args: dict[str, Any], servers: Mapping[str, WsusServerModel]
) -> None:
    upstream = _upstream(server, servers)
    upstream_on_mu = bool(upstream.config().get("HostBinariesOnMicrosoftUpdate")) if upstream else False
    changes: dict[str, Any] = {"HostBinariesOnMicrosoftUpdate": not upstream_on_mu}
    if not upstream_on_mu:
        changes["AllUpdateLanguagesEnabled"] = True  # storing on Microsoft Update requires all languages
    server.set(**changes)


def retired_update(number: int) -> dict[str, Any]:
    """An update of a product the (rebuilt) upstream server no longer synchronizes."""
    return {
        "UpdateId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"wsusauto-lab-retired-update-{number}")),
        "Title": f"Security Update for Windows Server 2016 (KB{4_500_000 + number})",
        "Product": "Windows Server 2016",
        "Classification": "Security Updates",
        "Language": "all",
        "SizeBytes": 1_048_576 * (10 + number),
        "State": "Failed",
        "IsApproved": True,
        "IsDeclined": False,
        "ApprovalActive": True,
    }


@seeds("updates_missing_upstream")
def _updates_missing_upstream(
    server: WsusServerModel, args: dict[str, Any], servers: Mapping[str, WsusServerModel]
) -> None:
    ensure_updates(server, servers)
    if args.get("on_upstream", True):
        # Transient: the upstream has them (it downloaded them after this server asked).
        upstream = _upstream(server, servers)
        if upstream is not None and upstream.model is not None:
            ensure_updates(upstream.model, servers)
        there = upstream.updates() if upstream is not None else []
        candidates = [r for r in there if not r["IsDeclined"] and r["Language"] == "all"] or [
            r for r in server.updates() if not r["IsDeclined"]
        ]
        own = {r["UpdateId"]: r for r in server.updates()}
        rows = [
            {**own.get(r["UpdateId"], r), "State": "Failed", "IsApproved": True}
            for r in candidates[-MISSING_UPDATES:]
        ]
        server.set(
            MissingUpstreamLeft=int(args.get("attempts", 1)),
            LabFailedMissingUpstream=sorted(row["UpdateId"] for row in rows),
        )
        server.upsert_updates(rows)
        _approve_upstream(server, servers, {row["UpdateId"] for row in rows})
    else:
        rows = [retired_update(n) for n in range(MISSING_UPDATES)]
        server.set(MissingUpstreamLeft=0)
        server.upsert_updates(rows)


@seeds("update_import_errors")
def _update_import_errors(
    server: WsusServerModel, args: dict[str, Any], servers: Mapping[str, WsusServerModel]
) -> None:
    ensure_updates(server, servers)
    ended = server.clock() - dt.timedelta(hours=1)
    server.record_sync(
        "Succeeded",
        start=ended - dt.timedelta(minutes=3),
        end=ended,
        started_manually=False,
        update_errors=sync.import_errors(server),
    )


@seeds("transient_sync_failure")
def _transient_sync_failure(
    server: WsusServerModel, args: dict[str, Any], servers: Mapping[str, WsusServerModel]
) -> None:
    server.set(TransientFailuresLeft=int(args.get("attempts", 1)))
