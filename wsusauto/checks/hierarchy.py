"""Checks across the hierarchy: one storage option, replicas matching their parent's approvals, the
configuration against the inventory's intended hierarchy, and schedules that collide."""

from __future__ import annotations

from typing import Any

from wsusauto.checks.base import (
    DOC_ISSUES_WITH_SYNCHRONIZATION,
    DOC_REPLICA_MODE,
    DOC_SYNCHRONIZATION_ISSUES,
    Check,
    Finding,
    Fleet,
    HostEvidence,
)


def _storage(stores_locally: bool) -> str:
    return "stored locally" if stores_locally else "stored on Microsoft Update"


def _storage_option(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    upstream = fleet.upstream_of(evidence.host)
    if upstream is None or evidence.facts.sync_from_microsoft_update:
        return []
    mine, theirs = evidence.facts.stores_updates_locally, upstream.facts.stores_updates_locally
    if mine == theirs:
        return []
    return [
        STORAGE_OPTION.finding(
            evidence,
            "error",
            f"updates are {_storage(mine)} here but {_storage(theirs)} on the upstream {upstream.host}",
            {
                "host_binaries_on_microsoft_update": evidence.facts.host_binaries_on_microsoft_update,
                "upstream": upstream.host,
                "upstream_host_binaries_on_microsoft_update": (
                    upstream.facts.host_binaries_on_microsoft_update
                ),
            },
            "If you have multiple WSUS servers chained together in a hierarchy, the entire hierarchy must "
            "use the same update storage option or else synchronizations fail: if the upstream server "
            "stores content locally, all the downstream servers must store content locally.",
        )
    ]


STORAGE_OPTION = Check(
    "storage-option-consistency",
    "The whole hierarchy uses one update storage option",
    f"{DOC_SYNCHRONIZATION_ISSUES}: Check update storage options",
    _storage_option,
    explains=frozenset({"UssOtherError"}),
)

WSUSUTIL = r'"%ProgramFiles%\Update Services\Tools\WsusUtil.exe"'


def _approvals_mismatch(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    facts = evidence.facts
    parent = fleet.upstream_of(evidence.host)
    last = facts.last_synchronization_info
    if not facts.is_replica_server or parent is None or last is None or last.result != "Succeeded":
        return []  # a replica that has not synchronized yet is behind, not mismatched
    mine = facts.update_server_status.approved_update_count
    theirs = parent.facts.update_server_status.approved_update_count
    # Approved updates the parent no longer has (a rebuilt upstream) are updates-missing-upstream's
    # finding; the difference they make is not a second problem.
    gone = (
        sum(1 for u in evidence.failed_updates if u.update_id not in evidence.upstream_copies)
        if evidence.upstream_copies is not None
        else 0
    )
    if mine == theirs or (gone and mine - gone == theirs):
        return []
    languages = (
        "all" if parent.facts.all_update_languages_enabled else list(parent.facts.enabled_update_languages)
    )
    details = {
        "approved_here": mine,
        "parent": parent.host,
        "approved_on_parent": theirs,
        "parent_languages": languages,
        "replica_languages": "all"
        if facts.all_update_languages_enabled
        else list(facts.enabled_update_languages),
        "last_sync": last.end_time.isoformat() if last.end_time else None,
    }
    listed = parent.inactive_approvals
    if listed is not None:
        details["inactive_approvals_on_parent"] = list(listed.lines[:_MAX_LINES])
        details["inactive_approvals_lines"] = len(listed.lines)
        details["wsusutil"] = listed.tool
        details["wsusutil_exit_code"] = listed.exit_code
        found = f"the list {WSUSUTIL} listinactiveapprovals printed on {parent.host} is in the evidence"
    else:
        if parent.inactive_approvals_error:
            details["inactive_approvals_error"] = parent.inactive_approvals_error
        found = f"list the inactive approvals on {parent.host} with {WSUSUTIL} listinactiveapprovals"
    return [
        APPROVALS_MISMATCH.finding(
            evidence,
            "warning",
            f"{mine} updates approved here, {theirs} on the parent {parent.host}",
            details,
            "This might occur if the language settings on the parent server were changed after it first "
            f"synchronized: replicas synchronize only active approvals. {found[0].upper()}{found[1:]} "
            "(remove them with removeinactiveapprovals when they are not needed).",
        )
    ]


_MAX_LINES = 50  # of wsusutil's output in a finding's evidence


APPROVALS_MISMATCH = Check(
    "approvals-mismatch",
    "A replica's approved updates match its parent's",
    f"{DOC_ISSUES_WITH_SYNCHRONIZATION}: The number of updates that are approved on a parent upstream "
    "server does not match the number of approved updates on a replica server",
    _approvals_mismatch,
)


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return ()


def _hierarchy_consistency(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    facts = evidence.facts
    findings = []

    def add(severity: str, title: str, details: dict[str, Any], remedy: str) -> None:
        findings.append(HIERARCHY.finding(evidence, severity, title, details, remedy))

    configured = None if facts.sync_from_microsoft_update else facts.upstream_wsus_server_name
    state = {
        "sync_from_microsoft_update": facts.sync_from_microsoft_update,
        "upstream_wsus_server_name": facts.upstream_wsus_server_name,
        "is_replica_server": facts.is_replica_server,
    }
    if facts.is_replica_server and facts.sync_from_microsoft_update:
        add(
            "error",
            "the replica flag is set while the server synchronizes from Microsoft Update",
            state,
            "A replica mirrors an upstream WSUS server: set the update source to the upstream server, or "
            "release the replica flag before switching to Microsoft Update (designate-replicas.yml).",
        )
    elif facts.is_replica_server and not facts.upstream_wsus_server_name:
        add(
            "error",
            "the replica flag is set without an upstream server",
            state,
            "Set the upstream server (set-update-source.yml) or release the replica flag.",
        )
    if facts.sync_from_microsoft_update and facts.upstream_wsus_server_name:
        add(
            "info",
            f"an upstream server ({facts.upstream_wsus_server_name}) is set but unused: the server "
            "synchronizes from Microsoft Update",
            state,
            "Nothing breaks, but the stale name misleads whoever reads the console; set the update source "
            "again to clear it, or use it if this server should synchronize from it.",
        )
    upstream_host = fleet.configured_upstream.get(evidence.host)
    intended = evidence.intended_upstream
    # A configured name that is no inventory host is upstream-name's finding (the name must be the
    # upstream's real name), not a second one here.
    other_host = intended and upstream_host != intended and upstream_host in fleet.hosts
    if (intended is None) != (configured is None) or other_host:
        add(
            "warning",
            f"synchronizes from {configured or 'Microsoft Update'}, the inventory says "
            f"{intended or 'Microsoft Update'}",
            {**state, "inventory_upstream": intended},
            "Run playbooks/set-update-source.yml (or designate-replicas.yml) to apply the inventory's "
            "hierarchy, or correct wsus_upstream in the inventory.",
        )
    if evidence.intended_replica != facts.is_replica_server and (
        intended is not None or facts.is_replica_server
    ):
        add(
            "warning",
            f"replica flag is {facts.is_replica_server}, the inventory says {evidence.intended_replica}",
            {**state, "inventory_replica": evidence.intended_replica},
            "Run playbooks/designate-replicas.yml, or correct wsus_replica in the inventory.",
        )
    upstream = fleet.upstream_of(evidence.host)
    if upstream is not None and configured is not None:
        mine, theirs = _version(facts.version), _version(upstream.facts.version)
        if mine and theirs and mine > theirs:
            add(
                "warning",
                f"this server ({facts.version}) is newer than its upstream {upstream.host} "
                f"({upstream.facts.version})",
                {
                    "version": facts.version,
                    "upstream": upstream.host,
                    "upstream_version": upstream.facts.version,
                },
                "A downstream server must run the same WSUS version as its upstream server, or an earlier "
                "one: upgrade the upstream first (hierarchies are upgraded from the top down).",
            )
        # Storing updates on Microsoft Update forces all languages (Save() refuses otherwise): with a
        # storage mismatch the language difference is that finding's consequence, not a second problem.
        same_storage = upstream.facts.stores_updates_locally == facts.stores_updates_locally
        if same_storage and not upstream.facts.all_update_languages_enabled:
            wanted = (
                {"*"} if facts.all_update_languages_enabled else set(facts.enabled_update_languages)
            ) - set(upstream.facts.enabled_update_languages)
            if wanted:
                add(
                    "warning",
                    f"languages {', '.join(sorted(wanted))} are enabled here but not on {upstream.host}",
                    {
                        "languages": "all"
                        if facts.all_update_languages_enabled
                        else list(facts.enabled_update_languages),
                        "upstream_languages": list(upstream.facts.enabled_update_languages),
                    },
                    "A downstream server can only use a subset of its upstream server's languages: enable "
                    "them on the upstream server, or disable them here.",
                )
    return findings


HIERARCHY = Check(
    "hierarchy-consistency",
    "Update source, replica flag, version and languages agree with the hierarchy",
    f"{DOC_REPLICA_MODE}: To designate any WSUS server as a downstream replica",
    _hierarchy_consistency,
)


def _schedule_collisions(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    from wsusauto.stagger.fleet import schedule_collisions, servers_from_facts
    from wsusauto.stagger.planner import DAY, StaggerPolicy

    downstream = fleet.downstream_of(evidence.host)
    if len(downstream) <= fleet.max_concurrent_per_upstream:
        return []
    facts = {d.host: d.facts for d in downstream}
    servers = servers_from_facts({d.host: evidence.host for d in downstream} | {evidence.host: None}, facts)
    policy = StaggerPolicy(
        window_start=0, window_length=DAY, max_concurrent=fleet.max_concurrent_per_upstream
    )
    findings = []
    for collision in schedule_collisions(servers, facts, policy):
        findings.append(
            SCHEDULE_COLLISIONS.finding(
                evidence,
                "warning",
                f"up to {collision.peak} downstream servers can synchronize from this server at once "
                f"(more than {fleet.max_concurrent_per_upstream})",
                {
                    "peak": collision.peak,
                    "servers": list(collision.servers),
                    "max_concurrent_per_upstream": fleet.max_concurrent_per_upstream,
                    "schedules_utc": {
                        d.host: d.facts.synchronize_automatically_time_of_day.strftime("%H:%M")
                        for d in downstream
                        if d.facts.synchronize_automatically
                    },
                },
                "Do not schedule synchronization to run at the same time on each replica server, to "
                "avoid sudden surges in bandwidth utilization: plan staggered times with wsusauto "
                "plan-schedule and apply them with playbooks/stagger-schedules.yml (the plan counts "
                "WSUS's random start offset and the two ~15-minute retries).",
            )
        )
    return findings


SCHEDULE_COLLISIONS = Check(
    "schedule-collisions",
    "Downstream servers' schedules can overlap at their upstream server",
    f"{DOC_REPLICA_MODE}: Replica server synchronization",
    _schedule_collisions,
)
