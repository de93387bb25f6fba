"""The stagger planner: synchronization schedules that never overload an upstream server. Pure.

"Running WSUS 3.0 SP2 in Replica Mode": with many replicas on one upstream server, "you should not
schedule synchronization to run at the same time on each replica server". The plan holds in the worst case:

- WSUS adds a random offset (up to ``offset``, 30 minutes by default) to each scheduled start;
- a failed sync is retried twice at about 15-minute intervals ("Running WSUS 3.0 SP2 in Replica
  Mode", "Issues with Synchronization"), which loads the upstream again;
- so one scheduled sync of server ``s`` may keep its upstream busy anywhere in
  ``[t, t + offset + 3 * duration(s) + 2 * (retry_interval + retry_jitter))``: its *reservation*;
- a downstream server starts only after its upstream's own reservation has ended, so it sees fresh
  content; tiers follow the hierarchy;
- with N syncs a day every schedule repeats each 24/N hours, so reservations are placed on a circle
  of that period and a repeat never meets the next one.

At most K reservations overlap on any upstream. Servers of one upstream are packed into K lanes in
name order (deterministic; the same input always gives the same plan), and the slack left in the
window is spread evenly between them. A window that cannot hold the fleet is an error that names
the smallest window, and the smallest K, that would.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from wsusauto.errors import UsageError

DAY = 24 * 60  # minutes


@dataclass(frozen=True)
class Server:
    name: str
    upstream: str | None  # None: syncs from Microsoft Update (a root)
    duration: float  # expected minutes of one sync (median of recent history, or a default)


@dataclass(frozen=True)
class StaggerPolicy:
    window_start: int = 22 * 60  # minutes after midnight UTC
    window_length: float = 7 * 60  # minutes (22:00-05:00)
    syncs_per_day: int = 1
    max_concurrent: int = 1  # K: syncs one upstream serves at once
    offset: float = 30.0  # WSUS's random start offset, worst case
    retry_interval: float = 15.0  # documented: retried twice at ~15 minute intervals
    retry_jitter: float = 2.0  # "approximately"
    retries: int = 2

    @property
    def period(self) -> float:
        return DAY / self.syncs_per_day

    def reservation(self, duration: float) -> float:
        """Worst-case minutes one scheduled sync can load its upstream, in whole minutes (schedules are
        set to the minute, so rounding up keeps every plan exact)."""
        worst = (
            self.offset
            + (self.retries + 1) * duration
            + self.retries * (self.retry_interval + self.retry_jitter)
        )
        return float(math.ceil(worst))


@dataclass(frozen=True)
class Slot:
    host: str
    upstream: str | None
    start: float  # minutes after the window start (first occurrence)
    reservation: float  # worst-case minutes the sync loads its upstream
    lane: int  # which of the K concurrent lanes on the upstream
    time_of_day_utc: dt.time
    syncs_per_day: int


@dataclass(frozen=True)
class StaggerPlan:
    policy: StaggerPolicy
    slots: tuple[Slot, ...]

    def by_host(self) -> dict[str, Slot]:
        return {s.host: s for s in self.slots}


class Infeasible(UsageError):
    def __init__(self, message: str, needed_window: float, needed_k: int | None) -> None:
        super().__init__(message)
        self.needed_window = needed_window
        self.needed_k = needed_k


def window(text: str, zone: str = "UTC", today: dt.date | None = None) -> tuple[float, float]:
    """``"22:00-05:00"`` in ``zone`` -> (start minutes after midnight UTC, length in minutes)."""
    try:
        first, last = (part.strip() for part in text.split("-"))
        start_local = dt.datetime.strptime(first, "%H:%M").time()
        end_local = dt.datetime.strptime(last, "%H:%M").time()
    except ValueError:
        raise UsageError(f"window {text!r} must look like 22:00-05:00") from None
    length = (
        end_local.hour * 60 + end_local.minute - start_local.hour * 60 - start_local.minute
    ) % DAY or DAY
    day = today or dt.datetime.now(dt.timezone.utc).date()
    tz = dt.timezone.utc if zone.upper() == "UTC" else ZoneInfo(zone)
    start_utc = dt.datetime.combine(day, start_local, tzinfo=tz).astimezone(dt.timezone.utc)
    return float(start_utc.hour * 60 + start_utc.minute), float(length)


def _tiers(servers: Sequence[Server]) -> list[list[Server]]:
    by_name = {s.name: s for s in servers}
    depth: dict[str, int] = {}
    for server in sorted(servers, key=lambda s: s.name):
        chain, current = [], server
        while current.name not in depth:
            chain.append(current)
            if current.upstream is None or current.upstream not in by_name:
                depth[current.name] = 0
                break
            if len(chain) > len(servers):
                raise UsageError(f"upstream cycle through {current.name}")
            current = by_name[current.upstream]
        for item in reversed(chain):
            if item.name not in depth:
                # the chain's last server alone may lack an upstream, and it has its depth
                assert item.upstream is not None
                depth[item.name] = depth[by_name[item.upstream].name] + 1
    tiers: list[list[Server]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for server in sorted(servers, key=lambda s: s.name):
        tiers[depth[server.name]].append(server)
    return tiers


def _pack(
    servers: Sequence[Server], policy: StaggerPolicy, k: int
) -> tuple[dict[str, tuple[float, int]], float]:
    """Earliest packing: start minutes (from the window start) and lane per server; and the makespan."""
    placed: dict[str, tuple[float, int]] = {}
    finish: dict[str, float] = {}
    lanes: dict[str, list[float]] = {}
    for tier in _tiers(servers):
        for server in tier:
            if server.upstream is None or server.upstream not in finish:
                ready = 0.0  # a root (or an external upstream) syncs from the window start
                lane_index = 0
                start = ready
            else:
                ready = finish[server.upstream]
                free = lanes.setdefault(server.upstream, [ready] * k)
                lane_index = min(range(k), key=lambda i: (max(free[i], ready), i))
                start = max(free[lane_index], ready)
                free[lane_index] = start + policy.reservation(server.duration)
            placed[server.name] = (start, lane_index)
            finish[server.name] = start + policy.reservation(server.duration)
    return placed, max(finish.values(), default=0.0)


def _fits(servers: Sequence[Server], policy: StaggerPolicy, k: int, length: float) -> bool:
    placed, makespan = _pack(servers, policy, k)
    if makespan > length:
        return False
    return _lane_spans(servers, placed, policy) <= policy.period


def _lane_spans(
    servers: Sequence[Server], placed: Mapping[str, tuple[float, int]], policy: StaggerPolicy
) -> float:
    """The longest time one upstream lane is busy: it must fit in the period, or repeats collide."""
    spans: dict[tuple[str, int], list[float]] = {}
    for server in servers:
        if server.upstream is None or server.upstream not in placed:
            continue
        start, lane = placed[server.name]
        span = spans.setdefault((server.upstream, lane), [math.inf, -math.inf])
        span[0] = min(span[0], start)
        span[1] = max(span[1], start + policy.reservation(server.duration))
    return max((hi - lo for lo, hi in spans.values()), default=0.0)


def plan(servers: Sequence[Server], policy: StaggerPolicy) -> StaggerPlan:
    if not servers:
        return StaggerPlan(policy, ())
    if not 1 <= policy.syncs_per_day <= 24:
        raise UsageError("syncs per day must be 1 to 24")
    if policy.max_concurrent < 1:
        raise UsageError("max concurrent syncs per upstream must be at least 1")
    length = min(policy.window_length, policy.period)
    k = policy.max_concurrent
    placed, makespan = _pack(servers, policy, k)
    if makespan > length or _lane_spans(servers, placed, policy) > policy.period:
        raise _infeasible(servers, policy, makespan, length)
    placed = _spread(servers, placed, policy, length - makespan)
    slots = []
    for server in sorted(servers, key=lambda s: s.name):
        start, lane = placed[server.name]
        minutes = int(policy.window_start + start) % DAY
        slots.append(
            Slot(
                server.name,
                server.upstream,
                start,
                policy.reservation(server.duration),
                lane,
                dt.time(int(minutes // 60), int(minutes % 60)),
                policy.syncs_per_day,
            )
        )
    return StaggerPlan(policy, tuple(slots))


def _spread(
    servers: Sequence[Server], placed: dict[str, tuple[float, int]], policy: StaggerPolicy, slack: float
) -> dict[str, tuple[float, int]]:
    """Spread the window's slack evenly: each tier moves later by an equal share, in order."""
    tiers = _tiers(servers)
    share = math.floor(slack / len(tiers)) if slack > 0 else 0
    if share <= 0 or len(tiers) < 2:
        return placed
    tier_of = {server.name: index for index, tier in enumerate(tiers) for server in tier}
    return {name: (start + share * tier_of[name], lane) for name, (start, lane) in placed.items()}


