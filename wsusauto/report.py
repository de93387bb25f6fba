"""Turning results into output: the console table for people, JSON for machines."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from wsusauto.facts import Facts
from wsusauto.fleet import HostFacts


def to_jsonable(value: Any) -> Any:
    """Dataclasses, times and tuples as JSON values; datetimes as ISO-8601 UTC with 'Z'."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


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
                str(r.error.reason if hasattr(r.error, "reason") else r.error),
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
            f.version,
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
