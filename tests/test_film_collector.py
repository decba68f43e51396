"""The film collector against moto's DynamoDB, with Rekognition and SQS stubbed by botocore's
Stubber: a finished job's pages become one entry per label, exactly counted, never mixed with
another version's; stale, duplicate and failed jobs; long films handed on."""

from __future__ import annotations

import json

import pytest
from boto3.dynamodb.types import TypeSerializer

from film_table import (
    COMPLETIONS_QUEUE_ARN,
    COMPLETIONS_QUEUE_URL,
    assert_table_invariants,
    counts,
    entries,
    film,
    film_handler,
    seed_labelled,
    sha256,
    sqs_record,
)
from label_table_in_moto import TABLE_NAME
from s3_event_factory import BUCKET

KEY = "films/safari.mp4"
OLD_SEQ, SEQ, NEWER_SEQ = "0066AED6DCD900000010", "0066AED6DCD900000020", "0066AED6DCD900000030"
METADATA = {"Codec": "h264", "DurationMillis": 15_015, "Format": "QuickTime / MOV", "FrameRate": 29.97,
            "FrameHeight": 720, "FrameWidth": 1280, "ColorRange": "LIMITED"}


@pytest.fixture
def aws(monkeypatch):
    with film_handler("film_labeller.collector", monkeypatch, environ={"TABLE_NAME": TABLE_NAME, "COMPLETIONS_QUEUE_URL": COMPLETIONS_QUEUE_URL}, jitter=0.0) as loaded:
        yield loaded


class Context:
    def __init__(self, *remaining_millis: int):
        self._remaining = list(remaining_millis)

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining.pop(0) if len(self._remaining) > 1 else self._remaining[0]


class JsonBody:
    """Equal to a message body that is this JSON (a Stubber expectation on its content)."""

    def __init__(self, expected):
        self.expected = expected

    def __eq__(self, other):
        return json.loads(other) == self.expected

    def __repr__(self):
        return f"JsonBody({self.expected!r})"


def tag(sequencer: str, key: str = KEY) -> str:
    return f"film-{sha256(key)[:32]}-{sequencer}"


def processing(collector, *, job_id="job-2", version_id="v2", sequencer=SEQ, key=KEY) -> None:
    from film_labeller.film_store import unchanged_since

    previous = collector.STORE.film(key)
    item = {"ImageId": key, "Entry": "IMAGE", "Media": "video", "Bucket": BUCKET, "Key": key, "Status": "PROCESSING",
            "VersionId": version_id, "Sequencer": sequencer, "JobId": job_id, "JobTag": tag(sequencer, key),
            "UpdatedAt": "2026-11-26T10:00:00.000+00:00"}
    assert collector.STORE.put_film(item, unchanged_since(previous["Sequencer"] if previous else None))


def notification(job_id="job-2", status="SUCCEEDED", sequencer=SEQ, key=KEY) -> dict:
    inner = {"JobId": job_id, "Status": status, "API": "StartLabelDetection", "JobTag": tag(sequencer, key),
             "Timestamp": 1795000000000, "Video": {"S3ObjectName": key, "S3Bucket": BUCKET}}
    envelope = {"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:FilmJobs",
                "Message": json.dumps(inner), "Timestamp": "2026-11-26T10:05:00.000Z"}
    return sqs_record(envelope, queue_arn=COMPLETIONS_QUEUE_ARN)


def detection(name, start, end, confidence=90.0, parents=()):
    return {"Timestamp": start, "StartTimestampMillis": start, "EndTimestampMillis": end, "DurationMillis": end - start,
            "Label": {"Name": name, "Confidence": confidence, "Parents": [{"Name": p} for p in parents],
                      "Categories": [{"Name": "Animals and Pets"}], "Aliases": [], "Instances": []}}


