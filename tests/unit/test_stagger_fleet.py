"""Stagger inputs from facts, findings about current schedules, and the SVG timeline."""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree as ET

from tests.unit.test_facts_parsing import sample
from wsusauto.stagger.fleet import expected_duration, schedule_collisions, servers_from_facts, svg_timeline
from wsusauto.stagger.planner import Server, StaggerPolicy, plan
from wsusauto.state.facts import parse_facts


def facts_with(time_of_day: str, per_day: int = 1, automatic: bool = True):
    return parse_facts(
        "h",
        {
            **sample(),
            "SynchronizeAutomatically": automatic,
            "SynchronizeAutomaticallyTimeOfDay": time_of_day,
            "NumberOfSynchronizationsPerDay": per_day,
        },
    )


def test_duration_is_the_median_of_recent_syncs_else_the_default():
    assert expected_duration(parse_facts("h", sample())) == 2 + 5 / 60  # the sample's syncs took 2m05s
    assert expected_duration(None, 45) == 45
    assert expected_duration(parse_facts("h", {**sample(), "SynchronizationHistory": []}), 45) == 45


def test_servers_from_facts_keep_only_upstreams_in_the_selection():
    servers = servers_from_facts({"root": None, "eu": "root", "x": "elsewhere"}, {})
    assert [(s.name, s.upstream) for s in servers] == [("root", None), ("eu", "root"), ("x", None)]


def test_current_schedules_that_collide_are_found_with_the_servers():
    servers = [
        Server("root", None, 10),
        Server("a", "root", 10),
        Server("b", "root", 10),
        Server("c", "root", 10),
    ]
    facts = {"a": facts_with("03:00:00"), "b": facts_with("03:30:00"), "c": facts_with("12:00:00")}
    [collision] = schedule_collisions(servers, facts, StaggerPolicy(max_concurrent=1))
    assert collision.upstream == "root" and collision.peak == 2 and collision.servers == ("a", "b")
    assert schedule_collisions(servers, facts, StaggerPolicy(max_concurrent=2)) == []


def test_repeats_and_midnight_wrap_are_collisions_too():
    servers = [Server("root", None, 10), Server("a", "root", 10), Server("b", "root", 10)]
    facts = {"a": facts_with("23:50:00"), "b": facts_with("12:20:00", per_day=2)}  # b repeats at 00:20
    [collision] = schedule_collisions(servers, facts, StaggerPolicy(max_concurrent=1))
    assert collision.servers == ("a", "b")


def test_manual_servers_do_not_collide():
    servers = [Server("root", None, 10), Server("a", "root", 10), Server("b", "root", 10)]
    facts = {"a": facts_with("03:00:00"), "b": facts_with("03:00:00", automatic=False)}
    assert schedule_collisions(servers, facts, StaggerPolicy()) == []


def test_svg_timeline_is_well_formed_with_a_lane_per_upstream_and_the_retry_windows():
    servers = [Server("root", None, 20)] + [Server(f"r{i}", "root", 10) for i in range(4)]
    result = plan(servers, StaggerPolicy(window_length=24 * 60, max_concurrent=2))
    svg = svg_timeline(result, {s.name: s.duration for s in servers})
    root = ET.fromstring(svg)
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert sum("r0: offset" in t for t in titles) == 1
    assert sum("r0: retry wait" in t for t in titles) == 2 and any("r3: attempt 3" in t for t in titles)
    lanes = [
        t.text
        for t in root.iter("{http://www.w3.org/2000/svg}text")
        if t.text and t.text.startswith("root #")
    ]
    assert lanes == ["root #1", "root #2"]
    assert result.by_host()["r0"].time_of_day_utc != dt.time(22, 0)  # after the root's own sync
