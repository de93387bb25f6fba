"""The lab endpoints' Kerberos acceptor: the lab's keytab, and what a completed context must show.

pyspnego's Kerberos acceptor (python-gssapi over MIT krb5) takes its keys from the process's
default keytab, ``KRB5_KTNAME``, so the lab's service keytab (every lab server's ``WSMAN/`` and
``HTTP/`` keys) is installed there once per process, as the NTLM user file is. One keytab for all
endpoints would let a ticket for one server open another, which a real server cannot do (it only
has its own key): each endpoint therefore checks that the ticket it accepted names itself.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

_keytab_lock = threading.Lock()

# WinRM message encryption's MIME protocol names: SPNEGO when the client authenticated with the
# Negotiate scheme (Kerberos or NTLM inside), Kerberos for the Kerberos scheme (MS-WSMV 2.2.9.1).
SPNEGO_ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
KERBEROS_ENCRYPTED = "application/HTTP-Kerberos-session-encrypted"


def install_keytab(path: Path) -> str | None:
    """Point this process's Kerberos acceptors at the lab's keytab; returns what it replaced."""
    with _keytab_lock:
        previous = os.environ.get("KRB5_KTNAME")
        os.environ["KRB5_KTNAME"] = f"FILE:{path}"
        return previous


def restore_keytab(path: Path, previous: str | None) -> None:
    """Put back the keytab a stopping server replaced, if the variable still names its own."""
    with _keytab_lock:
        if os.environ.get("KRB5_KTNAME") != f"FILE:{path}":
            return
        if previous is None:
            del os.environ["KRB5_KTNAME"]
        else:
            os.environ["KRB5_KTNAME"] = previous


# GSS_C_CHANNEL_BOUND_FLAG (MIT krb5 1.19+): the initiator's channel bindings matched the acceptor's.
# MIT accepts an initiator that sent none; Windows' CbtHardeningLevel=Strict does not.
_CHANNEL_BOUND = 0x800


def _security_context(context: Any) -> Any:
    """python-gssapi's SecurityContext behind pyspnego's proxy (Negotiate's chosen mech, or Kerberos)."""
    inner: Any = getattr(context, "_context", None)  # pyspnego's Negotiate proxy: the chosen mech's context
    if getattr(inner, "_context", None) is not None:
        inner = inner._context  # GSSAPIProxy -> python-gssapi SecurityContext
    return inner


def channel_bound(context: Any) -> bool:
    """The completed Kerberos context carried the client's channel binding, and it matched."""
    try:
        return bool(int(_security_context(context).actual_flags) & _CHANNEL_BOUND)
    except Exception:
        return False


def accepted_server(context: Any) -> str | None:
    """The host part of the service principal a completed Kerberos context was accepted for
    (``WSMAN/wsus-root@REALM`` -> ``wsus-root``), or None when it cannot be read: the caller then
    refuses the login (strict when unsure)."""
    target = getattr(_security_context(context), "target_name", None)
    if target is None:
        return None
    principal = str(target).rstrip("\x00")
    service_and_host, _, _realm = principal.rpartition("@")
    _service, slash, host = service_and_host.partition("/")
    return host.lower() if slash else None


def same_kerberos_user(principal: str | None, expected_user: str, realm: str | None) -> bool:
    """``user@REALM`` names the endpoint's user in the lab's realm (user names compare as Windows
    compares account names, without case; the realm exactly, as Kerberos does)."""
    if not principal or realm is None:
        return False
    user, at, got_realm = principal.rpartition("@")
    _, _, want = expected_user.rpartition("\\")
    return bool(at) and got_realm == realm and user.lower() == want.lower()
