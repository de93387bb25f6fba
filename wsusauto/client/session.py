"""One WinRM session per host: a RunspacePool opened once and reused for every snippet of a run.

pypsrp 0.9.1 keeps all state on its objects and has no locks, so a Session belongs to one thread
at a time (the runner gives each host its own). Errors are mapped to the three things a caller
must tell apart:

- ``Unreachable``: nothing ran (connection refused or reset, TLS refused, HTTP 5xx, WSMan fault);
- ``AuthenticationFailed``: the host answered and refused the credentials;
- ``RemoteError``: the snippet ran and failed; the text is PowerShell's own.

A command that outlives its deadline is stopped on the server (Ctrl+C signal) and raises
``DeadlineExceeded``. Transport retries here are short (seconds) and only cover opening the pool,
which changes nothing on the server; synchronization retries are policy, not transport.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import structlog
from pypsrp.complex_objects import PSInvocationState
from pypsrp.exceptions import AuthenticationError, WinRMError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import TaggedValue
from pypsrp.wsman import SelectorSet, WSMan
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from wsusauto.client import http_headers
from wsusauto.client.kerberos_errors import explain as explain_kerberos
from wsusauto.client.kerberos_errors import ntlm_refused
from wsusauto.client.snippets import SnippetRegistry, registry
from wsusauto.client.speedups import (
    cheap_command_copies,
    hold_password,
    memoize_password_hashes,
    release_password,
    tune_pool,
)
from wsusauto.config.secrets import Secret
from wsusauto.errors import AuthenticationFailed, DeadlineExceeded, RemoteError, Unreachable, remote_error

log = structlog.get_logger(__name__)

# pypsrp's WSMan() re-registers its XML namespace prefixes in ElementTree's global map on every
# construction, and ElementTree.register_namespace is not thread-safe: two threads opening sessions
# at once can raise KeyError from inside it. Constructions are serialized; they do no I/O.
_WSMAN_CONSTRUCTION = threading.Lock()
# Ticketless Kerberos logins of several threads or worker processes at once race on one ticket cache
# file while the first of them writes the TGT it got from the client keytab (another reads the file
# half written: "no credentials"). Until one such login of this process has succeeded, they open one
# at a time, across this user's processes too; after it, the TGT is in the cache and they run freely.
_TICKET_CACHE_FILLED = threading.Event()
_FIRST_TICKET_LOGIN = threading.Lock()


@contextmanager
def _first_ticket_login() -> Iterator[None]:
    lock_path = Path(tempfile.gettempdir()) / f"wsusauto-krb5-first-login-{os.getuid()}.lock"
    with _FIRST_TICKET_LOGIN, open(lock_path, "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


# WSMan fault codes that mean "the shell is gone" (pypsrp treats them the same way in is_alive()).
_SHELL_NOT_FOUND = {2150858843, 2150858793}


@dataclass(frozen=True)
class ConnectionOptions:
    """How to reach one host; built from inventory vars (see ``wsusauto.config.inventory``)."""

    address: str
    port: int
    username: str
    password: Secret | None = field(repr=False)  # None: Kerberos from the ticket cache or a keytab
    auth: str = "negotiate"  # basic | ntlm | negotiate | kerberos | credssp | certificate
    ssl: bool = True
    cert_validation: bool | str = True  # True, False, or the path of a CA bundle to trust
    encryption: str = "auto"  # auto | always | never
    path: str = "wsman"
    configuration_name: str = "Microsoft.PowerShell"
    connection_timeout: float = 30.0
    read_timeout: float = 30.0
    operation_timeout: int = 20  # WSMan long-poll length; must stay below read_timeout
    negotiate_send_cbt: bool = True
    # Kerberos' SPN is negotiate_service/negotiate_hostname_override (default: WSMAN/<address>);
    # the override lets a connection go to an address while authenticating to the server's name.
    negotiate_service: str = "WSMAN"
    negotiate_hostname_override: str | None = None
    negotiate_delegate: bool = False  # a forwardable ticket for the server: never needed by a WSUS task
    reconnection_retries: int = 0
    reconnection_backoff: float = 2.0
    # Seconds a writing snippet may spend waiting for WSUS to be free (a sync running, a save
    # processing) before the task fails as busy: the host var wsus_busy_wait.
    busy_wait: float = 180.0


@dataclass(frozen=True)
class TransportRetry:
    """Short retries for opening a pool: a dropped connection or an HTTP 503 is often momentary."""

    attempts: int = 3
    initial_wait: float = 0.5
    max_wait: float = 4.0


class _TransientTransport(Exception):
    """Internal: an Unreachable that is worth retrying (connection reset, HTTP 503)."""

    def __init__(self, error: Unreachable) -> None:
        super().__init__(str(error))
        self.error = error


class Session:
    """A live connection to one WSUS server."""

    def __init__(
        self,
        name: str,
        options: ConnectionOptions,
        *,
        snippets: SnippetRegistry | None = None,
        default_deadline: float = 120.0,
        transport_retry: TransportRetry | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.options = options
        self.snippets = snippets or registry()
        self.default_deadline = default_deadline
        self.transport_retry = transport_retry or TransportRetry()
        self._sleep = sleep
        self._wsman: WSMan | None = None
        self._pool: RunspacePool | None = None
        self.commands_run = 0
        # The password's NTLM hashes are kept for the process while this Session is open (opened,
        # not yet closed), and forgotten when the last open Session with that password closes.
        self._holds_password = False
        self._interrupted = False  # set by interrupt(): never opens again
        memoize_password_hashes()  # once per process
        http_headers.install()  # response headers parsed without the email package, same result

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    def _transport_retrying(self) -> Retrying:
        """Short retries (seconds) for a dropped connection or an HTTP 503; never a WSUS-level retry."""
        return Retrying(
            stop=stop_after_attempt(self.transport_retry.attempts),
            wait=wait_exponential(
                multiplier=self.transport_retry.initial_wait, max=self.transport_retry.max_wait
            ),
            retry=retry_if_exception_type(_TransientTransport),
            sleep=self._sleep,
            reraise=True,
        )

    def open(self) -> None:
        """Open the RunspacePool (with short transport retries); a no-op when already open."""
        if self._pool is not None:
            return
        if self._interrupted:
            raise Unreachable(self.name, "the session was interrupted; it does not open again")
        held_here = self._hold_password()
        retrying = self._transport_retrying()
        try:
            for attempt in retrying:
                with attempt:
                    self._open_once()
        except BaseException as exc:
            if held_here:  # never opened: nothing to close, so nothing kept
                self._release_password()
            if isinstance(exc, _TransientTransport):
                raise exc.error from None
            raise

    def _hold_password(self) -> bool:
        if self._holds_password or self.options.password is None:
            return False
        hold_password(self.options.password.reveal())
        self._holds_password = True
        return True

    def _release_password(self) -> None:
        if self._holds_password and self.options.password is not None:
            self._holds_password = False
            release_password(self.options.password.reveal())

    def _open_once(self) -> None:
        if self._login_fills_ticket_cache() and not _TICKET_CACHE_FILLED.is_set():
            with _first_ticket_login():
                self._open_pool()
            _TICKET_CACHE_FILLED.set()
        else:
            self._open_pool()

    def _login_fills_ticket_cache(self) -> bool:
        """A Kerberos login without a password: MIT krb5 takes the TGT from the ticket cache, or
        (KRB5_CLIENT_KTNAME) gets it from the client keytab and writes it into that cache."""
        return self.options.auth in ("kerberos", "negotiate") and self.options.password is None

    def _open_pool(self) -> None:
        wsman = new_wsman(self.options)
        pool = RunspacePool(wsman, configuration_name=self.options.configuration_name)
        try:
            tune_pool(wsman, pool)  # builds the HTTP session: its errors are mapped as open's are
            pool.open()
        except Exception as exc:
            wsman.transport.close()
            error = self._map_error(exc, "opening the session", wsman)
            if isinstance(error, Unreachable) and _is_transient(exc):
                raise _TransientTransport(error) from None
            raise error from None
        self._wsman, self._pool = wsman, pool
        log.debug("session opened", host=self.name)

    def is_alive(self) -> bool:
        """Ask the server whether our shell still exists (pypsrp's Get on the shell)."""
        if self._pool is None:
            return False
        try:
            return bool(self._pool.is_alive())
        except Exception:
            return False

    def close(self) -> None:
        """Close the pool on the server (Delete) and the HTTP connection; never raises."""
        pool, wsman = self._pool, self._wsman
        self._pool = self._wsman = None
        if pool is not None:
            try:
                pool.close()
            except Exception as exc:  # the host may be gone; closing must not fail a run
                log.debug("closing the session failed", host=self.name, error=type(exc).__name__)
        if wsman is not None:
            try:
                wsman.transport.close()
            except Exception:
                pass
        self._release_password()

    def interrupt(self) -> None:
        """End this session now, from another thread, while a command may be running on it (Ctrl+C):
        its shell is deleted on the server over a connection of its own, so the running pipeline
        stops there and the command's pending Receive ends with a fault at once (this connection is
        busy with that Receive, and its NTLM sealing must not be used by two threads). The session
        never opens again; ``close()`` still releases what it holds. Never raises."""
        self._interrupted = True
        pool = self._pool
        self._pool = None  # close() must not delete the shell again over the busy connection
        shell_id = pool.shell.id if pool is not None else None
        if pool is None or shell_id is None:
            return
        try:
            wsman = new_wsman(self.options)
        except Exception as exc:
            log.debug("interrupting the session failed", host=self.name, error=type(exc).__name__)
            return
        try:
            selectors = SelectorSet()
            selectors.add_option("ShellId", shell_id)
            wsman.delete(pool.shell.resource_uri, selector_set=selectors)
        except Exception as exc:  # the host may be gone: then nothing runs there either
            log.debug("interrupting the session failed", host=self.name, error=type(exc).__name__)
        finally:
            try:
                wsman.transport.close()
            except Exception:
                pass

    # -- running snippets --------------------------------------------------------------------

    def invoke(
        self, snippet_name: str, deadline: float | None = None, read_only: bool = False, **parameters: Any
    ) -> Any:
        """Run a shipped snippet with ``parameters`` and return its single output object."""
        outputs = self.invoke_all(snippet_name, deadline=deadline, read_only=read_only, **parameters)
        if len(outputs) != 1:
            raise RemoteError(self.name, snippet_name, f"expected one output object, got {len(outputs)}")
        return outputs[0]

    def invoke_all(
        self, snippet_name: str, deadline: float | None = None, read_only: bool = False, **parameters: Any
    ) -> list[Any]:
        """Run a snippet; ``read_only`` snippets (they change nothing) are retried briefly after a
        dropped connection or an HTTP 503, which a caller then never sees as a failure."""
        if not read_only:
            return self._invoke_once(snippet_name, deadline, False, parameters)
        retrying = self._transport_retrying()
        try:
            for attempt in retrying:
                with attempt:
                    return self._invoke_once(snippet_name, deadline, True, parameters)
        except _TransientTransport as transient:
            raise transient.error from None
        raise AssertionError("unreachable")  # pragma: no cover - tenacity either returns or raises

    def _invoke_once(
        self, snippet_name: str, deadline: float | None, read_only: bool, parameters: dict[str, Any]
    ) -> list[Any]:
        snippet = self.snippets[snippet_name]
        bound = snippet.bind(parameters)
        self._ensure_open()  # opening has its own short retries
        if self._interrupted:  # interrupt() came while the pool was opening: close() deletes it
            raise Unreachable(self.name, "the session was interrupted")
        assert self._pool is not None
        ps = PowerShell(self._pool)
        ps.add_script(snippet.text)
        if any(isinstance(v, Secret) for v in bound.values()):
            self._ensure_session_key()
            # A Secret travels as a SecureString, encrypted with the pool's session key.
            bound = {
                k: TaggedValue("SS", v.reveal()) if isinstance(v, Secret) else v for k, v in bound.items()
            }
        if bound:
            ps.add_parameters(bound)
        cheap_command_copies(ps)
        budget = self.default_deadline if deadline is None else deadline
        self.commands_run += 1
        started = time.monotonic()
        try:
            ps.begin_invoke()
            while ps.state == PSInvocationState.RUNNING:
                remaining = budget - (time.monotonic() - started)
                if remaining <= 0:
                    self._stop(ps)
                    raise DeadlineExceeded(self.name, f"{snippet_name} did not finish within {budget:g} s")
                ps.poll_invoke(timeout=max(1, min(int(remaining + 0.999), self.options.operation_timeout)))
        except (DeadlineExceeded, RemoteError):
            raise
        except Exception as exc:
            # The pool is in an unknown state now; the next invoke opens a fresh one.
            self._discard()
            error = self._map_error(exc, snippet_name, self._wsman)
            if read_only and isinstance(error, Unreachable) and _is_transient(exc):
                raise _TransientTransport(error) from None
            raise error from None
        finally:
            self._forget(ps)
        if ps.state == PSInvocationState.FAILED or ps.streams.error:
            raise remote_error(self.name, snippet_name, _error_text(ps))
        return list(ps.output)

    def _ensure_session_key(self) -> None:
        assert self._pool is not None
        try:
            self._pool.exchange_keys()  # a no-op once the pool has its session key
        except Exception as exc:
            self._discard()
            raise self._map_error(exc, "exchanging the session key for a SecureString") from None

    def _ensure_open(self) -> None:
        if self._pool is not None and self.commands_run > 0 and not self.is_alive():
            log.info("session lost; reopening", host=self.name)
            self._discard()
        self.open()

    def _stop(self, ps: PowerShell) -> None:
        try:
            ps.stop()
        except Exception:
            self._discard()

    def _forget(self, ps: PowerShell) -> None:
        # invoke() never closes a pipeline; drop it from the pool's table so a long run holds none.
        if self._pool is not None:
            self._pool.pipelines.pop(ps.id, None)

    def _discard(self) -> None:
        wsman = self._wsman
        self._pool = self._wsman = None
        if wsman is not None:
            try:
                wsman.transport.close()
            except Exception:
                pass

    # -- error mapping -----------------------------------------------------------------------

    def _map_error(self, exc: BaseException, doing: str, wsman: WSMan | None = None) -> BaseException:
        """What ``exc``, raised while ``doing`` something with the host, means for the caller: a
        ``HostError`` naming the cause. A programming error (``PROGRAMMING_ERRORS``) says nothing
        about the host and is given back unchanged, so it fails the host's task with its traceback
        (a bug to report) instead of passing for a host that cannot be reached."""
        if isinstance(exc, PROGRAMMING_ERRORS):
            return exc
        where = f"{self.options.address}:{self.options.port}"
        login_failure = self._login_failure(exc, where, wsman)
        if login_failure is not None:
            return AuthenticationFailed(self.name, login_failure)
        if isinstance(exc, AuthenticationError):
            return AuthenticationFailed(
                self.name, f"{where} refused the credentials of {self.options.username!r}"
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return Unreachable(
                self.name,
                f"TLS with {where} failed ({_first_line(exc)}); give the lab or "
                "server CA with ansible_psrp_ca_cert, or turn validation off explicitly",
            )
        if isinstance(exc, requests.exceptions.Timeout):
            return DeadlineExceeded(self.name, f"{where} did not answer in time while {doing}")
        if isinstance(exc, requests.exceptions.ConnectionError):
            return Unreachable(self.name, f"cannot connect to {where}: {_connection_reason(exc)}")
        if isinstance(exc, WSManFaultError):
            return Unreachable(
                self.name,
                f"{where} returned WSMan fault {exc.code} while {doing}: "
                f"{_first_line(exc.reason or exc.message)}",
            )
        if isinstance(exc, WinRMTransportError):
            return Unreachable(self.name, f"{where} answered HTTP {exc.code} while {doing}")
        if isinstance(exc, WinRMError):
            return Unreachable(self.name, f"WinRM error while {doing}: {_first_line(exc)}")
        return Unreachable(self.name, f"{type(exc).__name__} while {doing}: {_first_line(exc)}")

    def _login_failure(self, exc: BaseException, where: str, wsman: WSMan | None) -> str | None:
        """A Kerberos or NTLM login failure as one line naming its cause and its fix, or None."""
        opts = self.options
        if opts.auth not in ("kerberos", "negotiate", "ntlm"):
            return None
        user = opts.username
        spn = f"{opts.negotiate_service}/{opts.negotiate_hostname_override or opts.address}"
        if isinstance(exc, AuthenticationError):
            if not ntlm_refused(_auth_context(wsman)):
                return None
            if opts.auth == "negotiate":
                return (
                    f"{where} does not accept NTLM, and Negotiate fell back to it: no Kerberos login was "
                    f"possible for {user} to {spn} (no ticket nor password, or an SPN the domain does not "
                    "know); ansible_psrp_auth: kerberos names the reason"
                )
            return (
                f"{where} does not accept NTLM (Kerberos only, as where a domain disables NTLM); use "
                "ansible_psrp_auth: kerberos with ansible_user: user@REALM and a ticket, keytab or password"
            )
        if opts.auth == "ntlm":
            return None
        return explain_kerberos(exc, user=user, spn=spn, has_password=opts.password is not None)


# Errors of code, not of the host or the network: never turned into Unreachable (an ansible-core
# value that pypsrp could not take once crashed in pypsrp with an AttributeError and was reported as
# an unreachable host).
PROGRAMMING_ERRORS: tuple[type[BaseException], ...] = (
    AttributeError,
    TypeError,
    NameError,
    AssertionError,
    ImportError,
    NotImplementedError,
)


def _auth_context(wsman: WSMan | None) -> Any:
    """pyspnego's client context of the last login on this WSMan's connection (pypsrp keeps one
    per host in ``HTTPNegotiateAuth.contexts``), or None."""
    auth = getattr(getattr(getattr(wsman, "transport", None), "session", None), "auth", None)
    contexts = getattr(auth, "contexts", None)
    if not isinstance(contexts, dict) or not contexts:
        return None
    return next(reversed(contexts.values()))


def new_wsman(opts: ConnectionOptions) -> WSMan:
    """Build pypsrp's WSMan for one host; safe to call from many threads at once."""
    with _WSMAN_CONSTRUCTION:
        return WSMan(
            opts.address,
            port=opts.port,
            username=opts.username,
            password=opts.password.reveal() if opts.password is not None else None,
            ssl=opts.ssl,
            path=opts.path,
            auth=opts.auth,
            # pypsrp annotates these bool and int, but hands them to requests as they are: a CA
            # bundle's path is requests' verify=, and fractional seconds its timeouts.
            cert_validation=opts.cert_validation,  # type: ignore[arg-type]
            connection_timeout=opts.connection_timeout,  # type: ignore[arg-type]
            read_timeout=opts.read_timeout,  # type: ignore[arg-type]
            operation_timeout=opts.operation_timeout,
            encryption=opts.encryption,
            negotiate_send_cbt=opts.negotiate_send_cbt,
            negotiate_service=opts.negotiate_service,
            negotiate_hostname_override=opts.negotiate_hostname_override,
            negotiate_delegate=opts.negotiate_delegate,
            reconnection_retries=opts.reconnection_retries,
            reconnection_backoff=opts.reconnection_backoff,
            no_proxy=True,
        )


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, WinRMTransportError):
        return exc.code in (502, 503, 504)
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    if isinstance(exc, requests.exceptions.ConnectionError):
        # A refused connection is an endpoint that is down, not a momentary drop.
        return "refused" not in str(exc).lower()
    return False


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


def _connection_reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "reset" in text or "aborted" in text:
        return "connection reset"
    if "timed out" in text:
        return "connection timed out"
    return _first_line(exc)


def _error_text(ps: PowerShell) -> str:
    texts = []
    for record in ps.streams.error:
        message = None
        exception = getattr(record, "exception", None)
        if exception is not None:
            props = getattr(exception, "adapted_properties", {}) or {}
            message = props.get("Message")
        texts.append(str(message or record))
    return "; ".join(t for t in texts if t) or f"pipeline ended {ps.state}"
