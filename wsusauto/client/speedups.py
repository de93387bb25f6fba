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
never wrong. ``tests/unit/test_pypsrp_tuning.py`` checks that results and messages are identical.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from pypsrp.complex_objects import Command
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from wsusauto.client.clixml import use_lean_serializer


def tune_pool(wsman: WSMan, pool: RunspacePool) -> None:
    """Before ``pool.open()``."""
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
    if getattr(transport, "session", None) is not None:
        transport.session.trust_env = False


class _ShallowCopiedCommand(Command):
    """A pypsrp Command whose copies share their parameters: pypsrp copies commands only to
    serialize them, and serializing reads them, never changes them."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _ShallowCopiedCommand:
        return copy.copy(self)


def cheap_command_copies(ps: PowerShell) -> None:
    """After the commands are added, before ``begin_invoke()``."""
    for command in getattr(ps, "commands", ()):
        if type(command) is Command:
            command.__class__ = _ShallowCopiedCommand


def memoize_password_hashes() -> None:
    """Derive each password's LM and NT hashes once per process instead of once per host. The
    cache holds as many passwords as the inventory has, at most 64, while a run holds them anyway;
    ``forget_password_hashes`` empties it when the run ends."""
    try:
        import spnego._ntlm as ntlm
    except ImportError:
        return
    for name in ("lmowfv1", "ntowfv1"):
        derive = getattr(ntlm, name, None)
        if callable(derive) and not hasattr(derive, "cache_info"):
            setattr(ntlm, name, functools.lru_cache(maxsize=64)(derive))


def forget_password_hashes() -> None:
    """Drop the cached passwords and hashes (a run that follows derives them again)."""
    try:
        import spnego._ntlm as ntlm
    except ImportError:
        return
    for name in ("lmowfv1", "ntowfv1"):
        clear = getattr(getattr(ntlm, name, None), "cache_clear", None)
        if clear is not None:
            clear()
