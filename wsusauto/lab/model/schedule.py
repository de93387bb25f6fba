"""When a WSUS server syncs next: N syncs a day spread evenly from the first time (UTC).

"4/day from 03:00 -> 03, 09, 15, 21" (setting-up-update-synchronizations); GetNextSynchronizationTime
returns MinValue (here: None) when synchronization is not automatic.
"""

from __future__ import annotations

import datetime as dt


def parse_time_of_day(text: str) -> dt.timedelta:
    hours, minutes, seconds = (int(p) for p in text.split(":"))
    value = dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if not dt.timedelta(0) <= value < dt.timedelta(days=1):
        raise ValueError(f"time of day {text!r} is not within one day")
    return value


def next_sync_time(now: dt.datetime, automatic: bool, time_of_day: str, per_day: int) -> dt.datetime | None:
    """The first scheduled time strictly after ``now`` (aware UTC), or None when not automatic."""
    if not automatic:
        return None
    if not 1 <= per_day <= 24:
        raise ValueError(f"NumberOfSynchronizationsPerDay must be 1 to 24, not {per_day}")
    first = parse_time_of_day(time_of_day)
    interval = dt.timedelta(days=1) / per_day
    midnight = now.astimezone(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    candidates = [
        midnight + day + first + k * interval
        for day in (dt.timedelta(days=-1), dt.timedelta(0), dt.timedelta(days=1))
        for k in range(per_day)
    ]
    return min(c for c in candidates if c > now)