def expect_page(rekognition, labels, *, job_id="job-2", token=None, next_token=None, version_id="v2",
                status="SUCCEEDED", status_message=None, key=KEY, sequencer=SEQ):
    response = {"JobStatus": status, "VideoMetadata": METADATA, "Labels": labels, "LabelModelVersion": "3.0",
                "JobId": job_id, "JobTag": tag(sequencer, key),
                "Video": {"S3Object": {"Bucket": BUCKET, "Name": key, "Version": version_id}},
                "GetRequestMetadata": {"SortBy": "NAME", "AggregateBy": "SEGMENTS"}}
    if next_token:
        response["NextToken"] = next_token
    if status_message:
        response["StatusMessage"] = status_message
    request = {"JobId": job_id, "AggregateBy": "SEGMENTS", "SortBy": "NAME", "MaxResults": 1000}
    if token:
        request["NextToken"] = token
    rekognition.add_response("get_label_detection", response, request)


def run(collector, record, context=None) -> dict:
    return collector.handle({"Records": [record]}, context or Context(600_000))


def test_a_finished_job_gives_one_entry_per_label_and_a_labelled_film(aws):
    collector, rekognition, _, table = aws
    processing(collector)
    expect_page(rekognition, [detection("Car", 225, 3578, 88.5), detection("Car", 3578, 4000, 97.25),
                              detection("Car", 9000, 9500), detection("Kangaroo", 7578, 12371, 99.1, ["Animal"])])

    assert run(collector, notification()) == {"batchItemFailures": []}

    item = film(table, KEY)
    assert item["Status"] == "LABELLED" and item["LabelKeys"] == ["car", "kangaroo"] and item["LabelCount"] == 2
    assert (item["DurationMillis"], item["Codec"], item["FrameWidth"], item["FrameHeight"]) == (15_015, "h264", 1280, 720)
    assert float(item["FrameRate"]) == 29.97 and item["LabelModelVersion"] == "3.0" and "Labels" not in item
    car = entries(table, KEY)["car"]
    assert car["Segments"] == [[225, 4000], [9000, 9500]] and car["SegmentCount"] == 3
    assert float(car["Confidence"]) == 97.25 and car["Label"] == "Car" and car["SegmentsMerged"] is False
    assert (car["VersionId"], car["JobId"], car["Media"]) == ("v2", "job-2", "video")
    assert entries(table, KEY)["kangaroo"]["Parents"] == ["Animal"]
    assert counts(table) == {"car": 1, "kangaroo": 1}
    assert_table_invariants(table)


def test_pages_sorted_by_name_carry_a_label_that_spans_two_pages(aws):
    collector, rekognition, _, table = aws
    processing(collector)
    expect_page(rekognition, [detection("Animal", 0, 500), detection("Car", 1000, 2000)], next_token="t1")
    expect_page(rekognition, [detection("Car", 5000, 6000), detection("Dog", 0, 100)], token="t1", next_token="t2")
    expect_page(rekognition, [detection("Dog", 200, 300), detection("Zebra", 7000, 8000)], token="t2")

    assert run(collector, notification()) == {"batchItemFailures": []}

    found = entries(table, KEY)
    assert found["car"]["Segments"] == [[1000, 2000], [5000, 6000]] and found["car"]["SegmentCount"] == 2
    assert found["dog"]["Segments"] == [[0, 100], [200, 300]]
    assert film(table, KEY)["LabelKeys"] == ["animal", "car", "dog", "zebra"]
    assert counts(table) == {"animal": 1, "car": 1, "dog": 1, "zebra": 1}
    assert_table_invariants(table)


def test_short_time_hands_the_rest_on_and_the_continuation_finishes_the_job(aws):
    collector, rekognition, sqs, table = aws
    processing(collector)
    expect_page(rekognition, [detection("Animal", 0, 500), detection("Car", 1000, 2000, 91.0)], next_token="t1")
    carry = {"Name": "Car", "Confidence": "91.0", "Segments": [[1000, 2000]], "SegmentCount": 1,
             "SegmentsMerged": False, "Parents": [], "Categories": ["Animals and Pets"]}
    body = {"Continuation": {"JobId": "job-2", "NextToken": "t1", "Carry": carry, "Pages": 1}}
    sqs.add_response("send_message", {"MessageId": "c1"}, {"QueueUrl": COMPLETIONS_QUEUE_URL, "MessageBody": JsonBody(body)})

    assert run(collector, notification(), Context(45_000)) == {"batchItemFailures": []}

    assert film(table, KEY)["Status"] == "PROCESSING"
    assert set(entries(table, KEY)) == {"animal"}  # Car may go on in the next page: not written yet
    assert_table_invariants(table, at_rest=False)

    expect_page(rekognition, [detection("Car", 3000, 4000, 95.0), detection("Dog", 0, 100)], token="t1")
    continuation = sqs_record(body, queue_arn=COMPLETIONS_QUEUE_ARN)
    assert run(collector, continuation) == {"batchItemFailures": []}

    assert entries(table, KEY)["car"]["Segments"] == [[1000, 2000], [3000, 4000]]
    assert float(entries(table, KEY)["car"]["Confidence"]) == 95.0
    assert film(table, KEY)["LabelKeys"] == ["animal", "car", "dog"]
    assert_table_invariants(table)


