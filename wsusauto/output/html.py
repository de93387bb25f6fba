"""The fleet report: one self-contained HTML file (and the same data as JSON) about a WSUS fleet.

What a WSUS administrator wants on one page: the hierarchy as a tree, every server's update
source, replica flag, schedule (UTC and the reader's zone), last synchronization and findings, the
servers that are behind their upstream, and the stagger plan's timeline.

Two layers:

- ``FleetReport`` holds the inputs (inventory hosts with their intended upstream and replica flag,
  facts by host, findings by host, unreachable and failed hosts, the stagger plan and its
  durations, the zone); ``report_data`` and ``render_html`` are pure functions of it, so they are
  unit-tested without a lab.
- ``gather_fleet_report`` reads a fleet (``wsusauto.diagnose``) and plans the stagger, as
  ``wsusauto report`` and ``make demo`` do.

The HTML needs no network: CSS, JavaScript and the SVG are inline, a Content-Security-Policy
forbids every fetch and allows only this page's own script and style (by hash), and every value a
server provided is escaped, so hostile names or error texts render as text.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wsusauto.errors import UsageError
from wsusauto.execution.verdict import FAILED, OK, UNREACHABLE, Verdict, exit_code
from wsusauto.stagger.planner import StaggerPlan
from wsusauto.state.facts import Facts, SyncInfo

if TYPE_CHECKING:
    from wsusauto.execution.executor import HostExecutor

SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}


@dataclass(frozen=True)
class ReportHost:
    """An inventory host as the report needs it: its name and the intended hierarchy."""

    name: str
    intended_upstream: str | None = None  # inventory host (wsus_upstream); None: Microsoft Update
    intended_replica: bool = False
    address: str = ""  # ansible_host, when the inventory gives one


@dataclass(frozen=True)
class FleetReport:
    hosts: Sequence[ReportHost]
    facts: Mapping[str, Facts]  # reachable hosts
    findings: Mapping[str, Sequence[Any]] = field(default_factory=dict)  # host -> Finding (to_dict())
    unreachable: Mapping[str, str] = field(default_factory=dict)  # host -> error text
    failed: Mapping[str, str] = field(default_factory=dict)  # host -> error text
    plan: StaggerPlan | None = None
    durations: Mapping[str, float] = field(default_factory=dict)  # minutes per sync, for the SVG
    plan_error: str | None = None  # why there is no plan (e.g. the window cannot hold the fleet)
    zone: str = "UTC"  # IANA zone of the local columns
    source: str = ""  # the inventory file
    generated_at: dt.datetime | None = None  # default: now (UTC)
    title: str = "WSUS fleet report"

    @property
    def verdicts(self) -> dict[str, Verdict]:
        """Each host's verdict, as every command's: unreachable, failed (reached, but its facts or
        diagnosis failed, or no facts), else ok; findings are shown, not counted (only ``diagnose``
        fails on them)."""
        return {h.name: self._verdict(h.name) for h in self.hosts}

    def _verdict(self, host: str) -> Verdict:
        if host in self.unreachable:
            return UNREACHABLE
        return FAILED if host in self.failed or host not in self.facts else OK

    @property
    def exit_code(self) -> int:
        """``wsusauto report``'s exit code (``verdict.exit_code``): 4 unreachable, 2 failed, else 0."""
        return exit_code(self.verdicts.values())


# --- time ---------------------------------------------------------------------------------------


def zone_info(zone: str) -> dt.tzinfo:
    """The tzinfo of an IANA zone name ('UTC' included); a bad name is a UsageError."""
    if zone.upper() == "UTC":
        return dt.timezone.utc
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"--tz {zone!r} is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)"
        ) from None


def local_zone_name() -> str:
    """This machine's IANA zone ($TZ, /etc/localtime, /etc/timezone), else 'UTC'."""
    candidates = []
    if os.environ.get("TZ"):
        candidates.append(os.environ["TZ"].lstrip(":"))
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    for name in candidates:
        try:
            zone_info(name)
        except UsageError:
            continue
        return "UTC" if name in ("Etc/UTC", "UTC", "Etc/Universal", "Universal", "Zulu") else name
    return "UTC"


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _iso_local(moment: dt.datetime | None, tz: dt.tzinfo) -> str | None:
    return None if moment is None else moment.astimezone(tz).isoformat()


def _time_of_day(utc: dt.time, tz: dt.tzinfo, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, utc, tzinfo=dt.timezone.utc).astimezone(tz)


# --- the data (also the --json document) ----------------------------------------------------------


def _last_success(facts: Facts) -> SyncInfo | None:
    infos = list(facts.synchronization_history)
    if facts.last_synchronization_info is not None:
        infos.append(facts.last_synchronization_info)
    done = [
        (when, i)
        for i in infos
        if i.result == "Succeeded" and (when := i.end_time or i.start_time) is not None
    ]
    return max(done, key=lambda pair: pair[0])[1] if done else None


