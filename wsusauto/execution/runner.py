"""The fleet runner: a playbook over an inventory, one Session per host for the whole run.

A run, play by play:

1. resolve every task for every host (``when``, expressions, argument checks) and check the
   intended hierarchy (self-upstream, cycles, unknown upstreams): a mistake stops the run here,
   before any server is contacted;
2. read every host's facts (``forks`` at a time); check that each hierarchy the play touches
   uses one update storage option ("Synchronization issues"): a mismatch stops the run, nothing changed;
3. work through the hosts in ``serial`` batches (split at hierarchy waves with
   ``order: hierarchy``), each host running its tasks in order; a failed host never stops the
   others; ``max_fail_percentage`` ends the run after a batch that fails too many.

Every change is journaled before and after it is applied. Check mode plans the same changes
against simulated facts, so ``--check`` reports what a real run would change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wsusauto.config.hierarchy import Node, validate, waves
from wsusauto.config.inventory import Host, Inventory
from wsusauto.config.playbook import Play, Playbook
from wsusauto.config.playvars import PlayVariables
from wsusauto.config.secrets import Secret
from wsusauto.config.templating import condition_holds, render_arguments
from wsusauto.errors import UsageError
from wsusauto.execution import verdict
from wsusauto.execution.executor import HOSTS_PER_PROCESS, HostExecutor, default_processes
from wsusauto.execution.hostwork import (
    NotReached,
    PreparedTask,
    SessionFactory,
    TaskResult,
    gather,
    run_tasks,
    simulate,
)
from wsusauto.operations import get_operation
from wsusauto.output.console import to_jsonable
from wsusauto.output.journal import Journal
from wsusauto.state.facts import Facts

__all__ = [
    "COUNTERS",
    "HOSTS_PER_PROCESS",
    "RunResult",
    "Runner",
    "TaskResult",
    "default_processes",
    "simulate",
]

COUNTERS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
_HIERARCHY_OPERATIONS = {"update_source", "replica"}


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
    def verdicts(self) -> dict[str, verdict.Verdict]:
        """Each host's verdict: the worst of its tasks' (an ignored error does not fail it)."""
        return {
            host: verdict.worst(verdict.of_task_status(r.status) for r in results)
            for host, results in self.hosts.items()
        }

    @property
    def exit_code(self) -> int:
        """As every command's (``verdict.exit_code``); a run stopped by ``max_fail_percentage`` fails."""
        return verdict.exit_code(self.verdicts.values(), aborted=bool(self.aborted))

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
                        **(
                            {"attempts": to_jsonable(r.details["attempts"])}
                            if "attempts" in r.details
                            else {}
                        ),
                        **(
                            {"findings": to_jsonable(r.details["findings"])}
                            if "findings" in r.details
                            else {}
                        ),
                        **({"retryable": True} if r.details.get("retryable") else {}),
                    }
                    for r in results
                ]
                for host, results in self.hosts.items()
            },
            "recap": self.recap,
        }


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
        processes: int | None = None,
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
        self.session_factory = session_factory
        self.on_result = on_result or (lambda result: None)
        self.on_play = on_play or (lambda play, hosts: None)
        self.run_id = journal.run_id if journal else uuid.uuid4().hex[:12]
        self.processes = default_processes(len(inventory.hosts)) if processes is None else processes
        if session_factory is not None:
            self.processes = 1  # a custom session factory lives in this process
        self._work: HostExecutor | None = None

    def _start_work(self) -> HostExecutor:
        return HostExecutor(
            self.inventory,
            forks=self.forks,
            processes=self.processes,
            deadline=self.deadline,
            session_factory=self.session_factory,
            journal=self.journal,
            on_event=lambda host, result: self.on_result(result),
        )

    def _write(self, event: str, **fields: Any) -> None:
        if self.journal is not None:
            self.journal.write(event, **fields)

    # -- the whole run -----------------------------------------------------------------------

    def run(self) -> RunResult:
        result = RunResult(self.run_id, self.check)
        # Resolve every play first: a wrong playbook or inventory touches nothing.
        prepared = [(play, *self._prepare_play(play)) for play in self.playbook.plays]
        if self.session_factory is None:
            # Connection vars are input too (Basic over plain HTTP, a password variable not set):
            # a mistake there stops the run here, before any server is contacted, as in `facts`.
            for name in dict.fromkeys(h for _, hosts, _ in prepared for h in hosts):
                self.inventory.connection_options(self.inventory.hosts[name])
        self._write(
            "run_started",
            check_mode=self.check,
            playbook=self.playbook.source,
            inventory=self.inventory.source,
        )
        self._work = self._start_work()
        try:
            for play, hosts, tasks in prepared:
                self.on_play(play, hosts)
                if not hosts:
                    continue
                if not self._run_play(play, hosts, tasks, result):
                    break
        finally:
            self._work.close()
            self._write(
                "run_finished", recap=result.recap, exit_code=result.exit_code, aborted=result.aborted
            )
        return result

    def _prepare_play(self, play: Play) -> tuple[list[str], dict[str, list[PreparedTask]]]:
        selected = self.inventory.select(play.hosts)
        if self.limit:
            allowed = {h.name for h in self.inventory.select(self.limit)}
            selected = [h for h in selected if h.name in allowed]
        tasks: dict[str, list[PreparedTask]] = {}
        scope = PlayVariables(self.inventory)
        for host in selected:
            variables = scope.for_host(host, play.vars, play.where)
            per_host = []
            for task in play.tasks:
                where = f"{task.where}, host {host.name}"
                if not condition_holds(task.when, variables, where):
                    per_host.append(PreparedTask(task, None))
                    continue
                operation = get_operation(task.operation)
                secrets = [name for name, a in operation.arguments.items() if a.kind is Secret]
                raw = render_arguments(task.args, variables, where, secrets)
                if task.operation == "proxy":
                    raw["allow_cleartext_proxy_password"] = play.allow_cleartext_proxy_password
                per_host.append(PreparedTask(task, operation.validate(raw, where)))
            tasks[host.name] = per_host
        self._check_hierarchy(play, selected, tasks)
        return self._order(play, [h.name for h in selected], tasks), tasks

    def _intended_nodes(self, tasks: Mapping[str, list[PreparedTask]]) -> list[Node]:
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
            upstream = self.inventory.host_for_server(upstream)
            external = bool(host.vars.get("wsus_upstream_external", False))
            nodes.append(Node(host.name, upstream, replica, external))
        return nodes

    def _check_hierarchy(
        self, play: Play, hosts: Sequence[Host], tasks: Mapping[str, list[PreparedTask]]
    ) -> None:
        touches = any(
            p.task.operation in _HIERARCHY_OPERATIONS and p.args is not None
            for per_host in tasks.values()
            for p in per_host
        )
        if touches or play.order != "inventory":
            validate(self._intended_nodes(tasks), f"{play.where}: intended hierarchy")

    def _order(self, play: Play, hosts: list[str], tasks: Mapping[str, list[PreparedTask]]) -> list[str]:
        if play.order == "inventory":
            return hosts
        levels = waves(self._intended_nodes(tasks))
        ranked = [name for wave in levels for name in wave if name in hosts]
        return ranked if play.order == "hierarchy" else list(reversed(ranked))

    # -- one play ----------------------------------------------------------------------------

    def _run_play(
        self, play: Play, hosts: list[str], tasks: dict[str, list[PreparedTask]], result: RunResult
    ) -> bool:
        assert self._work is not None
        facts = {
            o.host: o.value if o.error is None else NotReached(str(o.error))
            for o in self._work.map(hosts, gather)
        }
        self._check_storage_consistency(play, hosts, tasks, facts)
        tasks = self._plan_staggers(play, hosts, tasks, facts)
        tasks = self._with_fleet(hosts, tasks, facts)
        tasks = self._diagnose(hosts, tasks)
        upstream_of = {n.name: n.upstream for n in self._intended_nodes(tasks)}
        broken: dict[str, str] = {}  # hosts that failed in this play (hierarchy order): their children wait
        for batch in self._batches(play, hosts, tasks):
            runnable = []
            for name in batch:
                upstream = upstream_of.get(name)
                if play.order == "hierarchy" and upstream in broken:
                    reason = (
                        f"upstream {upstream} did not finish successfully in this run ({broken[upstream]})"
                    )
                    for prepared in tasks[name]:
                        skipped = TaskResult(
                            name,
                            play.name,
                            prepared.task.name,
                            prepared.task.operation,
                            "skipped",
                            message=reason,
                        )
                        result.add(skipped)
                        self.on_result(skipped)
                    broken[name] = "skipped"
                else:
                    runnable.append(name)
            futures = {
                name: self._work.submit(name, run_tasks, play.name, tasks[name], facts.get(name), self.check)
                for name in runnable
            }
            outcomes = {name: future.result() for name, future in futures.items()}
            failed = 0
            for name, host_results in outcomes.items():
                for task_result in host_results:
                    result.add(task_result)
                bad = [r.status for r in host_results if r.status in ("failed", "unreachable")]
                if bad:
                    failed += 1
                    broken[name] = bad[0]
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

    def _batches(
        self, play: Play, hosts: list[str], tasks: Mapping[str, list[PreparedTask]]
    ) -> list[list[str]]:
        """Serial batches, split at hierarchy waves; with synchronize tasks in hierarchy order, also so
        that at most ``max_concurrent_per_upstream`` servers of one upstream sync at the same time."""
        batches = self._wave_batches(play, hosts, tasks)
        syncs = any(p.task.operation == "synchronize" for per_host in tasks.values() for p in per_host)
        if play.order != "hierarchy" or not syncs:
            return batches
        upstream_of = {n.name: n.upstream for n in self._intended_nodes(tasks)}
        limit = play.max_concurrent_per_upstream
        split: list[list[str]] = []
        for batch in batches:
            rounds: list[list[str]] = []
            seen: dict[str | None, int] = {}
            for name in batch:
                upstream = upstream_of.get(name)
                index = seen.get(upstream, 0) // limit if upstream is not None else 0
                seen[upstream] = seen.get(upstream, 0) + 1
                while len(rounds) <= index:
                    rounds.append([])
                rounds[index].append(name)
            split.extend(r for r in rounds if r)
        return split

    def _plan_staggers(
        self, play: Play, hosts: list[str], tasks: dict[str, list[PreparedTask]], facts: Mapping[str, Any]
    ) -> dict[str, list[PreparedTask]]:
        """Give every ``stagger`` task its host's slot from one plan over the play's hosts."""
        from wsusauto.operations.stagger import SLOT

        nodes = {n.name: n.upstream for n in self._intended_nodes(tasks)}
        known = {h: f for h, f in facts.items() if isinstance(f, Facts)}
        plans: dict[tuple, dict[str, Any]] = {}
        updated: dict[str, list[PreparedTask]] = {}
        for name in hosts:
            per_host = []
            for prepared in tasks[name]:
                if prepared.task.operation != "stagger" or prepared.args is None:
                    per_host.append(prepared)
                    continue
                args = dict(prepared.args)
                key = tuple(sorted(args.items()))
                if key not in plans:
                    members = [
                        h
                        for h in hosts
                        if any(p.task is prepared.task and p.args == prepared.args for p in tasks[h])
                    ]
                    plans[key] = self._stagger_plan(prepared.task.where, args, members, nodes, known)
                slot = plans[key][name]
                args[SLOT] = (slot.time_of_day_utc.strftime("%H:%M:%S"), slot.syncs_per_day)
                per_host.append(PreparedTask(prepared.task, args))
            updated[name] = per_host
        return updated

    def _with_fleet(
        self, hosts: list[str], tasks: dict[str, list[PreparedTask]], facts: Mapping[str, Any]
    ) -> dict[str, list[PreparedTask]]:
        """Every task's ``Operation.with_fleet``: what it needs from other servers, before any change."""
        upstream_of = {n.name: n.upstream for n in self._intended_nodes(tasks)}
        known = {h: f for h, f in facts.items() if isinstance(f, Facts)}
        return {
            name: [
                p
                if p.args is None
                else PreparedTask(
                    p.task, get_operation(p.task.operation).with_fleet(p.args, name, upstream_of, known)
                )
                for p in tasks[name]
            ]
            for name in hosts
        }

    def _diagnose(
        self, hosts: list[str], tasks: dict[str, list[PreparedTask]]
    ) -> dict[str, list[PreparedTask]]:
        """Diagnose the play's hosts once and give every task whose operation reads the diagnosis
        (``Operation.uses_diagnosis``: ``diagnose``, ``decline_missing_updates``) what it needs of its
        host's (the checks compare servers with each other, so no host can be diagnosed alone)."""
        from wsusauto.diagnose import diagnose_fleet

        def reads_diagnosis(p: PreparedTask) -> bool:
            return p.args is not None and get_operation(p.task.operation).uses_diagnosis

        wanted = [p.args for name in hosts for p in tasks[name] if reads_diagnosis(p)]
        if not wanted:
            return tasks
        factory = self.session_factory
        diagnosis = diagnose_fleet(
            self.inventory,
            [self.inventory.hosts[name] for name in hosts],
            forks=self.forks,
            deadline=self.deadline,
            session_factory=(lambda name, inventory, host: factory(host, inventory)) if factory else None,
            max_concurrent_per_upstream=max(a.get("max_concurrent_per_upstream", 1) for a in wanted),
        )
        return {
            name: [
                PreparedTask(p.task, get_operation(p.task.operation).with_diagnosis(p.args, name, diagnosis))
                if reads_diagnosis(p) and p.args is not None
                else p
                for p in tasks[name]
            ]
            for name in hosts
        }

    @staticmethod
    def _stagger_plan(
        where: str,
        args: Mapping[str, Any],
        members: list[str],
        nodes: Mapping[str, str | None],
        known: Mapping[str, Facts],
    ) -> dict[str, Any]:
        from wsusauto.stagger.fleet import servers_from_facts
        from wsusauto.stagger.planner import StaggerPolicy, plan, window

        start, length = window(args["window"], args.get("timezone", "UTC"))
        policy = StaggerPolicy(
            window_start=int(start),
            window_length=length,
            syncs_per_day=args.get("per_day", 1),
            max_concurrent=args.get("max_concurrent_per_upstream", 1),
            offset=float(args.get("offset", 30)),
        )
        servers = servers_from_facts(
            {h: nodes.get(h) for h in members}, known, float(args.get("default_duration", 30))
        )
        try:
            return plan(servers, policy).by_host()
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}; nothing was changed") from None

    def _wave_batches(
        self, play: Play, hosts: list[str], tasks: Mapping[str, list[PreparedTask]]
    ) -> list[list[str]]:
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

    def _check_storage_consistency(
        self, play: Play, hosts: list[str], tasks: Mapping[str, list[PreparedTask]], facts: Mapping[str, Any]
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
