"""Conversion between psrpcore's PowerShell types and the plain Python values handlers see."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any

from psrpcore.types import (
    PSByteArray,
    PSChar,
    PSDateTime,
    PSDecimal,
    PSDict,
    PSDouble,
    PSGuid,
    PSInt,
    PSInt64,
    PSList,
    PSObject,
    PSSecureString,
    PSString,
    PSUInt64,
)

from wsusauto.lab.invocation import SecureValue

_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_U64_MAX = 2**64 - 1


def to_python(value: Any) -> Any:
    """A psrpcore value (as deserialized from the client) as a plain Python value."""
    if value is None:
        return None
    if isinstance(value, PSSecureString):
        return SecureValue(str(value.decrypt()))
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, PSChar):
        return chr(int(value))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value if isinstance(value.value, (int, str)) else str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, decimal.Decimal):
        return decimal.Decimal(value)
    if isinstance(value, dt.datetime):
        return dt.datetime(
            value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond,
            tzinfo=value.tzinfo,
        )
    if isinstance(value, uuid.UUID):
        return uuid.UUID(int=value.int)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, dict):
        return {to_python(k): to_python(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_python(v) for v in value]
    if isinstance(value, PSObject):
        props: dict[str, Any] = {}
        meta = value.PSObject
        for prop in list(meta.adapted_properties) + list(meta.extended_properties):
            try:
                props[prop.name] = to_python(prop.get_value(value))
            except Exception:  # a property that cannot be read is left out
                continue
        return props
    return value


def to_ps(value: Any) -> Any:
    """A plain Python value (as returned by a handler) as the psrpcore value to serialize."""
    if value is None:
        return None
    if isinstance(value, SecureValue):
        return PSSecureString(value.reveal())
    if isinstance(value, PSObject):
        return value  # already a PowerShell object: the handler knows best
    if isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):
        return to_ps(value.value)
    if isinstance(value, int):
        if _I32_MIN <= value <= _I32_MAX:
            return PSInt(value)
        if _I64_MIN <= value <= _I64_MAX:
            return PSInt64(value)
        if 0 <= value <= _U64_MAX:
            return PSUInt64(value)
        return PSDecimal(value)
    if isinstance(value, float):
        return PSDouble(value)
    if isinstance(value, decimal.Decimal):
        return PSDecimal(value)
    if isinstance(value, str):
        return PSString(value)
    if isinstance(value, dt.datetime):
        return PSDateTime(
            value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond,
            tzinfo=value.tzinfo or dt.timezone.utc,
        )
    if isinstance(value, dt.date):
        return PSDateTime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    if isinstance(value, uuid.UUID):
        return PSGuid(int=value.int)
    if isinstance(value, (bytes, bytearray)):
        return PSByteArray(bytes(value))
    if isinstance(value, dict):
        return PSDict({to_ps(k): to_ps(v) for k, v in value.items()})
    if isinstance(value, (list, tuple, set, frozenset)):
        return PSList([to_ps(v) for v in value])
    return PSString(str(value))
