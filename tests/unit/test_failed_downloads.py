"""Failed downloads in the checks: evidence of the content cause that broke them while it stands, a
finding of their own (with the resume fix) once it is gone, and never a "transient" upstream note
when a local cause explains them; the cause counts as resolved only once they recovered."""

from __future__ import annotations

from tests.unit.test_checks import evidence, fired, fleet
from wsusauto.checks import run_checks
from wsusauto.checks.base import FailedUpdate, UpstreamCopy
from wsusauto.diagnose import Diagnosis, FixResult, document

FAILED = {"UpdatesWithServerErrorsCount": 12}
BITS_DISABLED = {"BITS": {"State": "Stopped", "StartMode": "Disabled"}}
AVAILABLE_UPSTREAM = dict(
    failed_updates=(FailedUpdate("aaaa", "KB1"),),
    failed_update_count=1,
    upstream_copies={"aaaa": UpstreamCopy("aaaa", "KB1", "Ready", False)},
)


def test_failed_downloads_under_a_cause_are_its_evidence():
    broken = evidence("wsus-root", None, Services=BITS_DISABLED, UpdateServerStatus=FAILED)
    findings = run_checks(fleet(**{"wsus-root": broken}))
    assert fired(findings) == {"wsus-root": {"bits-service"}}
    assert findings["wsus-root"][0].evidence["failed_downloads"] == 12


def test_a_local_cause_is_not_taken_for_a_transient_upstream():
    broken = evidence(
        "wsus-eu", "wsus-root", True, Services=BITS_DISABLED, UpdateServerStatus=FAILED, **AVAILABLE_UPSTREAM
    )
    assert fired(run_checks(fleet(**{"wsus-eu": broken}))) == {"wsus-eu": {"bits-service"}}


def test_once_the_cause_is_gone_the_failed_downloads_are_their_own_finding():
    left = evidence("wsus-root", None, UpdateServerStatus=FAILED)
    (finding,) = run_checks(fleet(**{"wsus-root": left}))["wsus-root"]
    assert (finding.check, finding.severity, finding.fix) == (
        "failed-downloads",
        "warning",
        "resume_downloads",
    )
    assert finding.evidence["updates_with_server_errors"] == 12


def test_a_cause_fixed_while_its_downloads_stay_failed_is_not_resolved():
    before = Diagnosis(order=["wsus-root"])
    broken = evidence("wsus-root", None, Services=BITS_DISABLED, UpdateServerStatus=FAILED)
    before.evidence["wsus-root"] = broken
    before.findings = run_checks(fleet(**{"wsus-root": broken}))
    fixes = {"wsus-root": [FixResult("wsus-root", "bits_service", ("bits-service",), "changed", "ok")]}

    def after(status: dict) -> Diagnosis:
        diagnosis = Diagnosis(order=["wsus-root"])
        repaired = evidence("wsus-root", None, UpdateServerStatus=status)
        diagnosis.evidence["wsus-root"] = repaired
        diagnosis.findings = run_checks(fleet(**{"wsus-root": repaired}))
        return diagnosis

    still_failed = document(after(FAILED), fixes, before)["wsus-root"]
    assert still_failed[0]["check"] == "bits-service" and still_failed[0]["resolved"] is False
    assert [f["check"] for f in still_failed if f.get("new")] == ["failed-downloads"]
    recovered = document(after({"UpdatesWithServerErrorsCount": 0}), fixes, before)["wsus-root"]
    assert [(f["check"], f["resolved"]) for f in recovered] == [("bits-service", True)]