def test_an_expired_page_token_starts_again_from_page_one(aws):
    collector, rekognition, _, table = aws
    processing(collector)
    ghost = {"Name": "Ghost", "Confidence": "50", "Segments": [[0, 1]], "SegmentCount": 1, "Parents": [], "Categories": []}
    body = {"Continuation": {"JobId": "job-2", "NextToken": "expired", "Carry": ghost, "Pages": 7}}
    rekognition.add_client_error("get_label_detection", service_error_code="InvalidPaginationTokenException",
                                 http_status_code=400, expected_params={
                                     "JobId": "job-2", "AggregateBy": "SEGMENTS", "SortBy": "NAME",
                                     "MaxResults": 1000, "NextToken": "expired"})
    expect_page(rekognition, [detection("Car", 0, 1000), detection("Dog", 0, 100)])

    assert run(collector, sqs_record(body, queue_arn=COMPLETIONS_QUEUE_ARN)) == {"batchItemFailures": []}

    assert film(table, KEY)["LabelKeys"] == ["car", "dog"]  # the stale carry is not kept
    assert_table_invariants(table)


def test_a_failed_job_fails_the_film_with_rekognitions_message_and_drops_old_labels(aws):
    collector, rekognition, _, table = aws
    seed_labelled(collector.STORE, key=KEY, bucket=BUCKET, version_id="v1", job_id="job-1", sequencer=OLD_SEQ,
                  labels=["Car", "Road"])
    processing(collector)
    expect_page(rekognition, [], status="FAILED", status_message="Unsupported codec/format.")

    assert run(collector, notification(status="FAILED")) == {"batchItemFailures": []}

    item = film(table, KEY)
    assert item["Status"] == "FAILED"
    assert item["Error"] == {"Code": "LabelDetectionFailed", "Message": "Unsupported codec/format."}
    assert entries(table, KEY) == {} and counts(table) == {"car": 0, "road": 0}
    assert_table_invariants(table)


def test_a_duplicate_notification_after_labelling_changes_nothing(aws):
    collector, rekognition, _, table = aws
    processing(collector)
    expect_page(rekognition, [detection("Car", 0, 1000)])
    run(collector, notification())
    before = (film(table, KEY), entries(table, KEY), counts(table))

    expect_page(rekognition, [detection("Car", 0, 1000)])
    assert run(collector, notification()) == {"batchItemFailures": []}
    assert (film(table, KEY), entries(table, KEY), counts(table)) == before


def test_a_late_notification_for_a_replaced_version_changes_nothing(aws):
    collector, rekognition, _, table = aws
    processing(collector, job_id="job-3", version_id="v3", sequencer=NEWER_SEQ)
    before = film(table, KEY)
    expect_page(rekognition, [detection("Car", 0, 1000)], job_id="job-2")

    assert run(collector, notification(job_id="job-2")) == {"batchItemFailures": []}
    assert film(table, KEY) == before and entries(table, KEY) == {}


