"""The one verdict of a host and the one exit code of a fleet (wsusauto.execution.verdict)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_facts_parsing import sample
from wsusauto import exitcodes
from wsusauto.checks import Finding
from wsusauto.diagnose import Diagnosis, Fixes, FixResult, verdicts_with_fixes
from wsusauto.errors import (
    AuthenticationFailed,
    DeadlineExceeded,
    FactsError,
    RemoteError,
    ServerBusy,
    Unreachable,
    UsageError,
    WsusAutoError,
)
from wsusauto.execution import verdict
from wsusauto.execution.fleet import FleetFacts, HostFacts
from wsusauto.output.html import FleetReport, ReportHost, report_data
from wsusauto.state.facts import parse_facts

verdicts = st.sampled_from(verdict.VERDICTS)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (None, "ok"),
        (Unreachable("h", "connection refused"), "unreachable"),
        (DeadlineExceeded("h", "did not finish within 2 s"), "unreachable"),
        # refused credentials: nothing ran, so unreachable, as Ansible counts it (not failed)
        (AuthenticationFailed("h", "refused the credentials"), "unreachable"),
        (RemoteError("h", "get_facts", "The request failed with HTTP status 503"), "failed"),
        (ServerBusy("h", "set_replica", "WSUS busy (retry later): sync running"), "failed"),
        (FactsError("h", "no Name"), "failed"),
        (UsageError("ansible_password is not set"), "failed"),
    ],
)
def test_a_hosts_verdict_from_its_error(error, expected):
    assert verdict.of_error(error) == expected


@pytest.mark.parametrize(
    ("verdicts_seen", "code"),
    [
        ([], exitcodes.OK),
        (["ok", "changed", "skipped"], exitcodes.OK),
        (["ok", "failed"], exitcodes.HOST_FAILED),
        (["failed", "unreachable"], exitcodes.HOST_UNREACHABLE),
        (["unreachable"], exitcodes.HOST_UNREACHABLE),
        (["skipped", "skipped"], exitcodes.OK),
    ],
)
def test_exit_code_of_verdicts(verdicts_seen, code):
    assert verdict.exit_code(verdicts_seen) == code


def test_an_aborted_run_fails_unless_a_host_was_unreachable():
    assert verdict.exit_code(["ok"], aborted=True) == exitcodes.HOST_FAILED
    assert verdict.exit_code(["ok", "unreachable"], aborted=True) == exitcodes.HOST_UNREACHABLE


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["ok", "changed", "ok"], "changed"),
        (["ok", "ignored"], "ok"),  # an ignored error does not fail the host
        (["rescued"], "ok"),
        (["skipped", "skipped"], "skipped"),
        (["ok", "failed", "skipped"], "failed"),
        (["ok", "unreachable"], "unreachable"),
        ([], "skipped"),
    ],
)
def test_a_hosts_verdict_from_its_task_statuses(statuses, expected):
    assert verdict.worst(verdict.of_task_status(s) for s in statuses) == expected


def test_unknown_names_are_refused_not_counted_as_ok():
    with pytest.raises(ValueError, match="unknown verdict 'would change'"):
        verdict.exit_code(["ok", "would change"])
    with pytest.raises(ValueError, match="unknown verdict"):
        verdict.worst(["fine"])
    with pytest.raises(ValueError, match="unknown task status"):
        verdict.of_task_status("done")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (KeyboardInterrupt(), exitcodes.INTERRUPTED),
        (UsageError("inventory.yml: line 3: ..."), exitcodes.USAGE),
        (WsusAutoError("playbook: ..."), exitcodes.USAGE),
        (RuntimeError("a bug"), exitcodes.UNEXPECTED),
    ],
)
def test_exit_code_of_a_command_that_ended_with_an_exception(error, code):
    assert verdict.exit_code_of_exception(error) == code


@given(st.lists(verdicts), st.lists(verdicts))
def test_an_unreachable_host_gives_4_whatever_else_happened(before, after):
    assert verdict.exit_code([*before, "unreachable", *after]) == exitcodes.HOST_UNREACHABLE
    assert verdict.exit_code([*before, "unreachable", *after], aborted=True) == exitcodes.HOST_UNREACHABLE


@given(st.lists(verdicts), st.booleans())
def test_a_command_the_user_stopped_exits_99_whatever_its_hosts_did(seen, aborted):
    assert verdict.exit_code(seen, aborted=aborted, interrupted=True) == exitcodes.INTERRUPTED


@given(st.lists(verdicts), st.randoms(use_true_random=False))
def test_order_does_not_matter(seen, random):
    shuffled = list(seen)
    random.shuffle(shuffled)
    assert verdict.exit_code(shuffled) == verdict.exit_code(seen)
    assert verdict.worst(shuffled) == verdict.worst(seen)


@given(st.lists(verdicts))
def test_the_exit_code_is_the_worst_hosts(seen):
    """Summing up hosts first (their worst verdict) gives the same code as all verdicts at once, so a
    host's verdicts can be combined per host or per fleet alike."""
    expected = {
        "unreachable": exitcodes.HOST_UNREACHABLE,
        "failed": exitcodes.HOST_FAILED,
    }.get(verdict.worst(seen), exitcodes.OK)
    assert verdict.exit_code(seen) == expected
    if "unreachable" not in seen and "failed" not in seen:
        assert verdict.exit_code(seen) == exitcodes.OK


