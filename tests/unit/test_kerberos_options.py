"""Kerberos in the inventory's words, the topology's auth_methods, and login errors by their codes."""

from __future__ import annotations

import os

import pytest

from wsusauto.client.kerberos_errors import (
    CLIENT_UNKNOWN,
    CLOCK_SKEW,
    PREAUTH_FAILED,
    SERVER_UNKNOWN,
    explain,
)
from wsusauto.config.inventory import inventory_from_dict
from wsusauto.errors import UsageError
from wsusauto.lab.topology import topology_from_dict


def _options(**host_vars):
    data = {"all": {"hosts": {"wsus-root": {"ansible_host": "10.0.0.5", "ansible_psrp_protocol": "http"}}}}
    data["all"]["hosts"]["wsus-root"].update(host_vars)
    inventory = inventory_from_dict(data, "inv.yml")
    return inventory.connection_options(inventory.hosts["wsus-root"])


def test_the_negotiate_vars_reach_the_connection_options():
    options = _options(
        ansible_user="svc-wsus@CORP.EXAMPLE",
        ansible_psrp_auth="kerberos",
        ansible_psrp_negotiate_service="HTTP",
        ansible_psrp_negotiate_hostname_override="wsus-root.corp.example",
        ansible_psrp_negotiate_delegate=False,
    )
    assert (options.auth, options.negotiate_service, options.negotiate_hostname_override) == (
        "kerberos",
        "HTTP",
        "wsus-root.corp.example",
    )
    assert options.password is None and options.negotiate_delegate is False


def test_defaults_are_ansibles():
    options = _options(ansible_user="admin", ansible_password="pw", ansible_psrp_auth="ntlm")
    assert (options.negotiate_service, options.negotiate_hostname_override, options.negotiate_delegate) == (
        "WSMAN",
        None,
        False,
    )


@pytest.mark.parametrize(
    ("host_vars", "passwordless"),
    [
        ({"ansible_user": "u@CORP.EXAMPLE", "ansible_psrp_auth": "kerberos"}, True),
        ({"ansible_user": "u", "ansible_psrp_auth": "kerberos"}, True),  # the default realm's user
        ({"ansible_user": "u@CORP.EXAMPLE", "ansible_psrp_auth": "negotiate"}, True),
        ({"ansible_user": "CORP\\u", "ansible_psrp_auth": "negotiate"}, False),  # an NTLM-style name
        ({"ansible_user": "u@CORP.EXAMPLE", "ansible_psrp_auth": "ntlm"}, False),
    ],
)
def test_only_a_kerberos_login_may_go_without_a_password(host_vars, passwordless):
    if passwordless:
        assert _options(**host_vars).password is None
    else:
        with pytest.raises(UsageError, match="no password"):
            _options(**host_vars)


@pytest.mark.parametrize("bad", ["wsus root", "HTTP/wsus-root", "wsus@EVIL", ""])
def test_an_spn_part_is_one_name(bad):
    if bad == "":
        assert (
            _options(
                ansible_user="u@R", ansible_psrp_negotiate_hostname_override=bad
            ).negotiate_hostname_override
            is None
        )
        return
    with pytest.raises(UsageError, match="ansible_psrp_negotiate_hostname_override must be a name"):
        _options(ansible_user="u@R", ansible_psrp_negotiate_hostname_override=bad)


def test_delegate_must_be_a_bool():
    with pytest.raises(UsageError, match="ansible_psrp_negotiate_delegate"):
        _options(ansible_user="u@R", ansible_psrp_negotiate_delegate="perhaps")


def test_topology_auth_methods():
    topology = topology_from_dict(
        {"servers": [{"name": "a"}, {"name": "b", "auth_methods": ["kerberos"]}]}, "t.yml"
    )
    assert topology.server("a").auth_methods == ("basic", "ntlm", "kerberos")
    assert topology.server("b").auth_methods == ("kerberos",)
    for bad in ([], ["digest"], "kerberos"):
        with pytest.raises(UsageError, match=r"t\.yml: server b: auth_methods must be a non-empty list"):
            topology_from_dict({"servers": [{"name": "b", "auth_methods": bad}]}, "t.yml")


def _gssapi():
    """python-gssapi, or one line why not: a skip, unless .ci/run (which installs it) requires it."""
    try:
        import gssapi
    except ImportError as exc:
        reason = f"python-gssapi is not installed ({exc}): the kerberos extra (needs libkrb5-dev)"
        if os.environ.get("WSUSAUTO_KERBEROS_TEST") == "required":
            pytest.fail(f"Kerberos tests required but cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    return gssapi


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (CLOCK_SKEW, "clock skew too great"),
        (SERVER_UNKNOWN, "does not know the service principal WSMAN/wsus-root"),
        (CLIENT_UNKNOWN, "does not know the user u@R"),
        (PREAUTH_FAILED, "refused the password of u@R"),
    ],
)
def test_login_errors_are_told_by_their_krb5_code(code, words):
    gssapi = _gssapi()
    from spnego.exceptions import SpnegoError

    # python-gssapi reports MIT's code as an unsigned minor status; pyspnego wraps it.
    error = SpnegoError(base_error=gssapi.raw.misc.GSSError(851968, code & 0xFFFFFFFF))
    message = explain(error, user="u@R", spn="WSMAN/wsus-root", has_password=True)
    assert message is not None and words in message and "\n" not in message


def test_an_unknown_failure_is_left_to_the_caller():
    assert explain(ValueError("something else"), user="u@R", spn="WSMAN/x", has_password=True) is None


def test_a_cause_behind_two_errors_of_one_class_is_still_found():
    # pypsrp and pyspnego wrap errors in errors of the same class; what the inner one wraps counts.
    class NoCredentialError(Exception):  # pyspnego's name for "no ticket and no password"
        pass

    inner = RuntimeError("inner")
    inner.__cause__ = NoCredentialError()
    outer = RuntimeError("outer")
    outer.__cause__ = inner
    message = explain(outer, user="u@R", spn="WSMAN/x", has_password=False)
    assert message is not None and message.startswith("no Kerberos ticket for u@R and no password")
