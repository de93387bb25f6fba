"""Ansible's values as Python's own types, before wsusauto sees them.

ansible-core 2.19 hands action plugins tagged values (data tagging): a templated ``"{{ port }}"``
arrives as an ``int`` subclass that carries where it came from, a string as a ``str`` subclass. They
compare and format like the plain values, but code below wsusauto that checks exact types or
serializes them (pypsrp's CLIXML) fails on them. ``native`` copies task arguments and connection
vars into exact ``str``, ``int``, ``float``, ``list``, ``dict`` first; anything else (a ``Secret``,
None, a bool: bool has no subclasses) is kept as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def native(value: Any) -> Any:
    """``value`` with every str, int, float, list, tuple and mapping inside it as the exact type."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # the exact str (a subclass's own __str__ is not asked)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Mapping):
        return {native(k): native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [native(v) for v in value]
    if isinstance(value, tuple):
        return tuple(native(v) for v in value)
    return value


__all__ = ["native"]