def _resolver(hosts: Sequence[ReportHost], facts: Mapping[str, Facts]) -> dict[str, str]:
    """Names a configured upstream may use (host name, short name, address, the server's own name)
    -> the inventory host."""
    names: dict[str, str] = {}
    for host in reversed(hosts):  # the first host wins a shared name
        keys = [host.name, host.name.split(".")[0], host.address]
        if host.name in facts:
            keys += [facts[host.name].name, facts[host.name].name.split(".")[0]]
        for key in keys:
            if key:
                names[key.lower()] = host.name
    return names


def _configured_upstream(facts: Facts, names: Mapping[str, str]) -> tuple[str | None, bool]:
    """(upstream, in_inventory): None for Microsoft Update; the raw server name when not in the report."""
    if facts.sync_from_microsoft_update:
        return None, True
    raw = facts.upstream_wsus_server_name.strip()
    for key in (raw.lower(), raw.split(".")[0].lower()):
        if key in names:
            return names[key], True
    return raw or "(no upstream name)", False


def _sync_dict(info: SyncInfo | None, tz: dt.tzinfo) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "result": info.result,
        "error": info.error,
        "error_text": info.error_text,
        "start_utc": _iso(info.start_time),
        "end_utc": _iso(info.end_time),
        "end_local": _iso_local(info.end_time, tz),
        "started_manually": info.started_manually,
        "update_errors": len(info.update_errors),
    }


def _finding_dict(finding: Any) -> dict[str, Any]:
    data = finding.to_dict() if hasattr(finding, "to_dict") else dict(finding)
    return {
        "check": str(data.get("check", "")),
        "severity": str(data.get("severity", "info")),
        "title": str(data.get("title", "")),
        "evidence": data.get("evidence") or {},
        "remedy": str(data.get("remedy", "")),
        "source": str(data.get("source", "")),
        "fix": data.get("fix"),
    }


def _parents(report: FleetReport, hosts: dict[str, dict[str, Any]]) -> dict[str, str | None]:
    """Each host's parent in the tree: its configured upstream, else (not reachable) the intended
    one; an upstream cycle is cut where it closes."""
    parent: dict[str, str | None] = {}
    for name, entry in hosts.items():
        parent[name] = entry["upstream"] if entry["status"] == "ok" else entry["intended_upstream"]
    for name in hosts:
        path: list[str] = []
        current: str | None = name
        while current is not None and current in hosts and current not in path:
            path.append(current)
            current = parent[current]
        if current is not None and current in path:  # a cycle: cut the edge that closes it
            parent[path[-1]] = None
            hosts[path[-1]]["notes"].append(f"upstream cycle through {current}")
    return parent


def _tree(order: Sequence[str], parent: Mapping[str, str | None]) -> list[dict[str, Any]]:
    children: dict[str | None, list[str]] = {}
    for name in order:
        children.setdefault(parent[name], []).append(name)

    def node(name: str, external: bool = False) -> dict[str, Any]:
        entry: dict[str, Any] = {"host": name, "children": [node(c) for c in children.get(name, [])]}
        if external:
            entry["external"] = True
        return entry

    roots = [node(name) for name in children.get(None, [])]
    outside = [p for p in children if p is not None and p not in parent]
    roots += [node(p, external=True) for p in outside]
    return roots


