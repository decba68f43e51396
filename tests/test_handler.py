"""The handler against moto's S3 and DynamoDB, with Rekognition stubbed by botocore's Stubber:
what lands in the table for real events, and what bad input leaves behind."""

from __future__ import annotations

import importlib
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from label_table_in_moto import TABLE_NAME, create_label_table, image, images_with_label, label_counts, label_entries
from s3_event_factory import BUCKET, TEST_EVENT, event, record

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def label(name, confidence, parents=(), categories=(), boxes=()):
    return {
        "Name": name,
        "Confidence": confidence,
        "Parents": [{"Name": parent} for parent in parents],
        "Categories": [{"Name": category} for category in categories],
        "Aliases": [],
        "Instances": [
            {"BoundingBox": {"Width": w, "Height": h, "Left": left, "Top": top}, "Confidence": confidence}
            for (w, h, left, top) in boxes
        ],
    }


CAT_RESPONSE = {
    "Labels": [
        label("Cat", 97.81234567, ["Animal", "Mammal", "Pet"], ["Animals and Pets"], [(0.62, 0.9, 0.2, 0.05)]),
        label("Animal", 97.81234567, categories=["Animals and Pets"]),
        label("Pet", 97.81, ["Animal"], ["Animals and Pets"]),
        label("Mammal", 97.8, ["Animal"], ["Animals and Pets"]),
    ],
    "LabelModelVersion": "3.0",
}
COFFEE_RESPONSE = {
    "Labels": [
        label("Cup", 95.2, ["Pottery"], ["Kitchen and Dining"], [(0.5, 0.6, 0.2, 0.2)]),
        label("Beverage", 90.1, categories=["Food and Beverage"]),
        label("Coffee Cup", 88.0, ["Cup", "Pottery"], ["Kitchen and Dining"]),
    ],
    "LabelModelVersion": "3.0",
}


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    monkeypatch.setenv("MIN_CONFIDENCE", "70")
    monkeypatch.setenv("MAX_LABELS", "10")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        table = create_label_table(boto3.resource("dynamodb"))
        import image_labeller.handler as handler

        handler = importlib.reload(handler)  # module-level clients are created inside the mock
        with Stubber(handler.REKOGNITION) as rekognition:
            yield handler, rekognition, table, s3
            rekognition.assert_no_pending_responses()


_sequence = iter(range(0x10, 0x100000))


def next_sequencer() -> str:
    return f"0055AED6DCD9{next(_sequence):08X}"


def upload(s3, key: str, sample: str = "cat-chelsea.png") -> dict:
    """Puts a real sample photo under `key` and returns the record S3 would send for it."""
    body = (SAMPLES / sample).read_bytes()
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    rec = record(key, sequencer=next_sequencer(), size=len(body), version_id=put["VersionId"])
    rec["s3"]["object"]["eTag"] = put["ETag"].strip('"')
    return rec


def expect_detect(rekognition, rec: dict, response: dict) -> None:
    key = rec["_decoded"] if "_decoded" in rec else None
    params = {
        "Image": {"S3Object": {"Bucket": BUCKET, "Name": key or ANY, "Version": rec["s3"]["object"]["versionId"]}},
        "MaxLabels": 10,
        "MinConfidence": 70.0,
    }
    rekognition.add_response("detect_labels", response, params)


def created(s3, key, sample="cat-chelsea.png"):
    rec = upload(s3, key, sample)
    rec["_decoded"] = key
    return rec


def removed(key, version_id="delete-marker"):
    return record(key, sequencer=next_sequencer(), event_name="ObjectRemoved:DeleteMarkerCreated", version_id=version_id)


def strip(rec):
    return {k: v for k, v in rec.items() if not k.startswith("_")}


