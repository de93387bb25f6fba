"""Working on hosts: the sessions, facts and task runs of one process.

The runner decides what runs where and when; a ``HostWorker`` does it for the hosts it owns: one
Session per host for the whole run, facts read once, each task planned on the facts it holds,
applied (unless in check mode), journaled before and after. ``LocalWork`` runs a HostWorker in
threads in this process; ``wsusauto.execution.procwork`` runs several in worker processes when one process's
CPU is the limit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from wsusauto.client.session import Session
from wsusauto.client.speedups import forget_password_hashes
from wsusauto.config.inventory import Host, Inventory
from wsusauto.config.playbook import Task
from wsusauto.errors import NEVER_RAN, HostError, WsusAutoError
from wsusauto.operations import Change, OperationRefused, get_operation
from wsusauto.operations.base import _FACT_FIELDS
from wsusauto.output.journal import Journal
from wsusauto.state.facts import Facts, gather_facts

SessionFactory = Callable[[Host, Inventory], Session]


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
    details: dict[str, Any] = field(default_factory=dict)  # e.g. a synchronization's attempts

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "ignored")


@dataclass(frozen=True)
class PreparedTask:
    task: Task
    args: Mapping[str, Any] | None  # None: skipped by `when`


@dataclass(frozen=True)
class FactsFailure:
    """The facts snippet ran but failed (a remote error): the host is reachable, its tasks fail."""

    message: str


@dataclass(frozen=True)
class NotReached:
    reason: str


FactsOutcome = Facts | FactsFailure | NotReached


class HostWorker:
    def __init__(
        self,
        inventory: Inventory,
        *,
        check: bool,
        deadline: float,
        journal: Journal | None,
        session_factory: SessionFactory | None = None,
    ) -> None:
        self.inventory = inventory
        self.check = check
        self.journal = journal
        self.session_factory = session_factory or (
            lambda host, inv: Session(host.name, inv.connection_options(host), default_deadline=deadline)
        )
        self._sessions: dict[str, Session] = {}
        self.unreachable: dict[str, str] = {}

    def gather(self, name: str) -> FactsOutcome:
        if name in self.unreachable:
            return NotReached(self.unreachable[name])
        try:
            return gather_facts(self.session(name))
        except NEVER_RAN as exc:
            self.unreachable[name] = exc.reason
            return NotReached(exc.reason)
        except WsusAutoError as exc:
            return FactsFailure(str(exc))

    def run_host(
        self,
        play: str,
        name: str,
        tasks: Sequence[PreparedTask],
        facts: FactsOutcome | None,
        emit: Callable[[TaskResult], None],
    ) -> None:
        if isinstance(facts, NotReached) or facts is None or name in self.unreachable:
            reason = self.unreachable.get(name) or getattr(facts, "reason", "facts could not be read")
            emit(TaskResult(name, play, "gather facts", "facts", "unreachable", message=reason))
            return
        if isinstance(facts, FactsFailure):
            emit(TaskResult(name, play, "gather facts", "facts", "failed", message=facts.message))
            return
        current: Facts = facts
        for prepared in tasks:
            task = prepared.task
            if prepared.args is None:
                emit(TaskResult(name, play, task.name, task.operation, "skipped", message="when: not met"))
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
                outcome = operation.run(self.session(name), prepared.args, check=self.check, facts=current)
            except NEVER_RAN as exc:
                self.unreachable[name] = exc.reason
                self._write(
                    "unreachable", host=name, task=task.name, operation=task.operation, error=exc.reason
                )
                emit(TaskResult(name, play, task.name, task.operation, "unreachable", message=exc.reason))
                return
            except (OperationRefused, HostError, WsusAutoError) as exc:
                message = str(exc)
                if plan is not None and plan.changes and not self.check:
                    self._write("failed", host=name, task=task.name, operation=task.operation, error=message)
                status = "ignored" if task.ignore_errors else "failed"
                # WSUS was busy (a sync, a save processing): the same task can succeed later.
                details = {"retryable": True} if getattr(exc, "retryable", False) else {}
                emit(
                    TaskResult(
                        name, play, task.name, task.operation, status, message=message, details=details
                    )
                )
                if task.ignore_errors:
                    continue
                return
            if outcome.details and not self.check:
                self._write(
                    "action",
                    host=name,
                    task=task.name,
                    operation=task.operation,
                    failed=outcome.failed,
                    message=outcome.message,
                    **outcome.details,
                )
            if outcome.failed:
                current = outcome.facts or current
                status = "ignored" if task.ignore_errors else "failed"
                emit(
                    TaskResult(
                        name,
                        play,
                        task.name,
                        task.operation,
                        status,
                        changed=outcome.changed,
                        message=outcome.message,
                        details=dict(outcome.details),
                    )
                )
                if task.ignore_errors:
                    continue
                return
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
                    play,
                    task.name,
                    task.operation,
                    "changed" if outcome.changed else "ok",
                    changed=outcome.changed,
                    diff=outcome.diff if outcome.changed else {},
                    message=outcome.message,
                    warnings=outcome.warnings,
                    details=dict(outcome.details),
                )
            )

    def session(self, name: str) -> Session:
        session = self._sessions.get(name)
        if session is None:
            session = self.session_factory(self.inventory.hosts[name], self.inventory)
            self._sessions[name] = session
        return session

    def close(self, parallel: int = 20) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        if sessions:
            with ThreadPoolExecutor(max_workers=min(parallel, len(sessions))) as pool:
                list(pool.map(lambda s: s.close(), sessions))
        forget_password_hashes()  # the run is over: its passwords need not stay in memory

    def _write(self, event: str, **fields: Any) -> None:
        if self.journal is not None:
            self.journal.write(event, **fields)


class LocalWork:
    """A HostWorker in this process, ``forks`` hosts at a time in threads; results stream as they come."""

    def __init__(self, worker: HostWorker, forks: int, on_result: Callable[[TaskResult], None]) -> None:
        self.worker = worker
        self.forks = forks
        self.on_result = on_result

    def gather_many(self, hosts: Sequence[str]) -> dict[str, FactsOutcome]:
        with ThreadPoolExecutor(max_workers=min(self.forks, len(hosts)), thread_name_prefix="facts") as pool:
            return dict(zip(hosts, pool.map(self.worker.gather, hosts), strict=True))

    def run_batch(
        self,
        play: str,
        batch: Sequence[str],
        tasks: Mapping[str, Sequence[PreparedTask]],
        facts: Mapping[str, FactsOutcome],
    ) -> dict[str, list[TaskResult]]:
        def one(name: str) -> list[TaskResult]:
            results: list[TaskResult] = []

            def emit(result: TaskResult) -> None:
                results.append(result)
                self.on_result(result)

            self.worker.run_host(play, name, tasks[name], facts.get(name), emit)
            return results

        with ThreadPoolExecutor(max_workers=min(self.forks, len(batch)), thread_name_prefix="host") as pool:
            return dict(zip(batch, pool.map(one, batch), strict=True))

    def close(self) -> None:
        self.worker.close(self.forks)


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
