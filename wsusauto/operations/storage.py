"""``storage_option``: one update storage option across a hierarchy ("Synchronization issues": "the
entire hierarchy must use the same update storage option or else synchronizations fail").

The option is ``HostBinariesOnMicrosoftUpdate`` (wsus-api.md 1.2: true = update files are not stored
on the server, clients get them from Microsoft Update; false = stored locally). A task either names
it (``storage: local`` or ``storage: microsoft_update``) or, without ``storage``, takes the root's:
its fleet step (``prepare_fleet``) looks up, before any change, the root of each host's intended
hierarchy (the inventory's ``wsus_upstream`` chain as the play's tasks leave it) among the play's
facts, so only the servers that differ from their root change. Nothing is ever changed without this
task: storage is the user's decision, never a side effect of ``diagnose --fix``.

Save() refuses ``HostBinariesOnMicrosoftUpdate`` true while ``AllUpdateLanguagesEnabled`` is false
(wsus-api.md 1.2a), so such a server is refused with that reason: which languages a server downloads
is a decision of its own (enable all languages first, then run the task again).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.errors import UsageError
from wsusauto.operations.base import (
    READY_TIMEOUT_SECONDS,
    Argument,
    Change,
    ChangePlan,
    Operation,
    OperationRefused,
)
from wsusauto.operations.group import TaskGroup
from wsusauto.state.facts import Facts

ROOT = "_root"  # added by the fleet step: (root host, its HostBinariesOnMicrosoftUpdate or None: unknown)
_CHOICES = {"local": False, "microsoft_update": True}


def _describe(on_microsoft_update: bool) -> str:
    return "stored on Microsoft Update" if on_microsoft_update else "stored locally"


class StorageOption(Operation):
    name = "storage_option"
    arguments = {
        "storage": Argument(str, choices=tuple(_CHOICES)),  # default: the root's option
    }

    def prepare_fleet(self, group: TaskGroup) -> Mapping[str, Mapping[str, Any]]:
        """Without ``storage``, each host gets its root and the root's option (None: unknown)."""
        prepared: dict[str, Mapping[str, Any]] = {}
        for host, args in group.args.items():
            if "storage" in args:
                prepared[host] = args
                continue
            root, in_inventory = group.root_of(host)
            known = group.facts.get(root) if in_inventory else None
            on_microsoft_update = None if known is None else known.host_binaries_on_microsoft_update
            prepared[host] = {**args, ROOT: (root, on_microsoft_update)}
        return prepared

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        if "storage" in args:
            wanted = _CHOICES[args["storage"]]
        elif ROOT in args:
            root, root_value = args[ROOT]
            if root_value is None:
                raise OperationRefused(
                    f"{facts.host}: the storage option of the root of its hierarchy ({root}) is not "
                    "known: it is not among this play's hosts, or could not be read; run the play on it "
                    "too, or name the option (storage: local or storage: microsoft_update)"
                )
            wanted = root_value
        else:
            raise UsageError(
                "storage_option without storage: takes the root's option, which only a playbook run "
                "looks up; name it (storage: local or storage: microsoft_update)"
            )
        current = facts.host_binaries_on_microsoft_update
        if current == wanted:
            return ChangePlan(())
        if wanted and not facts.all_update_languages_enabled:
            raise OperationRefused(
                f"{facts.host}: WSUS saves HostBinariesOnMicrosoftUpdate (updates {_describe(True)}) only "
                "with all update languages enabled (AllUpdateLanguagesEnabled), and this server downloads "
                f"{', '.join(facts.enabled_update_languages) or 'no languages'} only; enable all "
                "languages on it first"
            )
        return ChangePlan(
            (Change("HostBinariesOnMicrosoftUpdate", current, wanted),),
            "set_storage_option",
            {"HostBinariesOnMicrosoftUpdate": wanted, "ReadyTimeoutSeconds": READY_TIMEOUT_SECONDS},
        )
