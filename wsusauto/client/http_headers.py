"""HTTP response headers parsed as http.client parses them, without the email package's parser.

Every WinRM response's headers go through ``http.client.parse_headers``, which hands them to the
email package's feed parser: about a tenth of the client's CPU per host, for five to eight short
header lines. ``parse_headers`` here reads the lines with the same limits and errors, builds the
same ``HTTPMessage`` for plain ``Name: value`` lines (the message WinRM's HTTP.sys sends), and
gives anything else to the email package as before: folded or malformed lines, a header block
the email package would flag, a ``message/*`` type, a ``multipart/*`` type without a boundary.

``install()`` replaces ``http.client.parse_headers`` for the process only after checking, on this
Python, that both parsers give identical messages for the shapes the fast path builds;
``tests/unit/test_http_headers.py`` compares them on generated header blocks.
"""

from __future__ import annotations

import email.errors
import email.message
import email.parser
import functools
import http.client
import io
import re
import threading
from typing import Any

# A field name as the email package accepts it (any visible ASCII but the colon), and a value
# that has no CR or LF of its own; the line ends with CRLF or LF.
_PLAIN_LINE = re.compile(r"([\x21-\x39\x3b-\x7e]+):[ \t]*([^\r\n]*)\r?\n\Z")
_END = (b"\r\n", b"\n", b"")
_original = http.client.parse_headers
_install_lock = threading.Lock()
# http.client's own limits, private there and absent from typeshed's stub: the same numbers here
# keep the same errors.
_MAXLINE: int = http.client._MAXLINE  # type: ignore[attr-defined]
_MAXHEADERS: int = http.client._MAXHEADERS  # type: ignore[attr-defined]


def _read_lines(fp: Any) -> list[bytes]:
    """The header lines, the blank line included: http.client's limits and errors."""
    lines = []
    while True:
        line = fp.readline(_MAXLINE + 1)
        if len(line) > _MAXLINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > _MAXHEADERS:
            raise http.client.HTTPException(f"got more than {_MAXHEADERS} headers")
        if line in _END:
            return lines


@functools.lru_cache(maxsize=64)
def _content_kind(content_type: str | None) -> tuple[str, bool]:
    """The main type and whether a boundary is given, as the feed parser reads them from the
    message's (first) Content-Type; a server sends the same one or two values every time."""
    scratch = email.message.Message()
    if content_type is not None:
        scratch["Content-Type"] = content_type
    return scratch.get_content_maintype(), scratch.get_boundary() is not None


def _plain_message(lines: list[str], message_class: type) -> Any:
    """The message the email package would build from these lines, or None if they are not plain."""
    if lines[-1] not in ("\r\n", "\n"):
        return None  # the block ended at EOF without its blank line: left to the email package
    message = message_class()
    for line in lines[:-1]:
        match = _PLAIN_LINE.match(line)
        if match is None:  # also a "From " envelope line: its space comes before any colon
            return None
        message.set_raw(match[1], match[2])
    maintype, has_boundary = _content_kind(message.get("content-type"))
    if maintype == "message":
        return None
    message.set_payload("")
    if maintype == "multipart":
        if not has_boundary:
            return None
        # An empty body where parts were announced: what the feed parser records (urllib3 ignores
        # exactly these two, https://github.com/urllib3/urllib3/issues/800).
        message.epilogue = ""
        message.defects.extend(
            [email.errors.StartBoundaryNotFoundDefect(), email.errors.MultipartInvariantViolationDefect()]
        )
    return message


def parse_headers(fp: Any, _class: type = http.client.HTTPMessage) -> Any:
    """``http.client.parse_headers``, the same result."""
    lines = [line.decode("iso-8859-1") for line in _read_lines(fp)]
    message = _plain_message(lines, _class) if _class is http.client.HTTPMessage else None
    if message is None:
        message = email.parser.Parser(_class=_class).parsestr("".join(lines))
    return message


def same_message(one: Any, other: Any) -> bool:
    """Two parsed messages alike in everything the parser sets (defects compared by kind)."""

    def state(message: Any) -> dict[str, Any]:
        values = dict(vars(message))
        values["defects"] = [type(defect) for defect in values.pop("defects")]
        values.pop("_payload")
        return values

    if type(one) is not type(other) or state(one) != state(other):
        return False
    parts, other_parts = one._payload, other._payload
    if isinstance(parts, list) and isinstance(other_parts, list):  # a message/* or multipart body
        return len(parts) == len(other_parts) and all(map(same_message, parts, other_parts))
    return bool(parts == other_parts)


# The shapes the fast path builds, checked against this Python's own parser before installing.
_SELF_CHECK = [
    b"Server: Microsoft-HTTPAPI/2.0\r\nContent-Length: 0\r\nWWW-Authenticate: Negotiate\r\n\r\n",
    b"Content-Type: application/soap+xml;charset=UTF-8\r\nServer: Microsoft-HTTPAPI/2.0\r\n"
    b"Content-Length: 1234\r\n\r\n",
    b"Server: Microsoft-HTTPAPI/2.0\r\nContent-Type: multipart/encrypted;"
    b'protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"\r\n'
    b"Content-Length: 4321\r\n\r\n",
    b"X-Odd:value with trailing spaces  \n\n",
]


@functools.cache
def agrees_with_this_python() -> bool:
    """Whether this Python's own parser builds the same message as ``parse_headers`` for every
    shape the fast path builds. Checked once per process, and a process forked after the check
    inherits its answer (Ansible's workers: wsusauto.ansible.controller); it replaces nothing."""
    for block in _SELF_CHECK:
        lines = block.decode("iso-8859-1").splitlines(keepends=True)
        fast = _plain_message(lines, http.client.HTTPMessage)
        if fast is None or not same_message(fast, _original(io.BytesIO(block))):
            return False
    return True


def install() -> bool:
    """Parse response headers with ``parse_headers`` from now on in this process, if this Python's
    parser agrees on every shape it builds (else nothing changes). Idempotent; True if in use."""
    with _install_lock:
        if http.client.parse_headers is parse_headers:
            return True
        if http.client.parse_headers is not _original or _original.__module__ != "http.client":
            return False  # someone else replaced it: leave theirs alone
        if not agrees_with_this_python():
            return False
        # One function for the stub's two overloads (with and without a message class).
        http.client.parse_headers = parse_headers  # type: ignore[assignment]
        return True