def report_data(report: FleetReport) -> dict[str, Any]:
    """The report as one JSON-ready document: hosts -> source, replica, schedule (UTC and local),
    last sync, behind, findings; the hierarchy tree; the stagger plan; a summary."""
    tz = zone_info(report.zone)
    now = report.generated_at or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    day = now.astimezone(dt.timezone.utc).date()
    names = _resolver(report.hosts, report.facts)
    slots = report.plan.by_host() if report.plan is not None else {}
    hosts: dict[str, dict[str, Any]] = {}
    verdicts = report.verdicts  # the exit code's, so the document and the exit code agree
    for host in report.hosts:
        facts = report.facts.get(host.name)
        entry: dict[str, Any] = {
            "status": verdicts[host.name],
            "error": None,
            "address": host.address,
            "intended_upstream": host.intended_upstream,
            "intended_replica": host.intended_replica,
            "upstream": None,
            "upstream_in_inventory": True,
            "source": None,
            "replica": None,
            "as_intended": None,
            "schedule": None,
            "planned": None,
            "last_sync": None,
            "last_success_utc": None,
            "behind": None,
            "findings": [],
            "worst_severity": None,
            "notes": [],
            "platform": None,
        }
        if facts is None:
            if host.name in report.unreachable:
                entry.update(error=report.unreachable[host.name])
            else:
                entry.update(error=report.failed.get(host.name, "no facts"))
        else:
            upstream, in_inventory = _configured_upstream(facts, names)
            entry.update(
                upstream=upstream,
                upstream_in_inventory=in_inventory,
                source=facts.update_source,
                replica=facts.is_replica_server,
                as_intended=upstream == host.intended_upstream
                and facts.is_replica_server == host.intended_replica,
                last_sync=_sync_dict(facts.last_synchronization_info, tz),
                platform={
                    "wsus_version": facts.version,
                    "powershell": facts.ps_version,
                    "os": facts.os_caption,
                    "database": facts.database_kind,
                },
            )
            if not in_inventory:
                entry["notes"].append(f"upstream {upstream} is not in this report")
            tod = facts.synchronize_automatically_time_of_day
            local = _time_of_day(tod, tz, day)
            entry["schedule"] = {
                "automatic": facts.synchronize_automatically,
                "utc": f"{tod:%H:%M}",
                "local": f"{local:%H:%M}",
                "local_zone": local.tzname(),
                "per_day": facts.number_of_synchronizations_per_day,
                "next_utc": _iso(facts.next_synchronization_time),
                "next_local": _iso_local(facts.next_synchronization_time, tz),
            }
            success = _last_success(facts)
            if success is not None:
                entry["last_success_utc"] = _iso(success.end_time or success.start_time)
            if host.name in report.failed:  # facts came back, but a later step failed
                entry["notes"].append(f"diagnosis failed: {report.failed[host.name]}")
        slot = slots.get(host.name)
        if slot is not None:
            planned = _time_of_day(slot.time_of_day_utc, tz, day)
            entry["planned"] = {
                "utc": f"{slot.time_of_day_utc:%H:%M}",
                "local": f"{planned:%H:%M}",
                "local_zone": planned.tzname(),
                "lane": slot.lane + 1,
                "reservation_minutes": slot.reservation,
            }
        findings = sorted(
            (_finding_dict(f) for f in report.findings.get(host.name, ())),
            key=lambda f: (-SEVERITY_RANK.get(f["severity"], 0), f["check"], f["title"]),
        )
        entry["findings"] = findings
        if findings:
            entry["worst_severity"] = max(
                (f["severity"] for f in findings), key=lambda s: SEVERITY_RANK.get(s, 0)
            )
        hosts[host.name] = entry
    for entry in hosts.values():  # behind: never synced, or older than the upstream's last success
        if entry["status"] != "ok":
            continue
        mine = entry["last_success_utc"]
        upstream_entry = hosts.get(entry["upstream"] or "")
        theirs = upstream_entry["last_success_utc"] if upstream_entry else None
        if mine is None:
            entry["behind"] = "never synchronized successfully"
        elif theirs is not None and mine < theirs:
            entry["behind"] = f"last success {mine} is older than {entry['upstream']}'s ({theirs})"
    parent = _parents(report, hosts)
    summary = {
        "servers": len(hosts),
        "reachable": sum(e["status"] == "ok" for e in hosts.values()),
        "unreachable": sum(e["status"] == "unreachable" for e in hosts.values()),
        "failed": sum(e["status"] == "failed" for e in hosts.values()),
        "behind": sum(bool(e["behind"]) for e in hosts.values()),
        "not_as_intended": sum(e["as_intended"] is False for e in hosts.values()),
        **{
            severity + "s": sum(f["severity"] == severity for e in hosts.values() for f in e["findings"])
            for severity in SEVERITY_RANK
        },
    }
    plan: dict[str, Any] | None = None
    if report.plan is not None:
        policy = report.plan.policy
        start = dt.time(int(policy.window_start) // 60 % 24, int(policy.window_start) % 60)
        plan = {
            "window_start_utc": f"{start:%H:%M}",
            "window_start_local": f"{_time_of_day(start, tz, day):%H:%M}",
            "window_minutes": policy.window_length,
            "max_concurrent_per_upstream": policy.max_concurrent,
            "syncs_per_day": policy.syncs_per_day,
            "offset_minutes": policy.offset,
        }
    elif report.plan_error:
        plan = {"error": report.plan_error}
    return {
        "title": report.title,
        "inventory": report.source,
        "generated_utc": _iso(now),
        "zone": report.zone,
        "summary": summary,
        "hosts": hosts,
        "tree": _tree(list(hosts), parent),
        "plan": plan,
    }


def report_json(report: FleetReport) -> str:
    return json.dumps(report_data(report), indent=2, default=str)


# --- HTML -----------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _badge(text: str, kind: str, title: str = "") -> str:
    tip = f' title="{_e(title)}"' if title else ""
    return f'<span class="badge {kind}"{tip}>{_e(text)}</span>'


def _status_badges(entry: Mapping[str, Any]) -> str:
    if entry["status"] == "unreachable":
        return _badge("unreachable", "error")
    if entry["status"] == "failed":
        return _badge("failed", "error")
    out = _badge("behind", "warning", entry["behind"]) if entry["behind"] else _badge("ok", "ok")
    if entry["as_intended"] is False:
        out += " " + _badge("not as intended", "warning", _intended_text(entry))
    return out


def _intended_text(entry: Mapping[str, Any]) -> str:
    upstream = entry["intended_upstream"] or "Microsoft Update"
    replica = "replica" if entry["intended_replica"] else "not a replica"
    return f"intended: {upstream}, {replica}"


def _finding_counts(findings: Sequence[Mapping[str, Any]]) -> str:
    if not findings:
        return '<span class="muted">none</span>'
    parts = []
    for severity in SEVERITY_RANK:
        count = sum(f["severity"] == severity for f in findings)
        if count:
            plural = "s" if count > 1 and severity != "info" else ""
            parts.append(_badge(f"{count} {severity}{plural}", severity))
    return " ".join(parts)


def _when(iso_utc: str | None, tz: dt.tzinfo) -> tuple[str, str]:
    """(local 'YYYY-MM-DD HH:MM ZZZ', 'YYYY-MM-DD HH:MM UTC') of an ISO UTC time."""
    if not iso_utc:
        return "", ""
    moment = dt.datetime.fromisoformat(iso_utc.replace("Z", "+00:00"))
    local = moment.astimezone(tz)
    utc = f"{moment:%Y-%m-%d %H:%M} UTC"
    return (utc, "") if tz is dt.timezone.utc else (f"{local:%Y-%m-%d %H:%M} {local.tzname()}", utc)


def _tree_html(nodes: Sequence[Mapping[str, Any]], hosts: Mapping[str, Any], index: Mapping[str, int]) -> str:
    if not nodes:
        return ""
    items = []
    for node in nodes:
        name = node["host"]
        if node.get("external"):
            label = (
                f'<span class="node external">{_e(name)}</span> '
                '<span class="muted">configured upstream, not in this report</span>'
            )
        else:
            entry = hosts[name]
            if entry["status"] == "ok":
                source = "Microsoft Update" if entry["upstream"] is None else entry["source"]
                role = "replica" if entry["replica"] else "autonomous"
                details = f'<span class="muted">{_e(role)} · {_e(source)}</span>'
            else:
                details = f'<span class="muted">placed by the inventory: {_e(_intended_text(entry))}</span>'
            counts = _finding_counts(entry["findings"]) if entry["findings"] else ""
            label = (
                f'<a class="node {_e(entry["status"])}" href="#row-{index[name]}">{_e(name)}</a> '
                f"{_status_badges(entry)} {details} {counts}"
            )
        items.append(f"<li>{label}{_tree_html(node['children'], hosts, index)}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _svg_inline(svg: str) -> str:
    """The planner's SVG for inline use in HTML: no namespace URL (HTML does not need it)."""
    svg = svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
    return svg.replace("<svg ", '<svg id="timeline" role="img" aria-label="stagger timeline" ', 1)


_COLUMNS = (
    # key, header, type (sort as text or number)
    ("name", "Server", "text"),
    ("status", "Status", "number"),
    ("source", "Update source", "text"),
    ("replica", "Replica", "text"),
    ("schedule", "Schedule|UTC · {zone}", "text"),
    ("planned", "Stagger plan|UTC · {zone}", "text"),
    ("when", "Last sync|{zone}", "text"),
    ("findings", "Findings", "number"),
)


def _header(key: str, label: str, kind: str, zone: str) -> str:
    title, _, sub = label.partition("|")
    if zone.upper() == "UTC":
        sub = sub.replace(" · {zone}", "")
    below = f'<div class="sub">{_e(sub.format(zone=zone))}</div>' if sub else ""
    return (
        f'<th data-key="{key}" data-type="{kind}" scope="col"><span class="h">{_e(title)}</span>{below}</th>'
    )


def _two_times(utc: str, local: str, local_zone: str | None) -> str:
    first = f'{_e(utc)} <span class="muted">UTC</span>'
    if local_zone == "UTC":  # the report is in UTC: one line
        return first
    return f'{first}<div>{_e(local)} <span class="muted">{_e(local_zone)}</span></div>'


def _row(i: int, name: str, entry: Mapping[str, Any], tz: dt.tzinfo) -> str:
    status_rank = {"unreachable": 0, "failed": 1}.get(entry["status"], 3 if not entry["behind"] else 2)
    findings = entry["findings"]
    severity = entry["worst_severity"] or ""
    schedule = entry["schedule"]
    last = entry["last_sync"]
    sort = {
        "name": name.lower(),
        "status": status_rank,
        "source": (entry["source"] or "").lower(),
        "replica": "" if entry["replica"] is None else ("yes" if entry["replica"] else "no"),
        "schedule": (schedule["utc"] if schedule["automatic"] else "~manual") if schedule else "~~",
        "planned": entry["planned"]["utc"] if entry["planned"] else "~~",
        "when": ((last or {}).get("end_utc") or (last or {}).get("start_utc") or "")
        if entry["status"] == "ok"
        else "~~",
        "findings": SEVERITY_RANK.get(severity, 0) * 1000 + len(findings),
    }
    search = " ".join([name, entry["status"], *(f"{f['check']} {f['title']}" for f in findings)]).lower()
    classes = ["host-row", entry["status"]]
    if entry["behind"]:
        classes.append("behind")
    if severity:
        classes.append(f"sev-{severity}")
    attrs = "".join(f' data-s-{k}="{_e(v)}"' for k, v in sort.items())
    opening = (
        f'<tr id="row-{i}" class="{" ".join(classes)}" data-host="{_e(name)}" data-severity="{severity}"'
        f' data-search="{_e(search)}"{attrs}>'
    )
    address = f'<div class="muted small">{_e(entry["address"])}</div>' if entry["address"] else ""
    platform = entry.get("platform")
    if platform:
        parts = [
            f"WSUS {platform['wsus_version']}" if platform["wsus_version"] else "",
            f"PS {platform['powershell']}" if platform["powershell"] else "",
            platform["database"],
        ]
        address += f'<div class="muted small">{_e(" · ".join(p for p in parts if p))}</div>'
    cells = [f'<td class="name"><a href="#findings-{i}">{_e(name)}</a>{address}</td>']
    cells.append(f"<td>{_status_badges(entry)}</td>")
    if entry["status"] != "ok":
        cells.append(
            f'<td colspan="3" class="error-text">{_e(entry["error"])}'
            f'<div class="muted small">{_e(_intended_text(entry))}</div></td>'
        )
        cells += [_planned_cell(entry), '<td><span class="muted">unknown</span></td>']
    else:
        source = _e(entry["source"])
        if entry["as_intended"] is False:
            source += f'<div class="warn-text small">{_e(_intended_text(entry))}</div>'
        cells.append(f"<td>{source}</td>")
        cells.append(f"<td>{'yes' if entry['replica'] else 'no'}</td>")
        if schedule["automatic"]:
            per_day = schedule["per_day"]
            times = _two_times(schedule["utc"], schedule["local"], schedule["local_zone"])
            cells.append(f'<td class="nowrap">{times}<div class="muted small">{per_day} a day</div></td>')
        else:
            cells.append('<td><span class="muted">manual only</span></td>')
        cells.append(_planned_cell(entry))
        if last is None or last["result"] == "NeverRun":
            cells.append(f"<td>{_badge('never synchronized', 'warning')}</td>")
        else:
            kind = {"Succeeded": "ok", "Failed": "error"}.get(last["result"], "info")
            local, utc = _when(last["end_utc"] or last["start_utc"], tz)
            detail = ""
            if last["result"] != "Succeeded" and last["error"] not in ("", "NotApplicable"):
                detail += f' <span class="error-text small">{_e(last["error"])}</span>'
            if last["error_text"] and last["result"] != "Succeeded":
                text = _e(last["error_text"])
                detail += f'<div class="muted small clip" title="{text}">{text}</div>'
            cells.append(
                f'<td class="nowrap">{_badge(last["result"], kind)} {_e(local)}'
                f'<div class="muted small">{_e(utc)}</div>{detail}</td>'
            )
    cells.append(f"<td>{_finding_counts(findings)}</td>")
    return opening + "".join(cells) + "</tr>"


def _planned_cell(entry: Mapping[str, Any]) -> str:
    planned = entry["planned"]
    if not planned:
        return '<td><span class="muted">—</span></td>'
    times = _two_times(planned["utc"], planned["local"], planned["local_zone"])
    return (
        f'<td class="nowrap">{times}'
        '<div class="muted small" title="worst case: offset, sync and two retries">'
        f"lane {planned['lane']} · up to {planned['reservation_minutes']:g} min</div></td>"
    )


def _evidence(evidence: Any) -> str:
    text = json.dumps(evidence, indent=2, default=str, ensure_ascii=False, sort_keys=True)
    return f"<details><summary>Evidence</summary><pre>{_e(text)}</pre></details>"


def _findings_html(hosts: Mapping[str, Mapping[str, Any]], index: Mapping[str, int]) -> str:
    cards = []
    for name, entry in hosts.items():
        if not entry["findings"] and entry["status"] == "ok" and not entry["behind"] and not entry["notes"]:
            continue
        body = []
        if entry["status"] != "ok":
            body.append(f'<p class="error-text">{_e(entry["status"])}: {_e(entry["error"])}</p>')
        if entry["behind"]:
            body.append(f'<p class="warn-text">Behind: {_e(entry["behind"])}</p>')
        for note in entry["notes"]:
            body.append(f'<p class="warn-text">{_e(note)}</p>')
        for finding in entry["findings"]:
            fix = (
                f'<div class="small">Fix: the <code>{_e(finding["fix"])}</code> operation</div>'
                if finding["fix"]
                else ""
            )
            source = (
                f'<div class="muted small">Source: {_e(finding["source"])}</div>' if finding["source"] else ""
            )
            body.append(
                f'<article class="finding sev-{_e(finding["severity"])}">'
                f"<header>{_badge(finding['severity'], finding['severity'])} "
                f"<code>{_e(finding['check'])}</code> "
                f"<strong>{_e(finding['title'])}</strong></header>"
                f'<p class="remedy">{_e(finding["remedy"])}</p>{fix}{source}{_evidence(finding["evidence"])}'
                "</article>"
            )
        i = index[name]
        cards.append(
            f'<section class="host-card" id="findings-{i}" data-host="{_e(name)}">'
            f'<h3><a href="#row-{i}">{_e(name)}</a> {_status_badges(entry)}</h3>{"".join(body)}</section>'
        )
    if not cards:
        return '<p class="muted">No findings: every server passed every check.</p>'
    return "".join(cards)


_CSS = """
:root { --fg:#1d2733; --muted:#5f6b7a; --line:#d8dee6; --bg:#f5f7fa; --card:#fff;
  --ok:#1b7f3b; --ok-bg:#e3f4e8; --err:#b3261e; --err-bg:#fbe4e2; --warn:#8a5300; --warn-bg:#fff1d6;
  --info:#1f5fa8; --info-bg:#e3eefb; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 "Segoe UI", system-ui, -apple-system, "Helvetica Neue", Arial, sans-serif;
  color:var(--fg); background:var(--bg); }
header.page { background:#12324f; color:#fff; padding:16px 28px; }
header.page h1 { margin:0 0 4px; font-size:22px; font-weight:600; }
header.page .meta { color:#c9d7e6; font-size:13px; }
main { padding:16px 28px 40px; }
h2 { font-size:17px; margin:26px 0 10px; }
section.panel { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 18px;
  margin-bottom:16px; }
.summary { display:flex; flex-wrap:wrap; gap:10px; margin:0; padding:0; list-style:none; }
.summary li { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:8px 14px;
  min-width:110px; }
.summary li b { display:block; font-size:22px; }
.summary li.bad b { color:var(--err); } .summary li.warn b { color:var(--warn); }
.badge { display:inline-block; padding:1px 7px; border-radius:10px; font-size:12px; font-weight:600;
  white-space:nowrap; }
.badge.ok { background:var(--ok-bg); color:var(--ok); }
.badge.error { background:var(--err-bg); color:var(--err); }
.badge.warning { background:var(--warn-bg); color:var(--warn); }
.badge.info { background:var(--info-bg); color:var(--info); }
.muted { color:var(--muted); } .small { font-size:12px; }
.error-text { color:var(--err); } .warn-text { color:var(--warn); }
.nowrap { white-space:nowrap; } td.name { white-space:nowrap; }
.clip { max-width:300px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.tree ul { list-style:none; margin:0; padding-left:22px; border-left:1px solid var(--line); }
.tree > ul { padding-left:0; border-left:none; }
.tree li { margin:3px 0; padding-left:4px; position:relative; }
.tree ul ul li::before { content:""; position:absolute; left:-22px; top:11px; width:18px;
  border-top:1px solid var(--line); }
.tree a.node, .tree .node { font-weight:600; color:var(--fg); text-decoration:none; }
.tree a.node.unreachable, .tree a.node.failed { color:var(--err); }
.tree .node.external { font-style:italic; color:var(--muted); }
.controls { display:flex; gap:14px; align-items:center; flex-wrap:wrap; margin-bottom:10px; }
.controls input[type=search] { padding:6px 10px; border:1px solid var(--line); border-radius:6px;
  width:300px; font:inherit; }
.controls select { padding:5px 8px; border:1px solid var(--line); border-radius:6px; font:inherit; }
.table-wrap { overflow-x:auto; }
table { border-collapse:collapse; width:100%; background:var(--card); }
th, td { text-align:left; padding:7px 9px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#eef2f6; font-weight:600; white-space:nowrap; position:sticky; top:0; }
th .sub { font-weight:400; font-size:11px; color:var(--muted); }
th[data-key] { cursor:pointer; user-select:none; }
th[data-key] .h::after { content:" \\2195"; color:#9aa7b5; font-size:11px; }
th[aria-sort=ascending] .h::after { content:" \\25B2"; color:var(--fg); }
th[aria-sort=descending] .h::after { content:" \\25BC"; color:var(--fg); }
tr.host-row:hover { background:#f8fafc; }
tr.behind { background:var(--warn-bg); } tr.behind:hover { background:#ffe9bf; }
tr.unreachable, tr.failed { background:var(--err-bg); }
tr.host-row:target { outline:2px solid var(--info); }
td.name a { font-weight:600; color:var(--fg); text-decoration:none; }
.host-card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 16px;
  margin-bottom:12px; }
.host-card:target { outline:2px solid var(--info); }
.host-card h3 { margin:2px 0 8px; font-size:15px; } .host-card h3 a { color:var(--fg); }
.finding { border-left:4px solid var(--info); padding:4px 0 4px 12px; margin:10px 0; }
.finding.sev-error { border-color:var(--err); } .finding.sev-warning { border-color:#e0a100; }
.finding header { margin-bottom:2px; } .finding .remedy { margin:4px 0; }
details summary { cursor:pointer; color:var(--info); font-size:12px; }
pre { background:#f3f5f8; border:1px solid var(--line); padding:8px; border-radius:6px; overflow:auto;
  font-size:12px; max-height:320px; }
.timeline-wrap { overflow-x:auto; }
.legend { display:flex; gap:16px; flex-wrap:wrap; font-size:12px; margin-top:6px; }
.legend span::before { content:""; display:inline-block; width:12px; height:12px; margin-right:5px;
  vertical-align:-2px; border:1px solid #bbb; }
.legend .l-window::before { background:#eef6ff; } .legend .l-offset::before { background:#ffd28a; }
.legend .l-sync::before { background:#4a90d9; } .legend .l-retry::before { background:#f28b82; }
.legend .l-wait::before { background:#eeeeee; }
footer { color:var(--muted); font-size:12px; margin-top:24px; }
"""

_JS = """
(function () {
  'use strict';
  var table = document.getElementById('servers');
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  rows.forEach(function (row, i) { row.setAttribute('data-order', String(i)); });
  var box = document.getElementById('filter');
  var show = document.getElementById('show');
  var shown = document.getElementById('shown');
  var rank = { error: 3, warning: 2, info: 1 };
  function keep(row) {
    var terms = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var text = (row.textContent + ' ' + row.getAttribute('data-search')).toLowerCase();
    for (var t = 0; t < terms.length; t++) { if (text.indexOf(terms[t]) < 0) { return false; } }
    var severity = rank[row.getAttribute('data-severity')] || 0;
    var problem = row.classList.contains('behind') || row.classList.contains('unreachable') ||
      row.classList.contains('failed');
    switch (show.value) {
      case 'findings': return severity > 0;
      case 'warning': return severity >= 2;
      case 'error': return severity >= 3;
      case 'problems': return severity >= 2 || problem;
      default: return true;
    }
  }
  function apply() {
    var visible = {};
    var count = 0;
    rows.forEach(function (row) {
      var ok = keep(row);
      row.hidden = !ok;
      if (ok) { count += 1; visible[row.getAttribute('data-host')] = true; }
    });
    document.querySelectorAll('.host-card').forEach(function (card) {
      card.hidden = !visible[card.getAttribute('data-host')];
    });
    shown.textContent = count + ' of ' + rows.length + ' servers shown';
  }
  var headers = Array.prototype.slice.call(table.querySelectorAll('th[data-key]'));
  headers.forEach(function (th) {
    th.setAttribute('tabindex', '0');
    function sort() {
      var key = 'data-s-' + th.getAttribute('data-key');
      var numeric = th.getAttribute('data-type') === 'number';
      var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
      headers.forEach(function (other) { other.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
      rows.sort(function (a, b) {
        var x = a.getAttribute(key) || '', y = b.getAttribute(key) || '';
        var c = numeric ? Number(x) - Number(y) : (x < y ? -1 : x > y ? 1 : 0);
        if (c === 0) { c = Number(a.getAttribute('data-order')) - Number(b.getAttribute('data-order')); }
        return c * dir;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    }
    th.addEventListener('click', sort);
    th.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); sort(); }
    });
  });
  box.addEventListener('input', apply);
  show.addEventListener('change', apply);
  apply();
})();
"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_html(report: FleetReport) -> str:
    """The report as one self-contained HTML page (no network; every server-provided value escaped)."""
    from wsusauto.stagger.fleet import svg_timeline

    data = report_data(report)
    tz = zone_info(report.zone)
    hosts = data["hosts"]
    index = {name: i for i, name in enumerate(hosts)}
    zone = report.zone
    summary = data["summary"]
    generated_local, generated_utc = _when(data["generated_utc"], tz)
    generated = f"{generated_local} ({generated_utc})" if generated_utc else generated_local

    cards = [
        ("servers", summary["servers"], ""),
        ("reachable", summary["reachable"], ""),
        ("unreachable", summary["unreachable"], "bad" if summary["unreachable"] else ""),
        ("failed", summary["failed"], "bad" if summary["failed"] else ""),
        ("behind", summary["behind"], "warn" if summary["behind"] else ""),
        ("not as intended", summary["not_as_intended"], "warn" if summary["not_as_intended"] else ""),
        ("errors", summary["errors"], "bad" if summary["errors"] else ""),
        ("warnings", summary["warnings"], "warn" if summary["warnings"] else ""),
    ]
    summary_html = "".join(f'<li class="{cls}"><b>{value}</b>{_e(label)}</li>' for label, value, cls in cards)
    headers = "".join(_header(key, label, kind, zone) for key, label, kind in _COLUMNS)
    rows = "".join(_row(index[name], name, entry, tz) for name, entry in hosts.items())

    if report.plan is not None and report.plan.slots:
        plan = data["plan"]
        svg = _svg_inline(svg_timeline(report.plan, report.durations, title="Stagger plan (times in UTC)"))
        timeline = (
            f'<p class="muted">Window starts {_e(plan["window_start_utc"])} UTC '
            f"({_e(plan['window_start_local'])} "
            f"{_e(zone)}), {plan['window_minutes'] / 60:g} h; at most {plan['max_concurrent_per_upstream']} "
            f"sync(s) per upstream at once, worst case (random start offset {plan['offset_minutes']:g} min, "
            f"two retries ~15 min apart); {plan['syncs_per_day']} sync(s) a day.</p>"
            f'<div class="timeline-wrap">{svg}</div>'
            '<div class="legend"><span class="l-window">sync window</span>'
            '<span class="l-offset">random start offset</span><span class="l-sync">sync</span>'
            '<span class="l-wait">retry wait</span><span class="l-retry">retry attempts</span></div>'
        )
    elif report.plan_error:
        timeline = f'<p class="error-text">No stagger plan: {_e(report.plan_error)}</p>'
    else:
        timeline = '<p class="muted">No stagger plan.</p>'

    script = _JS
    tree = _tree_html(data["tree"], hosts, index) or '<p class="muted">No servers.</p>'
    csp = (
        f"default-src 'none'; style-src {_csp_hash(_CSS)}; script-src {_csp_hash(script)}; "
        "img-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'"
    )
    inventory = f" · inventory {_e(report.source)}" if report.source else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(report.title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header class="page"><h1>{_e(report.title)}</h1>
<div class="meta">Generated {_e(generated)}{inventory}
 · local times in {_e(zone)}</div>
</header>
<main>
<ul class="summary" id="summary">{summary_html}</ul>

<h2>Hierarchy</h2>
<section class="panel tree" id="tree">{tree}</section>

<h2>Servers</h2>
<div class="controls">
<input type="search" id="filter" aria-label="filter servers"
 placeholder="Filter: server, status, source, check…">
<select id="show" aria-label="which servers">
<option value="all">All servers</option>
<option value="findings">Only servers with findings</option>
<option value="warning">Warnings or errors</option>
<option value="error">Errors only</option>
<option value="problems" title="warnings, errors, behind, unreachable or failed">Anything wrong</option>
</select>
<span id="shown" class="muted"></span>
</div>
<div class="table-wrap"><table id="servers">
<thead><tr>{headers}</tr></thead>
<tbody>{rows}</tbody>
</table></div>

<h2>Stagger timeline</h2>
<section class="panel" id="plan">{timeline}</section>

<h2>Findings</h2>
<div id="findings">{_findings_html(hosts, index)}</div>
<footer>wsusauto report · servers store schedules in UTC; local columns use {_e(zone)}
 on the report's date.</footer>
</main>
<script>{script}</script>
</body>
</html>
"""


# --- gathering (talks to servers) -----------------------------------------------------------------


def report_hosts(hosts: Sequence[Any]) -> list[ReportHost]:
    """Inventory hosts -> ReportHost (intended upstream and replica, address)."""
    return [
        ReportHost(h.name, h.upstream, h.replica, str(h.vars.get("ansible_host", "") or "")) for h in hosts
    ]


def gather_fleet_report(
    inventory: Any,
    hosts: Sequence[Any],
    *,
    zone: str,
    policy: Any,
    default_duration: float = 30.0,
    forks: int = 20,
    deadline: float = 120.0,
    executor: HostExecutor | None = None,
) -> FleetReport:
    """Read the fleet (``diagnose_fleet``, on ``executor`` when given, else on one of its own) and
    plan the stagger."""
    from wsusauto.diagnose import diagnose_fleet
    from wsusauto.stagger.fleet import servers_from_facts
    from wsusauto.stagger.planner import plan as make_plan

    zone_info(zone)
    diagnosis = diagnose_fleet(
        inventory,
        hosts,
        executor=executor,
        forks=forks,
        deadline=deadline,
        max_concurrent_per_upstream=policy.max_concurrent,
    )
    facts: dict[str, Facts] = dict(diagnosis.facts)
    findings: dict[str, list[Any]] = {h: list(f) for h, f in diagnosis.findings.items()}
    unreachable = {h: str(e) for h, e in diagnosis.unreachable.items()}
    failed = {h: str(e) for h, e in diagnosis.failed.items()}
    upstreams = {h.name: h.upstream for h in hosts}
    servers = servers_from_facts(upstreams, facts, float(default_duration))
    plan = plan_error = None
    try:
        plan = make_plan(servers, policy)
    except UsageError as exc:
        plan_error = str(exc)
    return FleetReport(
        hosts=report_hosts(hosts),
        facts=facts,
        findings=findings,
        unreachable=unreachable,
        failed=failed,
        plan=plan,
        durations={s.name: s.duration for s in servers},
        plan_error=plan_error,
        zone=zone,
        source=str(getattr(inventory, "source", "")),
    )


def write_report(report: FleetReport, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
