"""The lab's own scheduler: a simulated day of the fleet's automatic synchronizations.

Each server with automatic sync starts at its time of day (UTC), N times a day, plus WSUS's random
offset (up to ``offset`` minutes). A sync lasts the server's expected duration (the median of its
recorded syncs, else ``default_duration``) and loads its upstream all that time. A failed sync is
retried twice at about 15-minute intervals (the documented policy, with jitter), then waits for
its next scheduled time. Failures come from the ``transient_sync_failure`` fault (its first N
attempts fail) and from ``failure_rate``. The record says, per upstream, how many syncs it served
at once at worst: the check a stagger plan must pass.

The lab measures that load itself (``most_at_once``), never with the product's stagger planner: a
bug in the planner's own overlap arithmetic must not hide in the test that checks its plans.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from wsusauto.lab.model.server import WsusServerModel

DAY = 24 * 60  # minutes


@dataclass(frozen=True)
class SyncRecord:
    server: str
    upstream: str  # "Microsoft Update" for a root
    attempt: int  # 1 = the scheduled sync, 2 and 3 = the retries
    start: float  # minutes after midnight UTC (may pass 1440: it wraps into the next day)
    end: float
    succeeded: bool


def expected_minutes(server: WsusServerModel, default: float) -> float:
    minutes = []
    for record in server.db.sync_history(20):
        if record["StartTime"] and record["EndTime"]:
            start = dt.datetime.fromisoformat(record["StartTime"].replace("Z", "+00:00"))
            end = dt.datetime.fromisoformat(record["EndTime"].replace("Z", "+00:00"))
            if end > start:
                minutes.append((end - start).total_seconds() / 60)
    return float(statistics.median(minutes)) if minutes else default


def simulate_day(
    servers: Mapping[str, WsusServerModel],
    *,
    seed: int = 0,
    offset: float = 30.0,
    retry_interval: float = 15.0,
    retry_jitter: float = 2.0,
    retries: int = 2,
    failure_rate: float = 0.0,
    default_duration: float = 30.0,
) -> list[SyncRecord]:
    rng = random.Random(seed)
    records: list[SyncRecord] = []
    for name in sorted(servers):
        server = servers[name]
        config = server.config()
        if not config["SynchronizeAutomatically"]:
            continue
        upstream = (
            "Microsoft Update" if config["SyncFromMicrosoftUpdate"] else config["UpstreamWsusServerName"]
        )
        hours, minutes, seconds = (int(p) for p in config["SynchronizeAutomaticallyTimeOfDay"].split(":"))
        first = hours * 60 + minutes + seconds / 60
        per_day = int(config["NumberOfSynchronizationsPerDay"])
        duration = expected_minutes(server, default_duration)
        forced_failures = int(server.faults.get("transient_sync_failure", {}).get("attempts", 0))
        for repeat in range(per_day):
            start = first + repeat * DAY / per_day + rng.uniform(0, offset)
            for attempt in range(1, retries + 2):
                fails = forced_failures > 0 or rng.random() < failure_rate
                forced_failures = max(0, forced_failures - 1)
                records.append(SyncRecord(name, upstream, attempt, start, start + duration, not fails))
                if not fails:
                    break
                # worst case for the upstream: the attempt failed at its very end
                start = start + duration + retry_interval + rng.uniform(-retry_jitter, retry_jitter)
    return records


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most (start, end) spans of minutes running at one moment on the daily circle.

    A span may pass midnight (or start after it): the day wraps. Two spans overlap when each starts
    before the other ends, so one ending the minute another starts does not count. The busiest
    moment is always some span's start, so counting, at every start, the spans running then is
    enough: plain and quadratic, which is fine for a lab's fleet.
    """
    busy = [(start % DAY, end - start) for start, end in spans if end > start]
    peak = 0
    for moment, _ in busy:
        running = 0
        for start, length in busy:
            # minutes from this span's start forward to the moment, on the circle
            since = (moment - start) % DAY
            if since < length or length >= DAY:
                running += 1
        peak = max(peak, running)
    return peak


def peak_load(records: list[SyncRecord]) -> dict[str, int]:
    """Per upstream, the most syncs it served at once over the (circular) day."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for record in records:
        if record.upstream != "Microsoft Update":
            spans.setdefault(record.upstream, []).append((record.start, record.end))
    return {upstream: most_at_once(busy) for upstream, busy in spans.items()}
