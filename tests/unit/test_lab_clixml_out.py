"""The lab writes a snippet's plain output as exactly the CLIXML psrpcore writes for it, and the
PSRP message it queues is byte for byte the one psrpcore's own path queues."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
import xml.etree.ElementTree as ET

from hypothesis import example, given, settings
from hypothesis import strategies as st
from psrpcore import ServerRunspacePool, StreamType
from psrpcore.types import PSRPMessageType, serialize

from wsusauto.lab.wsman.clixml_out import plain_clixml
from wsusauto.lab.wsman.shells import PlainOutput, _LabRunspacePool, to_ps


def psrpcore_clixml(value: object) -> bytes:
    return ET.tostring(serialize(to_ps(value), None), encoding="utf-8", method="xml")


texts = st.one_of(
    st.text(max_size=20),  # any code point but lone surrogates: controls, astral, <, &, >
    st.sampled_from(["", "_x000A_", "a_X005f_b", "_x", "line\r\nnext\t", "<&>\"'", "\ud800", "a\udfffb"]),
)
zones = st.sampled_from([None, dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30))])
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, -(2**63)]),  # I32/I64 edges
    st.floats(),  # nan and infinities included
    texts,
    st.builds(lambda when, zone: when.replace(tzinfo=zone), st.datetimes(), zones),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(texts, st.integers(), st.booleans()), inner, max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(values)
# Keys that are equal as strings are one Hashtable key (first place, last value), not two entries.
@example({"True": None, True: None})
@example({1: "a", "1": "b", "x": 0})
@example({"1": "b", 1: "a"})
def test_plain_values_give_psrpcore_bytes(value: object) -> None:
    assert plain_clixml(value) == psrpcore_clixml(value)


def test_a_facts_like_table() -> None:
    facts = {
        "ServerName": "wsus-01",
        "PortNumber": 8530,
        "UseSecureConnection": False,
        "UpstreamServerName": None,
        "LastSynchronizationTime": dt.datetime(2026, 11, 24, 3, 0, 12, 345678),
        "Progress": {"TotalItems": 120, "ProcessedItems": 0, "Phase": "NotProcessing"},
        "Languages": ["en", "de"],
        "Ratio": 0.5,
        "Empty": {},
        "Nothing": [],
    }
    assert plain_clixml(facts) == psrpcore_clixml(facts)


def test_anything_else_is_left_to_psrpcore() -> None:
    for value in (uuid.uuid4(), b"bytes", decimal.Decimal("1.5"), dt.timedelta(seconds=1), {"a": [object()]}):
        assert plain_clixml(value) is None


def _queued(pool: ServerRunspacePool, message: object) -> bytes:
    pipeline_id = uuid.UUID(int=7)
    pool.prepare_message(message, PSRPMessageType.PipelineOutput, pipeline_id, StreamType.default)
    queued = pool._send_buffer[-1]
    assert (queued.message_type, queued.pipeline_id, queued.stream_type) == (
        PSRPMessageType.PipelineOutput,
        pipeline_id,
        StreamType.default,
    )
    return bytes(queued.data)


def test_the_queued_psrp_message_is_psrpcores() -> None:
    value = {"name": "wsus-01", "ids": [1, 2**40], "when": dt.datetime(2026, 1, 2, 3, 4, 5)}
    lab, stock = _LabRunspacePool(), ServerRunspacePool()
    lab.runspace_pool_id = stock.runspace_pool_id  # the message header carries it
    assert _queued(lab, PlainOutput(value)) == _queued(stock, to_ps(value))
    # A value the direct writer does not know goes through psrpcore in the lab pool too.
    odd = {"id": uuid.UUID(int=1)}
    assert _queued(lab, PlainOutput(odd)) == _queued(stock, to_ps(odd))
