"""Parsing S3 event records: keys decoded, sequencers ordered, bad records reported."""

from __future__ import annotations

import pytest

from image_labeller.s3_events import object_events, parse_record, sequencer_value
from s3_event_factory import TEST_EVENT, event, record


@pytest.mark.parametrize(
    "key",
    [
        "holiday photo.jpg",
        "a+b=c.png",
        "100% real.jpeg",
        "plus%2Bliteral.jpg",
        "café/Ñandú 🐎.png",
        "shoots/2026/reel 04/frame:0001.JPG",
        "?&#[]@!$'()*,;.jpg",
    ],
)
def test_keys_are_decoded_back_to_the_object_key(key):
    parsed = parse_record(record(key, sequencer="0055AED6DCD90281E5"))
    assert parsed.key == key


def test_s3_encodes_space_as_plus_and_plus_as_percent_2b():
    raw = record("x", sequencer="01")
    raw["s3"]["object"]["key"] = "my+summer%2Bwinter+photo.jpg"
    assert parse_record(raw).key == "my summer+winter photo.jpg"


def test_every_record_of_an_event_is_returned():
    events, problems = object_events(
        event(
            record("a.jpg", sequencer="01"),
            record("b.jpg", sequencer="02", event_name="ObjectRemoved:Delete"),
            record("c.png", sequencer="03", event_name="ObjectCreated:CompleteMultipartUpload"),
        )
    )
    assert problems == []
    assert [(e.key, e.action) for e in events] == [("a.jpg", "created"), ("b.jpg", "removed"), ("c.png", "created")]


def test_delete_marker_is_a_removal():
    (parsed,), _ = object_events(event(record("a.jpg", sequencer="05", event_name="ObjectRemoved:DeleteMarkerCreated")))
    assert parsed.action == "removed"


def test_test_event_has_no_records():
    assert object_events(TEST_EVENT) == ([], [])


def test_other_s3_events_are_not_object_changes():
    restore = record("a.jpg", sequencer="01", event_name="ObjectRestore:Completed")
    assert object_events(event(restore)) == ([], [])


def test_malformed_records_are_reported_and_do_not_hide_good_ones():
    no_key = record("a.jpg", sequencer="01")
    del no_key["s3"]["object"]["key"]
    bad_sequencer = record("b.jpg", sequencer="not-hex")
    events, problems = object_events(event(no_key, record("ok.jpg", sequencer="02"), bad_sequencer, "junk"))
    assert [e.key for e in events] == ["ok.jpg"]
    assert len(problems) == 3
    assert "'key'" in problems[0] and "hexadecimal" in problems[1] and "not an object" in problems[2]


@pytest.mark.parametrize(
    "earlier, later",
    [("01", "02"), ("0055AED6DCD90281E5", "0055AED6DCD90281E6"), ("FF", "0100"), ("9", "0A"), ("0055AED6DCD90281E5", "0055AED6DCD90281E500")],
)
def test_sequencers_compare_as_numbers_whatever_their_length(earlier, later):
    assert sequencer_value(later) > sequencer_value(earlier)
    newer = parse_record(record("k.jpg", sequencer=later))
    older = parse_record(record("k.jpg", sequencer=earlier))
    assert newer.is_after(earlier)
    assert not older.is_after(later)
    assert not newer.is_after(later)  # the same event again is not newer
