"""Relabel requests (`imagelabels backfill`): an event that carries the sequencer its sender read
from the table applies while the table still holds exactly that state, and never outranks a real
S3 event, earlier or later."""

from __future__ import annotations

from s3_event_factory import event, record
from label_table_in_moto import image, images_with_label, label_counts, label_entries
from test_handler import (  # noqa: F401  (aws is a fixture)
    CAT_RESPONSE,
    COFFEE_RESPONSE,
    aws,
    created,
    expect_detect,
    next_sequencer,
    removed,
    strip,
)

from image_labeller.s3_events import parse_record


def relabel(rec: dict, sequencer: str) -> dict:
    """What backfill sends: the object's current facts, the sequencer read from the table."""
    rec = strip(rec)
    rec = {**rec, "eventName": "ObjectCreated:Backfill", "relabel": True}
    rec["s3"] = {**rec["s3"], "object": {**rec["s3"]["object"], "sequencer": sequencer}}
    return rec


def test_only_a_literal_true_marks_a_relabel_request():
    base = record("a.png", sequencer="0")
    assert parse_record(base).relabel is False
    assert parse_record({**base, "relabel": True}).relabel is True
    assert parse_record({**base, "relabel": "true"}).relabel is False


def test_a_forced_relabel_at_the_stored_sequencer_replaces_the_labels(aws):
    handler, rekognition, table, s3 = aws
    rec = created(s3, "again.png")
    expect_detect(rekognition, rec, CAT_RESPONSE)
    handler.handle(event(strip(rec)), None)
    stored = image(table, "again.png")["Sequencer"]

    expect_detect(rekognition, rec, COFFEE_RESPONSE)  # e.g. a newer model sees something else
    assert handler.handle(event(relabel(rec, stored)), None)["outcomes"] == {"labelled": 1}

    item = image(table, "again.png")
    assert item["Sequencer"] == stored  # a later real event still outranks it
    assert item["EventName"] == "ObjectCreated:Backfill"
    assert set(label_entries(table, "again.png")) == {"Cup", "Beverage", "Coffee Cup"}
    assert label_counts(table) == {"Cat": 0, "Animal": 0, "Pet": 0, "Mammal": 0, "Cup": 1, "Beverage": 1, "Coffee Cup": 1}


def test_a_relabel_request_that_read_a_state_since_replaced_changes_nothing(aws):
    handler, rekognition, table, s3 = aws
    first = created(s3, "moving.png", "coffee cup.jpg")
    expect_detect(rekognition, first, COFFEE_RESPONSE)
    handler.handle(event(strip(first)), None)
    read_by_backfill = image(table, "moving.png")["Sequencer"]
    second = created(s3, "moving.png")  # a real upload lands before the relabel request
    expect_detect(rekognition, second, CAT_RESPONSE)
    handler.handle(event(strip(second)), None)

    # No DetectLabels response is queued: a call would fail the Stubber.
    assert handler.handle(event(relabel(first, read_by_backfill)), None)["outcomes"] == {"superseded": 1}
    assert image(table, "moving.png")["VersionId"] == second["s3"]["object"]["versionId"]
    assert images_with_label(table, "cup") == []


def test_a_never_labelled_object_relabelled_at_zero_still_yields_to_its_real_event(aws):
    handler, rekognition, table, s3 = aws
    rec = created(s3, "before-the-stack.png")
    expect_detect(rekognition, rec, COFFEE_RESPONSE)
    assert handler.handle(event(relabel(rec, "0")), None)["outcomes"] == {"labelled": 1}
    assert image(table, "before-the-stack.png")["Sequencer"] == "0"

    # The object's real upload event, delayed in Lambda's queue, arrives afterwards: it applies.
    expect_detect(rekognition, rec, CAT_RESPONSE)
    assert handler.handle(event(strip(rec)), None)["outcomes"] == {"labelled": 1}
    assert image(table, "before-the-stack.png")["Sequencer"] == rec["s3"]["object"]["sequencer"]
    assert label_counts(table)["Cup"] == 0 and label_counts(table)["Cat"] == 1


def test_a_relabel_request_brings_back_an_image_whose_labelled_version_was_deleted(aws):
    handler, rekognition, table, s3 = aws
    older = created(s3, "restored.png", "coffee cup.jpg")
    current = created(s3, "restored.png")
    expect_detect(rekognition, current, CAT_RESPONSE)
    handler.handle(event(strip(current)), None)
    s3.delete_object(Bucket=current["s3"]["bucket"]["name"], Key="restored.png", VersionId=current["s3"]["object"]["versionId"])
    delete = record("restored.png", sequencer=next_sequencer(), event_name="ObjectRemoved:Delete",
                    version_id=current["s3"]["object"]["versionId"])
    handler.handle(event(delete), None)
    tombstone = image(table, "restored.png")
    assert tombstone["Status"] == "DELETED"

    # S3 sends no event when the older version becomes current again: backfill relabels it.
    expect_detect(rekognition, older, COFFEE_RESPONSE)
    assert handler.handle(event(relabel(older, tombstone["Sequencer"])), None)["outcomes"] == {"labelled": 1}
    item = image(table, "restored.png")
    assert (item["Status"], item["VersionId"]) == ("LABELLED", older["s3"]["object"]["versionId"])
    assert "ExpiresAt" not in item
    assert [key for key, _ in images_with_label(table, "cup")] == ["restored.png"]


def test_the_relabel_mark_never_lets_a_delete_replay_over_the_same_state(aws):
    handler, _, table, _ = aws
    gone = removed("gone.jpg")
    handler.handle(event(gone), None)
    replay = {**gone, "relabel": True}
    assert handler.handle(event(replay), None)["outcomes"] == {"superseded": 1}
    assert image(table, "gone.jpg")["Status"] == "DELETED"
