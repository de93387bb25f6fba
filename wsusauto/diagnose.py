"""Troubleshooting a fleet: gather each server's evidence, run the checks, apply documented fixes.

    diagnosis = diagnose_fleet(inventory, inventory.select("all"))
    diagnosis.findings["wsus-eu-01"]        # [Finding(check="bits-service", ...), ...]

Evidence is gathered in two passes, each server with its own Session: first every server's facts
and what it sees of its upstream (the name resolved and the port tried *from that server*, as the
ping test of "Issues with Synchronization" asks, and the updates whose download failed there); then
each upstream is asked about the updates its downstream servers failed to download. The checks
themselves are pure (``wsusauto.checks``). Nothing here changes a server, except ``fix_fleet``, which
runs the fix operations the findings name (check mode changes nothing).

Verdicts and exit codes are every command's (``wsusauto.execution.verdict``), with one meaning of
*failed* that is diagnose's own: a host with an error or warning finding counts as failed (exit 2),
besides one whose facts could not be read, because diagnose answers "is anything wrong here". The
other commands (``run``, ``facts``, ``report``) give 0 for that host when they could read it. With
``--fix``, a fix that failed makes its host failed and a host unreachable during its fixes is
unreachable, whatever the diagnosis found.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wsusauto.checks import BY_ID, Finding, Fleet, HostEvidence, run_checks
from wsusauto.checks.base import FailedUpdate
from wsusauto.checks.content import CONTENT_CAUSES, content_recovered
from wsusauto.config.inventory import Host, Inventory
from wsusauto.errors import NEVER_RAN, HostError, RemoteError, UsageError
from wsusauto.execution import verdict
from wsusauto.execution.executor import HostExecutor, HostJob
from wsusauto.execution.fleet import SessionFactory, own_executor, reached
from wsusauto.execution.hostwork import TaskContext
from wsusauto.operations import get_operation
from wsusauto.output.journal import Journal
from wsusauto.state.facts import Facts, gather_facts
from wsusauto.state.probes import failed_updates, inactive_approvals, probe_upstream, upstream_copies


def host_evidence(session: Any, host: Host, inventory: Inventory) -> HostEvidence:
    """One server's facts and what it sees of its upstream. A probe that fails is noted, not fatal."""
    facts = gather_facts(session)
    problems = []
    probe = None
    updates: tuple[FailedUpdate, ...] = ()
    count = 0
    try:
        probe = probe_upstream(session, facts)
    except RemoteError as exc:
        problems.append(f"upstream connection test: {exc}")
    try:
        updates, count = failed_updates(session, facts)
    except RemoteError as exc:
        problems.append(f"failed updates: {exc}")
    return HostEvidence(
        host=host.name,
        facts=facts,
        address=str(host.vars.get("ansible_host", host.name)),
        intended_upstream=inventory.host_for_server(host.upstream),
        intended_replica=host.replica,
        upstream_probe=probe,
        failed_updates=updates,
        failed_update_count=count,
        probe_errors=tuple(problems),
    )


# The findings that make a host *failed* in diagnose's verdict (and so exit 2).
SERIOUS = ("error", "warning")


@dataclass
class Diagnosis:
    evidence: dict[str, HostEvidence] = field(default_factory=dict)
    findings: dict[str, list[Finding]] = field(default_factory=dict)  # every reachable host
    unreachable: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # reached, but its facts could not be read
    order: list[str] = field(default_factory=list)  # the hosts asked, in inventory order

    @property
    def facts(self) -> dict[str, Facts]:
        return {host: evidence.facts for host, evidence in self.evidence.items()}

    def serious(self) -> list[Finding]:
        return [f for found in self.findings.values() for f in found if f.severity in SERIOUS]

    @property
    def verdicts(self) -> dict[str, verdict.Verdict]:
        """Each host's verdict, in inventory order. Diagnose's own meaning of *failed* (see the
        module): a host with an error or warning finding is failed, as is one whose facts failed;
        info findings alone are not a failure."""
        hosts = self.order or [*self.evidence, *self.unreachable, *self.failed]
        return {host: self.verdict_of(host) for host in dict.fromkeys(hosts)}

    def verdict_of(self, host: str) -> verdict.Verdict:
        if host in self.unreachable:
            return verdict.UNREACHABLE
        if host in self.failed or any(f.severity in SERIOUS for f in self.findings.get(host, [])):
            return verdict.FAILED
        return verdict.OK

    @property
    def exit_code(self) -> int:
        """As every command's (``verdict.exit_code``): 4 a host was unreachable, 2 one failed, else 0."""
        return verdict.exit_code(self.verdicts.values())