def test_a_labelled_image_holds_everything_a_search_needs(aws):
    handler, rekognition, table, s3 = aws
    rec = created(s3, "shoots/2026/chelsea.png")
    expect_detect(rekognition, rec, CAT_RESPONSE)

    result = handler.handle(event(strip(rec)), None)

    assert result == {"processed": 1, "outcomes": {"labelled": 1}}
    item = image(table, "shoots/2026/chelsea.png")
    assert item["Status"] == "LABELLED"
    assert item["Bucket"] == BUCKET and item["Key"] == "shoots/2026/chelsea.png"
    assert item["Size"] == (SAMPLES / "cat-chelsea.png").stat().st_size
    assert item["ETag"] == rec["s3"]["object"]["eTag"]
    assert item["VersionId"] == rec["s3"]["object"]["versionId"]
    assert item["Sequencer"] == rec["s3"]["object"]["sequencer"]
    assert item["LabelModelVersion"] == "3.0"
    assert datetime.fromisoformat(item["UpdatedAt"]).tzinfo is not None
    assert datetime.fromisoformat(item["EventTime"].replace("Z", "+00:00")).tzinfo is not None
    cat = item["Labels"][0]
    assert cat["Name"] == "Cat"
    assert cat["Confidence"] == Decimal("97.8123")
    assert cat["Parents"] == ["Animal", "Mammal", "Pet"]
    assert cat["Categories"] == ["Animals and Pets"]
    assert cat["Instances"] == [
        {"BoundingBox": {"Width": Decimal("0.62"), "Height": Decimal("0.9"), "Left": Decimal("0.2"), "Top": Decimal("0.05")},
         "Confidence": Decimal("97.8123")}
    ]
    assert [entry["Name"] for entry in item["Labels"]] == ["Cat", "Animal", "Pet", "Mammal"]
    assert set(label_entries(table, "shoots/2026/chelsea.png")) == {"Cat", "Animal", "Pet", "Mammal"}
    assert images_with_label(table, "cat") == [("shoots/2026/chelsea.png", 97.8123)]
    assert label_counts(table) == {"Cat": 1, "Animal": 1, "Pet": 1, "Mammal": 1}


def test_search_by_label_returns_images_highest_confidence_first(aws):
    handler, rekognition, table, s3 = aws
    first, second = created(s3, "cat1.png"), created(s3, "cat2.png")
    expect_detect(rekognition, first, {"Labels": [label("Cat", 81.0)]})
    expect_detect(rekognition, second, {"Labels": [label("Cat", 99.0)]})
    handler.handle(event(strip(first), strip(second)), None)
    assert images_with_label(table, "Cat") == [("cat2.png", 99.0), ("cat1.png", 81.0)]
    assert label_counts(table) == {"Cat": 2}


@pytest.mark.parametrize(
    "key",
    ["holiday photo.jpg", "a+b.png", "100% sure.jpeg", "plus%2Bliteral.jpg", "café/Ñandú 🐎.png", "deep/er/folder/x.JPG"],
)
def test_rekognition_gets_the_decoded_key_and_the_item_is_keyed_by_it(aws, key):
    handler, rekognition, table, s3 = aws
    rec = created(s3, key)
    expect_detect(rekognition, rec, CAT_RESPONSE)
    handler.handle(event(strip(rec)), None)
    assert image(table, key)["Status"] == "LABELLED"
    assert images_with_label(table, "Cat") == [(key, 97.8123)]


def test_every_record_of_a_multi_record_event_is_processed(aws):
    handler, rekognition, table, s3 = aws
    recs = [created(s3, f"batch/{n}.jpg", "coffee cup.jpg") for n in range(3)]
    for rec in recs:
        expect_detect(rekognition, rec, COFFEE_RESPONSE)
    assert handler.handle(event(*map(strip, recs)), None)["outcomes"] == {"labelled": 3}
    assert sorted(key for key, _ in images_with_label(table, "cup")) == [f"batch/{n}.jpg" for n in range(3)]
    assert label_counts(table)["Cup"] == 3


def test_a_repeated_event_changes_nothing_and_costs_no_rekognition_call(aws):
    handler, rekognition, table, s3 = aws
    rec = created(s3, "once.png")
    expect_detect(rekognition, rec, CAT_RESPONSE)
    handler.handle(event(strip(rec)), None)
    before = image(table, "once.png")

    # No response is queued: a second DetectLabels call would fail the Stubber.
    assert handler.handle(event(strip(rec)), None)["outcomes"] == {"superseded": 1}
    assert image(table, "once.png") == before
    assert label_counts(table)["Cat"] == 1


def test_an_older_event_arriving_late_never_overwrites_newer_labels(aws):
    handler, rekognition, table, s3 = aws
    old = created(s3, "scene.jpg", "coffee cup.jpg")
    new = created(s3, "scene.jpg", "cat-chelsea.png")
    expect_detect(rekognition, new, CAT_RESPONSE)
    handler.handle(event(strip(new)), None)

    assert handler.handle(event(strip(old)), None)["outcomes"] == {"superseded": 1}
    assert image(table, "scene.jpg")["VersionId"] == new["s3"]["object"]["versionId"]
    assert images_with_label(table, "cup") == []
    assert label_counts(table) == {"Cat": 1, "Animal": 1, "Pet": 1, "Mammal": 1}


