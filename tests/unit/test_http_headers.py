"""wsusauto's parse_headers builds the very message http.client's own does, on generated header
blocks (plain, folded, malformed, multipart, odd line endings), with the same limits."""

from __future__ import annotations

import http.client
import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wsusauto.client import http_headers
from wsusauto.client.http_headers import parse_headers, same_message

ORIGINAL = http_headers._original

names = st.one_of(
    st.sampled_from(["Server", "Content-Length", "Content-Type", "WWW-Authenticate", "From", "X-a", "x_b"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=8),  # spaces, ':' too
)
values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x00, max_codepoint=0xFF), max_size=30),  # \r, \x85 ...
    st.sampled_from(
        [
            'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";'
            'boundary="Encrypted Boundary"',
            "multipart/x-multi-encrypted;boundary=b",
            "multipart/mixed",
            "message/rfc822",
            "application/soap+xml;charset=UTF-8",
            "Negotiate TlRMTVNTUAACAAAA",
            "  padded  ",
            "",
        ]
    ),
)
lines = st.one_of(
    st.tuples(names, values).map(lambda nv: f"{nv[0]}:{nv[1]}"),
    st.tuples(names, values).map(lambda nv: f"{nv[0]}: {nv[1]}"),
    st.sampled_from([" folded", "\tfolded", "From somebody", "no colon"]),
)
endings = st.sampled_from(["\r\n", "\n"])


def block(header_lines: list[str], ending: str, end: str) -> bytes:
    return ("".join(line + ending for line in header_lines) + end).encode("latin-1") + b"<body>"


@settings(max_examples=1500, deadline=None)
@given(st.lists(lines, max_size=8), endings, st.sampled_from(["\r\n", "\n", ""]))
@example(["Content-Type: message/rfc822"], "\r\n", "\r\n")
@example(["Content-Type: multipart/mixed"], "\r\n", "\r\n")
@example(['Content-Type: multipart/encrypted;boundary="Encrypted Boundary"', "Server: x"], "\r\n", "\r\n")
@example(["From somebody", "Server: x"], "\r\n", "\r\n")
@example(["Server: x", " folded"], "\n", "\n")
@example(["Server: x\x85y", "A: b\rC: d"], "\r\n", "\r\n")
def test_the_same_message_as_http_client(header_lines: list[str], ending: str, end: str) -> None:
    raw = block(header_lines, ending, end)
    ours, theirs = io.BytesIO(raw), io.BytesIO(raw)
    try:
        expected = ORIGINAL(theirs)
    except ValueError:  # a line that splits into odd pieces can still parse: compare errors too
        with pytest.raises(ValueError):
            parse_headers(ours)
        return
    assert same_message(parse_headers(ours), expected)
    assert ours.tell() == theirs.tell()  # the body starts where http.client would start it


def test_the_responses_winrm_sends_take_the_fast_path() -> None:
    for raw in http_headers._SELF_CHECK:
        text = raw.decode("latin-1").splitlines(keepends=True)
        assert http_headers._plain_message(text, http.client.HTTPMessage) is not None
        assert same_message(parse_headers(io.BytesIO(raw)), ORIGINAL(io.BytesIO(raw)))


def test_limits_and_errors_are_http_clients() -> None:
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n"
    with pytest.raises(http.client.HTTPException, match="got more than 100 headers"):
        parse_headers(io.BytesIO(many))
    with pytest.raises(http.client.LineTooLong):
        parse_headers(io.BytesIO(b"X-a: " + b"v" * 65536 + b"\r\n\r\n"))


def test_install_replaces_the_parser_once_and_leaves_a_foreign_one_alone(monkeypatch) -> None:
    monkeypatch.setattr(http.client, "parse_headers", ORIGINAL)
    assert http_headers.install() is True
    assert http.client.parse_headers is parse_headers
    assert http_headers.install() is True  # idempotent
    foreign = lambda fp, _class=http.client.HTTPMessage: ORIGINAL(fp, _class)  # noqa: E731
    monkeypatch.setattr(http.client, "parse_headers", foreign)
    assert http_headers.install() is False
    assert http.client.parse_headers is foreign


def test_install_refuses_when_this_python_parses_differently(monkeypatch) -> None:
    monkeypatch.setattr(http.client, "parse_headers", ORIGINAL)
    monkeypatch.setattr(http_headers, "_SELF_CHECK", [b"Content-Type: multipart/mixed; boundary=x\r\n\r\n"])
    real = http_headers._plain_message

    def wrong(lines, message_class):  # as if the feed parser recorded other defects here
        message = real(lines, message_class)
        message.defects.clear()
        return message

    monkeypatch.setattr(http_headers, "_plain_message", wrong)
    http_headers.agrees_with_this_python.cache_clear()  # checked again, with the shapes above
    try:
        assert http_headers.install() is False
        assert http.client.parse_headers is ORIGINAL
    finally:
        http_headers.agrees_with_this_python.cache_clear()  # not this test's answer for the next
