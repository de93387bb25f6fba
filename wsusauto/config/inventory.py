"""Ansible-style YAML inventories: groups, children, vars, host patterns, connection options.

The file people already have for Ansible works as is:

    all:
      vars: {ansible_user: 'LAB\\admin', ansible_psrp_auth: ntlm}
      children:
        wsus:
          hosts:
            wsus-root: {ansible_host: 10.0.0.5}
            wsus-eu: {ansible_host: 10.0.1.5, wsus_upstream: wsus-root, wsus_replica: true}

Variable precedence follows Ansible: ``all`` < parent groups < child groups (by depth, then name)
< host vars < extra vars. The intended hierarchy is read from ``wsus_upstream`` / ``wsus_replica``.
Passwords may come from ``ansible_password`` (a warning: prefer the sources below),
``wsusauto_password_env`` (an environment variable's name) or ``wsusauto_password_file``; a
Kerberos login (``kerberos``, or ``negotiate`` for a ``user@REALM``) may have none and use the
ticket cache or a keytab. The ``ansible_psrp_negotiate_*`` vars name the server's SPN.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsusauto.client.session import ConnectionOptions
from wsusauto.config.secrets import Secret, secret_from_env, secret_from_file
from wsusauto.config.yamlfile import load_yaml
from wsusauto.errors import UsageError

_SECTION_KEYS = {"hosts", "vars", "children"}
# The psrp connection's password vars (ansible_password, ansible_winrm_pass, ansible_winrm_password) and two
# other spellings inventories use.
PASSWORD_VARS = (
    "ansible_password",
    "ansible_psrp_password",
    "ansible_winrm_password",
    "ansible_winrm_pass",
    "ansible_pass",
)


@dataclass(frozen=True)
class Host:
    name: str
    vars: Mapping[str, Any]
    groups: tuple[str, ...]

    @property
    def upstream(self) -> str | None:
        value = self.vars.get("wsus_upstream")
        return str(value) if value not in (None, "") else None

    @property
    def replica(self) -> bool:
        return _as_bool(self.vars.get("wsus_replica", False), f"host {self.name}: wsus_replica")


@dataclass
class _Group:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    parents: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Inventory:
    source: str
    hosts: Mapping[str, Host]  # in file order
    groups: Mapping[str, tuple[str, ...]]  # group -> host names (transitively), in file order
    warnings: tuple[str, ...] = ()
    extra_vars: Mapping[str, Any] = field(default_factory=dict)  # -e: above a play's vars, as in Ansible

    def select(self, pattern: str | None) -> list[Host]:
        """Hosts matching an Ansible host pattern.

        ``all``, host and group names, globs, ``a:b`` (union), ``a:&b`` (intersection), ``a:!b``
        (exclusion) and ``~regex``."""
        if pattern is None or pattern in ("", "all", "*"):
            return list(self.hosts.values())
        selected: list[str] = []
        for i, term in enumerate(_split_pattern(pattern)):
            if term.startswith("!"):
                excluded = self._match_term(term[1:])
                selected = [h for h in selected if h not in excluded]
            elif term.startswith("&"):
                kept = self._match_term(term[1:])
                selected = [h for h in selected if h in kept]
            else:
                for name in self._match_term(term):
                    if name not in selected:
                        selected.append(name)
            if i == 0 and term.startswith(("!", "&")):
                raise UsageError(f"host pattern {pattern!r}: it cannot start with '{term[0]}'")
        if not selected:
            raise UsageError(f"host pattern {pattern!r} matches no host in {self.source}")
        order = list(self.hosts)
        return [self.hosts[name] for name in sorted(selected, key=order.index)]

    def _match_term(self, term: str) -> list[str]:
        if term in ("all", "*"):
            return list(self.hosts)
        if term in self.groups:
            return list(self.groups[term])
        if term in self.hosts:
            return [term]
        if term.startswith("~"):
            try:
                regex = re.compile(term[1:])
            except re.error as exc:
                raise UsageError(f"host pattern {term!r}: bad regular expression ({exc})") from None
            return [h for h in self.hosts if regex.search(h)]
        matched = [h for h in self.hosts if fnmatch.fnmatchcase(h, term)]
        for group, members in self.groups.items():
            if fnmatch.fnmatchcase(group, term):
                matched.extend(m for m in members if m not in matched)
        return matched

    def host_for_server(self, server: str | None) -> str | None:
        """The inventory host a WSUS server name refers to (its host name, ``ansible_host``,
        ``wsus_server_name`` or a domain name whose first label is the host name); the name itself
        when no host matches; None for None."""
        if server is None:
            return None
        for host in self.hosts.values():
            names = {
                host.name,
                str(host.vars.get("ansible_host", "")),
                str(host.vars.get("wsus_server_name", "")),
            }
            if server in names or server.split(".")[0].lower() == host.name.lower():
                return host.name
        return server

    def connection_options(self, host: Host) -> ConnectionOptions:
        return connection_options(host, self.source)


def _split_pattern(pattern: str) -> list[str]:
    # Ansible separates with ':' or ','; '&' and '!' prefixes modify a term.
    return [t.strip() for t in re.split(r"[:,]", pattern) if t.strip()]


def load_inventory(path: str | Path, extra_vars: Mapping[str, Any] | None = None) -> Inventory:
    return inventory_from_dict(load_yaml(path, "inventory"), str(path), extra_vars)


def inventory_from_dict(
    data: Any, source: str = "<inventory>", extra_vars: Mapping[str, Any] | None = None
) -> Inventory:
    if not isinstance(data, Mapping) or not data:
        raise UsageError(f"{source}: an inventory is a mapping of groups, starting with 'all:'")
    groups: dict[str, _Group] = {"all": _Group("all")}
    host_order: list[str] = []
    host_vars: dict[str, dict[str, Any]] = {}

    def read_group(name: str, body: Any, parent: str | None) -> None:
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            raise UsageError(f"{source}: group {name!r} must be a mapping with hosts/vars/children")
        unknown = set(body) - _SECTION_KEYS
        if unknown:
            raise UsageError(
                f"{source}: group {name!r} has unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                "a group holds only hosts, vars and children"
            )
        group = groups.setdefault(name, _Group(name))
        if parent is not None:
            group.parents.add(parent)
            if name not in groups[parent].children:
                groups[parent].children.append(name)
        group_vars = body.get("vars") or {}
        if not isinstance(group_vars, Mapping):
            raise UsageError(f"{source}: vars of group {name!r} must be a mapping")
        group.vars.update(group_vars)
        hosts = body.get("hosts") or {}
        if not isinstance(hosts, Mapping):
            raise UsageError(f"{source}: hosts of group {name!r} must be a mapping of host names")
        for host_name, hvars in hosts.items():
            host_name = str(host_name)
            if hvars is not None and not isinstance(hvars, Mapping):
                raise UsageError(
                    f"{source}: host {host_name!r} in group {name!r}: its vars must be a mapping"
                )
            if host_name not in host_vars:
                host_order.append(host_name)
                host_vars[host_name] = {}
            host_vars[host_name].update(hvars or {})
            group.hosts.setdefault(host_name, {})
        children = body.get("children") or {}
        if not isinstance(children, Mapping):
            raise UsageError(f"{source}: children of group {name!r} must be a mapping of groups")
        for child, child_body in children.items():
            if str(child) == name or _is_ancestor(groups, str(child), name):
                raise UsageError(f"{source}: group {child!r} cannot be a child of itself (via {name!r})")
            read_group(str(child), child_body, name)

    for top, body in data.items():
        read_group(str(top), body, None if str(top) == "all" else "all")

    depth = _group_depths(groups)
    membership: dict[str, list[str]] = {name: [] for name in groups}
    for group in groups.values():
        for host_name in _hosts_of(groups, group.name):
            if host_name not in membership[group.name]:
                membership[group.name].append(host_name)
    membership["all"] = list(host_order)

    warnings: list[str] = []
    unvalidated: list[str] = []
    hosts: dict[str, Host] = {}
    for host_name in host_order:
        member_of = [g for g in groups if host_name in membership[g]]
        merged: dict[str, Any] = {}
        for group_name in sorted(member_of, key=lambda g: (depth[g], g)):
            merged.update(groups[group_name].vars)
        merged.update(host_vars[host_name])
        merged.update(extra_vars or {})
        merged.setdefault("inventory_hostname", host_name)
        merged["group_names"] = sorted(g for g in member_of if g != "all")
        hosts[host_name] = Host(host_name, merged, tuple(merged["group_names"]))
        if any(merged.get(v) for v in PASSWORD_VARS):
            warnings.append(host_name)
        if cert_validation_off(merged):
            unvalidated.append(host_name)
    notes = []
    if warnings:
        notes.append(
            f"{source}: a password is written in clear for {_some(warnings)}; prefer wsusauto_password_env "
            "(an environment variable's name) or wsusauto_password_file"
        )
    if unvalidated:
        notes.append(
            f"{source}: TLS certificate validation is turned off (ansible_psrp_cert_validation: ignore) "
            f"for {_some(unvalidated)}; anyone on the path can pose as these servers and receive the "
            "credentials; give the servers' CA with ansible_psrp_ca_cert instead"
        )
    ordered_groups = {name: tuple(h for h in host_order if h in membership[name]) for name in groups}
    return Inventory(source, hosts, ordered_groups, tuple(notes), dict(extra_vars or {}))


def _some(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _last_set(variables: Mapping[str, Any], names: tuple[str, ...], default: Any = None) -> Any:
    """An option that several vars set, as Ansible's psrp connection reads it: the last of ``names``
    (in the order its documentation lists them) that is set wins, e.g. ansible_psrp_port over
    ansible_port."""
    value = default
    for name in names:
        if variables.get(name) is not None:
            value = variables[name]
    return value


def default_protocol(variables: Mapping[str, Any]) -> str:
    """The protocol of a host whose vars name none, as Ansible's psrp connection chooses it: http on
    port 5985, else https (its port 5986 by default)."""
    port = _last_set(variables, ("ansible_port", "ansible_psrp_port"))
    return "http" if port is not None and str(port).strip() == "5985" else "https"


def cert_validation_off(merged: Mapping[str, Any]) -> bool:
    """Whether a host's vars connect over HTTPS without checking the server's certificate."""
    https = str(merged.get("ansible_psrp_protocol", default_protocol(merged))).lower() == "https"
    return https and str(merged.get("ansible_psrp_cert_validation", "validate")).lower() == "ignore"


def _is_ancestor(groups: Mapping[str, _Group], candidate: str, of: str) -> bool:
    seen: set[str] = set()
    stack = [of]
    while stack:
        current = stack.pop()
        if current == candidate:
            return True
        if current in seen or current not in groups:
            continue
        seen.add(current)
        stack.extend(groups[current].parents)
    return False


def _group_depths(groups: Mapping[str, _Group]) -> dict[str, int]:
    depths: dict[str, int] = {}

    def depth(name: str, trail: tuple[str, ...] = ()) -> int:
        if name in depths:
            return depths[name]
        parents = groups[name].parents - {name}
        value = 0 if not parents else 1 + max(depth(p, (*trail, name)) for p in parents if p not in trail)
        depths[name] = value
        return value

    for name in groups:
        depth(name)
    return depths


def _hosts_of(groups: Mapping[str, _Group], name: str, seen: set[str] | None = None) -> list[str]:
    seen = seen if seen is not None else set()
    if name in seen:
        return []
    seen.add(name)
    group = groups[name]
    found = list(group.hosts)
    for child in group.children:
        found.extend(h for h in _hosts_of(groups, child, seen) if h not in found)
    return found


# -- connection options -------------------------------------------------------------------------


def _as_bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "1", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("no", "false", "0", "off", ""):
        return False
    if isinstance(value, int):
        return bool(value)
    raise UsageError(f"{what} must be true or false, not {value!r}")


def _as_number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    # nan and inf parse as floats, but no wait or timeout can be built on them (a busy wait of nan
    # would never end, int(nan) would crash).
    if not math.isfinite(number):
        raise UsageError(f"{what} must be a number of seconds, not {value!r}")
    return number


def _choice(value: Any, allowed: Iterable[str], what: str) -> str:
    text = str(value).lower()
    allowed = tuple(allowed)
    if text not in allowed:
        raise UsageError(f"{what} is {value!r}; use one of {', '.join(allowed)}")
    return text


def _spn_part(value: Any, where: str, option: str) -> str:
    """A name that goes into a Kerberos SPN: one word, no spaces, slashes or @ (the SPN is built
    as service/host@REALM, so any of those would name another principal)."""
    text = str(value)
    if not re.fullmatch(r"[A-Za-z0-9._-]+", text):
        raise UsageError(
            f"{where}: ansible_psrp_{option} must be a name (letters, digits, . _ -), not {text!r}"
        )
    return text


def _password(host: Host, source: str, ticket_login: bool = False) -> Secret | None:
    """The password from its source. None for a Kerberos login when there is none: it then uses
    the ticket cache (KRB5CCNAME) or a keytab (KRB5_CLIENT_KTNAME), as a cron job or AWX does."""
    v = host.vars
    where = f"{source}: host {host.name}"
    if v.get("wsusauto_password_env"):
        return secret_from_env(str(v["wsusauto_password_env"]), what=where)
    if v.get("wsusauto_password_file"):
        return secret_from_file(str(v["wsusauto_password_file"]), what=where)
    for name in PASSWORD_VARS:
        if v.get(name) not in (None, ""):
            return Secret(str(v[name]))
    if ticket_login:
        return None
    raise UsageError(
        f"{where}: no password; set wsusauto_password_env or wsusauto_password_file (or ansible_password)"
    )


def connection_options(host: Host, source: str = "<inventory>") -> ConnectionOptions:
    """Translate Ansible's psrp connection vars into ``ConnectionOptions``."""
    v = host.vars
    where = f"{source}: host {host.name}"
    protocol = _choice(
        v.get("ansible_psrp_protocol", default_protocol(v)),
        ("http", "https"),
        f"{where}: ansible_psrp_protocol",
    )
    ssl = protocol == "https"
    port = _last_set(v, ("ansible_port", "ansible_psrp_port"), 5986 if ssl else 5985)
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: ansible_port must be a number, not {port!r}") from None
    auth = _choice(
        v.get("ansible_psrp_auth", "negotiate"),
        ("basic", "ntlm", "negotiate", "kerberos", "credssp", "certificate"),
        f"{where}: ansible_psrp_auth",
    )
    validation = _choice(
        v.get("ansible_psrp_cert_validation", "validate"),
        ("validate", "ignore"),
        f"{where}: ansible_psrp_cert_validation",
    )
    ca = _last_set(v, ("ansible_psrp_cert_trust_path", "ansible_psrp_ca_cert"))  # psrp's two names for it
    if v.get("ansible_psrp_proxy") not in (None, ""):
        # Sessions connect to WinRM directly: going around a proxy the inventory names is not done silently.
        raise UsageError(
            f"{where}: ansible_psrp_proxy is set, but wsusauto connects to WinRM directly, never through an "
            "HTTP proxy; reach the server without one, or leave this host out"
        )
    cert_validation: bool | str = False if validation == "ignore" else (str(ca) if ca else True)
    encryption = _choice(
        v.get("ansible_psrp_message_encryption", "auto"),
        ("auto", "always", "never"),
        f"{where}: ansible_psrp_message_encryption",
    )
    if auth == "certificate":
        # pypsrp would want the client certificate's files, which wsusauto does not take.
        raise UsageError(
            f"{where}: ansible_psrp_auth: certificate (a client certificate) is not supported by wsusauto; "
            "use negotiate, kerberos or ntlm (or basic over https)"
        )
    if auth == "basic" and not ssl:
        # Refused whatever ansible_psrp_message_encryption says: the Authorization header itself
        # carries the password, and message encryption (NTLM/Kerberos only) cannot cover it.
        raise UsageError(
            f"{where}: Basic authentication over plain HTTP sends the password in clear; use "
            "ansible_psrp_protocol: https, or NTLM/Negotiate with message encryption"
        )
    user = _last_set(v, ("ansible_user", "ansible_psrp_user"))
    if not user:
        raise UsageError(f"{where}: ansible_user is not set")
    operation_timeout = int(
        _as_number(v.get("ansible_psrp_operation_timeout", 20), f"{where}: ansible_psrp_operation_timeout")
    )
    read_timeout = _as_number(v.get("ansible_psrp_read_timeout", 30), f"{where}: ansible_psrp_read_timeout")
    if read_timeout <= operation_timeout:
        raise UsageError(
            f"{where}: ansible_psrp_read_timeout ({read_timeout:g}) must be greater than "
            f"ansible_psrp_operation_timeout ({operation_timeout})"
        )
    return ConnectionOptions(
        address=str(_last_set(v, ("ansible_host", "ansible_psrp_host"), host.name)),
        port=port,
        username=str(user),
        # Kerberos, or Negotiate for a user@REALM, may log in without a password.
        password=_password(host, source, auth == "kerberos" or (auth == "negotiate" and "@" in str(user))),
        auth=auth,
        ssl=ssl,
        cert_validation=cert_validation,
        encryption=encryption,
        path=str(v.get("ansible_psrp_path", "wsman")),
        configuration_name=str(v.get("ansible_psrp_configuration_name", "Microsoft.PowerShell")),
        connection_timeout=_as_number(
            v.get("ansible_psrp_connection_timeout", 30), f"{where}: ansible_psrp_connection_timeout"
        ),
        read_timeout=read_timeout,
        operation_timeout=operation_timeout,
        negotiate_send_cbt=_as_bool(
            v.get("ansible_psrp_negotiate_send_cbt", True), f"{where}: ansible_psrp_negotiate_send_cbt"
        ),
        negotiate_service=_spn_part(
            v.get("ansible_psrp_negotiate_service", "WSMAN"), where, "negotiate_service"
        ),
        negotiate_hostname_override=(
            _spn_part(v["ansible_psrp_negotiate_hostname_override"], where, "negotiate_hostname_override")
            if v.get("ansible_psrp_negotiate_hostname_override") not in (None, "")
            else None
        ),
        negotiate_delegate=_as_bool(
            v.get("ansible_psrp_negotiate_delegate", False), f"{where}: ansible_psrp_negotiate_delegate"
        ),
        reconnection_retries=int(
            _as_number(
                v.get("ansible_psrp_reconnection_retries", 0), f"{where}: ansible_psrp_reconnection_retries"
            )
        ),
        reconnection_backoff=_as_number(
            v.get("ansible_psrp_reconnection_backoff", 2), f"{where}: ansible_psrp_reconnection_backoff"
        ),
        busy_wait=_busy_wait(v.get("wsus_busy_wait", 180), f"{where}: wsus_busy_wait"),
    )


def _busy_wait(value: Any, where: str) -> float:
    seconds = _as_number(value, where)
    if seconds < 0:
        raise UsageError(f"{where} is seconds to wait for a busy WSUS server, 0 or more, not {value!r}")
    return seconds
