"""Playbooks in Ansible's shape and words: a list of plays, each with hosts and tasks.

    - name: Designate the replicas
      hosts: branch                 # an inventory host pattern
      order: hierarchy              # inventory | hierarchy (roots first) | reverse_hierarchy
      serial: [1, "25%"]            # batches: a number, a percentage, or a list of them
      max_fail_percentage: 0
      allow_cleartext_proxy_password: false
      vars: {wsus_upstream_port: 8531}   # above inventory vars, below -e (as in Ansible)
      tasks:
        - name: Sync from the regional server
          update_source: {source: upstream, upstream: "{{ wsus_upstream }}"}
          when: wsus_upstream is defined

Everything is checked when the file is read, so a wrong playbook stops before any server is touched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsusauto.config.templating import check_expressions
from wsusauto.config.yamlfile import load_yaml
from wsusauto.errors import UsageError
from wsusauto.operations import OPERATIONS

_PLAY_KEYS = {
    "max_concurrent_per_upstream",
    "name",
    "hosts",
    "serial",
    "max_fail_percentage",
    "order",
    "tasks",
    "allow_cleartext_proxy_password",
    "gather_facts",
    "any_errors_fatal",
    "vars",
}
_TASK_KEYS = {"name", "when", "ignore_errors"}
ORDERS = ("inventory", "hierarchy", "reverse_hierarchy")


@dataclass(frozen=True)
class Task:
    name: str
    operation: str
    args: Mapping[str, Any]
    when: Any = None
    ignore_errors: bool = False
    where: str = ""


@dataclass(frozen=True)
class Play:
    name: str
    hosts: str
    tasks: tuple[Task, ...]
    serial: tuple[int | str, ...] = ()
    max_fail_percentage: float | None = None
    order: str = "inventory"
    allow_cleartext_proxy_password: bool = False
    where: str = ""
    max_concurrent_per_upstream: int = 1  # synchronize in hierarchy order: syncs one upstream serves at once
    vars: Mapping[str, Any] = field(default_factory=dict)  # the play's vars: (may use expressions)

    def batches(self, hosts: list[str]) -> list[list[str]]:
        """Split hosts into serial batches.

        As in Ansible: the last size repeats, and percentages are of the play's hosts."""
        if not self.serial:
            return [hosts] if hosts else []
        sizes = [_batch_size(s, len(hosts)) for s in self.serial]
        batches, start, index = [], 0, 0
        while start < len(hosts):
            size = sizes[min(index, len(sizes) - 1)]
            batches.append(hosts[start : start + size])
            start += size
            index += 1
        return batches


@dataclass(frozen=True)
class Playbook:
    source: str
    plays: tuple[Play, ...] = field(default_factory=tuple)


