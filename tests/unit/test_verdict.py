"""The one verdict of a host and the one exit code of a fleet (wsusauto.execution.verdict)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsusauto import exitcodes
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