def fleet_of(
    inventory: Inventory, evidence: Mapping[str, HostEvidence], max_concurrent_per_upstream: int = 1
) -> Fleet:
    configured = {
        host: None
        if e.facts.sync_from_microsoft_update
        else inventory.host_for_server(e.facts.upstream_wsus_server_name)
        for host, e in evidence.items()
    }
    return Fleet(dict(evidence), configured, max_concurrent_per_upstream)


def diagnose_fleet(
    inventory: Inventory,
    hosts: Sequence[Host],
    *,
    executor: HostExecutor | None = None,
    forks: int = 20,
    deadline: float = 120.0,
    session_factory: SessionFactory | None = None,
    max_concurrent_per_upstream: int = 1,
) -> Diagnosis:
    """Every host's findings; an unreachable host is reported as such and never stops the others.

    The three passes (evidence, upstream copies, inactive approvals) run on ``executor`` when given
    (a run's: its Sessions, and the hosts it found unreachable, are reused), else on one made for
    this call (``forks``, ``deadline``, ``session_factory``) and closed at its end."""
    diagnosis = Diagnosis(order=[h.name for h in hosts])
    if not hosts:
        return diagnosis
    with own_executor(
        executor,
        inventory,
        forks=forks,
        host_count=len(hosts),
        deadline=deadline,
        session_factory=session_factory,
        thread_name="diagnose",
    ) as running:
        for outcome in running.map([h.name for h in hosts], _read_evidence):
            if outcome.value is not None:
                diagnosis.evidence[outcome.host] = outcome.value
            elif outcome.status == verdict.UNREACHABLE:
                diagnosis.unreachable[outcome.host] = str(outcome.error)
            else:
                diagnosis.failed[outcome.host] = str(outcome.error)
        fleet = fleet_of(inventory, diagnosis.evidence, max_concurrent_per_upstream)
        _compare_with_upstreams(running, diagnosis, fleet)
        _list_inactive_approvals(running, diagnosis, fleet)
    fleet = fleet_of(inventory, diagnosis.evidence, max_concurrent_per_upstream)
    diagnosis.findings = run_checks(fleet)
    return diagnosis


# The passes' work on one host (module-level, so worker processes receive them by reference).


def _read_evidence(job: HostJob) -> HostEvidence:
    with reached(job):
        return host_evidence(job.session, job.host, job.inventory)


def _read_upstream_copies(job: HostJob, update_ids: list[str]) -> Any:
    with reached(job):
        return upstream_copies(job.session, update_ids)


def _read_inactive_approvals(job: HostJob) -> Any:
    with reached(job):
        return inactive_approvals(job.session)


def _compare_with_upstreams(executor: HostExecutor, diagnosis: Diagnosis, fleet: Fleet) -> None:
    """Second pass: ask each upstream about the updates its downstream servers failed to download."""
    wanted: dict[str, set[str]] = {}
    for host, evidence in diagnosis.evidence.items():
        upstream = fleet.configured_upstream.get(host)
        if evidence.failed_updates and upstream in diagnosis.evidence:
            wanted.setdefault(upstream, set()).update(u.update_id for u in evidence.failed_updates)
    if not wanted:
        return
    futures = {
        upstream: executor.submit(upstream, _read_upstream_copies, sorted(ids))
        for upstream, ids in wanted.items()
    }
    copies: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for upstream, future in futures.items():
        try:
            copies[upstream] = future.result()
        except (HostError, UsageError) as exc:  # the upstream's own error: noted on each downstream
            errors[upstream] = str(exc)
    for host, evidence in list(diagnosis.evidence.items()):
        upstream = fleet.configured_upstream.get(host)
        if upstream not in wanted:
            continue
        if upstream in copies:
            diagnosis.evidence[host] = _replace(evidence, upstream_copies=copies[upstream])
        else:
            problem = f"updates on {upstream}: {errors[upstream]}"
            diagnosis.evidence[host] = _replace(evidence, probe_errors=(*evidence.probe_errors, problem))


