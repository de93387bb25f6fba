"""The lab reads request headers as http.client and the email package would have: the same value
for every name, in any case, and the same limits."""

from __future__ import annotations

import http.client
import importlib.util
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsusauto.lab.wsman.server import _HeadersTooLarge, read_headers


def _fresh_standard_http_client():
    """http.client loaded anew from the standard library's source: once a Session exists,
    ``http.client.parse_headers`` is wsusauto's own parser (wsusauto.client.http_headers.install), which
    must not be the reference the lab's reader is compared with."""
    spec = importlib.util.spec_from_file_location("_standard_http_client", http.client.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STANDARD = _fresh_standard_http_client()

names = st.sampled_from(
    ["Host", "Content-Length", "Content-Type", "Authorization", "Connection", "Expect", "User-Agent", "X-a"]
)
values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
)
header_lists = st.lists(st.tuples(names, values), max_size=12)
odd_lines = st.sampled_from(
    ["no colon here", " Host: folded", "\tmore", "Bad Name : x", "Host : x", ": no name", "From x: y", "é: x"]
)


def block(headers: list[tuple[str, str]], end: bytes = b"\r\n") -> bytes:
    return b"".join(f"{n}: {v}".encode("latin-1") + b"\r\n" for n, v in headers) + end + b"body"


@settings(max_examples=300, deadline=None)
@given(header_lists, st.sampled_from([b"\r\n", b"\n", b""]))
def test_every_header_reads_as_with_http_client(headers: list[tuple[str, str]], end: bytes) -> None:
    ours, theirs = io.BytesIO(block(headers, end)), io.BytesIO(block(headers, end))
    read, parsed = read_headers(ours), STANDARD.parse_headers(theirs)
    for name in {n for n, _ in headers} | {"Missing"}:
        for spelled in (name, name.lower(), name.upper()):
            assert read.get(spelled, "-") == parsed.get(spelled, "-")
    assert ours.tell() == theirs.tell()  # the body starts where http.client would start it


def test_too_many_or_too_long_headers_are_refused_as_http_client_refuses_them() -> None:
    many = [("X-a", "1")] * 101
    with pytest.raises(_HeadersTooLarge):
        read_headers(io.BytesIO(block(many)))
    with pytest.raises(STANDARD.HTTPException, match="got more than 100 headers"):
        STANDARD.parse_headers(io.BytesIO(block(many)))
    assert read_headers(io.BytesIO(block(many[:100]))).get("x-a") == "1"
    long = [("X-a", "v" * 65536)]
    with pytest.raises(_HeadersTooLarge):
        read_headers(io.BytesIO(block(long)))
    with pytest.raises(STANDARD.LineTooLong):
        STANDARD.parse_headers(io.BytesIO(block(long)))


@settings(max_examples=200, deadline=None)
@given(header_lists, odd_lines, header_lists)
def test_a_malformed_line_is_read_as_by_the_email_package(before, odd, after) -> None:
    text = block(before, b"")[:-4] + odd.encode() + b"\r\n" + block(after)
    read, parsed = read_headers(io.BytesIO(text)), STANDARD.parse_headers(io.BytesIO(text))
    for name in {n for n, _ in before + after}:
        assert read.get(name, "-") == parsed.get(name, "-")
