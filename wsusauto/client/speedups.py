"""Where wsusauto cuts pypsrp's and pyspnego's CPU cost per host, without changing a byte they send.

Measured on the lab (one Session: open, get_facts, close; about 25 ms of client CPU), each of these
was a tenth to a third of it:

- pypsrp's CLIXML reader re-serializes every element it reads (``wsusauto.client.clixml``);
- requests walks the whole environment for proxy variables on every request while ``trust_env``
  is on, although pypsrp has already applied them when it built its session;
- pyspnego derives the LM and NT hashes of the password, in pure Python (DES and MD4), for every
  new NTLM context: once per host, for what is nearly always one password for the whole fleet;
- pypsrp deep-copies each command of a pipeline (hundreds of small objects) before serializing it,
  a precaution for lxml that ElementTree does not need.

Each step checks that the library still looks as expected and otherwise leaves it alone: slower,
never wrong. They touch private names, so they also stay off (one debug line says so) on a pypsrp
or pyspnego of another minor version than the one they were checked against (``CHECKED_AGAINST``,
the versions pyproject.toml pins). ``tests/unit/test_pypsrp_tuning.py`` checks that results and
messages are identical, and ``.ci/pypsrp_suite.sh`` runs pypsrp's own test suite with them on.

A password's hashes are kept only while a ``Session`` using it is open (``hold_password`` and
``release_password``, counted per password), so a Session used as a library leaves no password
cached in the process once it is closed.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.metadata
import os
import threading
from collections.abc import Callable
from typing import Any

import structlog
from pypsrp.complex_objects import Command
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from wsusauto.client.clixml import use_lean_serializer

log = structlog.get_logger(__name__)

# The minor versions whose private names these speed-ups were read against and tested with (the
# ranges pyproject.toml pins); on any other they stay off.
CHECKED_AGAINST = {"pypsrp": "0.9", "pyspnego": "0.12"}


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def version_checked(distribution: str) -> bool:
    """Whether the installed ``distribution`` is of the minor version the speed-ups were checked
    against; logs once per process when it is not (the speed-ups then leave it alone)."""
    installed = _installed_version(distribution)
    checked = CHECKED_AGAINST[distribution]
    if installed is not None and installed.split(".")[:2] == checked.split("."):
        return True
    log.debug(
        "speed-ups off: not the version they were checked against",
        distribution=distribution,
        installed=installed,
        checked=f"{checked}.*",
    )
    return False


def tune_pool(wsman: WSMan, pool: RunspacePool) -> None:
    """Before ``pool.open()``."""
    if not version_checked("pypsrp"):
        return
    use_lean_serializer(pool)
    _build_http_session_once(wsman)


def _build_http_session_once(wsman: WSMan) -> None:
    """Have pypsrp build its requests session now, reading the environment (proxy variables,
    REQUESTS_CA_BUNDLE) once, then stop requests from reading it again on every request. pypsrp
    builds the session lazily on first send; one without ``_build_session`` keeps doing so."""
    transport = wsman.transport
    build = getattr(transport, "_build_session", None)
    if getattr(transport, "session", None) is None and build is not None:
        transport.session = build()
    session = getattr(transport, "session", None)
    if session is not None:
        session.trust_env = False


class _ShallowCopiedCommand(Command):
    """A pypsrp Command whose copies share their parameters: pypsrp copies commands only to
    serialize them, and serializing reads them, never changes them."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _ShallowCopiedCommand:
        return copy.copy(self)


def cheap_command_copies(ps: PowerShell) -> None:
    """After the commands are added, before ``begin_invoke()``."""
    if not version_checked("pypsrp"):
        return
    for command in getattr(ps, "commands", ()):
        if type(command) is Command:
            command.__class__ = _ShallowCopiedCommand


class _PasswordHashes:
    """The LM and NT hashes of the passwords of open Sessions. A password is held by each open
    Session that logs in with it; its hashes are kept only while it is held, so closing the last
    such Session forgets them. Passwords are looked up by a keyed digest, never kept as keys."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._digest_key = os.urandom(32)
        self._holders: dict[bytes, int] = {}
        self._hashes: dict[tuple[str, bytes], bytes] = {}

    def _digest(self, password: str) -> bytes:
        encoded = password.encode("utf-8", "surrogatepass")
        return hashlib.blake2b(encoded, key=self._digest_key, digest_size=32).digest()

    def hold(self, password: str) -> None:
        digest = self._digest(password)
        with self._lock:
            self._holders[digest] = self._holders.get(digest, 0) + 1

    def release(self, password: str) -> None:
        digest = self._digest(password)
        with self._lock:
            remaining = self._holders.get(digest, 0) - 1
            if remaining > 0:
                self._holders[digest] = remaining
                return
            self._holders.pop(digest, None)
            for key in [key for key in self._hashes if key[1] == digest]:
                del self._hashes[key]

    def clear(self) -> None:
        with self._lock:
            self._hashes.clear()

    def cached_count(self) -> int:
        with self._lock:
            return len(self._hashes)

    def memoized(self, name: str, derive: Callable[[str], bytes]) -> Callable[[str], bytes]:
        def derive_once(password: str) -> bytes:
            if type(password) is not str:
                return derive(password)
            key = (name, self._digest(password))
            with self._lock:
                cached = self._hashes.get(key)
            if cached is not None:
                return cached
            value = derive(password)
            with self._lock:
                if key[1] in self._holders:  # a password no open Session holds is not kept
                    self._hashes[key] = value
            return value

        functools.update_wrapper(derive_once, derive)
        # a mark on the function object (install checks it); Callable's type has no attributes
        derive_once.memoized_by_wsusauto = True  # type: ignore[attr-defined]
        return derive_once


_PASSWORD_HASHES = _PasswordHashes()


def memoize_password_hashes() -> None:
    """Derive each held password's LM and NT hashes once per process instead of once per host.
    pyspnego calls them by these module names for every new NTLM context."""
    if not version_checked("pyspnego"):
        return
    try:
        import spnego._ntlm as ntlm
    except ImportError:
        return
    for name in ("lmowfv1", "ntowfv1"):
        derive = getattr(ntlm, name, None)
        if callable(derive) and not getattr(derive, "memoized_by_wsusauto", False):
            setattr(ntlm, name, _PASSWORD_HASHES.memoized(name, derive))


def hold_password(password: str) -> None:
    """A Session that logs in with ``password`` is opening: its hashes may be kept from now on."""
    _PASSWORD_HASHES.hold(password)


def release_password(password: str) -> None:
    """A Session that held ``password`` closed: once no open Session holds it, its hashes go."""
    _PASSWORD_HASHES.release(password)


def cached_password_hashes() -> int:
    """How many hashes are kept now (an LM and an NT hash per held password in use)."""
    return _PASSWORD_HASHES.cached_count()


def forget_password_hashes() -> None:
    """Drop every kept hash (a run that ends; Sessions still open derive theirs again)."""
    _PASSWORD_HASHES.clear()
