"""The fleet runner: a playbook over an inventory, one Session per host for the whole run.

A run, play by play:

1. resolve every task for every host (``when``, ``{{ var }}``, argument checks) and check the
   intended hierarchy (self-upstream, cycles, unknown upstreams): a mistake stops the run here,
   before any server is contacted;
2. read every host's facts (``forks`` at a time); check that each hierarchy the play touches
   uses one update storage option (seed 002): a mismatch stops the run, nothing changed;
3. work through the hosts in ``serial`` batches (split at hierarchy waves with
   ``order: hierarchy``), each host running its tasks in order; a failed host never stops the
   others; ``max_fail_percentage`` ends the run after a batch that fails too many.

Every change is journaled before and after it is applied. Check mode plans the same changes
against simulated facts, so ``--check`` reports what a real run would change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from wsusauto import exitcodes
from wsusauto.errors import AuthenticationFailed, HostError, Unreachable, UsageError, WsusAutoError
from wsusauto.facts import Facts, gather_facts
from wsusauto.hierarchy import Node, validate, waves
from wsusauto.inventory import Host, Inventory
from wsusauto.journal import Journal
from wsusauto.operations import Change, OperationRefused, get_operation
from wsusauto.operations.base import _FACT_FIELDS
from wsusauto.playbook import Play, Playbook, Task
from wsusauto.report import to_jsonable
from wsusauto.session import Session
from wsusauto.templating import condition_holds, render

# Nothing ran on the host: it is unreachable (as Ansible counts a refused login too).
_NEVER_RAN = (Unreachable, AuthenticationFailed)
COUNTERS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
_HIERARCHY_OPERATIONS = {"update_source", "replica"}


@dataclass
class TaskResult:
    host: str
    play: str
    name: str
    operation: str
    status: str  # ok | changed | failed | skipped | unreachable | ignored
    changed: bool = False
    diff: dict[str, dict[str, Any]] = field(default_factory=dict)
    message: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "ignored")


@dataclass
class RunResult:
    run_id: str
    check_mode: bool
    hosts: dict[str, list[TaskResult]] = field(default_factory=dict)
    recap: dict[str, dict[str, int]] = field(default_factory=dict)
    aborted: str = ""

    def add(self, result: TaskResult) -> None:
        self.hosts.setdefault(result.host, []).append(result)
        counters = self.recap.setdefault(result.host, dict.fromkeys(COUNTERS, 0))
        if result.status == "changed":
            counters["ok"] += 1
            counters["changed"] += 1
        else:
            counters[result.status] += 1

    @property
    def exit_code(self) -> int:
        if any(c["unreachable"] for c in self.recap.values()):
            return exitcodes.HOST_UNREACHABLE
        if any(c["failed"] for c in self.recap.values()) or self.aborted:
            return exitcodes.HOST_FAILED
        return exitcodes.OK

    def document(self) -> dict[str, Any]:
        """The ``--json`` result: ``hosts`` -> task results, ``recap`` -> Ansible's seven counters."""
        return {
            "run_id": self.run_id,
            "check_mode": self.check_mode,
            "aborted": self.aborted or None,
            "hosts": {
                host: [
                    {
                        "play": r.play,
                        "name": r.name,
                        "operation": r.operation,
                        "status": r.status,
                        "changed": r.changed,
                        "failed": r.failed,
                        "diff": to_jsonable(r.diff),
                        "message": r.message,
                        "warnings": list(r.warnings),
                    }
                    for r in results
                ]
                for host, results in self.hosts.items()
            },
            "recap": self.recap,
        }


@dataclass(frozen=True)
class _Prepared:
    task: Task
    args: Mapping[str, Any] | None  # None: skipped by `when`


SessionFactory = Callable[[Host, Inventory], Session]


