"""Computer group membership: the one administration a replica allows ("Running WSUS 3.0 SP2 in
Replica Mode": "Adding and removing computers from computer groups"; wsus-api.md P3).

A replica inherits its computer groups and approvals from its upstream server; locally it may only
assign client computers to those groups. So on a replica a missing group is an error that says to
create it on the upstream server, and approvals or product and classification changes are refused
there with the documented reason (``refuse_on_replica``).

``computer_groups`` takes ``group`` and ``computers`` and, with ``state``:

- ``present`` (the default): the computers join the group (``create: true`` makes a missing group,
  never on a replica); with ``from_group``, they also leave that group: a move;
- ``absent``: the computers leave the group (those not in it are left alone).

WSUS keeps All Computers and Unassigned Computers itself, so neither is a group to change by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.errors import UsageError
from wsusauto.operations.base import Argument, Change, ChangePlan, Operation, OperationRefused
from wsusauto.state.facts import BUILTIN_GROUP_IDS, Facts

REPLICA_REFUSAL = (
    "{host} is a replica server: it inherits approvals, products and classifications from "
    "its upstream server ({upstream}). Approve updates and choose products there, on the parent server"
)


def refuse_on_replica(facts: Facts, what: str) -> None:
    """Approval, product or classification changes fail at once on a replica, with the reason."""
    if facts.is_replica_server:
        raise OperationRefused(
            f"{what}: "
            + REPLICA_REFUSAL.format(
                host=facts.host, upstream=facts.upstream_wsus_server_name or "its upstream"
            )
        )


class ComputerGroups(Operation):
    name = "computer_groups"
    arguments = {
        "group": Argument(str, required=True),
        "computers": Argument(list, required=True),
        "state": Argument(str, choices=("present", "absent")),  # default present
        "from_group": Argument(str),  # with state present: a move out of this group
        "create": Argument(bool),  # create the group when missing (never on a replica)
    }

    def check_combination(self, args: dict[str, Any], where: str) -> None:
        if not all(isinstance(c, str) and c.strip() for c in args["computers"]):
            raise UsageError(f"{where}: computer_groups computers must be a list of computer names")
        if args.get("state", "present") == "absent" and ({"from_group", "create"} & set(args)):
            raise UsageError(
                f"{where}: computer_groups with state: absent takes no from_group or create "
                "(it takes the computers out of group)"
            )
        if "from_group" in args and args["from_group"].lower() == args["group"].lower():
            raise UsageError(f"{where}: computer_groups from_group is the group itself; nothing would move")

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        groups = {name.lower(): (name, members) for name, members in facts.computer_target_groups.items()}
        # The built-in groups by id: their names depend on the server's language ("Alle Computer").
        ids = {name.lower(): group_id for name, group_id in facts.computer_target_group_ids.items()}
        for key in ("group", "from_group"):
            if key in args and ids.get(args[key].lower()) in BUILTIN_GROUP_IDS:
                raise OperationRefused(
                    f"{facts.host}: WSUS manages '{args[key]}' itself; name a group of your own"
                )
        known = {c.lower(): c for c in facts.all_computers}
        unknown = [c for c in args["computers"] if c.lower() not in known]
        if unknown:
            raise OperationRefused(
                f"{facts.host}: {', '.join(unknown)} never reported to this WSUS server; "
                "a computer registers itself before it can join a group"
            )
        # WSUS names computers by FullDomainName, case-insensitively; use the server's spelling.
        named = sorted({known[c.lower()] for c in args["computers"]})
        if args.get("state", "present") == "absent":
            return self._leave(facts, groups, args["group"], named, ChangePlan(()))
        joined = self._join(facts, groups, args["group"], named, bool(args.get("create", False)))
        if "from_group" not in args:
            return joined
        return self._leave(facts, groups, args["from_group"], named, joined)

    @staticmethod
    def _join(
        facts: Facts,
        groups: Mapping[str, tuple[str, tuple[str, ...]]],
        group: str,
        named: list[str],
        create: bool,
    ) -> ChangePlan:
        if group.lower() not in groups:
            if facts.is_replica_server:
                raise OperationRefused(
                    f"{facts.host} is a replica: it inherits its computer groups from its upstream server "
                    f"({facts.upstream_wsus_server_name}); create the group '{group}' there"
                )
            if not create:
                raise OperationRefused(
                    f"{facts.host}: the group '{group}' does not exist (create: true makes it)"
                )
            members: tuple[str, ...] = ()
        else:
            group, members = groups[group.lower()]
        present = {c.lower() for c in members}
        missing = [c for c in named if c.lower() not in present]
        if not missing:
            return ChangePlan(())
        after = tuple(sorted({*members, *missing}))
        change = Change(f"ComputerTargetGroups[{group}]", tuple(sorted(members)), after)
        return ChangePlan(
            (change,),
            _SNIPPET,
            {**_NOTHING, "GroupName": group, "ComputerNames": missing, "CreateGroup": create},
        )

    @staticmethod
    def _leave(
        facts: Facts,
        groups: Mapping[str, tuple[str, tuple[str, ...]]],
        group: str,
        named: list[str],
        joined: ChangePlan,
    ) -> ChangePlan:
        if group.lower() not in groups:
            raise OperationRefused(f"{facts.host}: the group '{group}' does not exist")
        group, members = groups[group.lower()]
        leaving = {c.lower() for c in named}
        staying = tuple(sorted(c for c in members if c.lower() not in leaving))
        if len(staying) == len(members):
            return joined
        change = Change(f"ComputerTargetGroups[{group}]", tuple(sorted(members)), staying)
        removed = [c for c in members if c.lower() in leaving]
        return ChangePlan(
            (*joined.changes, change),
            _SNIPPET,
            {
                **_NOTHING,
                **joined.parameters,
                "RemoveFromGroupName": group,
                "RemoveComputerNames": sorted(removed),
            },
        )


_SNIPPET = "set_computer_group_membership"
# Every parameter of the snippet, as "change nothing": a plan fills in what it changes.
_NOTHING: dict[str, Any] = {
    "GroupName": "",
    "ComputerNames": [],
    "CreateGroup": False,
    "RemoveFromGroupName": "",
    "RemoveComputerNames": [],
}