def test_reupload_with_fewer_labels_leaves_no_stale_label_entry(aws):
    handler, rekognition, table, s3 = aws
    first = created(s3, "reused.png")
    expect_detect(rekognition, first, CAT_RESPONSE)
    handler.handle(event(strip(first)), None)
    second = created(s3, "reused.png", "coffee cup.jpg")
    expect_detect(rekognition, second, {"Labels": [label("Cup", 93.0), label("Animal", 71.0)]})
    handler.handle(event(strip(second)), None)

    assert set(label_entries(table, "reused.png")) == {"Cup", "Animal"}
    assert images_with_label(table, "cat") == []
    assert images_with_label(table, "animal") == [("reused.png", 71.0)]
    assert label_counts(table) == {"Cat": 0, "Animal": 1, "Pet": 0, "Mammal": 0, "Cup": 1}


def test_delete_removes_every_label_entry_and_blocks_older_events(aws):
    handler, rekognition, table, s3 = aws
    keep, gone = created(s3, "keep.png"), created(s3, "gone.png")
    expect_detect(rekognition, keep, CAT_RESPONSE)
    expect_detect(rekognition, gone, CAT_RESPONSE)
    handler.handle(event(strip(keep), strip(gone)), None)

    assert handler.handle(event(removed("gone.png")), None)["outcomes"] == {"deleted": 1}

    assert label_entries(table, "gone.png") == {}
    assert [key for key, _ in images_with_label(table, "cat")] == ["keep.png"]
    assert label_counts(table)["Cat"] == 1
    tombstone = image(table, "gone.png")
    assert tombstone["Status"] == "DELETED" and "Labels" not in tombstone
    assert tombstone["ExpiresAt"] > datetime.now().timestamp() + 86400
    # The create event that preceded the delete arrives again (at-least-once delivery).
    assert handler.handle(event(strip(gone)), None)["outcomes"] == {"superseded": 1}
    assert label_entries(table, "gone.png") == {}


def test_delete_of_a_never_labelled_key_leaves_only_a_tombstone(aws):
    handler, _, table, _ = aws
    assert handler.handle(event(removed("never-seen.jpg")), None)["outcomes"] == {"deleted": 1}
    assert image(table, "never-seen.jpg")["Status"] == "DELETED"
    assert label_counts(table) == {}


@pytest.mark.parametrize(
    "code, message",
    [
        ("InvalidImageFormatException", "Request has unsupported image format"),
        ("ImageTooLargeException", "Image size is too large."),
        ("InvalidParameterException", "Request has invalid parameters"),
        ("InvalidS3ObjectException", "Unable to get object metadata from S3. Check object key, region and/or access permissions."),
    ],
)
def test_an_image_rekognition_cannot_read_is_recorded_as_failed_without_retry(aws, code, message):
    handler, rekognition, table, s3 = aws
    earlier = created(s3, "broken.jpg")
    expect_detect(rekognition, earlier, CAT_RESPONSE)
    handler.handle(event(strip(earlier)), None)
    rec = created(s3, "broken.jpg", "cameraman.png")
    rekognition.add_client_error("detect_labels", service_error_code=code, service_message=message, http_status_code=400)

    assert handler.handle(event(strip(rec)), None) == {"processed": 1, "outcomes": {"failed": 1}}

    item = image(table, "broken.jpg")
    assert item["Status"] == "FAILED"
    assert item["Error"] == {"Code": code, "Message": message}
    assert "Labels" not in item
    assert label_entries(table, "broken.jpg") == {}  # the earlier upload's labels are gone too
    assert label_counts(table)["Cat"] == 0


def test_an_object_over_15_mb_fails_without_calling_rekognition(aws):
    handler, _, table, _ = aws
    big = record("huge.png", sequencer=next_sequencer(), size=15 * 1024 * 1024 + 1)
    assert handler.handle(event(big), None)["outcomes"] == {"failed": 1}
    assert image(table, "huge.png")["Error"]["Code"] == "ImageTooLargeException"


@pytest.mark.parametrize("code, status", [("ThrottlingException", 400), ("ProvisionedThroughputExceededException", 400),
                                          ("InternalServerError", 500), ("AccessDeniedException", 400)])
def test_transient_and_configuration_errors_raise_so_lambda_retries(aws, code, status):
    handler, rekognition, table, s3 = aws
    good, throttled = created(s3, "good.png"), created(s3, "throttled.png")
    expect_detect(rekognition, good, CAT_RESPONSE)
    rekognition.add_client_error("detect_labels", service_error_code=code, http_status_code=status)

    with pytest.raises(handler.EventNotProcessed, match="throttled.png"):
        handler.handle(event(strip(good), strip(throttled)), None)

    assert image(table, "throttled.png") is None  # nothing recorded: the retry will label it
    assert image(table, "good.png")["Status"] == "LABELLED"  # the other record was not held back
    # Lambda's retry redelivers the whole event: the labelled record is skipped, the other labelled.
    expect_detect(rekognition, throttled, COFFEE_RESPONSE)
    assert handler.handle(event(strip(good), strip(throttled)), None)["outcomes"] == {"superseded": 1, "labelled": 1}
    assert label_counts(table)["Cat"] == 1


