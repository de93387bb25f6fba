"""Computer group membership: the one administration a replica allows (seed 000, wsus-api.md P3).

A replica inherits its computer groups and approvals from its upstream server; locally it may only
assign client computers to those groups. So on a replica a missing group is an error that says to
create it on the upstream server, and approvals or product and classification changes are refused
there with the documented reason (``refuse_on_replica``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.errors import UsageError
from wsusauto.facts import Facts
from wsusauto.operations.base import Argument, Change, Operation, OperationRefused, Plan

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
        "create": Argument(bool),  # create the group when missing (never on a replica)
    }

    def check_combination(self, args: dict[str, Any], where: str) -> None:
        if not all(isinstance(c, str) and c.strip() for c in args["computers"]):
            raise UsageError(f"{where}: computer_groups computers must be a list of computer names")
        if args["group"] in ("All Computers", "Unassigned Computers"):
            raise UsageError(f"{where}: WSUS manages '{args['group']}' itself; name a group of your own")

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> Plan:
        group = args["group"]
        groups = {name.lower(): (name, members) for name, members in facts.computer_target_groups.items()}
        known = {c.lower(): c for c in facts.computer_target_groups.get("All Computers", ())}
        unknown = [c for c in args["computers"] if c.lower() not in known]
        if unknown:
            raise OperationRefused(
                f"{facts.host}: {', '.join(unknown)} never reported to this WSUS server; "
                "a computer registers itself before it can join a group"
            )
        if group.lower() not in groups:
            if facts.is_replica_server:
                raise OperationRefused(
                    f"{facts.host} is a replica: it inherits its computer groups from its upstream server "
                    f"({facts.upstream_wsus_server_name}); create the group '{group}' there"
                )
            if not args.get("create", False):
                raise OperationRefused(
                    f"{facts.host}: the group '{group}' does not exist (create: true makes it)"
                )
            members: tuple[str, ...] = ()
        else:
            group, members = groups[group.lower()]
        present = {c.lower() for c in members}
        # WSUS names computers by FullDomainName, case-insensitively; use the server's spelling.
        missing = sorted({known[c.lower()] for c in args["computers"] if c.lower() not in present})
        if not missing:
            return Plan(())
        after = tuple(sorted({*members, *missing}))
        change = Change(f"ComputerTargetGroups[{group}]", tuple(sorted(members)), after)
        return Plan(
            (change,),
            "set_computer_group_membership",
            {"GroupName": group, "ComputerNames": missing, "CreateGroup": bool(args.get("create", False))},
        )
