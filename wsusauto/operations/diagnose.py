"""``diagnose``: a playbook task that reports the troubleshooting checks' findings for its host.

The checks compare servers with each other (a replica with its parent, the hierarchy's storage
option, schedules at one upstream), so the runner diagnoses all the play's hosts once, before its
tasks run (``wsusauto.diagnose``, ``uses_diagnosis``), and hands each ``diagnose`` task its host's
findings. The task changes nothing; it fails when its host has an error or a warning, so the recap and
the exit code say which servers need attention. ``wsusauto diagnose`` is the same from the command
line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsusauto.errors import UsageError
from wsusauto.operations.base import Argument, ChangePlan, Operation, OperationResult
from wsusauto.operations.context import DETACHED, HostContext
from wsusauto.state.facts import Facts

FINDINGS = "_findings"  # added from the diagnosis (with_diagnosis): this host's findings as dictionaries


class Diagnose(Operation):
    name = "diagnose"
    arguments = {
        "max_concurrent_per_upstream": Argument(
            int, check=lambda k: None if k >= 1 else "must be at least 1"
        ),
    }
    uses_diagnosis = True

    def diagnosis_upstream_limit(self, args: Mapping[str, Any]) -> int:
        return int(args.get("max_concurrent_per_upstream", 1))

    def with_diagnosis(self, args: Mapping[str, Any], host: str, diagnosis: Any) -> Mapping[str, Any]:
        return {**args, FINDINGS: [f.to_dict() for f in diagnosis.findings.get(host, [])]}

    def plan(self, facts: Facts, args: Mapping[str, Any]) -> ChangePlan:
        return ChangePlan(())  # a report, not a state

    def run(
        self,
        session: Any,
        args: Mapping[str, Any],
        *,
        check: bool = False,
        facts: Facts | None = None,
        context: HostContext = DETACHED,
    ) -> OperationResult:
        if FINDINGS not in args:
            raise UsageError("diagnose runs in a playbook: the run diagnoses the play's hosts first")
        findings = list(args[FINDINGS])
        serious = [f for f in findings if f["severity"] in ("error", "warning")]
        message = (
            "no findings"
            if not findings
            else "; ".join(f"{f['severity']} {f['check']}: {f['title']}" for f in findings)
        )
        return OperationResult(
            self.name,
            False,
            facts=facts,
            check_mode=check,
            failed=bool(serious),
            message=message,
            details={"findings": findings},
        )