class Runner:
    def __init__(
        self,
        inventory: Inventory,
        playbook: Playbook,
        *,
        limit: str | None = None,
        forks: int = 20,
        check: bool = False,
        journal: Journal | None = None,
        deadline: float = 300.0,
        session_factory: SessionFactory | None = None,
        on_result: Callable[[TaskResult], None] | None = None,
        on_play: Callable[[Play, list[str]], None] | None = None,
    ) -> None:
        if forks < 1:
            raise UsageError("forks must be at least 1")
        self.inventory = inventory
        self.playbook = playbook
        self.limit = limit
        self.forks = forks
        self.check = check
        self.deadline = deadline
        self.journal = journal
        self.session_factory = session_factory or (
            lambda host, inv: Session(host.name, inv.connection_options(host), default_deadline=deadline)
        )
        self.on_result = on_result or (lambda result: None)
        self.on_play = on_play or (lambda play, hosts: None)
        self.run_id = journal.run_id if journal else uuid.uuid4().hex[:12]
        self._sessions: dict[str, Session] = {}
        self._unreachable: dict[str, str] = {}

    # -- the whole run -----------------------------------------------------------------------

    def run(self) -> RunResult:
        result = RunResult(self.run_id, self.check)
        # Resolve every play first: a wrong playbook or inventory touches nothing.
        prepared = [(play, *self._prepare_play(play)) for play in self.playbook.plays]
        self._write(
            "run_started",
            check_mode=self.check,
            playbook=self.playbook.source,
            inventory=self.inventory.source,
        )
        try:
            for play, hosts, tasks in prepared:
                self.on_play(play, hosts)
                if not hosts:
                    continue
                if not self._run_play(play, hosts, tasks, result):
                    break
        finally:
            self._close_sessions()
            self._write(
                "run_finished", recap=result.recap, exit_code=result.exit_code, aborted=result.aborted
            )
        return result

    def _prepare_play(self, play: Play) -> tuple[list[str], dict[str, list[_Prepared]]]:
        selected = self.inventory.select(play.hosts)
        if self.limit:
            allowed = {h.name for h in self.inventory.select(self.limit)}
            selected = [h for h in selected if h.name in allowed]
        tasks: dict[str, list[_Prepared]] = {}
        for host in selected:
            variables = dict(host.vars)
            per_host = []
            for task in play.tasks:
                where = f"{task.where}, host {host.name}"
                if not condition_holds(task.when, variables, where):
                    per_host.append(_Prepared(task, None))
                    continue
                raw = render(task.args, variables, where)
                if task.operation == "proxy":
                    raw["allow_cleartext_proxy_password"] = play.allow_cleartext_proxy_password
                per_host.append(_Prepared(task, get_operation(task.operation).validate(raw, where)))
            tasks[host.name] = per_host
        self._check_hierarchy(play, selected, tasks)
        return self._order(play, [h.name for h in selected], tasks), tasks

    def _intended_nodes(self, tasks: Mapping[str, list[_Prepared]]) -> list[Node]:
        nodes = []
        for host in self.inventory.hosts.values():
            upstream, replica = host.upstream, host.replica
            for prepared in tasks.get(host.name, []):
                if prepared.args is None:
                    continue
                if prepared.task.operation == "update_source":
                    upstream = (
                        prepared.args.get("upstream") if prepared.args["source"] == "upstream" else None
                    )
                elif prepared.task.operation == "replica":
                    replica = prepared.args["enabled"]
            upstream = self._inventory_name(upstream)
            external = bool(host.vars.get("wsus_upstream_external", False))
            nodes.append(Node(host.name, upstream, replica, external))
        return nodes

    def _inventory_name(self, server: str | None) -> str | None:
        """Map an upstream server name (host name, address or wsus_server_name) to its inventory host."""
        if server is None:
            return None
        for host in self.inventory.hosts.values():
            names = {
                host.name,
                str(host.vars.get("ansible_host", "")),
                str(host.vars.get("wsus_server_name", "")),
            }
            if server in names or server.split(".")[0] == host.name:
                return host.name
        return server

    def _check_hierarchy(
        self, play: Play, hosts: Sequence[Host], tasks: Mapping[str, list[_Prepared]]
    ) -> None:
        touches = any(
            p.task.operation in _HIERARCHY_OPERATIONS and p.args is not None
            for per_host in tasks.values()
            for p in per_host
        )
        if touches or play.order != "inventory":
            validate(self._intended_nodes(tasks), f"{play.where}: intended hierarchy")

    def _order(self, play: Play, hosts: list[str], tasks: Mapping[str, list[_Prepared]]) -> list[str]:
        if play.order == "inventory":
            return hosts
        levels = waves(self._intended_nodes(tasks))
        ranked = [name for wave in levels for name in wave if name in hosts]
        return ranked if play.order == "hierarchy" else list(reversed(ranked))

    # -- one play ----------------------------------------------------------------------------

    def _run_play(
        self, play: Play, hosts: list[str], tasks: dict[str, list[_Prepared]], result: RunResult
    ) -> bool:
        facts = self._gather(hosts)
        self._check_storage_consistency(play, hosts, tasks, facts)
        for batch in self._batches(play, hosts, tasks):
            with ThreadPoolExecutor(
                max_workers=min(self.forks, len(batch)), thread_name_prefix="host"
            ) as pool:
                outcomes = list(pool.map(lambda h: self._run_host(play, h, tasks[h], facts.get(h)), batch))
            failed = 0
            for host_results in outcomes:
                for task_result in host_results:
                    result.add(task_result)
                if any(r.status in ("failed", "unreachable") for r in host_results):
                    failed += 1
            if (
                play.max_fail_percentage is not None
                and 100.0 * failed / len(batch) > play.max_fail_percentage
            ):
                result.aborted = (
                    f"{play.where}: {failed} of {len(batch)} hosts in a batch failed, more than "
                    f"max_fail_percentage {play.max_fail_percentage:g}; the run stopped"
                )
                return False
        return True

    def _batches(self, play: Play, hosts: list[str], tasks: Mapping[str, list[_Prepared]]) -> list[list[str]]:
        if play.order == "inventory":
            return play.batches(hosts)
        depth = {name: i for i, wave in enumerate(waves(self._intended_nodes(tasks))) for name in wave}
        batches: list[list[str]] = []
        for batch in play.batches(hosts):
            current: list[str] = []
            for name in batch:  # a batch never mixes hierarchy waves: parents finish before children start
                if current and depth[name] != depth[current[-1]]:
                    batches.append(current)
                    current = []
                current.append(name)
            batches.append(current)
        return batches

    def _gather(self, hosts: list[str]) -> dict[str, Facts]:
        def one(name: str) -> tuple[str, Facts | _FactsFailure | None]:
            if name in self._unreachable:
                return name, None
            try:
                return name, gather_facts(self._session(name))
            except _NEVER_RAN as exc:
                self._unreachable[name] = exc.reason
                return name, None
            except WsusAutoError as exc:
                return name, _FactsFailure(exc)

        with ThreadPoolExecutor(max_workers=min(self.forks, len(hosts)), thread_name_prefix="facts") as pool:
            return {name: facts for name, facts in pool.map(one, hosts) if facts is not None}

    def _check_storage_consistency(
        self, play: Play, hosts: list[str], tasks: Mapping[str, list[_Prepared]], facts: Mapping[str, Any]
    ) -> None:
        if not any(
            p.task.operation in _HIERARCHY_OPERATIONS and p.args is not None
            for name in hosts
            for p in tasks[name]
        ):
            return
        nodes = {n.name: n for n in self._intended_nodes(tasks)}

        def root(name: str) -> str:
            seen = set()
            while nodes[name].upstream in nodes and name not in seen:
                seen.add(name)
                name = nodes[name].upstream  # type: ignore[assignment]
            return name

        trees: dict[str, dict[str, bool]] = {}
        for name, known in facts.items():
            if isinstance(known, Facts):
                trees.setdefault(root(name), {})[name] = known.host_binaries_on_microsoft_update
        for tree_root, storage in trees.items():
            if len(set(storage.values())) > 1:
                local = sorted(h for h, on_mu in storage.items() if not on_mu)
                remote = sorted(h for h, on_mu in storage.items() if on_mu)
                raise UsageError(
                    f"{play.where}: the hierarchy under {tree_root} mixes update storage options "
                    f"(local: {', '.join(local)}; on Microsoft Update: {', '.join(remote)}). "
                    "The whole hierarchy must use the same storage option or synchronizations fail; "
                    "nothing was changed"
                )

    # -- one host ----------------------------------------------------------------------------

    def _run_host(self, play: Play, name: str, tasks: list[_Prepared], facts: Any) -> list[TaskResult]:
        results: list[TaskResult] = []

        def emit(result: TaskResult) -> None:
            results.append(result)
            self.on_result(result)

        if name in self._unreachable or facts is None:
            reason = self._unreachable.get(name, "facts could not be read")
            emit(TaskResult(name, play.name, "gather facts", "facts", "unreachable", message=reason))
            return results
        if isinstance(facts, _FactsFailure):
            emit(TaskResult(name, play.name, "gather facts", "facts", "failed", message=str(facts.error)))
            return results
        current: Facts = facts
        for prepared in tasks:
            task = prepared.task
            if prepared.args is None:
                emit(
                    TaskResult(name, play.name, task.name, task.operation, "skipped", message="when: not met")
                )
                continue
            operation = get_operation(task.operation)
            plan = None
            try:
                plan = operation.plan(current, prepared.args)
                if plan.changes and not self.check:
                    self._write(
                        "applying",
                        host=name,
                        task=task.name,
                        operation=task.operation,
                        changes=_changes(plan.changes),
                    )
                outcome = operation.run(self._session(name), prepared.args, check=self.check, facts=current)
            except _NEVER_RAN as exc:
                self._unreachable[name] = exc.reason
                self._write(
                    "unreachable", host=name, task=task.name, operation=task.operation, error=exc.reason
                )
                emit(
                    TaskResult(name, play.name, task.name, task.operation, "unreachable", message=exc.reason)
                )
                return results
            except (OperationRefused, HostError, WsusAutoError) as exc:
                message = str(exc)
                if plan is not None and plan.changes and not self.check:
                    self._write("failed", host=name, task=task.name, operation=task.operation, error=message)
                emit(
                    TaskResult(
                        name,
                        play.name,
                        task.name,
                        task.operation,
                        "ignored" if task.ignore_errors else "failed",
                        message=message,
                    )
                )
                if task.ignore_errors:
                    continue
                return results
            if outcome.changed:
                if self.check:
                    current = simulate(current, outcome.changes)
                else:
                    current = outcome.facts or current
                    self._write(
                        "applied",
                        host=name,
                        task=task.name,
                        operation=task.operation,
                        changes=_changes(outcome.changes),
                    )
            elif outcome.facts is not None:
                current = outcome.facts
            emit(
                TaskResult(
                    name,
                    play.name,
                    task.name,
                    task.operation,
                    "changed" if outcome.changed else "ok",
                    changed=outcome.changed,
                    diff=outcome.diff if outcome.changed else {},
                    message=outcome.message,
                    warnings=outcome.warnings,
                )
            )
        return results

    # -- sessions and journal ----------------------------------------------------------------

    def _session(self, name: str) -> Session:
        session = self._sessions.get(name)
        if session is None:
            session = self.session_factory(self.inventory.hosts[name], self.inventory)
            self._sessions[name] = session
        return session

    def _close_sessions(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        if sessions:
            with ThreadPoolExecutor(max_workers=min(self.forks, len(sessions))) as pool:
                list(pool.map(lambda s: s.close(), sessions))

    def _write(self, event: str, **fields: Any) -> None:
        if self.journal is not None:
            self.journal.write(event, **fields)


@dataclass(frozen=True)
class _FactsFailure:
    error: Exception


def _changes(changes: Sequence[Change]) -> list[dict[str, Any]]:
    return [{"member": c.member, "before": c.before, "after": c.after} for c in changes]


def simulate(facts: Facts, changes: Sequence[Change]) -> Facts:
    """The facts a real run would read back after ``changes`` (check mode plans on these)."""
    updates: dict[str, Any] = {}
    for change in changes:
        if change.member == "ProxyPassword":
            updates["has_proxy_password"] = change.after == "(set)"
        elif change.member.startswith("ComputerTargetGroups["):
            groups = dict(updates.get("computer_target_groups", facts.computer_target_groups))
            groups[change.member[len("ComputerTargetGroups[") : -1]] = tuple(change.after)
            updates["computer_target_groups"] = groups
        elif change.member in _FACT_FIELDS:
            value = change.after
            if isinstance(value, dt.time):
                value = value.replace(tzinfo=None)
            updates[_FACT_FIELDS[change.member]] = value
    return dataclasses.replace(facts, **updates)
