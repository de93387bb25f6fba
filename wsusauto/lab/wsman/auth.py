"""Authentication and WinRM message encryption for one HTTP connection.

NTLM, Negotiate and Kerberos belong to the TCP connection: the context made during the 401
handshake seals every later request on it (sequence numbers, so strictly in order). pyspnego's NTLM
acceptor reads credentials from the file named by ``NTLM_USER_FILE`` (one per process), so every
endpoint's user is in that file and each endpoint then checks that the authenticated principal is
its own user. Kerberos keys come from the lab realm's keytab the same way (``kerberos.py``), and a
ticket must name the endpoint's own server.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import spnego
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1
from spnego.channel_bindings import GssChannelBindings

from wsusauto.lab.wsman.kerberos import (
    KERBEROS_ENCRYPTED,
    SPNEGO_ENCRYPTED,
    accepted_server,
    channel_bound,
    same_kerberos_user,
)

BOUNDARY = "Encrypted Boundary"
_MIME_BOUNDARY = b"--" + BOUNDARY.encode()
_user_file_lock = threading.Lock()


@dataclass(frozen=True)
class AcceptPolicy:
    """What one endpoint accepts on one request: the mechanisms its topology allows (Kerberos only
    when the lab has a realm), the HTTP scheme the client used, and the names a ticket must carry."""

    ntlm: bool = True
    kerberos: bool = False
    scheme: str = "negotiate"  # negotiate | ntlm | kerberos: the Authorization header's scheme
    realm: str | None = None
    server_name: str = ""


class AuthRejected(Exception):
    """Answer 401 (pypsrp raises AuthenticationError)."""


def split_user(username: str) -> tuple[str, str]:
    domain, _, user = username.rpartition("\\")
    return domain, user


def install_ntlm_users(path: Path, credentials: Iterable[tuple[str, str]]) -> str | None:
    """Write the process-wide NTLM credential file and point pyspnego at it; returns the file it
    pointed at before (for ``restore_ntlm_users``).

    The file uses pyspnego's smbpasswd form, ``[DOMAIN\\]USER:UID:LM_HASH:NT_HASH:FLAGS:TIMESTAMP``,
    with the hashes derived here once: given passwords (the Heimdal form), pyspnego derives them in
    pure Python on every authentication, a tenth of the lab's CPU per connection. The form also
    takes any character in a password, a colon included."""
    lines = []
    for username, password in sorted(set(credentials)):
        domain, user = split_user(username)
        principal = f"{domain}\\{user}" if domain else user
        lm_hash, nt_hash = (base64.b16encode(h(password)).decode("ascii") for h in (lmowfv1, ntowfv1))
        lines.append(f"{principal}:0:{lm_hash}:{nt_hash}:[U]:LCT-00000000")
    with _user_file_lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
        previous = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = str(path)
    return previous


def restore_ntlm_users(path: Path, previous: str | None) -> None:
    """A server that stops points pyspnego back at the file it replaced, if the variable still
    names its own: a lab started and stopped while another serves in the same process (a test's
    own lab beside a module's) leaves the other's NTLM logins working. Two labs serving at the
    same moment in one process still share one file, the later one's."""
    with _user_file_lock:
        if os.environ.get("NTLM_USER_FILE") != str(path):
            return
        if previous is None:
            del os.environ["NTLM_USER_FILE"]
        else:
            os.environ["NTLM_USER_FILE"] = previous


def same_user(principal: str | None, expected: str) -> bool:
    if not principal:
        return False
    _, got = split_user(principal)
    want_domain, want = split_user(expected)
    got_domain, _ = split_user(principal)
    return got.lower() == want.lower() and (not want_domain or got_domain.lower() == want_domain.lower())


def check_basic(header_value: str, username: str, password: str) -> str:
    try:
        decoded = base64.b64decode(header_value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthRejected("bad Basic header") from None
    user, _, given = decoded.partition(":")
    if not (same_user(user, username) and hmac.compare_digest(given.encode(), password.encode())):
        raise AuthRejected("wrong user or password")
    return user


class ConnectionAuth:
    """The Negotiate/NTLM/Kerberos state of one keep-alive connection."""

    def __init__(self, channel_binding_hash: bytes | None, cbt_strict: bool) -> None:
        self._bindings = None
        if channel_binding_hash is not None and cbt_strict:
            # Windows' default CbtHardeningLevel (Relaxed) accepts clients that send no binding.
            self._bindings = GssChannelBindings(
                application_data=b"tls-server-end-point:" + channel_binding_hash
            )
        self.context: spnego.ContextProxy | None = None
        self.user: str | None = None
        self.encryption_protocol = SPNEGO_ENCRYPTED

    @property
    def authenticated(self) -> bool:
        return self.user is not None

    def step(
        self, token: bytes, expected_user: str, policy: AcceptPolicy | None = None
    ) -> tuple[bytes | None, bool]:
        """Feed one Negotiate (or Kerberos) token; returns (token to send back, complete)."""
        policy = policy or AcceptPolicy()
        if self.context is None or self.context.complete:
            is_ntlm = token.startswith(b"NTLMSSP\x00")
            if is_ntlm and (not policy.ntlm or policy.scheme == "kerberos"):
                # Refused at the first NTLM message, before any challenge: NTLM is off on this server.
                raise AuthRejected("NTLM is not accepted here")
            if policy.scheme == "kerberos" and not policy.kerberos:
                raise AuthRejected("Kerberos is not accepted here")
            protocol = "ntlm" if is_ntlm else "negotiate"
            self.context = spnego.server(protocol=protocol, channel_bindings=self._bindings, service="WSMAN")
            self.user = None
            self.encryption_protocol = KERBEROS_ENCRYPTED if policy.scheme == "kerberos" else SPNEGO_ENCRYPTED
        try:
            out = self.context.step(token)
            mechanism = self.context.negotiated_protocol
        except Exception as exc:
            self.context = None
            raise AuthRejected(f"{type(exc).__name__}") from None
        if (mechanism == "ntlm" and not policy.ntlm) or (mechanism == "kerberos" and not policy.kerberos):
            self.context = None  # SPNEGO chose a mechanism this server does not take: no answer token
            raise AuthRejected(f"{mechanism} is not accepted here")
        if not self.context.complete:
            return out, False
        if mechanism == "kerberos":
            accepted = (
                same_kerberos_user(self.context.client_principal, expected_user, policy.realm)
                and accepted_server(self.context) == policy.server_name.lower()
                and (self._bindings is None or channel_bound(self.context))  # Strict: a binding is required
            )
        else:  # NTLM, by the account name or by the UPN in the lab's realm
            principal = self.context.client_principal
            accepted = same_user(principal, expected_user) or same_kerberos_user(
                principal, expected_user, policy.realm
            )
        if not accepted:
            self.context = None
            raise AuthRejected("not this endpoint's user or ticket")
        self.user = self.context.client_principal
        return out, True

    # -- message encryption ------------------------------------------------------------------

    def unwrap(self, body: bytes) -> bytes:
        assert self.context is not None
        parts = [p for p in re.split(rb"--\s*" + re.escape(BOUNDARY.encode()) + rb"(?:--)?\r\n", body) if p]
        message = b""
        for i in range(0, len(parts) - 1, 2):
            header, payload = parts[i].strip(), parts[i + 1]
            match = re.search(rb"Length=(\d+)", header)
            if match is None:
                raise ValueError("encrypted part without OriginalContent length")
            payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
            (header_length,) = struct.unpack("<i", payload[:4])
            data = self.context.unwrap_winrm(payload[4 : 4 + header_length], payload[4 + header_length :])
            if len(data) != int(match.group(1)):
                raise ValueError("decrypted length does not match OriginalContent")
            message += data
        return message

    def wrap(self, message: bytes) -> tuple[str, bytes]:
        assert self.context is not None
        result = self.context.wrap_winrm(message)
        wrapped = struct.pack("<i", len(result.header)) + result.header + result.data
        head = "\r\n".join(
            [
                f"--{BOUNDARY}",
                f"\tContent-Type: {self.encryption_protocol}",
                "\tOriginalContent: type=application/soap+xml;charset=UTF-8;"
                f"Length={len(message) + result.padding_length}",
                f"--{BOUNDARY}",
                "\tContent-Type: application/octet-stream",
                "",
            ]
        ).encode()
        content_type = f'multipart/encrypted;protocol="{self.encryption_protocol}";boundary="{BOUNDARY}"'
        return content_type, head + wrapped + _MIME_BOUNDARY + b"--\r\n"
