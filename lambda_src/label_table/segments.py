"""Time segments of a label in a film: [start_ms, end_ms] pairs. Pure functions, no AWS calls.

A stored segment list is sorted, non-overlapping, and has no two segments that touch: that is
what `merge` returns and what every other function here expects and keeps.
"""

from __future__ import annotations

from typing import Iterable, Sequence

# Segments kept per label entry. A label seen on and off through a 6-hour film can have
# thousands of segments; 400 pairs keep an entry around 10 KB, far from DynamoDB's 400 KB.
MAX_SEGMENTS = 400

Segment = list[int]  # [start_ms, end_ms], start <= end


def merge(segments: Iterable[Sequence[int]]) -> list[Segment]:
    """Sorted, with overlapping or touching segments joined into one."""
    merged: list[Segment] = []
    for start, end in sorted((int(start), int(end)) for start, end in segments):
        if end < start:
            start, end = end, start
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def bound(segments: Sequence[Sequence[int]], limit: int = MAX_SEGMENTS) -> tuple[list[Segment], bool]:
    """At most `limit` segments, and whether any had to be joined for it.

    Joins the neighbours with the smallest gap first, repeatedly. Joining two neighbours leaves
    every other gap as it was, so that is the same as closing the len - limit smallest gaps at
    once (ties: the earlier gap first). Coverage only grows: a search never misses a moment.
    """
    segments = merge(segments)
    excess = len(segments) - limit
    if excess <= 0:
        return segments, False
    gaps = sorted(range(len(segments) - 1), key=lambda index: (segments[index + 1][0] - segments[index][1], index))
    closed = set(gaps[:excess])  # gap i lies between segment i and segment i + 1
    bounded: list[Segment] = [list(segments[0])]
    for index in range(1, len(segments)):
        if index - 1 in closed:
            bounded[-1][1] = segments[index][1]
        else:
            bounded.append(list(segments[index]))
    return bounded, True


def intersect(segment_lists: Sequence[Sequence[Sequence[int]]]) -> list[Segment]:
    """The moments where every list has a segment: what a search for several labels at once
    answers with. A single moment (start == end) counts, as Rekognition reports labels seen in
    one sampled frame that way; two stretches that only touch (one ends at 3000 ms where the
    other begins: a cut from one shot to the next) are never on screen together."""
    if not segment_lists:
        return []
    common = merge(segment_lists[0])
    for other in segment_lists[1:]:
        common = _intersect_two(common, merge(other))
        if not common:
            break
    return merge(common)


def _is_moment(segment: Segment) -> bool:
    return segment[0] == segment[1]


def _intersect_two(first: list[Segment], second: list[Segment]) -> list[Segment]:
    overlap: list[Segment] = []
    i = j = 0
    while i < len(first) and j < len(second):
        start = max(first[i][0], second[j][0])
        end = min(first[i][1], second[j][1])
        if start < end or (start == end and (_is_moment(first[i]) or _is_moment(second[j]))):
            overlap.append([start, end])
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return overlap


def format_ms(milliseconds: int, *, round_up: bool = False) -> str:
    """mm:ss, h:mm:ss from an hour on (1:15:03); seconds rounded down unless `round_up`."""
    milliseconds = max(0, int(milliseconds))
    seconds = -(-milliseconds // 1000) if round_up else milliseconds // 1000
    hours, rest = divmod(seconds, 3600)
    if hours:
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{rest // 60:02d}:{rest % 60:02d}"


def format_segment(segment: Sequence[int]) -> str:
    """mm:ss-mm:ss. The end is rounded up, so that a label seen for part of a second (or in one
    sampled frame) never shows as an empty range: 00:03-00:04 for [3578, 3900]."""
    start, end = segment
    return f"{format_ms(start)}-{format_ms(end, round_up=True)}"