# -- every command's result object takes its verdicts and exit code from there --------------------


def _finding(host: str, severity: str) -> Finding:
    return Finding(
        "bits-service", host, severity, "BITS is disabled", {}, "start it", "Issues with Synchronization"
    )


def test_diagnose_fails_a_host_with_an_error_or_warning_finding_not_an_info_one():
    diagnosis = Diagnosis(
        findings={"a": [_finding("a", "info")], "b": [_finding("b", "warning")], "c": []},
        failed={"d": "get_facts failed on the server: HTTP 503"},
        order=["a", "b", "c", "d"],
    )
    assert diagnosis.verdicts == {"a": "ok", "b": "failed", "c": "ok", "d": "failed"}
    assert diagnosis.exit_code == exitcodes.HOST_FAILED
    assert Diagnosis(findings={"a": [_finding("a", "info")]}, order=["a"]).exit_code == exitcodes.OK
    unreachable = Diagnosis(
        findings={"b": [_finding("b", "error")]}, unreachable={"e": "x"}, order=["b", "e"]
    )
    assert unreachable.exit_code == exitcodes.HOST_UNREACHABLE


def _fix(host: str, status: str) -> FixResult:
    return FixResult(host, "repair_bits_service", ("bits-service",), status, "")


def test_a_failed_fix_fails_its_host_and_one_unreachable_during_fixes_is_unreachable():
    clean = Diagnosis(findings={"a": [], "b": [], "c": []}, order=["a", "b", "c"])
    fixes = Fixes({"a": [_fix("a", "changed"), _fix("a", "failed")], "b": [_fix("b", "would change")]})
    assert fixes.verdicts == {"a": "failed", "b": "changed"}
    assert fixes.exit_code == exitcodes.HOST_FAILED
    assert verdicts_with_fixes(clean, fixes) == {"a": "failed", "b": "changed", "c": "ok"}
    assert verdict.exit_code(verdicts_with_fixes(clean, {"c": [_fix("c", "unreachable")]}).values()) == 4
    # check mode: a fix that would change a host with a warning leaves it failed, as diagnose says
    warned = Diagnosis(findings={"a": [_finding("a", "warning")]}, order=["a"])
    assert verdicts_with_fixes(warned, {"a": [_fix("a", "would change")]}) == {"a": "failed"}


def test_report_and_facts_verdicts():
    hosts = [ReportHost("a"), ReportHost("b"), ReportHost("c")]
    read = {name: parse_facts(name, sample()) for name in "abc"}
    report = FleetReport(hosts=hosts, facts=read, findings={"a": [_finding("a", "error").to_dict()]})
    assert report.verdicts == {"a": "ok", "b": "ok", "c": "ok"}  # findings are shown, not counted
    assert report.exit_code == exitcodes.OK
    assert FleetReport(hosts=hosts, facts=read, failed={"b": "x"}).exit_code == exitcodes.HOST_FAILED
    both = FleetReport(hosts=hosts, facts={"a": read["a"]}, failed={"b": "x"}, unreachable={"c": "y"})
    assert both.verdicts == {"a": "ok", "b": "failed", "c": "unreachable"} and both.exit_code == 4
    # the report's own document says what the exit code says, host by host
    assert {h: e["status"] for h, e in report_data(both)["hosts"].items()} == both.verdicts
    assert (
        FleetReport(hosts=hosts, facts={"a": read["a"], "b": read["b"]}).verdicts["c"] == "failed"
    )  # no facts
    facts = FleetFacts(
        [
            HostFacts("a", error=AuthenticationFailed("a", "refused the credentials")),
            HostFacts("b", error=RemoteError("b", "get_facts", "HTTP 503")),
        ]
    )
    assert facts.verdicts == {"a": "unreachable", "b": "failed"}
    assert facts.exit_code == exitcodes.HOST_UNREACHABLE
