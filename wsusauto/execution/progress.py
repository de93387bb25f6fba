"""Where each host of the running play stands, so a run stopped by Ctrl+C still reports every host.

The run loop tells a ``PlayProgress`` when it starts a host's job and when it has reported a host's
outcome (its tasks' results, or skipped below a failed upstream); the executor's events give it
each task's result as it ends. At a stop, ``outcomes_at_stop()`` gives what the recap and ``--json``
still lack, so that every host of the play has an outcome:

- a host whose job ended (even as the run stopped, e.g. a sync left running): its results;
- a host whose job began and did not end well (its Session closed under it, abandoned because it
  did not answer): the tasks it ended, then the task it was at, ``failed`` and marked
  ``interrupted`` (the task may have been half done: a user must look, as for any failed task);
- a host never started, or whose job was still queued (it never emitted ``HostStarted``): each of
  its tasks ``skipped``, marked ``interrupted``: nothing ran there.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from wsusauto.config.playbook import Task
from wsusauto.execution.hostwork import HostStarted, PreparedTask, TaskResult

STOPPED_DURING = "interrupted: the run stopped before this task ended"
STOPPED_BEFORE = "interrupted: the run stopped before this host started"


class PlayProgress:
    def __init__(
        self,
        play: str,
        hosts: Sequence[str],
        tasks: Mapping[str, Sequence[PreparedTask]],
        run_results: Mapping[str, Sequence[TaskResult]],
    ) -> None:
        self.play = play
        self.hosts = list(hosts)
        self.tasks = tasks
        # The run's results per host, as the run loop adds them (earlier plays' included): a Ctrl+C
        # between adding a host's results and reported() must not list those results twice.
        self._run_results = run_results
        self._held_before = {host: len(run_results.get(host, ())) for host in self.hosts}
        self._lock = threading.Lock()  # results stream in from executor threads
        self._streamed: dict[str, list[TaskResult]] = {}
        self._began: set[str] = set()  # hosts whose job emitted HostStarted
        self._jobs: dict[str, Future[Any]] = {}
        self._reported: set[str] = set()

    def started(self, host: str, job: Future[Any]) -> None:
        self._jobs[host] = job

    def reported(self, host: str) -> None:
        """The host's outcome is in the run's result (the run loop added it)."""
        self._reported.add(host)

    def streamed(self, result: Any) -> None:
        """A task's result as its host's job emitted it (the executor's ``on_event``)."""
        if isinstance(result, HostStarted):
            with self._lock:
                self._began.add(result.host)
        elif isinstance(result, TaskResult):
            with self._lock:
                self._streamed.setdefault(result.host, []).append(result)

    def outcomes_at_stop(self) -> list[TaskResult]:
        """The results of every host whose outcome was not reported yet (after the executor closed:
        every job has ended or been abandoned)."""
        outcomes: list[TaskResult] = []
        for host in self.hosts:
            if host in self._reported:
                continue
            # The run loop adds a host's results in the order given here; those it added before
            # the stop are already in the run's results.
            added = len(self._run_results.get(host, ())) - self._held_before[host]
            outcomes += self._outcome_at_stop(host)[added:]
        return outcomes

    def _outcome_at_stop(self, host: str) -> list[TaskResult]:
        tasks = [prepared.task for prepared in self.tasks.get(host, ())]
        job = self._jobs.get(host)
        with self._lock:
            began = host in self._began
        if job is None or (not began and not (job.done() and job.exception() is None)):
            return [self._interrupted(host, task, "skipped", STOPPED_BEFORE) for task in tasks]
        if job.done() and job.exception() is None:
            return list(job.result())
        with self._lock:
            outcomes = list(self._streamed.get(host, ()))
        if len(outcomes) < len(tasks):
            task = tasks[len(outcomes)]  # a job emits one result per task, in order, until it stops
            error = job.exception() if job.done() else None
            message = f"{STOPPED_DURING} ({error})" if error is not None else STOPPED_DURING
            outcomes.append(self._interrupted(host, task, "failed", message))
        return outcomes

    def _interrupted(self, host: str, task: Task, status: str, message: str) -> TaskResult:
        return TaskResult(
            host, self.play, task.name, task.operation, status, message=message, details={"interrupted": True}
        )
