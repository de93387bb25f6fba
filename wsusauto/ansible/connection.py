"""An Ansible inventory host -> wsusauto's ``Host`` -> ``ConnectionOptions`` -> ``Session``.

The collection's action plugins run on the controller and reach the WSUS server with wsusauto's own
Session, built from the same inventory vars ``wsusauto`` reads (``wsusauto.config.inventory``): an
inventory written for ``ansible_connection: psrp`` works unchanged. Only the vars that say how to
connect are taken from the task's vars (``connection_var_names``), and the plugin templates just
those: the other hostvars are never copied, templated or kept. Their values are made Python's own
types first (``values.native``: ansible-core 2.19 tags templated values).

A password given with ``ansible-playbook -k`` (Ansible's play context) is the fallback for a host
whose vars name no password source, as Ansible's own connection plugins take it: a var wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wsusauto.ansible.values import native
from wsusauto.client.session import Session
from wsusauto.config.inventory import PASSWORD_VARS, Host, cert_validation_off, connection_options

# The vars connection_options reads, besides every ansible_psrp_* var.
CONNECTION_VARS: tuple[str, ...] = (
    "ansible_host",
    "ansible_port",
    "ansible_user",
    *PASSWORD_VARS,
    "wsus_busy_wait",
    "wsusauto_password_env",
    "wsusauto_password_file",
)
CONNECTION_VAR_PREFIX = "ansible_psrp_"
_PASSWORD_SOURCES = (*PASSWORD_VARS, "wsusauto_password_env", "wsusauto_password_file")

# wsusauto's inventory warns of this (wsusauto.config.inventory); a playbook's run warns the same. One
# text for every host, so Ansible's display shows it once per run, not once per host and task.
CERT_VALIDATION_OFF = (
    "TLS certificate validation is turned off (ansible_psrp_cert_validation: ignore): anyone on the "
    "path can pose as the WSUS server and receive the credentials; give the servers' CA with "
    "ansible_psrp_ca_cert instead"
)

# Where a connection error points: the inventory Ansible read, not a file of wsusauto's.
SOURCE = "Ansible inventory"


def connection_var_names(names: Iterable[str]) -> list[str]:
    """Of the variable names an Ansible task sees, those that say how to reach the host."""
    return [n for n in names if n in CONNECTION_VARS or n.startswith(CONNECTION_VAR_PREFIX)]


def host_from_vars(name: str, connection_vars: Mapping[str, Any], play_password: str | None = None) -> Host:
    """wsusauto's ``Host`` for the inventory host ``name`` from its (templated) connection vars;
    ``play_password`` (``-k``) stands in when the vars give no password source."""
    kept = {k: native(v) for k, v in connection_vars.items() if k in connection_var_names([k])}
    has_password = any(kept.get(k) not in (None, "") for k in _PASSWORD_SOURCES)
    if play_password and not has_password:
        kept["ansible_password"] = native(play_password)
    return Host(name, kept, ())


def connection_warnings(host: Host) -> list[str]:
    """What wsusauto's inventory warns of in ``host``'s connection vars, for the task's result."""
    return [CERT_VALIDATION_OFF] if cert_validation_off(host.vars) else []


def open_session(host: Host, *, deadline: float = 120.0) -> Session:
    """A Session to ``host`` (not yet opened: it opens on its first command); the caller closes it.
    Bad connection vars raise ``UsageError`` naming the host and the var, before any connection."""
    return Session(host.name, connection_options(host, SOURCE), default_deadline=deadline)


__all__ = [
    "CERT_VALIDATION_OFF",
    "CONNECTION_VARS",
    "CONNECTION_VAR_PREFIX",
    "connection_var_names",
    "connection_warnings",
    "host_from_vars",
    "open_session",
]
