"""Film label segments: merged, bounded, intersected, formatted (pure)."""

from __future__ import annotations

import random

from label_table.segments import MAX_SEGMENTS, bound, format_ms, format_segment, intersect, merge


def covered(segments) -> set[int]:
    return {ms for start, end in segments for ms in range(start, end + 1)}


def test_merge_sorts_and_joins_overlapping_and_touching_segments():
    assert merge([(5000, 6000), (0, 1000), (900, 2000), (2000, 2500), (3000, 3000)]) == [
        [0, 2500], [3000, 3000], [5000, 6000]]
    assert merge([]) == []
    assert merge([(10, 20), (12, 15)]) == [[10, 20]]


def test_a_short_list_is_kept_as_it_is():
    segments = [[0, 10], [20, 30]]
    assert bound(segments, limit=2) == (segments, False)


def test_bounding_joins_the_closest_neighbours_first():
    segments = [[0, 10], [12, 20], [100, 110], [111, 120], [500, 510]]
    assert bound(segments, limit=3) == ([[0, 20], [100, 120], [500, 510]], True)
    assert bound(segments, limit=1) == ([[0, 510]], True)


def test_bounding_equals_joining_the_smallest_gap_one_at_a_time():
    rng = random.Random(7)
    starts = sorted(rng.sample(range(0, 10_000_000, 7), 600))
    segments = merge([(start, start + rng.randrange(0, 6)) for start in starts])

    reference = [list(segment) for segment in segments]
    while len(reference) > 50:
        gap, index = min((reference[i + 1][0] - reference[i][1], i) for i in range(len(reference) - 1))
        reference[index:index + 2] = [[reference[index][0], reference[index + 1][1]]]

    assert bound(segments, limit=50) == (reference, True)


def test_a_thousand_segments_are_bounded_with_every_moment_still_covered():
    segments = [[n * 3000, n * 3000 + 1000 + (n % 7) * 100] for n in range(1000)]
    bounded, merged = bound(segments)
    assert merged and len(bounded) == MAX_SEGMENTS
    assert covered(segments) <= covered(bounded)
    assert bounded == merge(bounded)  # still sorted and non-overlapping
    assert bounded[0][0] == 0 and bounded[-1][1] == segments[-1][1]


def test_intersection_is_where_every_label_is_seen():
    car = [[0, 5000], [8000, 12000]]
    dog = [[4000, 9000], [11000, 20000]]
    person = [[0, 30000]]
    assert intersect([car, dog, person]) == [[4000, 5000], [8000, 9000], [11000, 12000]]
    assert intersect([car]) == car
    assert intersect([car, [[6000, 7000]]]) == []
    assert intersect([]) == []


def test_a_single_moment_inside_another_label_counts_as_together():
    assert intersect([[[7000, 7000]], [[0, 10000]]]) == [[7000, 7000]]
    # A cut: the cat's shot ends at 3 s where the cup's begins; never on screen together.
    assert intersect([[[0, 3000], [9000, 12000]], [[3000, 6000], [9000, 12000]]]) == [[9000, 12000]]
    assert intersect([[[3000, 3000]], [[3000, 6000]]]) == [[3000, 3000]]  # a moment at a shot's start


def test_times_are_shown_as_minutes_and_seconds_and_hours_past_an_hour():
    assert format_ms(0) == "00:00"
    assert format_ms(3578) == "00:03"
    assert format_ms(75_999) == "01:15"
    assert format_ms(3599_999) == "59:59"
    assert format_ms(3600_000) == "1:00:00"
    assert format_ms(4 * 3600_000 + 3000) == "4:00:03"


def test_a_range_ends_on_the_second_the_label_is_last_seen_in():
    assert format_segment([3578, 3900]) == "00:03-00:04"
    assert format_segment([0, 0]) == "00:00-00:00"
    assert format_segment([59 * 60_000, 3600_001]) == "59:00-1:00:01"