def _list_inactive_approvals(executor: HostExecutor, diagnosis: Diagnosis, fleet: Fleet) -> None:
    """Third pass: where a replica's approved count differs from its parent's, the parent runs
    ``wsusutil listinactiveapprovals`` ("Issues with Synchronization": a language change on the
    parent leaves approvals the replicas do not get), once per parent."""
    parents = set()
    for host, evidence in diagnosis.evidence.items():
        parent = fleet.upstream_of(host)
        if evidence.facts.is_replica_server and parent is not None:
            mine = evidence.facts.update_server_status.approved_update_count
            if mine != parent.facts.update_server_status.approved_update_count:
                parents.add(parent.host)
    if not parents:
        return
    for outcome in executor.map(sorted(parents), _read_inactive_approvals):
        evidence = diagnosis.evidence[outcome.host]
        if outcome.value is not None:
            diagnosis.evidence[outcome.host] = _replace(evidence, inactive_approvals=outcome.value)
        else:
            problem = f"wsusutil listinactiveapprovals: {outcome.error}"
            diagnosis.evidence[outcome.host] = _replace(evidence, inactive_approvals_error=problem)


def _replace(evidence: HostEvidence, **changes: Any) -> HostEvidence:
    return dataclasses.replace(evidence, **changes)


# -- fixes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixResult:
    host: str
    operation: str
    checks: tuple[str, ...]  # the findings' checks this fix answers
    status: str  # changed | ok | failed | unreachable | would change
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


# A fix's status -> the verdict it gives its host (check mode's "would change" is a change).
_FIX_VERDICTS: dict[str, verdict.Verdict] = {
    "ok": verdict.OK,
    "changed": verdict.CHANGED,
    "would change": verdict.CHANGED,
    "failed": verdict.FAILED,
    "unreachable": verdict.UNREACHABLE,
}


class Fixes(dict[str, list[FixResult]]):
    """What ``fix_fleet`` did: host -> its fixes' results, with each host's verdict and the exit code
    (a fix that failed: failed; unreachable during its fixes: unreachable)."""

    @property
    def verdicts(self) -> dict[str, verdict.Verdict]:
        return {
            host: verdict.worst(_FIX_VERDICTS[r.status] for r in results) for host, results in self.items()
        }

    @property
    def exit_code(self) -> int:
        return verdict.exit_code(self.verdicts.values())


def verdicts_with_fixes(
    diagnosis: Diagnosis, fixes: Mapping[str, Sequence[FixResult]]
) -> dict[str, verdict.Verdict]:
    """``diagnose --fix``: each host's verdict is the worst of its diagnosis' (the one after the fixes;
    in check mode the only one) and its fixes'."""
    fixed = Fixes({host: list(results) for host, results in fixes.items()}).verdicts
    verdicts = dict(diagnosis.verdicts)
    for host, fix_verdict in fixed.items():
        verdicts[host] = verdict.worst([verdicts.get(host, verdict.SKIPPED), fix_verdict])
    return verdicts


def fixes_for(findings: Sequence[Finding]) -> dict[str, tuple[str, ...]]:
    """Operation -> the checks it fixes, in the order the findings name them."""
    fixes: dict[str, list[str]] = {}
    for finding in findings:
        if finding.fix:
            checks = fixes.setdefault(finding.fix, [])
            if finding.check not in checks:
                checks.append(finding.check)
    return {operation: tuple(checks) for operation, checks in fixes.items()}


def fix_fleet(
    inventory: Inventory,
    diagnosis: Diagnosis,
    *,
    executor: HostExecutor | None = None,
    check: bool = False,
    forks: int = 20,
    deadline: float = 300.0,
    session_factory: SessionFactory | None = None,
    arguments: Mapping[str, Any] | None = None,
    journal: Journal | None = None,
    max_concurrent_per_upstream: int = 1,
) -> Fixes:
    """Run, on each host, the fix operations its findings name (documented fixes only), on
    ``executor`` when given (its Sessions, its journal), else on one made for this call (``forks``,
    ``deadline``, ``session_factory``, ``journal``). Each fix is journaled as it is applied.

    A fix ends with a synchronization from the host's upstream server (as configured): at most
    ``max_concurrent_per_upstream`` of them pull from one upstream at a time, each holding a slot
    there during its attempt, as a run in hierarchy order does."""
    plans = {host: fixes_for(found) for host, found in diagnosis.findings.items()}
    hosts = [h for h, fixes in plans.items() if fixes]
    results = Fixes()
    if not hosts:
        return results
    with own_executor(
        executor,
        inventory,
        forks=forks,
        host_count=len(hosts),
        deadline=deadline,
        session_factory=session_factory,
        journal=journal,
        thread_name="fix",
    ) as running:
        configured = fleet_of(inventory, diagnosis.evidence).configured_upstream
        running.set_upstream_slots(configured, max_concurrent_per_upstream)
        outcomes = running.map(hosts, _fix_host, plans, dict(arguments or {}), check)
    for outcome in outcomes:
        if outcome.value is not None:
            results[outcome.host] = outcome.value
        else:
            status = outcome.status
            results[outcome.host] = [
                FixResult(outcome.host, name, checks, status, str(outcome.error))
                for name, checks in plans[outcome.host].items()
            ]
    return results


