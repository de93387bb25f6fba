"""The lab's own measure of how many syncs an upstream serves at once (never the product's planner)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wsusauto.lab.scheduler import DAY, SyncRecord, most_at_once, peak_load


def test_spans_touching_end_to_start_do_not_overlap():
    assert most_at_once([(60, 120), (120, 180)]) == 1
    assert most_at_once([(60, 121), (120, 180)]) == 2


def test_a_span_past_midnight_overlaps_the_early_morning():
    assert most_at_once([(DAY - 30, DAY + 30), (10, 20)]) == 2
    assert most_at_once([(DAY - 30, DAY + 30), (30, 40)]) == 1
    # a retry that starts after midnight (its start passed 1440) is the same moment next day
    assert most_at_once([(DAY + 5, DAY + 15), (0, 10)]) == 2


def test_empty_and_zero_length_spans_serve_nobody():
    assert most_at_once([]) == 0
    assert most_at_once([(100, 100)]) == 0


def test_peak_load_is_per_upstream_and_ignores_microsoft_update():
    records = [
        SyncRecord("a", "root", 1, 0, 30, True),
        SyncRecord("b", "root", 1, 10, 40, True),
        SyncRecord("c", "other", 1, 10, 40, True),
        SyncRecord("root", "Microsoft Update", 1, 0, 60, True),
    ]
    assert peak_load(records) == {"root": 2, "other": 1}


spans = st.lists(
    st.tuples(st.integers(0, 2 * DAY - 1), st.integers(1, 300)).map(lambda s: (s[0], s[0] + s[1])),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(spans)
def test_matches_counting_every_minute_of_the_day(busy):
    # Whole-minute spans: the busiest moment is some whole minute, so counting each minute is exact.
    def running_at(minute: int) -> int:
        return sum(1 for start, end in busy if any(start <= minute + k * DAY < end for k in range(-1, 4)))

    assert most_at_once(busy) == max((running_at(m) for m in range(DAY)), default=0)
