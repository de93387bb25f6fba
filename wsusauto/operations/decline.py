"""``decline_missing_updates``: cancel and then decline, on an autonomous downstream server, the
updates whose download failed there because its upstream server does not have them.

"Issues with Synchronization": "If the failed updates are not needed, cancel and then decline the
updates that are not on the upstream server"; "Synchronization issues": "On the downstream server,
cancel the updates that are not on the upstream server, if these updates are no longer needed. Then
decline the old updates on the downstream server." The other documented way is to give the upstream
those updates; which one is right is the user's decision, so this never runs as part of
``diagnose --fix``: it is a task of its own (``playbooks/decline-missing-updates.yml``) that names
the updates (``updates``: their ids) or takes every one of them (``all_missing: true``).

Which updates the upstream lacks comes from the fleet's diagnosis (the runner diagnoses the play's
hosts first, ``uses_diagnosis``): the updates whose download failed here (``get_failed_updates``),
looked up one by one on the upstream server (``find_updates``). So the upstream must be in the play.
A named update is declined only where it is one of those; elsewhere it is left alone, with a warning
that says why (an update the upstream has is a transient failure that the next synchronization
heals; an update that did not fail is not this remedy's business), so one play can name updates for
a whole fleet. A replica with anything to decline is refused: it inherits approvals and declines
from its upstream server.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from wsusauto.checks.sync import lacking_upstream
from wsusauto.errors import UsageError
from wsusauto.operations.base import (
    Argument,
    Change,
    ChangePlan,
    Operation,
    OperationRefused,
    OperationResult,
)
from wsusauto.operations.context import DETACHED, HostContext
from wsusauto.state.facts import Facts, gather_facts
from wsusauto.state.probes import as_list

# Added from the diagnosis (with_diagnosis): (upstream name, ((update id, title), ...) or None when
# unknown, why unknown, how many failed downloads the server counts). The ids are lower-case.
MISSING = "_missing_upstream"
SNIPPET = "decline_updates"


def _guid_list(value: list[Any]) -> list[str] | None:
    ids = []
    for item in value:
        try:
            ids.append(str(uuid.UUID(str(item).strip())))
        except ValueError:
            return None
    return ids


def missing_on_upstream(evidence: Any) -> tuple[str, tuple[tuple[str, str], ...] | None, str, int]:
    """From a host's diagnosis evidence (``wsusauto.checks.HostEvidence``): the updates whose
    download failed here that its upstream does not have."""
    upstream = evidence.facts.upstream_wsus_server_name
    if not evidence.failed_updates:
        return upstream, (), "", evidence.failed_update_count
    lacking = lacking_upstream(evidence)
    if lacking is None:
        problems = "; ".join(evidence.probe_errors)
        why = f"{upstream} was not asked (it is not among the play's hosts, or could not be read)"
        return upstream, None, f"{why}{': ' + problems if problems else ''}", evidence.failed_update_count
    missing = tuple((u.update_id.lower(), u.title) for u in lacking)
    return upstream, missing, "", evidence.failed_update_count


class DeclineMissingUpdates(Operation):
    name = "decline_missing_updates"
    uses_diagnosis = True
    arguments = {
        "updates": Argument(list),
        "all_missing": Argument(bool),
    }

    def check_combination(self, args: dict[str, Any], where: str) -> None:
        named, everything = "updates" in args, args.get("all_missing", False)
        if named == everything:
            raise UsageError(
                f"{where}: decline_missing_updates takes either updates: [<update id>, ...] or "
                "all_missing: true (every update missing on the upstream server)"
            )
        if named:
            ids = _guid_list(args["updates"])
            if ids is None or not ids:
                raise UsageError(
                    f"{where}: decline_missing_updates updates must be a list of update ids (GUIDs such as "
                    "3f2a9c1e-8d4b-4c57-9a0e-2b6f1d7c8e90), not {args['updates']!r}"
                )
            args["updates"] = list(dict.fromkeys(ids))

    def with_diagnosis(self, args: Mapping[str, Any], host: str, diagnosis: Any) -> Mapping[str, Any]:
        evidence = diagnosis.evidence.get(host)
        if evidence is None:
            reason = diagnosis.unreachable.get(host) or diagnosis.failed.get(host) or "not diagnosed"
            return {**args, MISSING: ("", None, f"its own evidence could not be gathered ({reason})", 0)}
        return {**args, MISSING: missing_on_upstream(evidence)}

    def _wanted(self, facts: Facts, args: Mapping[str, Any]) -> tuple[dict[str, str], list[str], list[str]]:
        """The updates the diagnosis says the upstream lacks (id -> title), those of them to decline,
        and the named updates that are not among them (left alone)."""
        if MISSING not in args:
            raise UsageError(
                "decline_missing_updates runs in a playbook: the runner first compares each server's "
                "failed downloads with its upstream server"
            )
        named = list(args["updates"]) if "updates" in args else None
        if facts.sync_from_microsoft_update:
            return {}, [], named or []  # no upstream WSUS server to lack anything
        upstream, listed, why, _count = args[MISSING]
        if listed is None:
            if facts.is_replica_server:
                raise OperationRefused(_replica_refusal(facts))
            raise OperationRefused(
                f"{facts.host}: which of its failed updates {upstream or 'the upstream server'} lacks is not "
                f"known: {why}; run the play on the upstream server too"
            )
        missing = dict(listed)
        to_decline = [i for i in (named if named is not None else list(missing)) if i in missing]
        if facts.is_replica_server and to_decline:
            raise OperationRefused(_replica_refusal(facts))
        return missing, to_decline, [i for i in named or [] if i not in missing]

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        """What the diagnosis says will be declined (for the journal)."""
        missing, to_decline, _left = self._wanted(facts, args)
        return ChangePlan(
            tuple(_change(i, missing[i]) for i in to_decline),
            SNIPPET,
            {"UpdateIds": to_decline, "Apply": True},
        )

    def run(
        self,
        session: Any,
        args: Mapping[str, Any],
        *,
        check: bool = False,
        facts: Facts | None = None,
        context: HostContext = DETACHED,
    ) -> OperationResult:
        current = facts if facts is not None else gather_facts(session)
        missing, to_decline, left = self._wanted(current, args)
        upstream, listed, _why, failed_count = args[MISSING]
        upstream = upstream or "an upstream server"
        warnings = []
        if args.get("all_missing") and listed and failed_count > len(listed):
            warnings.append(
                f"only the first {len(listed)} failed updates were compared with {upstream} (the server "
                f"counts {failed_count}); run the task again after this one to take the rest"
            )
        if left:
            warnings.extend(self._left_alone(session, left, upstream))
        if not to_decline:
            return OperationResult(
                self.name,
                False,
                warnings=tuple(warnings),
                facts=current,
                check_mode=check,
                message=f"no update to decline: none failed here for lack of it on {upstream}",
            )
        changes = tuple(_change(i, missing[i]) for i in to_decline)
        if check:
            return OperationResult(
                self.name,
                True,
                changes,
                tuple(warnings),
                check_mode=True,
                message=f"would cancel and decline {len(changes)} update(s) {upstream} does not have",
            )
        done = session.invoke(SNIPPET, UpdateIds=to_decline, Apply=True)
        after = {str(u["UpdateId"]).lower(): u for u in as_list(done["Updates"])}
        missed = [i for i in to_decline if not (i in after and after[i]["IsDeclined"])]
        if missed:
            raise OperationRefused(f"{current.host}: {', '.join(missed)} were not declined on the server")
        return OperationResult(
            self.name,
            True,
            changes,
            tuple(warnings),
            facts=gather_facts(session),
            message=f"canceled and declined {len(changes)} update(s) {upstream} does not have",
        )

    @staticmethod
    def _left_alone(session: Any, left: list[str], upstream: str) -> list[str]:
        """Why each named update that is not missing upstream is left alone (silent when it is
        already declined here: a second run)."""
        raw = session.invoke(SNIPPET, read_only=True, UpdateIds=left, Apply=False)
        declined = {str(u["UpdateId"]).lower() for u in as_list(raw["Updates"]) if u["IsDeclined"]}
        absent = {str(i).lower() for i in as_list(raw.get("NotFound"))}
        notes = []
        for update_id in left:
            if update_id in absent:
                notes.append(f"{update_id} left alone: this server does not have it")
            elif update_id not in declined:
                notes.append(
                    f"{update_id} left alone: it did not fail here for lack of it on {upstream} (an update "
                    "the upstream has downloads at the next synchronization)"
                )
        return notes


def _replica_refusal(facts: Facts) -> str:
    return (
        f"{facts.host} is a replica: it inherits approvals and declines from its upstream server "
        f"({facts.upstream_wsus_server_name or 'its upstream'}), so updates cannot be declined here; "
        "decline them on the upstream server, or give it the updates"
    )


def _change(update_id: str, title: str) -> Change:
    return Change(
        f"Updates[{update_id}]",
        {"Title": title, "State": "Failed", "IsDeclined": False},
        {"Title": title, "IsDeclined": True},
    )
