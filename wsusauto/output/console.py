"""Turning results into output: the console table for people, JSON for machines."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.control import strip_control_codes
from rich.markup import escape
from rich.table import Table

from wsusauto.errors import HostError
from wsusauto.execution.fleet import HostFacts
from wsusauto.output.jsonable import to_jsonable
from wsusauto.state.facts import Facts


def facts_json(results: Sequence[HostFacts]) -> str:
    """``{host: {"status": ok|failed|unreachable, "facts": {...} | null, "error": text | null}}``."""
    document = {
        r.host: {
            "status": r.status,
            "facts": to_jsonable(r.facts) if r.facts is not None else None,
            "error": str(r.error) if r.error is not None else None,
        }
        for r in results
    }
    return json.dumps(document, indent=2, sort_keys=False)


def _schedule(facts: Facts) -> str:
    if not facts.synchronize_automatically:
        return "manual"
    return (
        f"{facts.synchronize_automatically_time_of_day:%H:%M} UTC, "
        f"{facts.number_of_synchronizations_per_day}/day"
    )


def _last_sync(facts: Facts) -> str:
    info = facts.last_synchronization_info
    if info is None or info.result == "NeverRun":
        return "never"
    when = f" {info.end_time:%Y-%m-%d %H:%M}Z" if info.end_time else ""
    error = f" ({info.error})" if info.result == "Failed" and info.error not in ("", "NotApplicable") else ""
    return f"{info.result}{error}{when}"


def _platform(facts: Facts) -> str:
    """WSUS version, then the PowerShell the snippets get and where SUSDB lives."""
    extra = [f"PS {facts.ps_version}" if facts.ps_version else "", facts.database_kind]
    return f"{facts.version} ({', '.join(e for e in extra if e)})"


def facts_table(results: Sequence[HostFacts]) -> Table:
    table = Table(title="WSUS servers", show_lines=False)
    table.add_column("host", no_wrap=True)
    for column in (
        "version",
        "update source",
        "replica",
        "storage",
        "schedule",
        "last sync",
        "WsusService / BITS",
        "updates (approved)",
    ):
        table.add_column(column, overflow="fold")
    for r in results:
        if r.facts is None:
            table.add_row(
                r.host,
                f"[red]{r.status}[/red]",
                r.error.reason if isinstance(r.error, HostError) else str(r.error),
                *[""] * 6,
            )
            continue
        f = r.facts
        services = " / ".join(
            f"{s.state}" + ("" if s.start_mode in ("Auto", "Manual") else f" ({s.start_mode})")
            for name in ("WsusService", "BITS")
            if (s := f.services.get(name)) is not None
        )
        status = f.update_server_status
        table.add_row(
            f.host,
            _platform(f),
            f.update_source,
            "yes" if f.is_replica_server else "no",
            "local" if f.stores_updates_locally else "Microsoft Update",
            _schedule(f),
            _last_sync(f),
            services,
            f"{status.update_count} ({status.approved_update_count})",
        )
    return table


def output_console() -> Console:
    """A console for results: the terminal's width, or wide enough not to cut cells when piped."""
    console = Console()
    return console if console.is_terminal else Console(width=220)


def print_facts_table(results: Sequence[HostFacts], console: Console | None = None) -> None:
    (console or output_console()).print(facts_table(results))


