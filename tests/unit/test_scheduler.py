"""The play's dependency scheduler: examples, and properties over random forests, batches and outcomes."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsusauto.config.hierarchy import Node, waves
from wsusauto.execution.scheduler import PlaySchedule, Skipped, Stopped

TREE = {
    "root": None,
    **{region: "root" for region in ("eu", "us", "apac")},
    **{f"{region}-{i}": region for region in ("eu", "us", "apac") for i in (1, 2, 3)},
}
ORDERED = [name for wave in waves([Node(n, u) for n, u in TREE.items()]) for name in wave]


def schedule(order="hierarchy", hosts=ORDERED, batches=None, **options):
    return PlaySchedule(hosts, order=order, upstream_of=TREE, batches=batches or [list(hosts)], **options)


def test_a_host_starts_when_its_own_upstream_succeeded_not_its_wave():
    plan = schedule()
    assert plan.ready() == ["root"]
    assert plan.ready() == []  # nothing else until root ends
    plan.finished("root", True)
    assert plan.ready() == ["eu", "us", "apac"]
    plan.finished("eu", True)
    # eu's replicas start while us and apac still run
    assert plan.ready() == ["eu-1", "eu-2", "eu-3"]
    assert plan.running() == ["us", "apac", "eu-1", "eu-2", "eu-3"]


def test_hosts_below_a_failed_upstream_are_skipped_with_the_reason():
    plan = schedule()
    plan.ready()
    plan.finished("root", True)
    plan.ready()
    plan.finished("us", False, "failed")
    assert plan.ready() == []
    assert plan.take_skipped() == [
        Skipped(f"us-{i}", "upstream us did not finish successfully in this run (failed)") for i in (1, 2, 3)
    ]
    assert plan.take_skipped() == []
    for name in ("eu", "apac"):
        plan.finished(name, True)
    assert plan.ready() == ["eu-1", "eu-2", "eu-3", "apac-1", "apac-2", "apac-3"]
    for name in plan.running():
        plan.finished(name, True)
    assert plan.ready() == [] and plan.done and plan.stopped is None


def test_skipping_cascades_and_names_skipped_as_the_cause():
    upstream_of = {"a": None, "b": "a", "c": "b"}
    plan = PlaySchedule(
        ["a", "b", "c"], order="hierarchy", upstream_of=upstream_of, batches=[["a", "b", "c"]]
    )
    plan.ready()
    plan.finished("a", False, "unreachable")
    plan.ready()
    assert plan.take_skipped() == [
        Skipped("b", "upstream a did not finish successfully in this run (unreachable)"),
        Skipped("c", "upstream b did not finish successfully in this run (skipped)"),
    ]
    assert plan.done


def test_a_host_whose_facts_failed_gets_its_own_verdict_not_skipped():
    plan = schedule(on_its_own={"us-2"}, needs_slot=set(TREE) - {"root"})
    # it starts at once: its verdict (unreachable) needs nothing from its upstream
    assert plan.ready() == ["root", "us-2"]
    plan.finished("us-2", False, "unreachable")
    plan.finished("root", True)
    plan.ready()
    plan.finished("us", False, "failed")
    plan.ready()
    assert [s.host for s in plan.take_skipped()] == ["us-1", "us-3"]


def test_an_upstream_outside_the_play_is_waited_for_by_nobody():
    hosts = ["eu-1", "eu-2"]
    plan = PlaySchedule(hosts, order="hierarchy", upstream_of=TREE, batches=[hosts])
    assert plan.ready() == hosts


def test_slots_gate_starts_counting_the_hosts_started_in_the_same_call():
    plan = schedule(needs_slot=set(TREE) - {"root"})
    free = {"root": 2, "eu": 1, "us": 0, "apac": 1}
    assert plan.ready(free.get) == ["root"]
    plan.finished("root", True)
    assert plan.ready(free.get) == ["eu", "us"]  # two slots at root
    free["root"] = 1  # us's sync attempt still holds one
    plan.finished("eu", True)
    assert plan.ready(free.get) == ["apac", "eu-1"]
    free["eu"] = 0
    assert plan.ready(free.get) == [] and plan.waiting_for_slot
    free["eu"] = 1  # eu-1 waits to retry: its slot is free again
    assert plan.ready(free.get) == ["eu-2"] and plan.waiting_for_slot  # eu-3 still waits
    plan.finished("us", True)
    free["us"] = 3
    assert plan.ready() == ["eu-3", "us-1", "us-2", "us-3"] and not plan.waiting_for_slot


def test_limit_caps_the_starts_but_not_the_skips():
    plan = schedule()
    plan.ready()
    plan.finished("root", True)
    assert plan.ready(limit=2) == ["eu", "us"]
    plan.finished("eu", False, "failed")
    assert plan.ready(limit=0) == []
    assert [s.host for s in plan.take_skipped()] == ["eu-1", "eu-2", "eu-3"]
    assert plan.ready(limit=5) == ["apac"]


def test_serial_batches_never_overlap():
    hosts = ORDERED
    batches = [hosts[:2], hosts[2:7], hosts[7:]]
    plan = schedule(batches=batches)
    assert plan.ready() == ["root"]
    plan.finished("root", True)
    assert plan.ready() == ["eu"]  # the rest of the first batch
    plan.finished("eu", True)
    assert plan.ready() == ["us", "apac", "eu-1", "eu-2", "eu-3"]
    for name in ("us", "apac", "eu-1", "eu-2"):
        plan.finished(name, True)
    assert plan.ready() == []  # eu-3 still runs: the last batch waits
    plan.finished("eu-3", True)
    assert plan.ready() == hosts[7:]


def test_max_fail_percentage_stops_starting_once_a_batch_failed_too_much():
    plan = schedule(max_fail_percentage=40)
    plan.ready()
    plan.finished("root", True)
    plan.ready()
    for name in ("eu", "us"):
        plan.finished(name, True)
    plan.ready()  # eu's and us's replicas run
    for name in ("eu-1", "eu-2", "eu-3", "us-1", "us-2"):
        plan.finished(name, False, "failed")
    assert plan.stopped is None  # 5 of 13 is under 40 %
    plan.finished("us-3", False, "failed")  # 6 of 13: more than 40 %
    assert plan.ready() == [] and not plan.done and plan.stopped is None  # apac still runs
    plan.finished("apac", True)
    assert plan.ready() == []  # apac's replicas never start
    assert plan.take_skipped() == []
    assert plan.done and plan.stopped == Stopped(6, 13)


def test_max_fail_percentage_counts_per_serial_batch():
    hosts = ["a", "b", "c", "d"]
    flat = dict.fromkeys(hosts)
    plan = PlaySchedule(
        hosts, order="inventory", upstream_of=flat, batches=[hosts[:2], hosts[2:]], max_fail_percentage=50
    )
    assert plan.ready() == ["a", "b"]
    plan.finished("a", False, "failed")  # 1 of 2: not more than 50 %
    plan.finished("b", True)
    assert plan.ready() == ["c", "d"]
    plan.finished("c", False, "failed")
    plan.finished("d", False, "failed")
    assert plan.done and plan.stopped == Stopped(2, 2)


def test_inventory_order_waits_for_nobody():
    plan = schedule(order="inventory", hosts=list(reversed(ORDERED)))
    assert plan.ready() == list(reversed(ORDERED))


def test_reverse_hierarchy_runs_wave_after_wave_from_the_leaves():
    hosts = list(reversed(ORDERED))
    plan = schedule(order="reverse_hierarchy", hosts=hosts)
    leaves = hosts[:9]
    assert plan.ready() == leaves
    plan.finished("us-1", False, "failed")  # nothing is skipped in this order
    for name in leaves[:-1]:
        if name != "us-1":
            plan.finished(name, True)
    assert plan.ready() == []  # one leaf still runs
    plan.finished(leaves[-1], True)
    assert plan.ready() == hosts[9:12]
    for name in hosts[9:12]:
        plan.finished(name, True)
    assert plan.ready() == ["root"] and plan.take_skipped() == []


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        PlaySchedule(["a"], order="sideways", upstream_of={}, batches=[["a"]])
    with pytest.raises(ValueError):
        PlaySchedule(["a", "b"], order="inventory", upstream_of={}, batches=[["a"]])
    plan = PlaySchedule(["a"], order="inventory", upstream_of={}, batches=[["a"]])
    with pytest.raises(ValueError):
        plan.finished("a", True)  # never started


# -- properties ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomPlay:
    upstream_of: dict[str, str | None]
    order: str
    hosts: list[str]
    batches: list[list[str]]
    outcomes: dict[str, bool]
    needs_slot: set[str]
    on_its_own: set[str]
    k: int
    forks: int
    seed: int
    max_fail: float | None


@st.composite
def plays(draw):
    count = draw(st.integers(1, 25))
    names = [f"s{i}" for i in range(count)]
    upstream_of: dict[str, str | None] = {}
    bushy = draw(st.integers(1, 6))  # upstreams among the first few: many siblings share one
    for i, name in enumerate(names):
        choices = names[: min(i, bushy)]
        upstream_of[name] = draw(st.one_of(st.none(), st.sampled_from(choices))) if choices else None
    order = draw(st.sampled_from(["hierarchy", "reverse_hierarchy", "inventory"]))
    in_play = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    ranked = [n for wave in waves([Node(n, u) for n, u in upstream_of.items()]) for n in wave if n in in_play]
    hosts = {"hierarchy": ranked, "reverse_hierarchy": ranked[::-1], "inventory": in_play}[order]
    sizes = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    batches, start, index = [], 0, 0
    while start < len(hosts):
        size = sizes[min(index, len(sizes) - 1)]
        batches.append(hosts[start : start + size])
        start, index = start + size, index + 1
    outcomes = {n: draw(st.booleans()) for n in hosts}
    return RandomPlay(
        upstream_of,
        order,
        hosts,
        batches,
        outcomes,
        needs_slot={n for n in hosts if draw(st.booleans())},
        on_its_own={n for n in hosts if not outcomes[n] and draw(st.integers(0, 4)) == 0},
        k=draw(st.integers(1, 3)),
        forks=draw(st.integers(1, 8)),
        seed=draw(st.integers(0, 2**16)),
        max_fail=draw(st.one_of(st.none(), st.sampled_from([0.0, 30.0, 50.0, 100.0]))),
    )


def slot_users(play: RandomPlay) -> set[str]:
    return {h for h in play.needs_slot if play.upstream_of[h] is not None and h not in play.on_its_own}


def simulate(play: RandomPlay) -> tuple[PlaySchedule, list[tuple[str, str]]]:
    """Drive a schedule as the run loop does: start what is ready (``forks`` at a time, a running
    host holding its upstream's slot all along), finish a random running host, until done.
    Returns the schedule and the events ("start"/"end"/"skip", host) in order."""
    plan = PlaySchedule(
        play.hosts,
        order=play.order,
        upstream_of=play.upstream_of,
        batches=play.batches,
        max_fail_percentage=play.max_fail,
        needs_slot=play.needs_slot,
        on_its_own=play.on_its_own,
    )
    rng = random.Random(play.seed)
    events: list[tuple[str, str]] = []
    slotted = slot_users(play)

    def free_slots(upstream: str) -> int:
        return play.k - sum(1 for h in plan.running() if h in slotted and play.upstream_of[h] == upstream)

    for _ in range(10 * len(play.hosts) + 10):  # every round starts or ends something, or it is over
        started = plan.ready(free_slots, limit=play.forks - len(plan.running()))
        events += [("skip", s.host) for s in plan.take_skipped()]
        events += [("start", h) for h in started]
        running = plan.running()
        if not running:
            break
        name = rng.choice(running)
        plan.finished(name, play.outcomes[name], "failed")
        events.append(("end", name))
    return plan, events


@settings(max_examples=150, deadline=None)
@given(plays())
def test_every_host_ends_exactly_once_and_nothing_is_starved(play):
    plan, events = simulate(play)
    assert plan.done  # nothing left waiting forever
    started = [h for e, h in events if e == "start"]
    skipped = [h for e, h in events if e == "skip"]
    ended = [h for e, h in events if e == "end"]
    assert sorted(started) == sorted(ended) and len(set(started)) == len(started)
    assert not set(started) & set(skipped) and len(set(skipped)) == len(skipped)
    if plan.stopped is None:
        assert sorted(started + skipped) == sorted(play.hosts)
    else:
        assert play.max_fail is not None
        assert plan.stopped.failed * 100.0 / plan.stopped.batch_size > play.max_fail
    if play.order != "hierarchy":
        assert skipped == []


@settings(max_examples=150, deadline=None)
@given(plays())
def test_a_host_starts_only_after_its_upstream_succeeded(play):
    _, events = simulate(play)
    ended: set[str] = set()
    for event, name in events:
        if event == "end":
            ended.add(name)
        upstream = play.upstream_of[name]
        if play.order != "hierarchy" or upstream not in play.hosts or name in play.on_its_own:
            continue
        if event == "start":
            assert upstream in ended and play.outcomes[upstream]
        if event == "skip":  # below an upstream that failed or was skipped
            assert (upstream in ended and not play.outcomes[upstream]) or ("skip", upstream) in events


@settings(max_examples=150, deadline=None)
@given(plays())
def test_batches_never_overlap_and_reverse_waves_wait_for_the_wave_below(play):
    _, events = simulate(play)
    batch_of = {h: i for i, batch in enumerate(play.batches) for h in batch}
    over: set[str] = set()  # ended or skipped
    nodes = [Node(n, u) for n, u in play.upstream_of.items()]
    depth = {n: i for i, wave in enumerate(waves(nodes)) for n in wave}
    for event, name in events:
        if event == "start":
            assert all(h in over for h in play.hosts if batch_of[h] < batch_of[name])
            if play.order == "reverse_hierarchy":
                deeper = [h for h in play.batches[batch_of[name]] if depth[h] > depth[name]]
                assert all(h in over for h in deeper)
        else:
            over.add(name)


@settings(max_examples=150, deadline=None)
@given(plays())
def test_never_more_than_k_hosts_of_one_upstream_start_at_once(play):
    # the model's slot table: a started host holds a slot at its upstream until it ends
    _, events = simulate(play)
    slotted = slot_users(play)
    running: set[str] = set()
    for event, name in events:
        if event == "start":
            running.add(name)
        elif event == "end":
            running.discard(name)
        for upstream in {play.upstream_of[h] for h in running & slotted}:
            assert len([h for h in running & slotted if play.upstream_of[h] == upstream]) <= play.k
