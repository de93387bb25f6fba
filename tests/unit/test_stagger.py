"""The stagger planner: worst-case guarantees as properties over random hierarchies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsusauto.stagger.planner import DAY, Infeasible, Server, StaggerPolicy, plan, window, worst_case_load


@st.composite
def fleets(draw):
    count = draw(st.integers(1, 40))
    servers = []
    for i in range(count):
        upstream = draw(st.one_of(st.none(), st.sampled_from([f"s{j:02d}" for j in range(i)]))) if i else None
        servers.append(Server(f"s{i:02d}", upstream, draw(st.floats(1, 90))))
    return draw(st.permutations(servers))


policies = st.builds(
    StaggerPolicy,
    window_start=st.integers(0, DAY - 1),
    window_length=st.integers(60, DAY),
    syncs_per_day=st.sampled_from([1, 2, 3, 4, 6, 8, 12, 24]),
    max_concurrent=st.integers(1, 4),
    offset=st.sampled_from([0.0, 15.0, 30.0]),
)


@settings(max_examples=300, deadline=None)
@given(fleets(), policies)
def test_a_plan_never_overloads_an_upstream_and_keeps_tier_order(servers, policy):
    try:
        result = plan(servers, policy)
    except Infeasible as error:
        # never a silent bad plan; and the advice is real: the suggested window (or K) is enough
        wider = StaggerPolicy(**{**policy.__dict__, "window_length": error.needed_window})
        if error.needed_window <= policy.period:
            assert max(worst_case_load(plan(servers, wider)).values(), default=0) <= policy.max_concurrent
        if error.needed_k is not None:
            more = StaggerPolicy(**{**policy.__dict__, "max_concurrent": error.needed_k})
            assert max(worst_case_load(plan(servers, more)).values(), default=0) <= error.needed_k
        return
    assert max(worst_case_load(result).values(), default=0) <= policy.max_concurrent
    slots = result.by_host()
    assert set(slots) == {s.name for s in servers}
    for server in servers:
        slot = slots[server.name]
        assert slot.syncs_per_day == policy.syncs_per_day
        assert slot.start + slot.reservation <= min(policy.window_length, policy.period)
        if server.upstream is not None:
            parent = slots[server.upstream]
            assert slot.start >= parent.start + parent.reservation  # fresh content from the upstream
        expected = (policy.window_start + int(slot.start)) % DAY
        assert slot.time_of_day_utc.hour * 60 + slot.time_of_day_utc.minute == expected


@settings(max_examples=100, deadline=None)
@given(fleets(), policies, st.randoms())
def test_the_plan_is_deterministic_whatever_the_input_order(servers, policy, rnd):
    shuffled = list(servers)
    rnd.shuffle(shuffled)
    try:
        first = plan(servers, policy)
    except Infeasible as error:
        with pytest.raises(Infeasible) as again:
            plan(shuffled, policy)
        assert str(again.value) == str(error)
        return
    assert plan(shuffled, policy) == first


def test_twelve_replicas_on_one_upstream_are_spread_not_stacked():
    servers = [Server("root", None, 20)] + [Server(f"r{i:02d}", "root", 10) for i in range(12)]
    policy = StaggerPolicy(window_start=22 * 60, window_length=DAY, max_concurrent=3)
    result = plan(servers, policy)
    starts = sorted({s.time_of_day_utc for s in result.slots if s.upstream == "root"})
    assert len(starts) == 4  # 12 replicas, 3 at a time: 4 distinct start times
    assert worst_case_load(result) == {"root": 3}


def test_infeasible_window_names_the_smallest_window_and_k():
    # each sync may load its upstream 30 + 3 x 30 + 2 x 17 = 154 min in the worst case
    servers = [Server("root", None, 30)] + [Server(f"r{i}", "root", 30) for i in range(6)]
    with pytest.raises(Infeasible, match=r"needs at least 18 h .*; or allow 6 concurrent") as info:
        plan(servers, StaggerPolicy(window_length=6 * 60, max_concurrent=1))
    assert info.value.needed_window == 18 * 60 and info.value.needed_k == 6
    with pytest.raises(Infeasible) as hopeless:  # the root alone fills a 4 h window: no K helps
        plan(servers, StaggerPolicy(window_length=4 * 60, max_concurrent=1))
    assert hopeless.value.needed_k is None


def test_window_in_a_zone_converts_to_utc():
    import datetime as dt

    assert window("22:00-05:00", "UTC") == (22 * 60, 7 * 60)
    assert window("22:00-05:00", "Europe/Berlin", dt.date(2026, 1, 15)) == (21 * 60, 7 * 60)
    assert window("22:00-05:00", "Europe/Berlin", dt.date(2026, 7, 15)) == (20 * 60, 7 * 60)
