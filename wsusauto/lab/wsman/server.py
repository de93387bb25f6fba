"""HTTP(S) listeners for lab endpoints: one address each, ports 5985 and 5986.

Traps handled here (see the lab notes): Nagle is off and each response leaves in one ``send()``
(else every request waits ~40 ms for a delayed ACK); ``server_bind`` does no reverse-DNS lookup
(else 300 endpoints take 25 s to start); one thread accepts for every listener (``accept.py``) and
TLS handshakes run in the connection's thread, never in that loop; any exception becomes a WSMan
fault, never a dropped connection (only the ``reset_on_receive`` fault drops one, on purpose, with
a TCP reset).
"""

from __future__ import annotations

import base64
import logging
import re
import socket
import socketserver
import ssl
import struct
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from wsusauto.lab.invocation import ScriptHandler
from wsusauto.lab.wsman import soap
from wsusauto.lab.wsman.accept import AcceptLoop
from wsusauto.lab.wsman.auth import (
    AcceptPolicy,
    AuthRejected,
    ConnectionAuth,
    check_basic,
    install_ntlm_users,
    restore_ntlm_users,
)
from wsusauto.lab.wsman.certs import ca_paths, ensure_ca, issue_server_cert
from wsusauto.lab.wsman.endpoint import ConnectionReset, Endpoint, EndpointFaults, EndpointSpec
from wsusauto.lab.wsman.kerberos import install_keytab, restore_keytab

log = logging.getLogger(__name__)

_SERVICE_UNAVAILABLE = (
    b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">'
    b"<HTML><HEAD><TITLE>Service Unavailable</TITLE></HEAD><BODY><h2>Service Unavailable</h2>"
    b"<hr><p>HTTP Error 503. The service is unavailable.</p></BODY></HTML>"
)


# http.client's limits for a header line and for the number of headers.
_MAX_LINE = 65536
_MAX_HEADERS = 100
# What the email package accepts before a colon as a field name (feedparser.headerRE).
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]*")


class _Headers(dict[str, str]):
    """Request headers by lower-cased name; the first of repeated headers wins, as in
    email.message.Message.get, which http.server would have used."""

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class _HeadersTooLarge(Exception):
    pass