def _fix_host(
    job: HostJob,
    plans: Mapping[str, Mapping[str, tuple[str, ...]]],
    arguments: Mapping[str, Any],
    check: bool,
) -> list[FixResult]:
    """One host's fixes, in order (a work function for ``HostExecutor``): a fix that fails is its
    result and the next one still runs; a host that stops answering ends them all (unreachable)."""
    host = job.host.name
    context = job.context
    results = []
    with reached(job):
        for name, checks in plans[host].items():
            operation = get_operation(name)
            task = f"fix {', '.join(checks)}"
            # Each fix takes the arguments it knows (the synchronization's poll interval, say).
            given = {k: v for k, v in arguments.items() if k in operation.arguments}
            args = operation.validate(given, f"diagnose --fix, host {host}, {name}")
            if not check:
                context.record("applying", task=task, operation=name)
            try:
                outcome = operation.run(
                    job.session, args, check=check, context=TaskContext(context, task, name)
                )
            except NEVER_RAN:
                raise
            except HostError as exc:
                if not check:
                    context.record("failed", task=task, operation=name, error=str(exc))
                results.append(FixResult(host, name, checks, "failed", str(exc)))
                continue
            status = "would change" if check and outcome.changed else "changed" if outcome.changed else "ok"
            if outcome.failed:
                status = "failed"
            if not check:
                context.record(
                    "failed" if outcome.failed else "applied",
                    task=task,
                    operation=name,
                    message=outcome.message,
                    changes=[
                        {"member": c.member, "before": c.before, "after": c.after} for c in outcome.changes
                    ],
                )
            results.append(FixResult(host, name, checks, status, outcome.message, dict(outcome.details)))
    return results


# -- the JSON document -----------------------------------------------------------------------


def unreachable_finding(host: str, error: str, status: str) -> dict[str, Any]:
    """A host that could not be diagnosed, in the findings' shape (check ``connection``)."""
    return {
        "check": "connection",
        "severity": "error",
        "title": f"the server could not be diagnosed: {status}",
        "evidence": {"status": status, "error": error},
        "remedy": "Check that the WinRM endpoint answers and the credentials are valid (wsusauto facts "
        "shows the same error).",
        "source": "wsusauto",
        "fix": None,
    }


def document(
    diagnosis: Diagnosis,
    fixes: Mapping[str, Sequence[FixResult]] | None = None,
    before: Diagnosis | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Host -> its findings (``check``, ``severity``, ``title``, ``evidence``, ``remedy``, ``source``,
    ``fix``). With fixes: the findings first seen (``before``), each with ``fix_result`` and
    ``resolved`` (gone when diagnosed again; None in check mode), then any finding new since."""
    out: dict[str, list[dict[str, Any]]] = {}
    first = before or diagnosis
    for host in first.order:
        if host in first.unreachable or host in first.failed:
            status = "unreachable" if host in first.unreachable else "failed"
            out[host] = [unreachable_finding(host, first.unreachable.get(host) or first.failed[host], status)]
            continue
        found = [f.to_dict() for f in first.findings.get(host, [])]
        if fixes is not None:
            by_op = {r.operation: r for r in fixes.get(host, [])}
            # A fixed finding is gone when diagnosed again; its title may name values, its check not.
            still = {f.check for f in diagnosis.findings.get(host, [])} if before else None
            # A content cause is resolved when its downloads recovered too, not when it alone is gone.
            recovered = host in diagnosis.evidence and content_recovered(diagnosis.evidence[host].facts)
            for item in found:
                result = by_op.get(item["fix"]) if item["fix"] else None
                item["fix_result"] = (
                    {"operation": result.operation, "status": result.status, "message": result.message}
                    if result
                    else None
                )
                item["resolved"] = (
                    None
                    if still is None
                    else item["check"] not in still and (item["check"] not in CONTENT_CAUSES or recovered)
                )
            if before is not None:
                seen = {(f["check"], f["title"]) for f in found}
                for finding in diagnosis.findings.get(host, []):
                    if (finding.check, finding.title) not in seen:
                        found.append({**finding.to_dict(), "new": True})
        out[host] = found
    return out


__all__ = [
    "BY_ID",
    "Diagnosis",
    "FixResult",
    "Fixes",
    "diagnose_fleet",
    "document",
    "fix_fleet",
    "fixes_for",
    "host_evidence",
    "probe_upstream",
    "verdicts_with_fixes",
]
