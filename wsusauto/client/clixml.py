"""A faster CLIXML reader for pypsrp, and faster string escaping: the same results.

pypsrp 0.9's ``Serializer.deserialize`` turns each element it is handed back into XML text
(``ET.tostring``) before looking at its tag, in case the object turns out to be an unknown type,
and for every object builds a table of some 60 type descriptions to find out which it is. Every
key and value of a hashtable goes through it, so the facts of one server (a hashtable of about 40
entries) cost some 200 ``tostring`` calls: about a third of the client's CPU per host.
``LeanSerializer`` reads primitive values, hashtables and array lists itself, exactly as pypsrp
does, and hands everything else to pypsrp unchanged; ``tests/unit/test_clixml.py`` checks the two
agree on generated nested values of every primitive type (escaped strings included), on
references, and on the objects left to pypsrp. It also escapes the strings it sends (the snippet's
text, mostly) a control character at a time instead of a Python callback per occurrence, checked
against pypsrp on generated text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from pypsrp.complex_objects import ListMeta, ObjectMeta
from pypsrp.serializer import Serializer


def _integer(element: ET.Element) -> int:
    return int(element.text)  # type: ignore[arg-type]  # pypsrp does the same (and fails the same)


def _floating(element: ET.Element) -> float:
    return float(element.text)  # type: ignore[arg-type]  # as _integer: pypsrp's own conversion


def _text(element: ET.Element) -> str | None:
    return element.text


# pypsrp's conversions for these tags (serializer.py, Serializer.deserialize); the rest, strings
# included, are handled by LeanSerializer's methods or by pypsrp.
_CONVERSIONS: dict[str, Callable[[ET.Element], Any]] = {
    # an empty <B /> fails as in pypsrp (no text to lower)
    "B": lambda element: element.text.lower() == "true",  # type: ignore[union-attr]
    "By": _integer,
    "SB": _integer,
    "U16": _integer,
    "I16": _integer,
    "U32": _integer,
    "I32": _integer,
    "U64": _integer,
    "I64": _integer,
    "Sg": _floating,
    "Db": _floating,
    "DT": _text,
    "TS": _text,
    "Nil": lambda element: None,
    "Version": _text,
}
_STRING_TAGS = frozenset({"S", "ToString"})


# pypsrp's string escaping (Serializer._serialize_string): "_x" becomes "_x005F_x" first, then each
# C0 and C1 control character its UTF-16 code as _xHHHH_, through a Python callback per character;
# a script of a few hundred lines has a few hundred newlines. Here each control character present
# (newline, carriage return, tab, mostly) is replaced in one pass. Characters beyond the BMP
# (escaped as two UTF-16 surrogates) are left to pypsrp.
_UNDERSCORE_X = re.compile("(?i)_(x)")
_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _plain(metadata: ObjectMeta | None) -> bool:
    """No type asked for: pypsrp then goes by the object's own type names."""
    return metadata is None or (type(metadata) is ObjectMeta and metadata.object is None)


class LeanSerializer(Serializer):
    def deserialize(
        self, element: ET.Element | str, metadata: ObjectMeta | None = None, clear: bool = True
    ) -> Any:
        if isinstance(element, str):
            return super().deserialize(element, metadata, clear)
        if metadata is not None and metadata.tag == "*":
            # pypsrp names the caller's wildcard metadata after the first element it reads with it,
            # and the entries of a list share one: after a primitive, a later type-less <Obj> of
            # that list is no object to pypsrp and comes back as its XML text (the WriteProgress
            # host call: <I64> source id, then the type-less ProgressRecord). Kept, to read alike.
            metadata.tag = element.tag
        convert = _CONVERSIONS.get(element.tag)
        if convert is not None or element.tag in _STRING_TAGS:
            if clear:
                self._clear()
            return convert(element) if convert is not None else self._deserialize_string(element.text)
        if element.tag == "Obj" and _plain(metadata):
            collection = self._deserialize_collection(element, clear)
            if collection is not None:
                return collection
        return super().deserialize(element, metadata, clear)

    def _deserialize_collection(self, element: ET.Element, clear: bool) -> list[Any] | dict[Any, Any] | None:
        """A Hashtable or an ArrayList, read as pypsrp reads them when its type list starts with
        that type (it builds a table of some 60 type descriptions on every call to find out);
        None for any other object."""
        if clear:
            self._clear()
        types = self._get_types_from_obj(element)  # also records the type names for later TNRefs
        first = types[0] if types else None
        collection: list[Any] | dict[Any, Any]
        if first == "System.Collections.Hashtable":
            collection = self._deserialize_dct(element)
        elif first == "System.Collections.ArrayList":
            collection = self._deserialize_lst(element, ListMeta())
        else:
            return None
        self.obj[element.attrib["RefId"]] = collection
        return collection

    def _deserialize_dct(self, element: ET.Element) -> dict[Any, Any]:
        """pypsrp's, finding each entry's Key and Value by a look at its children instead of an
        ElementPath query apiece (``find("*[@N='Key']")``: the first child so named)."""
        dictionary = {}
        for entry in element.findall("DCT/En"):
            key = value = None
            for child in entry:
                name = child.get("N")
                if name == "Key" and key is None:
                    key = child
                elif name == "Value" and value is None:
                    value = child
            key = self.deserialize(key if key is not None else "", clear=False)
            value = self.deserialize(value if value is not None else "", clear=False)
            dictionary[key] = value
        return dictionary

    def _serialize_string(self, value: Any) -> str | None:
        if type(value) is not str or _BEYOND_BMP.search(value):
            return super()._serialize_string(value)
        escaped = _UNDERSCORE_X.sub("_x005F_\\1", value)
        for control in set(_CONTROL.findall(escaped)):
            escaped = escaped.replace(control, f"_x{ord(control):04X}_")
        return escaped

    def _deserialize_string(self, value: str | None) -> str:
        # pypsrp re-encodes every string as UTF-16 to undo _xHHHH_ escapes; most strings have none.
        if value is not None and "_x" not in value:
            return value
        return super()._deserialize_string(value)


def use_lean_serializer(pool: Any) -> None:
    """Give a pypsrp RunspacePool (not yet opened) the lean serializer. pypsrp keeps one serializer
    per pool, shared by its fragmenter; both references are replaced. A pypsrp laid out otherwise
    keeps its own serializer: slower, never wrong."""
    fragmenter = getattr(pool, "_fragmenter", None)
    if type(getattr(pool, "_serializer", None)) is not Serializer or fragmenter is None:
        return
    serializer = LeanSerializer()
    pool._serializer = serializer
    fragmenter.serializer = serializer
