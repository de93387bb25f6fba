"""Kerberos and NTLM login failures as one line each: the cause, then the fix.

pypsrp lets pyspnego's exceptions through as they are: a ``SpnegoError`` around python-gssapi's
``GSSError`` (its minor code is MIT krb5's error code), or the ``krb5`` package's ``Krb5Error``
when pyspnego gets a ticket with a password itself. The codes, not the English texts, decide here.
No text from the exception is repeated (it names principals, never a password, but the line
stays ours). ``explain`` returns None for anything it does not recognize.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# MIT krb5 error codes (krb5/krb5_err.et), as signed 32-bit numbers.
CLOCK_SKEW = -1765328347  # KRB5KRB_AP_ERR_SKEW
SERVER_UNKNOWN = -1765328377  # KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN
CLIENT_UNKNOWN = -1765328378  # KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN
PREAUTH_FAILED = -1765328360  # KRB5KDC_ERR_PREAUTH_FAILED: a wrong password
BAD_INTEGRITY = -1765328353  # KRB5KRB_AP_ERR_BAD_INTEGRITY: a wrong password without pre-authentication
KDC_UNREACHABLE = -1765328228  # KRB5_KDC_UNREACH
REALM_UNKNOWN = -1765328230  # KRB5_REALM_UNKNOWN: no KDC configured for the realm
NO_CREDENTIALS = -1765328243  # KRB5_CC_NOTFOUND: no ticket in the cache
CACHE_MISSING = -1765328189  # KRB5_FCC_NOFILE: no ticket cache at all


def _wrapped(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (pyspnego's ``base_error``, causes and contexts), each
    once: two errors of one class may wrap different causes."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        error = todo.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        todo += [getattr(error, "base_error", None), error.__cause__, error.__context__]


def _codes(exc: BaseException) -> Iterator[int]:
    """Every krb5 error code in the exception and what it wraps, as signed 32-bit numbers."""
    for error in _wrapped(exc):
        for attribute in ("err_code", "min_code"):
            code = getattr(error, attribute, None)
            if isinstance(code, int) and code:
                yield code - (1 << 32) if code >= 1 << 31 else code


def _kinds(exc: BaseException) -> set[str]:
    """The class names of the exception and of everything it wraps."""
    return {type(error).__name__ for error in _wrapped(exc)}


def no_ticket_fix(user: str) -> str:
    return (
        f"run `kinit {user}` (a cron job: `kinit -k -t KEYTAB {user}`, or KRB5_CLIENT_KTNAME=KEYTAB), "
        "point KRB5CCNAME at a ticket cache, or give a password (wsusauto_password_env or "
        "wsusauto_password_file)"
    )


def explain(exc: BaseException, *, user: str, spn: str, has_password: bool) -> str | None:
    """One line for a Kerberos failure while logging in as ``user`` to ``spn``, or None."""
    codes = set(_codes(exc))
    kinds = _kinds(exc)
    if CLOCK_SKEW in codes:
        return (
            "Kerberos refused the login: clock skew too great (this machine's clock and the domain's "
            "differ by more than the realm allows, 5 minutes by default); synchronize this machine's "
            "clock with the domain controllers (chrony or systemd-timesyncd) and run again"
        )
    if SERVER_UNKNOWN in codes:
        return (
            f"the KDC does not know the service principal {spn}: give the server's name as the domain "
            "knows it with ansible_psrp_negotiate_hostname_override (an IP address has no SPN), or the "
            "service it is registered for with ansible_psrp_negotiate_service (`setspn -L SERVER` lists them)"
        )
    if CLIENT_UNKNOWN in codes:
        return (
            f"the KDC does not know the user {user}: give ansible_user as user@REALM (the realm in capitals)"
        )
    if PREAUTH_FAILED in codes or BAD_INTEGRITY in codes:
        return f"the KDC refused the password of {user}: check the password source"
    if KDC_UNREACHABLE in codes or REALM_UNKNOWN in codes:
        return (
            f"no KDC answers for the realm of {user}: check krb5.conf (KRB5_CONFIG) names the realm's "
            "KDCs and that they can be reached"
        )
    no_ticket = NO_CREDENTIALS in codes or CACHE_MISSING in codes or "NoCredentialError" in kinds
    if not has_password and (no_ticket or "BadMechanismError" in kinds):
        return f"no Kerberos ticket for {user} and no password: {no_ticket_fix(user)}"
    return None


def ntlm_refused(auth_context: Any) -> bool:
    """pyspnego's client context of a refused login stopped on NTLM before the server sent its
    challenge: the server refused NTLM itself, whatever the password (a wrong password fails
    after the client's last message, with a complete context)."""
    if auth_context is None:
        return False
    try:
        return auth_context.negotiated_protocol == "ntlm" and not auth_context.complete
    except Exception:
        return False
