"""Proxy settings (wsus-api.md 1.2, P6; "Issues with Synchronization": "Check proxy server settings").

The password comes from a secret source (an environment variable or a file, never the playbook
text), travels as a SecureString to ``SetProxyPassword`` and can never be read back: the server
only says whether one is set. As with Ansible's ``update_password``, a password is sent when none
is set yet (``on_create``, the default, so a second run changes nothing) or on every run
(``update_password: always``, after a rotation). The diff shows ``(set)`` / ``(none)``, never the
value.

``AllowProxyCredentialsOverNonSsl`` is the console's "Allow basic authentication (password in
cleartext)": the proxy password then crosses the network in clear. It is refused unless the play
sets ``allow_cleartext_proxy_password: true``, and then every result carries a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.config.secrets import Secret, secret_from_env, secret_from_file
from wsusauto.errors import UsageError
from wsusauto.operations.base import READY_TIMEOUT_SECONDS, Argument, Change, ChangePlan, Operation
from wsusauto.state.facts import Facts

CLEARTEXT_WARNING = (
    "AllowProxyCredentialsOverNonSsl is on: the proxy password crosses the network in "
    "clear text (Basic authentication without SSL)"
)

_MEMBERS = {  # argument -> API member
    "enabled": "UseProxy",
    "name": "ProxyName",
    "port": "ProxyServerPort",
    "anonymous": "AnonymousProxyAccess",
    "user": "ProxyUserName",
    "domain": "ProxyUserDomain",
    "basic_auth_cleartext": "AllowProxyCredentialsOverNonSsl",
}


class Proxy(Operation):
    name = "proxy"
    arguments = {
        "enabled": Argument(bool, required=True),
        "name": Argument(str),
        "port": Argument(int, check=lambda p: None if 1 <= p <= 65535 else "a TCP port is 1 to 65535"),
        "anonymous": Argument(bool),
        "user": Argument(str),
        "domain": Argument(str),
        "password": Argument(Secret),  # library callers pass a Secret
        "password_env": Argument(str),  # playbooks name a source: an environment variable...
        "password_file": Argument(str),  # ...or a file holding the password
        "update_password": Argument(str, choices=("on_create", "always")),
        "basic_auth_cleartext": Argument(bool),
        # The play's allow_cleartext_proxy_password (play_settings), never a task's own argument.
        "allow_cleartext_proxy_password": Argument(bool),
    }
    play_settings = ("allow_cleartext_proxy_password",)

    def check_combination(self, args: dict[str, Any], where: str) -> None:
        sources = [k for k in ("password", "password_env", "password_file") if k in args]
        if len(sources) > 1:
            raise UsageError(f"{where}: give the proxy password one way, not {' and '.join(sources)}")
        if "password_env" in args:
            args["password"] = secret_from_env(args.pop("password_env"), what=f"{where}: proxy password")
        elif "password_file" in args:
            args["password"] = secret_from_file(args.pop("password_file"), what=f"{where}: proxy password")
        if args.get("basic_auth_cleartext") and not args.get("allow_cleartext_proxy_password"):
            raise UsageError(
                f"{where}: basic_auth_cleartext: true sends the proxy password in clear text; "
                "the play must say allow_cleartext_proxy_password: true to allow it"
            )
        if args["enabled"] and not args.get("name", "").strip() and "name" in args:
            raise UsageError(f"{where}: proxy name cannot be empty when the proxy is enabled")
        if args.get("anonymous") is False and "user" not in args:
            raise UsageError(f"{where}: a proxy without anonymous access needs user (and a password source)")

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        current = {
            "UseProxy": facts.use_proxy,
            "ProxyName": facts.proxy_name,
            "ProxyServerPort": facts.proxy_server_port,
            "AnonymousProxyAccess": facts.anonymous_proxy_access,
            "ProxyUserName": facts.proxy_user_name,
            "ProxyUserDomain": facts.proxy_user_domain,
            "AllowProxyCredentialsOverNonSsl": facts.allow_proxy_credentials_over_non_ssl,
        }
        wanted = {member: args[arg] for arg, member in _MEMBERS.items() if arg in args}
        changes = [Change(m, current[m], v) for m, v in wanted.items() if current[m] != v]
        password: Secret | None = args.get("password")
        if (
            password is not None
            and facts.has_proxy_password
            and args.get("update_password", "on_create") != "always"
        ):
            password = None  # one is set and it cannot be compared: leave it, as update_password: on_create
        if password is not None:
            changes.append(
                Change(
                    "ProxyPassword",
                    "(set)" if facts.has_proxy_password else "(none)",
                    "(set)" if password else "(none)",
                )
            )
        cleartext = wanted.get("AllowProxyCredentialsOverNonSsl", facts.allow_proxy_credentials_over_non_ssl)
        warnings = (CLEARTEXT_WARNING,) if cleartext else ()
        parameters = {
            "Members": [c.member for c in changes if c.member != "ProxyPassword"],
            "UseProxy": wanted.get("UseProxy", False),
            "ProxyName": wanted.get("ProxyName", ""),
            "ProxyServerPort": wanted.get("ProxyServerPort", 0),
            "AnonymousProxyAccess": wanted.get("AnonymousProxyAccess", False),
            "ProxyUserName": wanted.get("ProxyUserName", ""),
            "ProxyUserDomain": wanted.get("ProxyUserDomain", ""),
            "AllowProxyCredentialsOverNonSsl": wanted.get("AllowProxyCredentialsOverNonSsl", False),
            "SetPassword": password is not None,
            "ProxyPassword": password if password is not None else None,
            "ReadyTimeoutSeconds": READY_TIMEOUT_SECONDS,
        }
        return ChangePlan(tuple(changes), "set_proxy", parameters, warnings)