def _infeasible(
    servers: Sequence[Server], policy: StaggerPolicy, makespan: float, length: float
) -> Infeasible:
    needed_k = None
    children = Counter(s.upstream for s in servers if s.upstream is not None)
    widest = max(children.values(), default=1)
    for k in range(policy.max_concurrent + 1, max(widest, policy.max_concurrent) + 1):
        if _fits(servers, policy, k, length):
            needed_k = k
            break
    hours = math.ceil(makespan / 60 * 4) / 4
    message = (
        f"the window of {length / 60:g} h cannot hold the fleet in the worst case (random start offset "
        f"{policy.offset:g} min, 2 retries at ~{policy.retry_interval:g} min): it needs at least "
        f"{hours:g} h with at most {policy.max_concurrent} concurrent sync(s) per upstream"
    )
    if makespan > policy.period:
        message += (
            f", which is more than the {policy.period / 60:g} h between {policy.syncs_per_day} syncs a day"
        )
    if needed_k is not None:
        message += f"; or allow {needed_k} concurrent syncs per upstream"
    return Infeasible(message, hours * 60, needed_k)


def day_spans(begin: float, length: float) -> list[tuple[float, float]]:
    """A busy span on the daily circle: split in two where it runs past midnight."""
    begin %= DAY
    end = begin + length
    return [(begin, DAY), (0.0, end - DAY)] if end > DAY else [(begin, end)]


def peak_overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans that overlap at any moment (a span ending when another starts does not overlap)."""
    marks = sorted([(a, 1) for a, b in spans if b > a] + [(b, -1) for a, b in spans if b > a])
    level = peak = 0
    for _, step in marks:  # ends (-1) sort before starts (+1) at the same minute
        level += step
        peak = max(peak, level)
    return peak


def worst_case_load(plan_: StaggerPlan) -> dict[str, int]:
    """Check a plan: the most reservations that overlap on each upstream over a whole day (all repeats)."""
    policy = plan_.policy
    hosts = plan_.by_host()
    spans: dict[str, list[tuple[float, float]]] = {}
    for slot in plan_.slots:
        if slot.upstream is None or slot.upstream not in hosts:
            continue
        for repeat in range(policy.syncs_per_day):
            spans.setdefault(slot.upstream, []).extend(
                day_spans(slot.start + repeat * policy.period, slot.reservation)
            )
    return {upstream: peak_overlap(busy) for upstream, busy in spans.items()}