def test_a_job_that_finished_before_the_starter_recorded_it_is_retried_until_it_is(aws):
    collector, rekognition, sqs, table = aws
    processing(collector, job_id="job-1", version_id="v1", sequencer=OLD_SEQ)
    early = notification()
    expect_page(rekognition, [detection("Car", 0, 1000)])
    sqs.add_response("change_message_visibility", {}, {"QueueUrl": COMPLETIONS_QUEUE_URL,
                                                        "ReceiptHandle": early["receiptHandle"], "VisibilityTimeout": 60})

    assert run(collector, early) == {"batchItemFailures": [{"itemIdentifier": early["messageId"]}]}
    assert film(table, KEY)["JobId"] == "job-1"

    processing(collector)  # the starter's retried write lands
    expect_page(rekognition, [detection("Car", 0, 1000)])
    assert run(collector, early) == {"batchItemFailures": []}
    assert film(table, KEY)["Status"] == "LABELLED" and film(table, KEY)["JobId"] == "job-2"


def test_a_reupload_replaces_the_old_versions_labels_with_exact_counts(aws):
    collector, rekognition, _, table = aws
    seed_labelled(collector.STORE, key=KEY, bucket=BUCKET, version_id="v1", job_id="job-1", sequencer=OLD_SEQ,
                  labels=["Car", "Road"])
    seed_labelled(collector.STORE, key="films/other.mp4", bucket=BUCKET, version_id="v1", job_id="job-o",
                  sequencer=OLD_SEQ, labels=["Car"])
    processing(collector)
    expect_page(rekognition, [detection("Car", 0, 1000), detection("Tree", 500, 800)])

    assert run(collector, notification()) == {"batchItemFailures": []}

    assert set(entries(table, KEY)) == {"car", "tree"}
    assert {e["VersionId"] for e in entries(table, KEY).values()} == {"v2"}
    assert counts(table) == {"car": 2, "road": 0, "tree": 1}
    assert_table_invariants(table)


def test_a_film_with_300_labels_is_written_in_transactions_of_at_most_100_parts(aws):
    collector, rekognition, _, table = aws
    seed_labelled(collector.STORE, key=KEY, bucket=BUCKET, version_id="v1", job_id="job-1", sequencer=OLD_SEQ,
                  labels=[f"Label {n:03d}" for n in range(290, 310)])
    processing(collector)
    sizes = []
    collector.STORE._client.meta.events.register(
        "before-parameter-build.dynamodb.TransactWriteItems", lambda params, **_: sizes.append(len(params["TransactItems"])))
    expect_page(rekognition, [detection(f"Label {n:03d}", n, n + 10) for n in range(300)])

    assert run(collector, notification()) == {"batchItemFailures": []}

    assert len(sizes) >= 6 and max(sizes) <= 100
    assert film(table, KEY)["LabelCount"] == 300
    found = counts(table)
    assert all(found[f"label {n:03d}"] == 1 for n in range(300))
    assert all(found[f"label {n:03d}"] == 0 for n in range(300, 310))
    assert_table_invariants(table)


def test_a_label_with_1000_segments_keeps_400_covering_all_and_stays_small(aws):
    collector, rekognition, _, table = aws
    processing(collector)
    seen = [(n * 5400 + (n % 3) * 7, n * 5400 + 2000 + (n % 11) * 13) for n in range(1000)]
    expect_page(rekognition, [detection("Person", start, end, 80 + n % 20) for n, (start, end) in enumerate(seen)])

    assert run(collector, notification()) == {"batchItemFailures": []}

    person = entries(table, KEY)["person"]
    assert len(person["Segments"]) == 400 and person["SegmentCount"] == 1000 and person["SegmentsMerged"] is True
    assert all(any(s <= start and end <= e for s, e in person["Segments"]) for start, end in seen)
    wire = {name: TypeSerializer().serialize(value) for name, value in person.items()}
    assert len(json.dumps(wire)) < 40_000  # DynamoDB allows 400 KB
    assert_table_invariants(table)


def test_a_malformed_message_fails_so_that_it_reaches_the_dlq(aws):
    collector, _, sqs, table = aws
    bad = sqs_record('{"Type": "Notification", "Message": "not json"}', queue_arn=COMPLETIONS_QUEUE_ARN)
    sqs.add_response("change_message_visibility", {}, {"QueueUrl": COMPLETIONS_QUEUE_URL,
                                                        "ReceiptHandle": bad["receiptHandle"], "VisibilityTimeout": 0})
    assert run(collector, bad) == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert table.scan()["Count"] == 0
