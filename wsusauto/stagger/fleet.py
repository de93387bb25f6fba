"""The stagger planner applied to a fleet: inputs from facts, findings about current schedules, SVG.

- ``servers_from_facts``: each server's expected sync duration is the median of its recent
  synchronizations (facts' history), else a default.
- ``schedule_collisions``: the schedules servers have *now* (from facts), checked in the same
  worst case as a plan: upstreams that can serve more than K syncs at once, with the servers involved.
- ``svg_timeline``: one lane per upstream; each slot shows its random-offset window, the sync and
  its two retry windows.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from wsusauto.stagger.planner import DAY, Server, StaggerPlan, StaggerPolicy, day_spans
from wsusauto.state.facts import Facts

DEFAULT_DURATION = 30.0  # minutes, when a server has no finished sync in its history


def expected_duration(facts: Facts | None, default: float = DEFAULT_DURATION) -> float:
    if facts is None:
        return default
    minutes = [
        info.duration.total_seconds() / 60
        for info in facts.synchronization_history
        if info.duration is not None and info.duration.total_seconds() > 0
    ]
    return float(statistics.median(minutes)) if minutes else default


def servers_from_facts(
    upstreams: Mapping[str, str | None], facts: Mapping[str, Facts], default: float = DEFAULT_DURATION
) -> list[Server]:
    """``upstreams`` maps each host to its intended upstream (an inventory host) or None."""
    return [
        Server(host, upstream if upstream in upstreams else None, expected_duration(facts.get(host), default))
        for host, upstream in upstreams.items()
    ]


@dataclass(frozen=True)
class Collision:
    upstream: str
    peak: int  # syncs the upstream may serve at once, worst case
    servers: tuple[str, ...]  # the downstream servers whose reservations overlap at that peak


def schedule_collisions(
    servers: Sequence[Server], facts: Mapping[str, Facts], policy: StaggerPolicy
) -> list[Collision]:
    """Upstreams whose current schedules can overlap beyond ``policy.max_concurrent``."""
    by_upstream: dict[str, list[tuple[float, float, str]]] = {}
    for server in servers:
        known = facts.get(server.name)
        if server.upstream is None or known is None or not known.synchronize_automatically:
            continue
        tod = known.synchronize_automatically_time_of_day
        start = tod.hour * 60 + tod.minute + tod.second / 60
        per_day = known.number_of_synchronizations_per_day
        for repeat in range(per_day):
            for begin, end in day_spans(start + repeat * DAY / per_day, policy.reservation(server.duration)):
                by_upstream.setdefault(server.upstream, []).append((begin, end, server.name))
    found = []
    for upstream, spans in sorted(by_upstream.items()):
        marks = sorted(
            [(b, 1, n) for b, _, n in spans] + [(e, -1, n) for _, e, n in spans], key=lambda m: (m[0], m[1])
        )
        active: dict[str, int] = {}
        peak = 0
        involved: tuple[str, ...] = ()
        for _, step, name in marks:
            active[name] = active.get(name, 0) + step
            if active[name] == 0:
                del active[name]
            level = sum(active.values())
            if level > peak:
                peak, involved = level, tuple(sorted(active))
        if peak > policy.max_concurrent:
            found.append(Collision(upstream, peak, involved))
    return found


def svg_timeline(
    plan: StaggerPlan, durations: Mapping[str, float], title: str = "Synchronization plan"
) -> str:
    """A self-contained SVG: x = the day from the window start, one lane per upstream and K row."""
    policy = plan.policy
    lanes = sorted({(s.upstream, s.lane) for s in plan.slots if s.upstream is not None})
    row, left, width = 22, 170, 960
    height = 60 + row * max(1, len(lanes))
    scale = width / DAY
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 20}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="10" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for hour in range(0, 25, 3):
        x = left + hour * 60 * scale
        clock = (policy.window_start + hour * 60) % DAY
        out.append(f'<line x1="{x:.1f}" y1="28" x2="{x:.1f}" y2="{height - 10}" stroke="#ddd"/>')
        out.append(f'<text x="{x + 2:.1f}" y="38" fill="#666">{clock // 60:02d}:{clock % 60:02d}Z</text>')
    window_end = left + min(policy.window_length, DAY) * scale
    out.append(
        f'<rect x="{left}" y="42" width="{window_end - left:.1f}" height="{height - 52}" '
        'fill="#eef6ff" opacity="0.6"><title>sync window</title></rect>'
    )
    for index, (upstream, lane) in enumerate(lanes):
        y = 46 + index * row
        out.append(f'<text x="10" y="{y + 13}">{escape(str(upstream))} #{lane + 1}</text>')
        for slot in (s for s in plan.slots if s.upstream == upstream and s.lane == lane):
            duration = durations.get(slot.host, DEFAULT_DURATION)
            parts = [("offset", policy.offset, "#ffd28a")]
            for attempt in range(policy.retries + 1):
                parts.append(
                    (
                        f"attempt {attempt + 1}" if attempt else "sync",
                        duration,
                        "#4a90d9" if attempt == 0 else "#f28b82",
                    )
                )
                if attempt < policy.retries:
                    parts.append(("retry wait", policy.retry_interval + policy.retry_jitter, "#eeeeee"))
            for repeat in range(policy.syncs_per_day):
                cursor = slot.start + repeat * policy.period
                for label, length, colour in parts:
                    begin = cursor % DAY
                    out.append(
                        f'<rect x="{left + begin * scale:.1f}" y="{y}" '
                        f'width="{max(length * scale, 0.5):.1f}" '
                        f'height="{row - 6}" fill="{colour}"><title>{escape(slot.host)}: {label} '
                        f"({slot.time_of_day_utc:%H:%M}Z)</title></rect>"
                    )
                    cursor += length
            out.append(
                f'<text x="{left + slot.start * scale + 2:.1f}" y="{y + 12}" fill="#000" '
                f'font-size="9">{escape(slot.host)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


def local_time(utc: dt.time, zone: str, day: dt.date | None = None) -> dt.time:
    from zoneinfo import ZoneInfo

    moment = dt.datetime.combine(day or dt.datetime.now(dt.timezone.utc).date(), utc, tzinfo=dt.timezone.utc)
    return moment.astimezone(ZoneInfo(zone) if zone.upper() != "UTC" else dt.timezone.utc).time()