def test_the_s3_test_event_is_ignored(aws):
    handler, _, table, _ = aws
    assert handler.handle(TEST_EVENT, None) == {"processed": 0}
    assert table.scan()["Count"] == 0


def test_a_malformed_record_fails_the_invocation_after_the_good_ones(aws):
    handler, rekognition, table, s3 = aws
    good = created(s3, "fine.png")
    expect_detect(rekognition, good, CAT_RESPONSE)
    broken = record("x.png", sequencer=next_sequencer())
    del broken["s3"]["object"]["sequencer"]
    with pytest.raises(handler.EventNotProcessed, match="1 malformed"):
        handler.handle(event(strip(good), broken), None)
    assert image(table, "fine.png")["Status"] == "LABELLED"


def test_a_write_that_loses_a_race_rereads_and_yields_to_the_newer_event(aws):
    """Two deliveries race: ours reads the table, then a newer event is applied before ours writes."""
    handler, _, table, s3 = aws
    from image_labeller.pipeline import LabellerSettings, process_object_event
    from image_labeller.s3_events import parse_record

    older, newer = created(s3, "race.png"), created(s3, "race.png", "coffee cup.jpg")
    settings = LabellerSettings(table_name=TABLE_NAME, min_confidence=70, max_labels=10)

    class RacingRekognition:
        def detect_labels(self, **request):
            if request["Image"]["S3Object"]["Version"] == older["s3"]["object"]["versionId"]:
                process_object_event(parse_record(strip(newer)), rekognition=self, store=handler.STORE, settings=settings)
                return CAT_RESPONSE
            return COFFEE_RESPONSE

    outcome = process_object_event(parse_record(strip(older)), rekognition=RacingRekognition(), store=handler.STORE, settings=settings)

    assert outcome == "superseded"
    assert image(table, "race.png")["VersionId"] == newer["s3"]["object"]["versionId"]
    assert set(label_entries(table, "race.png")) == {"Cup", "Beverage", "Coffee Cup"}
    assert label_counts(table) == {"Cup": 1, "Beverage": 1, "Coffee Cup": 1}


@pytest.mark.parametrize(
    "environ, message",
    [({}, "TABLE_NAME"), ({"TABLE_NAME": "t", "MAX_LABELS": "50"}, "MAX_LABELS"),
     ({"TABLE_NAME": "t", "MIN_CONFIDENCE": "abc"}, "MIN_CONFIDENCE")],
)
def test_a_misconfigured_function_says_what_is_wrong(environ, message):
    from image_labeller.pipeline import ConfigurationError, LabellerSettings

    with pytest.raises(ConfigurationError, match=message):
        LabellerSettings.from_environment(environ)


def test_each_record_leaves_one_structured_log_line(aws, caplog):
    handler, rekognition, _, s3 = aws
    rec = created(s3, "logged photo.png")
    expect_detect(rekognition, rec, CAT_RESPONSE)
    with caplog.at_level("INFO", logger="image_labeller"):
        handler.handle(event(strip(rec)), None)
    (line,) = [r for r in caplog.records if r.getMessage() == "Record processed"]
    # Lambda's JSON formatter makes each of these a top-level field of the log line.
    assert (line.key, line.outcome, line.bucket) == ("logged photo.png", "labelled", BUCKET)
    assert line.sequencer == rec["s3"]["object"]["sequencer"]


def test_deleting_an_older_version_keeps_the_current_images_labels(aws):
    handler, rekognition, table, s3 = aws
    old = created(s3, "versioned.png", "coffee cup.jpg")
    current = created(s3, "versioned.png")
    expect_detect(rekognition, current, CAT_RESPONSE)
    handler.handle(event(strip(current)), None)

    s3.delete_object(Bucket=BUCKET, Key="versioned.png", VersionId=old["s3"]["object"]["versionId"])
    delete_old = record("versioned.png", sequencer=next_sequencer(), event_name="ObjectRemoved:Delete",
                        version_id=old["s3"]["object"]["versionId"])
    assert handler.handle(event(delete_old), None)["outcomes"] == {"other-version": 1}
    assert image(table, "versioned.png")["Status"] == "LABELLED"
    assert images_with_label(table, "cat") == [("versioned.png", 97.8123)]

    # Deleting the labelled version itself does remove the image from search.
    delete_current = record("versioned.png", sequencer=next_sequencer(), event_name="ObjectRemoved:Delete",
                            version_id=current["s3"]["object"]["versionId"])
    assert handler.handle(event(delete_current), None)["outcomes"] == {"deleted": 1}
    assert images_with_label(table, "cat") == []
