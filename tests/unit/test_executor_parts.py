"""The executor's pure parts: the upstream slot table, one verdict, errors that cross processes."""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from wsusauto.errors import (
    AuthenticationFailed,
    DeadlineExceeded,
    FactsError,
    HostError,
    Interrupted,
    RemoteError,
    ServerBusy,
    Unreachable,
    UsageError,
    remote_error,
)
from wsusauto.execution.slots import UpstreamSlots
from wsusauto.execution.verdict import of_error as status_of


def recorder(log: list, host: str):
    return lambda granted: log.append((host, granted))


def test_a_slot_is_granted_at_once_while_free_then_first_come_first_served():
    slots = UpstreamSlots()
    slots.configure({"a": "root", "b": "root", "c": "root", "r": None}, 1)
    log: list = []
    slots.request("a", recorder(log, "a"))
    assert log == [("a", True)] and not slots.free("root")
    slots.request("c", recorder(log, "c"))
    slots.request("b", recorder(log, "b"))
    slots.request("r", recorder(log, "r"))  # no upstream: never waits
    assert log == [("a", True), ("r", True)]
    slots.release("a")
    assert log[-1] == ("c", True)
    slots.release("c")
    assert log[-1] == ("b", True)
    slots.release("b")
    slots.release("r")
    assert slots.free("root") and slots.held() == {}


def test_a_release_frees_the_upstream_the_slot_was_taken_at():
    slots = UpstreamSlots()
    slots.configure({"a": "old"}, 1)
    slots.request("a", lambda granted: None)
    slots.configure({"a": "new"}, 1)  # the next play's intended hierarchy
    assert slots.held() == {"old": 1}
    slots.release("a")
    assert slots.held() == {} and slots.free("old") and slots.free("new")


def test_free_count_and_listeners_see_a_slot_come_free_only_when_nobody_took_it():
    slots = UpstreamSlots()
    slots.configure({"a": "root", "b": "root", "c": "root", "r": None}, 2)
    freed: list[str] = []
    slots.add_listener(freed.append)
    assert slots.free_count("root") == 2 and slots.free_count(None) > 1000
    slots.request("a", lambda granted: None)
    slots.request("b", lambda granted: None)
    assert slots.free_count("root") == 0 and not slots.free("root")
    slots.request("c", lambda granted: None)  # waits
    slots.release("a")  # c takes it at once: nothing came free
    assert freed == [] and slots.free_count("root") == 0
    slots.release("b")
    assert freed == ["root"] and slots.free_count("root") == 1
    slots.request("r", lambda granted: None)
    slots.release("r")  # no upstream: no slot there to come free
    assert freed == ["root"]


def test_abort_refuses_every_waiting_and_later_request():
    slots = UpstreamSlots()
    slots.configure({"a": "root", "b": "root"}, 1)
    log: list = []
    slots.request("a", recorder(log, "a"))
    slots.request("b", recorder(log, "b"))
    slots.abort()
    slots.request("a", recorder(log, "a2"))
    assert log == [("a", True), ("b", False), ("a2", False)]


@settings(max_examples=200, deadline=None)
@given(
    per_upstream=st.integers(1, 3),
    steps=st.lists(st.tuples(st.booleans(), st.integers(0, 5)), max_size=60),
)
def test_never_more_than_k_held_and_no_waiter_left_behind_a_free_slot(per_upstream, steps):
    hosts = [f"h{i}" for i in range(6)]
    upstream_of = {h: ("u1" if i % 2 else "u2") for i, h in enumerate(hosts)}
    slots = UpstreamSlots()
    slots.configure(upstream_of, per_upstream)
    holding: dict[str, int] = dict.fromkeys(hosts, 0)
    waiting: set[str] = set()

    def grant_to(host):
        def grant(granted):
            assert granted
            waiting.discard(host)
            holding[host] += 1

        return grant

    for ask, index in steps:
        host = hosts[index]
        if ask and host not in waiting:
            waiting.add(host)
            slots.request(host, grant_to(host))
        elif not ask and holding[host]:
            holding[host] -= 1
            slots.release(host)
        for upstream in ("u1", "u2"):
            held = sum(n for h, n in holding.items() if upstream_of[h] == upstream)
            assert held <= per_upstream
            assert slots.held().get(upstream, 0) == held
            waiters = [h for h in waiting if upstream_of[h] == upstream]
            if waiters:  # someone waits only while the upstream is full
                assert held == per_upstream and not slots.free(upstream)
            assert slots.free_count(upstream) == max(0, per_upstream - held - len(waiters))


def test_one_verdict_credentials_refused_is_unreachable():
    assert status_of(None) == "ok"
    assert status_of(AuthenticationFailed("h", "refused")) == "unreachable"
    assert status_of(Unreachable("h", "down")) == "unreachable"
    assert status_of(DeadlineExceeded("h", "slow")) == "unreachable"
    assert status_of(RemoteError("h", "get_facts", "boom")) == "failed"
    assert status_of(UsageError("bad")) == "failed"
    assert status_of(Interrupted("stopped")) == "failed"


def test_host_errors_cross_a_process_boundary_whole():
    errors = [
        HostError("h", "plain"),
        Unreachable("h", "connection refused"),
        AuthenticationFailed("h", "refused"),
        DeadlineExceeded("h", "slow"),
        RemoteError("h", "get_facts", "remote text"),
        remote_error("h", "set_proxy", "WSUS busy (retry later): a sync runs"),
        FactsError("h", "bad shape"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error) and copy.__dict__ == error.__dict__
    busy = pickle.loads(pickle.dumps(errors[5]))
    assert isinstance(busy, ServerBusy) and busy.retryable and busy.snippet == "set_proxy"