def read_headers(rfile: Any) -> _Headers:
    """Header lines up to the blank line, as http.client reads them (the same limits) and the
    email package parses them (folded lines, repeated headers, a malformed line), without that
    package's parser, which was about a tenth of the lab's CPU per request."""
    headers = _Headers()
    last: str | None = None
    malformed = False
    for _ in range(_MAX_HEADERS + 1):
        raw = rfile.readline(_MAX_LINE + 1)
        if len(raw) > _MAX_LINE:
            raise _HeadersTooLarge("Line too long")
        if raw in (b"\r\n", b"\n", b""):
            for name, value in headers.items():
                headers[name] = value.rstrip("\r\n")
            return headers
        line = raw.decode("iso-8859-1")  # line ending kept: a folded value keeps its inner ones
        if malformed:
            continue
        if line[:1] in (" ", "\t"):  # an obsolete folded continuation line
            if last is not None:
                headers[last] += line
            continue
        last = None
        if line.startswith("From "):
            continue  # a misplaced mbox envelope line, skipped
        name, colon, value = line.partition(":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            malformed = True  # the email package takes the rest for a body: no more headers
            continue
        if not name:
            continue  # "Missing header name", skipped
        last = name.lower()
        if last not in headers:
            headers[last] = value.lstrip(" \t")
        else:
            last = None  # a repeated header: its continuation lines belong to the ignored copy
    raise _HeadersTooLarge("Too many headers")


class _Listener(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], endpoint: Endpoint, tls: ssl.SSLContext | None, cbt_hash: bytes | None
    ) -> None:
        self.endpoint = endpoint
        self.tls = tls
        self.cbt_hash = cbt_hash
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # TCPServer.server_bind without HTTPServer's socket.getfqdn() reverse lookup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self) -> tuple[socket.socket, Any]:
        request, client_address = self.socket.accept()
        request.setblocking(True)  # the listening socket is non-blocking (AcceptLoop); connections are not
        return request, client_address

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        try:
            if self.tls is not None:
                try:
                    request = self.tls.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # the client refused our certificate or went away
            _Handler(request, client_address, self)
        finally:
            with self.connections_lock:
                self.connections.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error on %s", self.endpoint.spec.name, exc_info=True)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Listener
    raw_requestline: bytes  # set by http.server's handle_one_request; not in typeshed's stub
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.auth = ConnectionAuth(self.server.cbt_hash, self.server.endpoint.spec.cbt_strict)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def parse_request(self) -> bool:
        """The request line and headers. WinRM clients send ``POST <path> HTTP/1.1``; that is
        parsed here with ``read_headers``, anything else by http.server with its own errors."""
        words = self.raw_requestline.split()
        if len(words) != 3 or words[2] != b"HTTP/1.1":
            return super().parse_request()
        self.requestline = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")
        self.command, self.path, self.request_version = (w.decode("iso-8859-1") for w in words)
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")  # as http.server does (gh-87389)
        self.close_connection = True
        try:
            # http.server's Message in its stub; read_headers' dict answers the get() it is asked
            self.headers = read_headers(self.rfile)  # type: ignore[assignment]
        except _HeadersTooLarge as error:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, str(error))
            return False
        self.close_connection = self.headers.get("Connection", "").lower() == "close"
        if self.headers.get("Expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        lines = [
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
            f"Server: {self.server_version}",
            f"Content-Length: {len(body)}",
        ]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)  # one send()

    def _reset(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0), as a failing network path does."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw = self.connection
            if isinstance(raw, ssl.SSLSocket):
                raw = socket.socket(fileno=raw.detach())  # no TLS close_notify: a reset, not a goodbye
            raw.close()
        except OSError:
            pass

    def _challenge(self, basic_allowed: bool) -> None:
        # Windows lists each scheme in its own header; clients read them joined with ", ".
        spec = self.server.endpoint.spec
        kerberos = "kerberos" in spec.auth_methods and spec.kerberos_realm is not None
        schemes = ["Negotiate"] if kerberos or "ntlm" in spec.auth_methods else []
        schemes += ["Kerberos"] if kerberos else []
        schemes += ['Basic realm="WSMAN"'] if basic_allowed else []
        self._send(401, b"", {"WWW-Authenticate": ", ".join(schemes)} if schemes else {})

    def _policy(self, scheme: str) -> AcceptPolicy:
        spec = self.server.endpoint.spec
        return AcceptPolicy(
            ntlm="ntlm" in spec.auth_methods,
            kerberos="kerberos" in spec.auth_methods and spec.kerberos_realm is not None,
            scheme=scheme,
            realm=spec.kerberos_realm,
            server_name=spec.name,
        )

    def do_POST(self) -> None:
        endpoint = self.server.endpoint
        spec = endpoint.spec
        faults: EndpointFaults = spec.faults
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if faults.unresponsive:
            endpoint.hold_unanswered()
            self.close_connection = True  # lifted: the connection ends without an answer
            return
        if faults.http_status == 503:
            self._send(503, _SERVICE_UNAVAILABLE, {"Content-Type": "text/html; charset=us-ascii"})
            return
        if faults.http_status is not None:
            fault = soap.SoapFault(
                soap.FAULT_INTERNAL, "The WS-Management service encountered an internal error."
            )
            self._send(
                faults.http_status,
                soap.fault_response(fault, "", spec.name),
                {"Content-Type": "application/soap+xml;charset=UTF-8"},
            )
            return
        tls = self.server.tls is not None
        basic_allowed = (tls or spec.allow_unencrypted) and "basic" in spec.auth_methods
        authorization = self.headers.get("Authorization", "")
        scheme, _, value = authorization.partition(" ")
        answer_scheme = "Kerberos" if scheme.lower() == "kerberos" else "Negotiate"
        final_token: bytes | None = None
        user: str | None = None
        try:
            # The auth_reject fault refuses the credentials where a server judges them: Basic at
            # once, NTLM and Kerberos once their exchange is complete (never at its first message,
            # which is how a server that does not take NTLM at all refuses it).
            if faults.auth_reject and scheme.lower() == "basic":
                raise AuthRejected("auth_reject fault")
            if scheme.lower() == "basic":
                if not basic_allowed:
                    raise AuthRejected("Basic over plain HTTP is not allowed")
                user = check_basic(value.strip(), spec.username, spec.password)
            elif scheme.lower() in ("negotiate", "ntlm", "kerberos"):
                token = base64.b64decode(value.strip())
                final_token, complete = self.auth.step(token, spec.username, self._policy(scheme.lower()))
                if not complete:
                    self._send(
                        401,
                        b"",
                        {
                            "WWW-Authenticate": f"{answer_scheme} "
                            + base64.b64encode(final_token or b"").decode()
                        },
                    )
                    return
                if faults.auth_reject:
                    self.auth.context = self.auth.user = None
                    raise AuthRejected("auth_reject fault")
                user = self.auth.user
            elif self.auth.authenticated and not faults.auth_reject:
                user = self.auth.user
        except AuthRejected:
            self._challenge(basic_allowed)
            return
        if user is None:
            self._challenge(basic_allowed)
            return
        extra = (
            {"WWW-Authenticate": f"{answer_scheme} " + base64.b64encode(final_token).decode("ascii")}
            if final_token
            else {}
        )
        if not body:
            self._send(200, b"", extra)  # the empty POST that sets up encryption
            return
        content_type = self.headers.get("Content-Type", "")
        encrypted = content_type.startswith("multipart/encrypted")
        try:
            if encrypted:
                if self.auth.context is None or not self.auth.authenticated:
                    self._challenge(basic_allowed)
                    return
                body = self.auth.unwrap(body)
            elif not tls and not spec.allow_unencrypted:
                # WinRM's AllowUnencrypted=false: plaintext SOAP over HTTP is refused.
                self._challenge(basic_allowed)
                return
            response = endpoint.handle(body, user)
        except ConnectionReset:
            self._reset()
            return
        except Exception as exc:  # never drop the connection: answer with a fault
            log.exception("lab endpoint %s failed", spec.name)
            response = soap.fault_response(
                soap.SoapFault(soap.FAULT_INTERNAL, f"{type(exc).__name__}: {exc}"), "", spec.name
            )
        status = 500 if b"<s:Fault>" in response[:2000] else 200
        headers = dict(extra)
        if encrypted:
            headers["Content-Type"], response = self.auth.wrap(response)
        else:
            headers["Content-Type"] = "application/soap+xml;charset=UTF-8"
        self._send(status, response, headers)


