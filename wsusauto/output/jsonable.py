"""Values as JSON has them: what results, the journal and the Ansible collection hand on.

A module of its own (no rich, no console) so the collection's action plugins convert their results
without importing the console's output."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any


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
