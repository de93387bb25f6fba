"""A snippet's output as CLIXML, written directly: the same bytes psrpcore writes, a fraction of the CPU.

Every lab snippet returns one hashtable of plain values (a facts table has about 40 entries).
psrpcore serializes it by first building its .NET object model (a PSObject per value, type tables,
property descriptors), which made serializing the output the largest single cost of a pipeline in
the lab. ``plain_clixml`` writes the element tree for plain values itself (None, bool, int, float,
str, datetime, dict as Hashtable, list as ArrayList) with psrpcore's own escaping and date format,
and returns None for anything else, which then goes through psrpcore as before.
``tests/unit/test_lab_clixml_out.py`` checks the bytes against psrpcore on generated values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psrpcore.types._serializer import (
    _STRING_SERIAL_ESCAPE,
    _STRING_SERIAL_ESCAPE_ESCAPE,
    _serialize_datetime,
    _serialize_string,
)

_I32_MAX = 2**31 - 1
_TYPE_NAMES: dict[type, tuple[str, str]] = {
    dict: ("System.Collections.Hashtable", "System.Object"),
    list: ("System.Collections.ArrayList", "System.Object"),
    tuple: ("System.Collections.ArrayList", "System.Object"),
}


class _NotPlain(Exception):
    pass


def _clixml_string(value: str) -> str:
    """psrpcore's string escaping (_x000A_ and so on), skipped for the usual string that needs none."""
    if _STRING_SERIAL_ESCAPE.search(value) or _STRING_SERIAL_ESCAPE_ESCAPE.search(value):
        return _serialize_string(value)
    return value


def _escape(text: str) -> str:
    # ElementTree's escaping of element text (_escape_cdata): only these three.
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


class _Writer:
    """One value's CLIXML text, as ElementTree would write psrpcore's element tree: objects
    numbered (RefId) in the order they are opened, type-name lists (TN RefId) in the order first
    seen and TNRef after that, empty elements written short (``<Nil />``)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.objects = 0
        self.type_lists: dict[tuple[str, str], int] = {}

    def write(self, value: Any, name: str | None = None) -> None:
        kind = type(value)
        if kind in _TYPE_NAMES:
            self._collection(value, kind, name)
            return
        named = f' N="{name}"' if name is not None else ""
        if value is None:
            self.parts.append(f"<Nil{named} />")
            return
        if kind is bool:
            tag, text = "B", ("true" if value else "false")
        elif kind is int:
            tag, text = ("I64" if value > _I32_MAX else "I32"), str(value)
        elif kind is float:
            tag, text = "Db", str(value).upper()  # psrpcore's "1E-07", "INF", "NAN"
        elif kind is str:
            tag, text = "S", _escape(_clixml_string(value))
        elif kind is dt.datetime:
            # Output without a zone is UTC in the lab (shells.to_ps), as psrpcore is given it.
            when = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
            tag, text = "DT", _escape(_serialize_datetime(when))
        else:
            raise _NotPlain(kind.__name__)
        self.parts.append(f"<{tag}{named}>{text}</{tag}>" if text else f"<{tag}{named} />")

    def _collection(self, value: Any, kind: type, name: str | None) -> None:
        named = f' N="{name}"' if name is not None else ""
        self.parts.append(f'<Obj RefId="{self.objects}"{named}>')
        self.objects += 1
        names = _TYPE_NAMES[kind]
        known = self.type_lists.get(names)
        if known is None:
            known = self.type_lists[names] = len(self.type_lists)
            self.parts.append(f'<TN RefId="{known}"><T>{names[0]}</T><T>{names[1]}</T></TN>')
        else:
            self.parts.append(f'<TNRef RefId="{known}" />')
        if kind is dict:
            # Keys are written as strings, so keys that only differ in type (True and "True", 1 and "1")
            # are one Hashtable key: its first place, its last value, as psrpcore is given it (to_ps).
            value = {str(key): item for key, item in value.items()}
            if not value:
                self.parts.append("<DCT /></Obj>")
                return
            self.parts.append("<DCT>")
            for key, item in value.items():
                self.parts.append("<En>")
                self.write(key, "Key")
                self.write(item, "Value")
                self.parts.append("</En>")
            self.parts.append("</DCT></Obj>")
        else:
            if not value:
                self.parts.append("<LST /></Obj>")
                return
            self.parts.append("<LST>")
            for item in value:
                self.write(item)
            self.parts.append("</LST></Obj>")


def plain_clixml(value: Any) -> bytes | None:
    """The CLIXML psrpcore would write for this plain value, or None if it holds anything else."""
    writer = _Writer()
    try:
        writer.write(value)
    except _NotPlain:
        return None
    # ElementTree writes UTF-8 with xmlcharrefreplace: a lone surrogate becomes a character reference.
    return "".join(writer.parts).encode("utf-8", "xmlcharrefreplace")
