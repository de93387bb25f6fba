"""The variables a host's expressions see, as in Ansible.

Precedence, lowest first: inventory vars (``all`` < parent groups < child groups < host), the
play's ``vars:``, extra vars (``-e``). Then Ansible's magic variables, which nothing overrides:
``inventory_hostname``, ``group_names``, ``groups`` (group -> host names) and ``hostvars``
(host -> its inventory variables). Everything is read-only, and a password (the inventory's
``ansible_password`` and its aliases, or any :class:`~wsusauto.config.secrets.Secret`) is a
:class:`~wsusauto.config.expression_sandbox.MaskedSecret`: usable only whole, as a secret argument.

A play's ``vars:`` may use expressions over the inventory's variables; each is evaluated once per
host (it cannot refer to another play var) and its value is data from then on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from wsusauto.config.expression_sandbox import MaskedSecret
from wsusauto.config.inventory import PASSWORD_VARS, Host, Inventory
from wsusauto.config.secrets import Secret
from wsusauto.config.templating import render


def masked(name: str, value: Any, label: str) -> Any:
    if isinstance(value, Secret):
        return MaskedSecret(value, label)
    # Any value, as the inventory takes it for the password (``ansible_password: 12345678`` is an int).
    if name in PASSWORD_VARS and value not in (None, ""):
        return MaskedSecret(Secret(str(value)), label)
    return value


class ReadOnlyVars(Mapping[str, Any]):
    """One host's variables (or ``hostvars`` itself) for expressions: read-only, secrets masked."""

    def __init__(self, values: Mapping[str, Any], label: str) -> None:
        self._values = values
        self.label = label  # how messages name it: hostvars, hostvars['wsus-01']

    def __getitem__(self, key: str) -> Any:
        return masked(key, self._values[key], f"{self.label}[{key!r}]")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<{self.label}>"


class PlayVariables:
    """Builds each host's variables for a run (``hostvars`` and ``groups`` are made once)."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.hostvars = ReadOnlyVars(
            {name: ReadOnlyVars(host.vars, f"hostvars[{name!r}]") for name, host in inventory.hosts.items()},
            "hostvars",
        )
        self.groups = {group: list(members) for group, members in inventory.groups.items()}

    def for_host(
        self, host: Host, play_vars: Mapping[str, Any] | None = None, where: str = ""
    ) -> dict[str, Any]:
        variables = {name: masked(name, value, name) for name, value in host.vars.items()}
        variables.update(self._magic(host))
        if play_vars:
            # Evaluated against the inventory's variables only, each once: nothing expands twice.
            evaluated = {
                name: render(value, variables, f"{where}, vars {name}, host {host.name}")
                for name, value in play_vars.items()
            }
            variables.update(evaluated)
            extra = self.inventory.extra_vars
            variables.update({name: masked(name, value, name) for name, value in extra.items()})
            variables.update(self._magic(host))
        return variables

    def _magic(self, host: Host) -> dict[str, Any]:
        return {
            "inventory_hostname": host.name,
            "group_names": list(host.groups),
            "groups": self.groups,
            "hostvars": self.hostvars,
        }
