"""wsusauto.ansible.results: operation outcomes and errors as Ansible task results."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_facts_parsing import sample
from wsusauto.ansible.results import error_result, facts_result, operation_result, plain
from wsusauto.config.secrets import MASK, Secret
from wsusauto.errors import (
    AuthenticationFailed,
    DeadlineExceeded,
    FactsError,
    RemoteError,
    Unreachable,
    UsageError,
    remote_error,
)
from wsusauto.execution import verdict
from wsusauto.operations import Change, OperationRefused, OperationResult
from wsusauto.state.facts import parse_facts

SCHEDULE = OperationResult(
    "schedule",
    True,
    (
        Change("SynchronizeAutomaticallyTimeOfDay", dt.time(1, 0), dt.time(3, 30)),
        Change("NumberOfSynchronizationsPerDay", 1, 2),
    ),
    warnings=("WSUS keeps UTC",),
    message="changed SynchronizeAutomaticallyTimeOfDay, NumberOfSynchronizationsPerDay",
)


def test_a_change_is_changed_with_its_message_and_warnings_under_ansibles_keys():
    result = operation_result(SCHEDULE, diff=False)
    assert result == {
        "changed": True,
        "failed": False,
        "msg": "changed SynchronizeAutomaticallyTimeOfDay, NumberOfSynchronizationsPerDay",
        "warnings": ["WSUS keeps UTC"],
    }


def test_the_diff_only_when_the_task_asks_in_ansibles_before_after_shape_as_json_values():
    result = operation_result(SCHEDULE, diff=True)
    assert result["diff"] == {
        "before": {"SynchronizeAutomaticallyTimeOfDay": "01:00:00", "NumberOfSynchronizationsPerDay": 1},
        "after": {"SynchronizeAutomaticallyTimeOfDay": "03:30:00", "NumberOfSynchronizationsPerDay": 2},
    }
    json.dumps(result)  # plain values only
    unchanged = OperationResult("schedule", False, message="already as wanted")
    assert "diff" not in operation_result(unchanged, diff=True)
    assert "warnings" not in operation_result(unchanged, diff=True)


def test_details_pass_through_but_never_overwrite_ansibles_own_keys():
    attempts = [{"attempt": 1, "result": "Failed"}, {"attempt": 2, "result": "Succeeded"}]
    outcome = OperationResult(
        "synchronize",
        True,
        message="synchronized",
        details={"attempts": attempts, "changed": False, "ansible_facts": {"x": 1}, "_ansible_no_log": False},
    )
    result = operation_result(outcome, diff=False)
    assert result["attempts"] == attempts
    assert result["changed"] is True
    assert "ansible_facts" not in result and "_ansible_no_log" not in result


def test_an_action_that_ran_and_failed_is_failed_not_unreachable():
    outcome = OperationResult("synchronize", True, message="the synchronization failed", failed=True)
    result = operation_result(outcome, diff=False)
    assert result["failed"] is True and "unreachable" not in result


@pytest.mark.parametrize(
    "error",
    [
        Unreachable("wsus-01", "connection refused"),
        DeadlineExceeded("wsus-01", "no answer within 120 s"),
        AuthenticationFailed("wsus-01", "the server refused the credentials"),
    ],
)
def test_what_the_verdict_counts_unreachable_is_ansibles_unreachable(error):
    assert verdict.of_error(error) == verdict.UNREACHABLE
    result = error_result(error)
    assert result["unreachable"] is True
    assert "failed" not in result and result["changed"] is False
    assert result["msg"] == error.reason


@pytest.mark.parametrize(
    "error",
    [
        UsageError("Ansible inventory: host wsus-01: ansible_user is not set"),
        OperationRefused("wsus-01 is a replica; release it first"),
        RemoteError("wsus-01", "set_proxy", "Save() threw"),
        FactsError("wsus-01", "key Version missing"),
    ],
)
def test_what_ran_and_failed_is_failed(error):
    assert verdict.of_error(error) == verdict.FAILED
    result = error_result(error)
    assert result["failed"] is True and "unreachable" not in result
    assert "exception" not in result  # an error wsusauto meant: one line, no traceback


def test_a_busy_server_is_failed_and_says_the_task_can_be_run_again():
    busy = remote_error("wsus-01", "set_schedule", "WSUS busy (retry later): a synchronization is running")
    result = error_result(busy)
    assert result["failed"] is True and result["retryable"] is True
    assert "run it again later" in result["msg"]


def test_an_unexpected_error_says_so_with_its_traceback_scrubbed():
    secret = Secret("Unexpected-Pw-0451")
    try:
        raise KeyError(f"lookup of {secret.reveal()} failed")
    except KeyError as exc:
        result = error_result(exc)
    assert result["failed"] is True
    assert result["msg"].startswith("unexpected error (KeyError)")
    assert "Traceback" in result["exception"]
    assert "Unexpected-Pw-0451" not in json.dumps(result)


def test_no_secret_value_reaches_a_result():
    secret = Secret("Proxy-Pw-9913")
    outcome = OperationResult(
        "proxy",
        True,
        (Change("ProxyPassword", "(none)", "(set)"),),
        warnings=(f"echoed {secret.reveal()}",),
        message=f"server said {secret.reveal()}",
        details={"sent": secret, "nested": [{"text": f"x {secret.reveal()} y"}]},
    )
    text = json.dumps(operation_result(outcome, diff=True))
    assert "Proxy-Pw-9913" not in text
    assert MASK in text
    failed = error_result(RemoteError("wsus-01", "set_proxy", f"bad password {secret.reveal()}"))
    assert "Proxy-Pw-9913" not in json.dumps(failed)


def test_facts_are_plain_json_values_under_wsus_facts():
    facts = parse_facts("wsus-eu", sample())
    result = facts_result(facts)
    document = json.loads(json.dumps(result))
    assert document == result
    wsus = result["ansible_facts"]["wsus_facts"]
    assert wsus["host"] == "wsus-eu"
    assert wsus["sync_from_microsoft_update"] is False
    assert isinstance(wsus["synchronize_automatically_time_of_day"], str)
    assert isinstance(wsus["enabled_update_languages"], list)


_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(),
    st.times(),
    st.datetimes(timezones=st.just(dt.timezone.utc)),
    st.builds(Secret, st.text(min_size=4)),
)
_values = st.recursive(
    _leaves,
    lambda inner: st.lists(inner) | st.tuples(inner, inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@given(_values)
def test_plain_gives_json_values_without_a_secret_object(value):
    converted = plain(value)
    assert json.loads(json.dumps(converted)) == converted
    assert "Secret(" not in repr(converted)
