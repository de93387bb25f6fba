"""A play's work on one host, as work functions for the ``HostExecutor``: read its facts
(``gather``), run its tasks (``run_tasks``: each planned on the facts it holds, applied unless in
check mode, journaled before and after, streamed as it ends).

The runner decides what runs where and when; the executor gives each job the host's one Session
and its ``HostContext``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog

from wsusauto.config.playbook import Task
from wsusauto.errors import NEVER_RAN, HostError, Interrupted, WsusAutoError
from wsusauto.execution.jobs import HostJob, SessionFactory
from wsusauto.operations import Change, OperationRefused, get_operation
from wsusauto.operations.context import HostContext
from wsusauto.state.facts import Facts, gather_facts

log = structlog.get_logger(__name__)

__all__ = [
    "FactsOutcome",
    "PreparedTask",
    "SessionFactory",
    "TaskContext",
    "TaskResult",
    "gather",
    "run_tasks",
]


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


class TaskContext(HostContext):
    """The host's context while one task runs: the lines its operation journals (a sync's
    ``applying`` and ``attempt`` lines) name the task and operation, as the task's own lines do."""

    def __init__(self, context: HostContext, task: str, operation: str) -> None:
        self.host = context.host
        self._context = context
        self._names = {"task": task, "operation": operation}

    def record(self, event: str, **fields: Any) -> None:
        self._context.record(event, **{**self._names, **fields})

    @contextmanager
    def upstream_slot(self) -> Iterator[None]:
        with self._context.upstream_slot():
            yield

    def stopping(self) -> bool:
        return self._context.stopping()

    def sleep(self, seconds: float) -> None:
        self._context.sleep(seconds)


def gather(job: HostJob) -> FactsOutcome:
    """The host's facts (a work function for ``HostExecutor``); a host found unreachable once in this
    executor's life is not tried again."""
    if job.unreachable:
        return NotReached(job.unreachable)
    try:
        return gather_facts(job.session)
    except Interrupted:
        raise
    except NEVER_RAN as exc:
        job.unreachable = exc.reason
        return NotReached(exc.reason)
    except WsusAutoError as exc:
        return FactsFailure(str(exc))
    except Exception as exc:  # a bug: the host answered, so its tasks fail; the other hosts go on
        if job.context.stopping():
            raise Interrupted(f"{job.host.name}: stopped while reading facts") from exc
        log.error("unexpected error reading facts", host=job.host.name, exc_info=exc)
        return FactsFailure(unexpected(exc))


@dataclass(frozen=True)
class HostStarted:
    """What a host's job emits first: from then on, a host interrupted by Ctrl+C was at work, not
    still queued behind others (``execution.progress`` reports the two differently)."""

    host: str


def run_tasks(
    job: HostJob, play: str, tasks: Sequence[PreparedTask], facts: FactsOutcome | None, check: bool = False
) -> list[TaskResult]:
    """A host's tasks of one play in order (a work function for ``HostExecutor``): each planned on the
    facts it holds, applied unless ``check``, journaled (``applying`` before a change, ``applied`` or
    ``failed`` after) and emitted (``job.emit``) as it ends. Returns every result, in order."""
    name = job.host.name
    context = job.context
    results: list[TaskResult] = []
    job.emit(HostStarted(name))

    def emit(result: TaskResult) -> None:
        results.append(result)
        job.emit(result)

    if isinstance(facts, NotReached) or facts is None or job.unreachable:
        reason = job.unreachable or (
            facts.reason if isinstance(facts, NotReached) else "facts could not be read"
        )
        emit(TaskResult(name, play, "gather facts", "facts", "unreachable", message=reason))
        return results
    if isinstance(facts, FactsFailure):
        emit(TaskResult(name, play, "gather facts", "facts", "failed", message=facts.message))
        return results
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
            if plan.changes and not check:
                context.record(
                    "applying", task=task.name, operation=task.operation, changes=_changes(plan.changes)
                )
            outcome = operation.run(
                job.session,
                prepared.args,
                check=check,
                facts=current,
                context=TaskContext(context, task.name, task.operation),
            )
        except Interrupted:
            raise
        except NEVER_RAN as exc:
            if context.stopping():  # its Session was closed by the stop, not by the host
                raise Interrupted(f"{name}: stopped during {task.name}") from exc
            job.unreachable = exc.reason
            context.record("unreachable", task=task.name, operation=task.operation, error=exc.reason)
            emit(TaskResult(name, play, task.name, task.operation, "unreachable", message=exc.reason))
            return results
        except Exception as exc:  # refused, failed on the host, or a bug: this host's task fails
            if context.stopping():
                raise Interrupted(f"{name}: stopped during {task.name}") from exc
            if isinstance(exc, (OperationRefused, HostError, WsusAutoError)):
                message = str(exc)
            else:  # the other hosts go on; the traceback goes to the log
                log.error("unexpected error in a task", host=name, task=task.name, exc_info=exc)
                message = unexpected(exc)
            if plan is not None and plan.changes and not check:
                context.record("failed", task=task.name, operation=task.operation, error=message)
            status = "ignored" if task.ignore_errors else "failed"
            # WSUS was busy (a sync, a save processing): the same task can succeed later.
            details = {"retryable": True} if getattr(exc, "retryable", False) else {}
            emit(TaskResult(name, play, task.name, task.operation, status, message=message, details=details))
            if task.ignore_errors:
                continue
            return results
        if outcome.details and not check:
            context.record(
                "action",
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
            return results
        if outcome.changed:
            if check:
                current = operation.simulate(current, outcome)
            else:
                current = outcome.facts or current
                context.record(
                    "applied", task=task.name, operation=task.operation, changes=_changes(outcome.changes)
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
    return results


def unexpected(error: BaseException) -> str:
    """The one line a task or facts failure gives for an error that is a bug, not the host's doing."""
    return f"unexpected error ({type(error).__name__}: {error}); a bug of wsusauto's: please report it"


def _changes(changes: Sequence[Change]) -> list[dict[str, Any]]:
    return [{"member": c.member, "before": c.before, "after": c.after} for c in changes]
