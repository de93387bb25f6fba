"""The lean CLIXML reader gives exactly what pypsrp's own Serializer gives, on CLIXML written by
psrpcore (the serializer the lab answers with, and the format Windows PowerShell writes)."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import psrpcore.types as ps
from hypothesis import given, settings
from hypothesis import strategies as st
from pypsrp.complex_objects import GenericComplexObject
from pypsrp.powershell import RunspacePool
from pypsrp.serializer import Serializer
from pypsrp.wsman import WSMan

from wsusauto.client.clixml import LeanSerializer, use_lean_serializer

# Every character XML 1.0 can carry or PowerShell escapes as _xHHHH_ (control characters), plus
# text that looks like an escape already.
strings = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30),
    st.sampled_from(["_x000A_", "a_x005F_b", "_x", "x_", "_X000a_", ""]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    strings.map(ps.PSString),
    st.integers(-(2**31), 2**31 - 1).map(ps.PSInt),
    st.integers(-(2**63), 2**63 - 1).map(ps.PSInt64),
    st.integers(0, 2**32 - 1).map(ps.PSUInt),
    st.integers(0, 2**64 - 1).map(ps.PSUInt64),
    st.integers(-(2**15), 2**15 - 1).map(ps.PSInt16),
    st.integers(0, 2**16 - 1).map(ps.PSUInt16),
    st.integers(0, 255).map(ps.PSByte),
    st.integers(-128, 127).map(ps.PSSByte),
    st.floats(allow_nan=False).map(ps.PSDouble),
    st.floats(width=32, allow_nan=False).map(ps.PSSingle),
    st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 9999)).map(
        lambda v: ps.PSVersion(f"{v[0]}.{v[1]}.{v[2]}")
    ),
    st.uuids().map(ps.PSGuid),
    st.datetimes().map(ps.PSDateTime),
)
keys = strings.map(ps.PSString)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5).map(ps.PSList),
        st.dictionaries(keys, inner, max_size=5),
    ),
    max_leaves=25,
)


def clixml(value: object) -> str:
    return ET.tostring(ps.serialize(value, None), encoding="unicode")


def both(text: str) -> tuple[object, object]:
    return Serializer().deserialize(text), LeanSerializer().deserialize(text)


@settings(max_examples=300, deadline=None)
@given(values)
def test_lean_reads_every_value_as_pypsrp_does(value):
    stock, lean = both(clixml(value))
    assert lean == stock
    assert type(lean) is type(stock)


def test_references_to_an_object_already_read_resolve_alike():
    # PowerShell writes an object met twice once, then <Ref>; a type list met twice, then <TNRef>.
    # psrpcore never writes <Ref>, so this is PowerShell's form, by hand.
    text = (
        '<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN><DCT>'
        '<En><S N="Key">first</S><Obj RefId="1" N="Value"><TN RefId="1"><T>System.Collections.ArrayList</T>'
        "<T>System.Object</T></TN><LST><S>same</S></LST></Obj></En>"
        '<En><S N="Key">second</S><Ref RefId="1" N="Value" /></En>'
        '<En><S N="Key">inner</S><Obj RefId="2" N="Value"><TNRef RefId="0" /><DCT>'
        '<En><S N="Key">a</S><I32 N="Value">1</I32></En></DCT></Obj></En>'
        "</DCT></Obj>"
    )
    stock, lean = both(text)
    assert lean == stock == {"first": ["same"], "second": ["same"], "inner": {"a": 1}}


def test_other_objects_are_left_to_pypsrp():
    custom = ps.PSCustomObject(Name="wsus-eu", Port=ps.PSInt(8530))
    stock, lean = both(clixml(custom))
    assert isinstance(lean, GenericComplexObject)
    assert (lean.types, lean.adapted_properties, lean.extended_properties, lean.to_string) == (
        stock.types,
        stock.adapted_properties,
        stock.extended_properties,
        stock.to_string,
    )
    assert lean.extended_properties == {"Name": "wsus-eu", "Port": 8530}


def test_strings_with_escapes_are_unescaped():
    text = clixml(ps.PSString("line\nnext\t_x000A_ literal"))
    assert "_x000A_" in text and "_x005F_" in text
    assert LeanSerializer().deserialize(text) == "line\nnext\t_x000A_ literal"


def test_a_runspace_pool_gets_one_lean_serializer_shared_with_its_fragmenter():
    pool = RunspacePool(WSMan("127.0.0.1", username="lab", password="x", ssl=False, auth="ntlm"))
    use_lean_serializer(pool)
    assert type(pool._serializer) is LeanSerializer
    assert pool._fragmenter.serializer is pool._serializer


def test_an_unknown_pool_layout_is_left_alone():
    class OtherPool:
        _serializer = object()

    pool = OtherPool()
    use_lean_serializer(pool)
    assert type(pool._serializer) is object


def test_uuid_keys_and_values_stay_uuids():
    guid = uuid.uuid4()
    stock, lean = both(clixml({"id": ps.PSGuid(guid)}))
    assert lean == stock == {"id": guid}


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=st.characters(), max_size=40),  # lone surrogates, controls, beyond the BMP
        st.sampled_from(["", "_x", "_X000A_", "line\r\nnext\tend", "\x00\x1f\x7f\x85\x9f\xa0", "a😀b"]),
        st.none(),
    )
)
def test_strings_are_escaped_exactly_as_pypsrp_escapes_them(value) -> None:
    assert LeanSerializer()._serialize_string(value) == Serializer()._serialize_string(value)


def test_a_snippet_text_is_escaped_as_clixml_wants() -> None:
    text = "param([string]$Name)\r\n$x_x = 1\n\t# snippet's comment\n"
    escaped = LeanSerializer()._serialize_string(text)
    assert escaped == Serializer()._serialize_string(text)
    assert (
        escaped == "param([string]$Name)_x000D__x000A_$x_x005F_x = 1_x000A__x0009_# snippet's comment_x000A_"
    )


def test_hashtable_entries_are_matched_by_name_as_pypsrp_matches_them() -> None:
    # Entries out of order, a repeated Key (the first counts), extra children: pypsrp's find().
    text = (
        '<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN><DCT>'
        '<En><S N="Value">v1</S><S N="Key">k1</S></En>'
        '<En><S N="Key">k2</S><S N="Key">ignored</S><I32 N="Other">5</I32><I32 N="Value">2</I32></En>'
        "</DCT></Obj>"
    )
    ours, theirs = LeanSerializer().deserialize(text), Serializer().deserialize(text)
    assert ours == theirs == {"k1": "v1", "k2": 2}
