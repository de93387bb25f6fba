"""The documented retry policy: ~15 minutes, twice, then wait; permanent causes fail at once.

No test waits for real: clock and sleep are injected."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsusauto.sync_retry import (
    DOCUMENTED_INTERVAL,
    PERMANENT,
    TRANSIENT,
    SyncFailed,
    SyncRetryPolicy,
    is_transient,
)

START = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.timezone.utc)


class FakeTime:
    def __init__(self) -> None:
        self.now = START
        self.slept: list[float] = []

    def clock(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)


def failing(errors):
    remaining = list(errors)

    def attempt():
        if remaining:
            error = remaining.pop(0)
            if error is not None:
                raise SyncFailed(error, f"{error} text")

    return attempt


def test_a_transient_failure_is_retried_twice_about_fifteen_minutes_apart_then_given_up():
    fake = FakeTime()
    outcome = SyncRetryPolicy().run(
        failing(["UssNotFound"] * 5), clock=fake.clock, sleep=fake.sleep, rng=random.Random(1)
    )
    assert not outcome.succeeded and outcome.retryable
    assert [a.number for a in outcome.attempts] == [1, 2, 3]
    assert len(fake.slept) == 2
    assert all(abs(s - DOCUMENTED_INTERVAL.total_seconds()) <= 30 for s in fake.slept)
    assert "tried 3 times" in outcome.gave_up


def test_success_on_a_retry_stops_retrying():
    fake = FakeTime()
    outcome = SyncRetryPolicy().run(failing(["UssBusy", None]), clock=fake.clock, sleep=fake.sleep)
    assert outcome.succeeded and [a.result for a in outcome.attempts] == ["Failed", "Succeeded"]
    assert len(fake.slept) == 1


@pytest.mark.parametrize(
    "error", ["DssAuthenticationError", "IncompatibleProtocolVersion", "LocalDBConnectFail"]
)
def test_permanent_causes_fail_at_once_with_the_reason(error):
    fake = FakeTime()
    outcome = SyncRetryPolicy().run(failing([error]), clock=fake.clock, sleep=fake.sleep)
    assert not outcome.succeeded and not outcome.retryable
    assert len(outcome.attempts) == 1 and fake.slept == []
    assert "retrying cannot fix this" in outcome.gave_up


def test_proxy_credentials_are_permanent_a_proxy_outage_is_not():
    assert not is_transient(
        SyncFailed("ProxyError", "The remote server returned an error: (407) Proxy Authentication")
    )
    assert is_transient(SyncFailed("ProxyError", "Unable to connect to the proxy"))
    assert not is_transient(
        SyncFailed(
            "ProxyError", "Der Remoteserver hat einen Fehler zurückgegeben: (407) Proxyauthentifizierung"
        )
    )


def test_a_cause_found_in_the_facts_makes_an_upstream_error_permanent_and_is_the_reason():
    failure = SyncFailed("UssOtherError", "", permanent_cause="the hierarchy does not use one option")
    assert not is_transient(failure)
    fake = FakeTime()

    def attempt():
        raise failure

    outcome = SyncRetryPolicy().run(attempt, clock=fake.clock, sleep=fake.sleep)
    assert len(outcome.attempts) == 1 and fake.slept == []
    assert outcome.gave_up == "the hierarchy does not use one option: retrying cannot fix this"


def test_an_upstream_error_is_retried_whatever_its_text_says():
    # The value decides, never the words: a storage option mismatch surfaces as an upstream error in
    # the server's language, and is retried as WSUS retries it (the runner refuses such a hierarchy
    # before syncing, by comparing the servers' facts).
    for text in (
        "The update storage option of this server differs from its upstream server's",
        "Die Updatespeicheroption dieses Servers unterscheidet sich von der des Upstreamservers",
        "",
    ):
        assert is_transient(SyncFailed("UssOtherError", text))


def test_interval_is_configurable_for_labs():
    fake = FakeTime()
    policy = SyncRetryPolicy(interval=dt.timedelta(seconds=30), jitter=dt.timedelta(0))
    policy.run(failing(["UssNotFound"] * 3), clock=fake.clock, sleep=fake.sleep)
    assert fake.slept == [30.0, 30.0]


@given(st.integers(min_value=1, max_value=3600), st.integers(min_value=0, max_value=2**32))
def test_jitter_stays_small_against_a_short_interval(seconds, seed):
    fake = FakeTime()
    policy = SyncRetryPolicy(interval=dt.timedelta(seconds=seconds))
    policy.run(failing(["UssNotFound"] * 3), clock=fake.clock, sleep=fake.sleep, rng=random.Random(seed))
    assert len(fake.slept) == 2
    assert all(abs(slept - seconds) <= min(30, seconds / 30) for slept in fake.slept)


@given(st.lists(st.sampled_from(sorted(TRANSIENT) + sorted(PERMANENT) + [None]), min_size=1, max_size=6))
def test_never_more_than_three_attempts_and_never_a_retry_after_a_permanent_cause(errors):
    fake = FakeTime()
    outcome = SyncRetryPolicy().run(failing(errors), clock=fake.clock, sleep=fake.sleep, rng=random.Random(0))
    assert 1 <= len(outcome.attempts) <= 3
    assert len(fake.slept) == len(outcome.attempts) - 1
    for attempt in outcome.attempts[:-1]:
        assert attempt.result == "Failed" and is_transient(SyncFailed(attempt.error, attempt.error_text))
    assert outcome.succeeded == (outcome.attempts[-1].result == "Succeeded")