class WinRMServer:
    """Serves many endpoints, each on its own loopback address."""

    def __init__(
        self, specs: list[EndpointSpec], handler: ScriptHandler, tls_dir: Path, keytab: Path | None = None
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError("endpoint names must be unique")
        self.specs = {s.name: s for s in specs}
        self.handler = handler
        self.tls_dir = Path(tls_dir)
        self.endpoints = {s.name: Endpoint(s, handler) for s in specs}
        self._listeners: dict[tuple[str, int], _Listener] = {}
        self._accept: AcceptLoop | None = None
        self._tls: dict[str, tuple[ssl.SSLContext, bytes]] = {}
        self._lock = threading.Lock()
        self._started = False
        self._user_file = self.tls_dir / "ntlm-users"
        self._replaced_user_file: str | None = None
        self.keytab = keytab  # the lab realm's service keytab, when the lab has a realm
        self._replaced_keytab: str | None = None

    @property
    def ca_cert_path(self) -> Path:
        return ca_paths(self.tls_dir)[0]

    def start(self) -> None:
        ensure_ca(self.tls_dir)
        # With a realm, the user also logs in to NTLM by its UPN (user@REALM), as Windows allows:
        # Negotiate falls back to NTLM with that name where a server has no Kerberos key.
        credentials = [(s.username, s.password) for s in self.specs.values()]
        credentials += [
            (f"{s.username}@{s.kerberos_realm}", s.password) for s in self.specs.values() if s.kerberos_realm
        ]
        self._replaced_user_file = install_ntlm_users(self._user_file, credentials)
        if self.keytab is not None:
            self._replaced_keytab = install_keytab(self.keytab)
        self._started = True
        self._accept = AcceptLoop()
        for spec in self.specs.values():
            if not spec.faults.down:
                self._open(spec)

    def _accept_loop(self) -> AcceptLoop:
        if self._accept is None:
            raise RuntimeError("the lab's WinRM server is not started")
        return self._accept

    def _tls_for(self, spec: EndpointSpec) -> tuple[ssl.SSLContext, bytes]:
        if spec.name not in self._tls:
            cert, key, cbt_hash = issue_server_cert(self.tls_dir, spec.name, [spec.address])
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self._tls[spec.name] = (context, cbt_hash)
        return self._tls[spec.name]

    def _open(self, spec: EndpointSpec) -> None:
        endpoint = self.endpoints[spec.name]
        ports: list[tuple[int, ssl.SSLContext | None, bytes | None]] = [(spec.http_port, None, None)]
        if spec.https_port is not None:
            context, cbt_hash = self._tls_for(spec)
            ports.append((spec.https_port, context, cbt_hash))
        for port, port_context, port_cbt_hash in ports:
            key = (spec.address, port)
            listener = _Listener(key, endpoint, port_context, port_cbt_hash)
            with self._lock:
                self._listeners[key] = listener
            self._accept_loop().add(listener)

    def _close(self, spec: EndpointSpec) -> None:
        keys = [(spec.address, spec.http_port)] + (
            [(spec.address, spec.https_port)] if spec.https_port else []
        )
        for key in keys:
            with self._lock:
                listener = self._listeners.pop(key, None)
            if listener is None:
                continue
            self._accept_loop().remove(listener)
            listener.server_close()
            listener.close_connections()
        self.endpoints[spec.name].close()

    def set_faults(self, name: str, faults: EndpointFaults) -> None:
        spec = self.specs[name]
        was_down = spec.faults.down
        spec.faults = faults
        self.endpoints[name].faults_changed()  # a request held by `unresponsive` goes on if lifted
        if not self._started:
            return
        if faults.down and not was_down:
            self._close(spec)
        elif was_down and not faults.down:
            self._open(spec)

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        for spec in self.specs.values():
            self._close(spec)
        self._accept_loop().stop()
        self._accept = None
        restore_ntlm_users(self._user_file, self._replaced_user_file)
        if self.keytab is not None:
            restore_keytab(self.keytab, self._replaced_keytab)
