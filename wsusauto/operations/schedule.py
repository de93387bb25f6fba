"""The synchronization schedule (wsus-api.md 1.3): automatic on/off, first time of day, syncs per day.

WSUS stores the time of day in UTC. A time given with an IANA zone (``timezone: Europe/Berlin``)
is converted to UTC for today's date; the result says so, because the local time then shifts by an
hour when daylight saving time changes (WSUS keeps UTC).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wsusauto.errors import UsageError
from wsusauto.operations.base import READY_TIMEOUT_SECONDS, Argument, Change, ChangePlan, Operation
from wsusauto.state.facts import Facts

_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_time(text: str) -> dt.time:
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time of day HH:MM or HH:MM:SS")
    hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
    return dt.time(hours, minutes, seconds)  # raises ValueError when out of range


def to_utc(time_of_day: dt.time, zone: str, today: dt.date) -> dt.time:
    local = dt.datetime.combine(today, time_of_day, tzinfo=ZoneInfo(zone))
    return local.astimezone(dt.timezone.utc).time().replace(tzinfo=None)


def _check_time(value: str) -> str | None:
    try:
        parse_time(value)
    except ValueError as exc:
        return str(exc)
    return None


def _check_zone(value: str) -> str | None:
    if value.upper() == "UTC":
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)"
    return None


class Schedule(Operation):
    name = "schedule"
    arguments = {
        "automatic": Argument(bool),
        "time": Argument(str, check=_check_time),
        "timezone": Argument(str, check=_check_zone),
        "per_day": Argument(int, check=lambda n: None if 1 <= n <= 24 else "syncs per day must be 1 to 24"),
    }

    def __init__(self, today: dt.date | None = None) -> None:
        self.today = today

    def check_combination(self, args: dict[str, Any], where: str) -> None:
        if not {"automatic", "time", "per_day"} & set(args):
            raise UsageError(f"{where}: schedule needs at least one of automatic, time, per_day")
        if "timezone" in args and "time" not in args:
            raise UsageError(f"{where}: schedule timezone applies to time; give time too")

    def desired(self, args: Mapping[str, Any]) -> dict[str, Any]:
        wanted: dict[str, Any] = {}
        if "automatic" in args:
            wanted["SynchronizeAutomatically"] = args["automatic"]
        if "time" in args:
            time_of_day = parse_time(args["time"])
            zone = args.get("timezone", "UTC")
            if zone.upper() != "UTC":
                time_of_day = to_utc(time_of_day, zone, self.today or dt.datetime.now(dt.timezone.utc).date())
            wanted["SynchronizeAutomaticallyTimeOfDay"] = time_of_day
        if "per_day" in args:
            wanted["NumberOfSynchronizationsPerDay"] = args["per_day"]
        return wanted

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        wanted = self.desired(args)
        current = {
            "SynchronizeAutomatically": facts.synchronize_automatically,
            "SynchronizeAutomaticallyTimeOfDay": facts.synchronize_automatically_time_of_day,
            "NumberOfSynchronizationsPerDay": facts.number_of_synchronizations_per_day,
        }
        changes = tuple(Change(m, current[m], v) for m, v in wanted.items() if current[m] != v)
        time_of_day = wanted.get("SynchronizeAutomaticallyTimeOfDay", dt.time(0))
        parameters = {
            "Members": [c.member for c in changes],
            "SynchronizeAutomatically": wanted.get("SynchronizeAutomatically", False),
            "TimeOfDaySeconds": time_of_day.hour * 3600 + time_of_day.minute * 60 + time_of_day.second,
            "NumberOfSynchronizationsPerDay": wanted.get("NumberOfSynchronizationsPerDay", 1),
            "ReadyTimeoutSeconds": READY_TIMEOUT_SECONDS,
        }
        warnings: tuple[str, ...] = ()
        if args.get("timezone", "UTC").upper() != "UTC" and "time" in args:
            warnings = (
                f"{args['time']} {args['timezone']} is {time_of_day:%H:%M:%S} UTC today; WSUS keeps UTC, "
                "so the local time moves by an hour when daylight saving time changes",
            )
        return ChangePlan(changes, "set_schedule", parameters, warnings)