class RunPrinter:
    """Ansible-like lines as results arrive, a progress bar on a terminal, and the PLAY RECAP."""

    _STYLE = {
        "ok": "green",
        "changed": "yellow",
        "failed": "red",
        "unreachable": "red",
        "skipped": "cyan",
        "ignored": "magenta",
    }

    def __init__(
        self,
        console: Console | None = None,
        *,
        show_diff: bool = False,
        total: int = 0,
        only_changes: bool = False,
    ) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = console or output_console()
        self.show_diff = show_diff
        self.only_changes = only_changes  # hide ok and skipped lines (Ansible's display_ok/skipped_hosts off)
        console = self.console
        self._plain = not console.is_terminal and console.color_system is None and not console.record
        self._lock = threading.Lock()
        self.progress = None
        if self.console.is_terminal and total:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=self.console,
                transient=True,
            )
            self._bar = self.progress.add_task("host tasks", total=total)
            self.progress.start()

    def _print(self, *segments: str | tuple[str, str]) -> None:
        """One line from plain text and (text, style) pieces. Piped or redirected, with no colour
        to show, the line is written as it is: rendering it through rich's markup costs about
        0.4 ms, a second of CPU for a run of 200 hosts and 5 tasks. The text is the same: rich's
        control-code stripping and tab expansion, no markup, no wrapping."""
        if self._plain:
            text = "".join(s if isinstance(s, str) else s[0] for s in segments)
            self.console.file.write(strip_control_codes(text).expandtabs(self.console.tab_size) + "\n")
            self.console.file.flush()  # as rich does: a line shows at once in a pipe or a log
            return
        markup = "".join(
            escape(s) if isinstance(s, str) else f"[{s[1]}]{escape(s[0])}[/{s[1]}]" for s in segments
        )
        self.console.print(markup, highlight=False)

    def play(self, play: Any, hosts: Sequence[str]) -> None:
        self._print("")
        self._print((f"PLAY [{play.name}]", "bold"), f" ({len(hosts)} hosts)")

    def result(self, result: Any) -> None:
        try:
            self._result(result)
        except (BrokenPipeError, OSError):
            # stdout went away (a closed pipe): stop printing, never stop the run half-way.
            self.console.quiet = True
            self._plain = False  # the quiet console now swallows every line

    def _result(self, result: Any) -> None:
        with self._lock:
            if self.only_changes and result.status in ("ok", "skipped"):
                if self.progress is not None:
                    self.progress.advance(self._bar)
                return
            style = self._STYLE.get(result.status, "white")
            self._print(
                (result.status, style),
                f": [{result.host}] {result.name} ({result.operation})"
                + (f" - {result.message}" if result.message and result.status != "ok" else ""),
            )
            attempts = result.details.get("attempts", []) if hasattr(result, "details") else []
            if len(attempts) > 1 or any(a["result"] != "Succeeded" for a in attempts):
                for a in attempts:
                    error = "" if a["result"] == "Succeeded" else f" {a['error']}: {a['error_text']}"
                    self._print(f"  attempt {a['attempt']}: {a['result']}{error}")
            for warning in result.warnings:
                self._print("  ", ("warning", "bold red"), f": {warning}")
            if self.show_diff and result.diff and (result.diff.get("before") or result.diff.get("after")):
                for member in result.diff["after"]:
                    before, after = result.diff["before"].get(member), result.diff["after"][member]
                    self._print("  ", (f"- {member}: {_show(before)}", "red"))
                    self._print("  ", (f"+ {member}: {_show(after)}", "green"))
            if self.progress is not None:
                self.progress.advance(self._bar)

    def recap(self, run: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
        self._print("")
        self._print(("PLAY RECAP", "bold"))
        width = max((len(h) for h in run.recap), default=0)
        for host, counters in run.recap.items():
            fields = "  ".join(f"{name}={value}" for name, value in counters.items())
            self._print(f"{host:<{width}} : {fields}")
        if run.aborted:
            self._print((run.aborted, "red"))
        if run.check_mode:
            self._print("(check mode: nothing was changed)")


def _show(value: Any) -> str:
    value = to_jsonable(value)
    return json.dumps(value) if not isinstance(value, str) else value


def print_plan_table(plan: Any, zone: str, console: Console | None = None) -> None:
    from wsusauto.stagger.fleet import local_time

    table = Table(title=f"Synchronization plan (K = {plan.policy.max_concurrent} per upstream)")
    for column in ("host", "upstream", "UTC", f"local ({zone})", "syncs/day", "worst-case load (min)"):
        table.add_column(column, no_wrap=True)
    for slot in sorted(plan.slots, key=lambda s: (s.start, s.host)):
        table.add_row(
            slot.host,
            slot.upstream or "Microsoft Update",
            f"{slot.time_of_day_utc:%H:%M}",
            f"{local_time(slot.time_of_day_utc, zone):%H:%M}",
            str(slot.syncs_per_day),
            f"{slot.reservation:g}",
        )
    (console or output_console()).print(table)


_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def print_diagnosis(document: dict[str, list[dict[str, Any]]], console: Console | None = None) -> None:
    """Findings per host for people: severity, check id, title, evidence, remedy, source, fix."""
    console = console or Console(highlight=False, soft_wrap=True)
    healthy = 0
    counts = {"error": 0, "warning": 0, "info": 0}
    for host, findings in document.items():
        if not findings:
            healthy += 1
            continue
        console.print(f"[bold]{escape(host)}[/bold]")
        for finding in findings:
            counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
            style = _SEVERITY_STYLE.get(finding["severity"], "")
            state = ""
            if finding.get("fix_result"):
                result = finding["fix_result"]
                state = f" [dim](fix {escape(result['operation'])}: {result['status']}"
                if finding.get("resolved") is not None:
                    state += ", resolved" if finding["resolved"] else ", still there"
                state += ")[/dim]"
            if finding.get("new"):
                state += " [dim](new since the fix)[/dim]"
            console.print(
                f"  [{style}]{finding['severity'].upper():7}[/{style}] {escape(finding['check'])}: "
                f"{escape(finding['title'])}{state}"
            )
            evidence = json.dumps(to_jsonable(finding["evidence"]), sort_keys=True, default=str)
            console.print(f"          [dim]evidence:[/dim] {escape(evidence[:1200])}")
            console.print(f"          [dim]remedy:[/dim] {escape(finding['remedy'])}")
            console.print(f"          [dim]source:[/dim] {escape(finding['source'])}")
            if finding.get("fix") and not finding.get("fix_result"):
                console.print(
                    f"          [dim]fix:[/dim] {escape(finding['fix'])} "
                    "(wsusauto diagnose --fix, or its playbook)"
                )
    total = len(document)
    console.print(
        f"[bold]{total} server(s)[/bold]: {healthy} without findings; "
        f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)"
    )
