"""``Facts`` back from the plain values a ``wsus_facts`` task stores in ``hostvars``.

``wsus_facts`` returns a server's facts as JSON values (``wsusauto.output.jsonable.to_jsonable``:
field names as in ``Facts``, datetimes as ISO-8601 UTC, times of day as ``HH:MM:SS``) under
``ansible_facts.wsus_facts``, so a later task of the play finds them in ``hostvars[host].wsus_facts``.
The fleet plugins (``wsus_synchronize``'s upstream storage option, ``wsus_stagger_plan``'s sync
durations) read them there instead of connecting to every other server again: this module turns them
back into the typed ``Facts`` the library's fleet functions take, strictly, field by field, so
facts of another shape (another wsusauto version, a value a user overrode) are one clear error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Mapping
from typing import Any

from wsusauto.errors import UsageError
from wsusauto.state.facts import Facts

FACTS_VAR = "wsus_facts"  # the fact wsus_facts sets


def facts_from_vars(host: str, value: Any) -> Facts:
    """The ``Facts`` of ``host`` from its ``wsus_facts`` value (or a ``Facts`` as it is)."""
    if isinstance(value, Facts):
        return value
    result = _convert(Facts, value, f"hostvars of {host}: {FACTS_VAR}")
    assert isinstance(result, Facts)
    return result


class _Mismatch(Exception):
    pass


def _convert(kind: Any, value: Any, path: str) -> Any:
    try:
        return _value(kind, value, path)
    except _Mismatch as exc:
        raise UsageError(
            f"{exc}; these facts are not the shape this wsusauto's wsus_facts returns: run wsus_facts "
            "again (with this version of the collection) before this task"
        ) from None


def _value(kind: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(kind)
    arguments = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        options = [a for a in arguments if a is not type(None)]
        if len(options) != 1:  # Facts has only Optional unions; anything else is a programming error
            raise TypeError(f"{path}: cannot read a value of type {kind}")
        return _value(options[0], value, path)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _dataclass(kind, value, path)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _Mismatch(f"{path} is {value!r}, not a list")
        return tuple(_value(arguments[0], item, f"{path}[{i}]") for i, item in enumerate(value))
    if origin in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise _Mismatch(f"{path} is {value!r}, not a mapping")
        return {str(k): _value(arguments[1], v, f"{path}.{k}") for k, v in value.items()}
    if kind is dt.datetime:
        return _moment(value, path)
    if kind is dt.time:
        return _time_of_day(value, path)
    if kind is bool:
        if not isinstance(value, bool):
            raise _Mismatch(f"{path} is {value!r}, not true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Mismatch(f"{path} is {value!r}, not a whole number")
        return int(value)
    if kind is str:
        if not isinstance(value, str):
            raise _Mismatch(f"{path} is {value!r}, not text")
        return str(value)
    raise TypeError(f"{path}: cannot read a value of type {kind}")


def _dataclass(kind: type, value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise _Mismatch(f"{path} is {value!r}, not a mapping")
    hints = typing.get_type_hints(kind)
    given = {}
    for field in dataclasses.fields(kind):
        if field.name not in value:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise _Mismatch(f"{path} has no {field.name}")
            continue
        given[field.name] = _value(hints[field.name], value[field.name], f"{path}.{field.name}")
    return kind(**given)


def _moment(value: Any, path: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _Mismatch(f"{path} is {value!r}, not an ISO-8601 date and time") from None
    else:
        raise _Mismatch(f"{path} is {value!r}, not a date and time")
    if moment.tzinfo is None:
        raise _Mismatch(f"{path} is {value!r}, a date and time without its zone (facts are UTC)")
    return moment.astimezone(dt.timezone.utc)


def _time_of_day(value: Any, path: str) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    raise _Mismatch(f"{path} is {value!r}, not a time of day HH:MM:SS")