def _batch_size(value: int | str, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return max(1, int(total * float(value[:-1]) / 100))
    return max(1, int(value))


def _check_serial(value: Any, where: str) -> tuple[int | str, ...]:
    items = value if isinstance(value, list) else [value]
    checked: list[int | str] = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and item >= 1:
            checked.append(item)
        elif (
            isinstance(item, str)
            and re.fullmatch(r"\d+(\.\d+)?%", item.strip())
            and float(item.strip()[:-1]) > 0
        ):
            checked.append(item.strip())
        elif isinstance(item, str) and item.strip().isdigit() and int(item) >= 1:
            checked.append(int(item))
        else:
            raise UsageError(
                f"{where}: serial must be a number, a percentage like '25%', or a list of them, not {item!r}"
            )
    return tuple(checked)


def playbooks_dir() -> Path:
    """The shipped playbooks: inside the installed wheel, or the repository's top level."""
    from importlib import resources

    packaged = resources.files("wsusauto") / "playbooks"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "playbooks"


def _check_k(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"{where}: max_concurrent_per_upstream must be a whole number, 1 or more")
    return value


# Ansible's magic variables: set from the inventory for every host, never by a play.
MAGIC_VARIABLES = ("inventory_hostname", "group_names", "groups", "hostvars")


def _check_vars(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: vars must be a mapping of variable names to values")
    for name in value:
        if not isinstance(name, str) or not name.isidentifier():
            raise UsageError(f"{where}: vars: {name!r} is not a variable name (letters, digits and _)")
        if name in MAGIC_VARIABLES:
            raise UsageError(f"{where}: vars: {name} is set from the inventory and cannot be changed")
        check_expressions(value[name], f"{where}, vars {name}")
    return dict(value)


def load_playbook(path: str | Path) -> Playbook:
    return playbook_from_data(load_yaml(path, "playbook"), str(path))


def playbook_from_data(data: Any, source: str = "<playbook>") -> Playbook:
    if not isinstance(data, list) or not data:
        raise UsageError(f"{source}: a playbook is a list of plays (each with hosts and tasks)")
    plays = []
    for index, raw in enumerate(data, 1):
        where = f"{source}: play {index}"
        if not isinstance(raw, Mapping):
            raise UsageError(f"{where}: a play is a mapping with hosts and tasks")
        if raw.get("name"):
            where += f" ({raw['name']})"
        unknown = sorted(set(raw) - _PLAY_KEYS)
        if unknown:
            raise UsageError(
                f"{where}: unknown key(s) {', '.join(map(str, unknown))}; a play takes "
                f"{', '.join(sorted(_PLAY_KEYS))}"
            )
        if not isinstance(raw.get("hosts"), str) or not raw["hosts"].strip():
            raise UsageError(f"{where}: hosts must be a host pattern such as all, a group, or 'a:!b'")
        order = raw.get("order", "inventory")
        if order not in ORDERS:
            raise UsageError(f"{where}: order must be one of {', '.join(ORDERS)}, not {order!r}")
        max_fail = raw.get("max_fail_percentage")
        if max_fail is not None and (
            isinstance(max_fail, bool) or not isinstance(max_fail, int | float) or not 0 <= max_fail <= 100
        ):
            raise UsageError(f"{where}: max_fail_percentage must be a number from 0 to 100")
        allow = raw.get("allow_cleartext_proxy_password", False)
        if not isinstance(allow, bool):
            raise UsageError(f"{where}: allow_cleartext_proxy_password must be true or false")
        tasks = raw.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            raise UsageError(f"{where}: tasks must be a non-empty list")
        plays.append(
            Play(
                name=str(raw.get("name") or raw["hosts"]),
                hosts=raw["hosts"].strip(),
                tasks=tuple(_task(t, f"{where}, task {i}") for i, t in enumerate(tasks, 1)),
                serial=_check_serial(raw["serial"], where) if raw.get("serial") is not None else (),
                max_fail_percentage=float(max_fail) if max_fail is not None else None,
                order=order,
                allow_cleartext_proxy_password=allow,
                max_concurrent_per_upstream=_check_k(raw.get("max_concurrent_per_upstream", 1), where),
                vars=_check_vars(raw.get("vars"), where),
                where=where,
            )
        )
    return Playbook(source, tuple(plays))


def _task(raw: Any, where: str) -> Task:
    if not isinstance(raw, Mapping):
        raise UsageError(f"{where}: a task is a mapping with a name and one operation")
    if raw.get("name"):
        where += f" ({raw['name']})"
    operations = [k for k in raw if k not in _TASK_KEYS]
    if len(operations) != 1 or operations[0] not in OPERATIONS:
        named = ", ".join(map(str, operations)) or "none"
        raise UsageError(
            f"{where}: a task names exactly one operation ({', '.join(sorted(OPERATIONS))}); found: {named}"
        )
    operation = operations[0]
    args = raw[operation] if raw[operation] is not None else {}
    if not isinstance(args, Mapping):
        raise UsageError(f"{where}: the arguments of {operation} must be a mapping")
    settings = sorted(set(args) & set(OPERATIONS[operation].play_settings))
    if settings:  # the play's, given to the task by the run (Operation.play_settings)
        raise UsageError(f"{where}: {settings[0]} is a play setting, not a task argument")
    ignore = raw.get("ignore_errors", False)
    if not isinstance(ignore, bool):
        raise UsageError(f"{where}: ignore_errors must be true or false")
    check_expressions(dict(args), where)
    check_expressions(raw.get("when"), where, condition=True)
    return Task(
        name=str(raw.get("name") or operation),
        operation=operation,
        args=dict(args),
        when=raw.get("when"),
        ignore_errors=ignore,
        where=where,
    )
