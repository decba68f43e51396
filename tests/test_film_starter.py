"""The film starter against moto's DynamoDB, with Rekognition and SQS stubbed by botocore's
Stubber: which jobs are started, what the film item says, what is retried and how late."""

from __future__ import annotations

import json
import time

import pytest

from film_table import (
    EVENTS_QUEUE_URL,
    SERVICE_ROLE_ARN,
    TOPIC_ARN,
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
from s3_event_factory import BUCKET, TEST_EVENT, event, record

_sequence = iter(range(0x10, 0x100000))


def next_sequencer() -> str:
    return f"0066AED6DCD9{next(_sequence):08X}"


@pytest.fixture
def aws(monkeypatch):
    with film_handler("film_labeller.starter", monkeypatch, environ={"TABLE_NAME": TABLE_NAME, "MIN_CONFIDENCE": "60", "TOPIC_ARN": TOPIC_ARN, "SERVICE_ROLE_ARN": SERVICE_ROLE_ARN, "EVENTS_QUEUE_URL": EVENTS_QUEUE_URL}, jitter=0.5) as loaded:
        yield loaded


def created(key: str, version_id: str = "v1", **fields) -> dict:
    return record(key, sequencer=next_sequencer(), version_id=version_id, **fields)


def removed(key: str, version_id: str = "delete-marker", event_name: str = "ObjectRemoved:DeleteMarkerCreated") -> dict:
    return record(key, sequencer=next_sequencer(), event_name=event_name, version_id=version_id)


def message(*s3_records, receive_count: int = 1) -> dict:
    return sqs_record(event(*s3_records), receive_count=receive_count)


def expect_start(rekognition, s3_record: dict, job_id: str) -> None:
    """The exact request: a retried start must send the very same one to get the same job."""
    obj = s3_record["s3"]["object"]
    key = obj["key"].replace("+", " ")
    rekognition.add_response("start_label_detection", {"JobId": job_id}, {
        "Video": {"S3Object": {"Bucket": BUCKET, "Name": key, "Version": obj["versionId"]}},
        # bucket, key, version, the event's sequencer and MinConfidence: all that varies in a start.
        "ClientRequestToken": sha256(f"{BUCKET}\n{key}\n{obj['versionId']}\n{obj['sequencer']}\n60.0")[:64],
        "MinConfidence": 60.0,
        "JobTag": f"film-{sha256(key)[:32]}-{obj['sequencer']}",
        "NotificationChannel": {"SNSTopicArn": TOPIC_ARN, "RoleArn": SERVICE_ROLE_ARN},
        "Features": ["GENERAL_LABELS"],
    })


def expect_delay(sqs, sqs_message: dict, seconds: int) -> None:
    sqs.add_response("change_message_visibility", {}, {
        "QueueUrl": EVENTS_QUEUE_URL, "ReceiptHandle": sqs_message["receiptHandle"], "VisibilityTimeout": seconds})


def batch(*messages) -> dict:
    return {"Records": list(messages)}


def test_a_new_film_starts_one_job_and_is_recorded_as_processing(aws):
    starter, rekognition, _, table = aws
    s3_record = created("films/holiday trip.mp4", size=734_003_200)
    expect_start(rekognition, s3_record, "job-1")

    assert starter.handle(batch(message(s3_record))) == {"batchItemFailures": []}

    item = film(table, "films/holiday trip.mp4")
    assert item["Media"] == "video" and item["Status"] == "PROCESSING"
    assert item["JobId"] == "job-1"
    assert item["JobTag"] == f"film-{sha256('films/holiday trip.mp4')[:32]}-{s3_record['s3']['object']['sequencer']}"
    assert (item["Bucket"], item["Key"], item["VersionId"]) == (BUCKET, "films/holiday trip.mp4", "v1")
    assert item["Sequencer"] == s3_record["s3"]["object"]["sequencer"] and item["Size"] == 734_003_200
    assert float(item["MinConfidence"]) == 60.0 and item["ETag"]
    assert "LabelKeys" not in item and "Labels" not in item
    assert_table_invariants(table, at_rest=False)


def test_a_redelivered_event_starts_nothing_and_writes_nothing(aws):
    starter, rekognition, _, table = aws
    s3_record = created("films/once.mov")
    expect_start(rekognition, s3_record, "job-1")
    starter.handle(batch(message(s3_record)))
    before = film(table, "films/once.mov")

    # No response queued: a second StartLabelDetection would fail the Stubber.
    assert starter.handle(batch(message(s3_record))) == {"batchItemFailures": []}
    assert film(table, "films/once.mov") == before


def test_a_start_retried_after_a_lost_write_gets_the_same_job_and_writes_once(aws, monkeypatch):
    starter, rekognition, sqs, table = aws
    s3_record = created("films/retried.mp4")
    first = message(s3_record)
    expect_start(rekognition, s3_record, "job-7")
    expect_delay(sqs, first, 63)  # 60 s, and 5 % jitter
    real_put = starter.STORE.put_film
    monkeypatch.setattr(starter.STORE, "put_film", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("lost")))

    assert starter.handle(batch(first)) == {"batchItemFailures": [{"itemIdentifier": first["messageId"]}]}
    assert film(table, "films/retried.mp4") is None

    writes = []
    monkeypatch.setattr(starter.STORE, "put_film", lambda *a, **k: writes.append(a) or real_put(*a, **k))
    expect_start(rekognition, s3_record, "job-7")  # same token: Rekognition answers with the same job
    assert starter.handle(batch(message(s3_record, receive_count=2))) == {"batchItemFailures": []}
    assert film(table, "films/retried.mp4")["JobId"] == "job-7" and len(writes) == 1


@pytest.mark.parametrize("code, status", [
    ("LimitExceededException", 400), ("ThrottlingException", 400), ("ProvisionedThroughputExceededException", 400),
    ("InternalServerError", 500), ("AccessDeniedException", 400),
])
def test_busy_or_misconfigured_rekognition_retries_later_with_a_growing_delay(aws, code, status):
    starter, rekognition, sqs, table = aws
    good, busy = created("films/good.mp4"), created("films/busy.mp4")
    good_message, busy_message = message(good), message(busy, receive_count=3)
    expect_start(rekognition, good, "job-good")
    rekognition.add_client_error("start_label_detection", service_error_code=code, http_status_code=status)
    expect_delay(sqs, busy_message, 252)  # 60 * 2**2, and 5 % jitter

    result = starter.handle(batch(good_message, busy_message))

    assert result == {"batchItemFailures": [{"itemIdentifier": busy_message["messageId"]}]}
    assert film(table, "films/busy.mp4") is None  # nothing recorded: the retry starts it
    assert film(table, "films/good.mp4")["JobId"] == "job-good"


def test_a_refused_start_is_tried_once_more_in_the_call_then_left_to_the_queues_delay(monkeypatch):
    """When the account runs its 20 jobs, seconds of waiting inside the call do not help: one retry
    (botocore's max_attempts counts retries, not attempts), then the message's growing delay."""
    import importlib

    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ClientError

    class Body:
        def stream(self, **_):
            yield json.dumps({"__type": "LimitExceededException", "message": "limit"}).encode()

    for name, value in {"TABLE_NAME": TABLE_NAME, "TOPIC_ARN": TOPIC_ARN, "SERVICE_ROLE_ARN": SERVICE_ROLE_ARN,
                        "EVENTS_QUEUE_URL": EVENTS_QUEUE_URL}.items():
        monkeypatch.setenv(name, value)
    starter = importlib.reload(importlib.import_module("film_labeller.starter"))
    attempts = []

    def refuse(request, **_):  # answers before anything is sent: no network
        attempts.append(request.url)
        return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "LimitExceededException",
                                              "Content-Type": "application/x-amz-json-1.1"}, Body())

    starter.REKOGNITION.meta.events.register("before-send.rekognition.StartLabelDetection", refuse)
    with pytest.raises(ClientError) as raised:
        starter.REKOGNITION.start_label_detection(Video={"S3Object": {"Bucket": BUCKET, "Name": "films/busy.mp4"}})
    assert raised.value.response["Error"]["Code"] == "LimitExceededException"
    assert len(attempts) == 2


def test_the_delay_doubles_to_15_minutes_and_keeps_a_message_two_days_before_the_dlq():
    from film_labeller.sqs_batch import retry_delay

    assert [retry_delay(count, 0.0) for count in (1, 2, 3, 4, 5, 6, 200)] == [60, 120, 240, 480, 900, 900, 900]
    assert retry_delay(1, 0.999) == 65 and retry_delay(200, 0.999) == 989
    # maxReceiveCount 200: the 199 delays between receives.
    assert sum(retry_delay(count, 0.0) for count in range(1, 200)) >= 48 * 3600
    # videoRetrySeconds (FIRST_RETRY_SECONDS) moves the first delay; the cap and the doubling stay.
    assert [retry_delay(count, 0.0, first_delay_s=1) for count in (1, 2, 11, 200)] == [1, 2, 900, 900]
    assert sum(retry_delay(count, 0.0, first_delay_s=1) for count in range(1, 200)) >= 47 * 3600  # 10 short ones


@pytest.mark.parametrize("value, accepted", [(None, 60), ("1", 1), ("900", 900), ("0", None), ("901", None),
                                             ("soon", None)])
def test_the_first_retry_delay_comes_from_the_environment_or_is_refused_by_name(value, accepted):
    from film_labeller.sqs_batch import first_retry_seconds
    from image_labeller.pipeline import ConfigurationError

    environ = {} if value is None else {"FIRST_RETRY_SECONDS": value}
    if accepted is None:
        with pytest.raises(ConfigurationError, match="FIRST_RETRY_SECONDS"):
            first_retry_seconds(environ)
    else:
        assert first_retry_seconds(environ) == accepted


@pytest.mark.parametrize("code", ["InvalidS3ObjectException", "VideoTooLargeException", "InvalidParameterException"])
def test_a_film_rekognition_cannot_read_is_failed_without_retry_and_loses_the_old_labels(aws, code):
    starter, rekognition, _, table = aws
    seed_labelled(starter.STORE, key="films/broken.mp4", bucket=BUCKET, version_id="v0", job_id="job-0",
                  sequencer="0066AED6DCD900000001", labels=["Car", "Road"])
    s3_record = created("films/broken.mp4", version_id="v1")
    rekognition.add_client_error("start_label_detection", service_error_code=code, service_message="Nope.",
                                 http_status_code=400)

    assert starter.handle(batch(message(s3_record))) == {"batchItemFailures": []}

    item = film(table, "films/broken.mp4")
    assert item["Status"] == "FAILED" and item["Error"] == {"Code": code, "Message": "Nope."}
    assert item["VersionId"] == "v1" and "JobId" not in item
    assert entries(table, "films/broken.mp4") == {}
    assert counts(table) == {"car": 0, "road": 0}
    assert_table_invariants(table)


def test_an_older_event_arriving_late_starts_nothing(aws):
    starter, rekognition, _, table = aws
    older, newer = created("films/scene.mp4", "v1"), created("films/scene.mp4", "v2")
    expect_start(rekognition, newer, "job-2")
    starter.handle(batch(message(newer)))

    assert starter.handle(batch(message(older))) == {"batchItemFailures": []}
    assert (film(table, "films/scene.mp4")["VersionId"], film(table, "films/scene.mp4")["JobId"]) == ("v2", "job-2")


def test_delete_tombstones_the_film_and_removes_its_entries_with_their_counts(aws):
    starter, _, _, table = aws
    for name in ("films/gone.mp4", "films/kept.mp4"):
        seed_labelled(starter.STORE, key=name, bucket=BUCKET, version_id="v1", job_id=f"job-{name}",
                      sequencer="0066AED6DCD900000001", labels=["Dog", "Beach"])
    assert counts(table) == {"dog": 2, "beach": 2}

    assert starter.handle(batch(message(removed("films/gone.mp4")))) == {"batchItemFailures": []}

    tombstone = film(table, "films/gone.mp4")
    assert tombstone["Status"] == "DELETED" and tombstone["Media"] == "video"
    assert "JobId" not in tombstone
    assert entries(table, "films/gone.mp4") == {}
    assert set(entries(table, "films/kept.mp4")) == {"dog", "beach"}
    assert counts(table) == {"dog": 1, "beach": 1}
    assert_table_invariants(table)


def test_the_tombstone_expires_in_30_days_and_blocks_the_upload_event_arriving_late(aws):
    starter, _, _, table = aws
    upload = created("films/late.mp4")
    starter.handle(batch(message(removed("films/late.mp4"))))
    tombstone = film(table, "films/late.mp4")
    assert int(tombstone["ExpiresAt"]) - int(time.time()) > 29 * 86400

    # No start queued: the upload that preceded the delete must not start a job.
    assert starter.handle(batch(message(upload))) == {"batchItemFailures": []}
    assert film(table, "films/late.mp4")["Status"] == "DELETED"


def test_deleting_another_version_keeps_the_labelled_film(aws):
    starter, _, _, table = aws
    seed_labelled(starter.STORE, key="films/v.mp4", bucket=BUCKET, version_id="v2", job_id="job-2",
                  sequencer="0066AED6DCD900000001", labels=["Cat"])
    starter.handle(batch(message(removed("films/v.mp4", version_id="v1", event_name="ObjectRemoved:Delete"))))
    assert film(table, "films/v.mp4")["Status"] == "LABELLED" and counts(table) == {"cat": 1}
    assert_table_invariants(table)


@pytest.mark.parametrize("body", ["not json {", json.dumps(["a list"]), json.dumps({"Records": "x"}),
                                  json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]})])
def test_a_malformed_message_fails_at_once_so_it_reaches_the_dlq_and_the_others_go_on(aws, body):
    starter, rekognition, sqs, table = aws
    good = created("films/fine.mp4")
    bad_message, good_message = sqs_record(body), message(good)
    expect_delay(sqs, bad_message, 0)  # visible again now: no retry can fix it, the DLQ shows it
    expect_start(rekognition, good, "job-fine")

    assert starter.handle(batch(bad_message, good_message)) == {
        "batchItemFailures": [{"itemIdentifier": bad_message["messageId"]}]}
    assert film(table, "films/fine.mp4")["Status"] == "PROCESSING"


def test_the_s3_test_event_succeeds_and_changes_nothing(aws):
    starter, _, _, table = aws
    assert starter.handle(batch(sqs_record(TEST_EVENT))) == {"batchItemFailures": []}
    assert table.scan()["Count"] == 0


@pytest.mark.parametrize("environ, message_part", [
    ({"TABLE_NAME": "t", "TOPIC_ARN": "a"}, "SERVICE_ROLE_ARN"),
    ({"TABLE_NAME": "t", "TOPIC_ARN": "a", "SERVICE_ROLE_ARN": "r"}, "EVENTS_QUEUE_URL"),
    ({"TABLE_NAME": "t", "TOPIC_ARN": "a", "SERVICE_ROLE_ARN": "r", "EVENTS_QUEUE_URL": "q", "MIN_CONFIDENCE": "101"},
     "MIN_CONFIDENCE"),
])
def test_a_misconfigured_starter_says_what_is_wrong(environ, message_part):
    from film_labeller.start import StarterSettings
    from image_labeller.pipeline import ConfigurationError

    with pytest.raises(ConfigurationError, match=message_part):
        StarterSettings.from_environment(environ)


def test_the_token_is_stable_for_one_event_and_new_for_anything_that_changes_the_request():
    from film_labeller.job_identity import client_request_token

    base = {"bucket": BUCKET, "key": "films/a b.mp4", "version_id": "v1", "sequencer": "0A", "min_confidence": 60}
    token = client_request_token(**base)
    assert token == client_request_token(**base)  # a retried start: the same job, no second notification
    assert len(token) == 64 and token.isalnum()  # Rekognition's ^[a-zA-Z0-9-_]+$, 1-64 characters
    # Another MinConfidence (a redeploy) or another event (a relabel) must not reuse the token:
    # Rekognition would answer IdempotentParameterMismatchException, which no retry cures.
    for change in ({"min_confidence": 80}, {"sequencer": "0B"}, {"version_id": "v2"}, {"key": "films/other.mp4"}):
        assert client_request_token(**{**base, **change}) != token, change


def relabel_record(key: str, *, sequencer: str, version_id: str = "v1", event_time: str = "2026-12-01T09:00:00.000Z") -> dict:
    """What `imagelabels backfill` sends for a film: the stored sequencer, "relabel": true."""
    return {**record(key, sequencer=sequencer, version_id=version_id, event_name="ObjectCreated:Backfill"),
            "eventTime": event_time, "relabel": True}


def test_a_relabel_request_starts_a_job_of_its_own_not_the_finished_one(aws):
    """The relabel carries the stored sequencer: with the original event's token, Rekognition would
    hand back the finished job and never notify again, leaving the film PROCESSING for good."""
    starter, rekognition, _, table = aws
    stored = "0066AED6DCD900000001"
    seed_labelled(starter.STORE, key="films/again.mp4", bucket=BUCKET, version_id="v1", job_id="job-1",
                  sequencer=stored, labels=["Car"])
    relabel = relabel_record("films/again.mp4", sequencer=stored)
    original_token = sha256(f"{BUCKET}\nfilms/again.mp4\nv1\n{stored}\n60.0")[:64]
    relabel_token = sha256(f"{BUCKET}\nfilms/again.mp4\nv1\n{stored}\n60.0\nrelabel 2026-12-01T09:00:00.000Z")[:64]
    rekognition.add_response("start_label_detection", {"JobId": "job-2"}, {
        "Video": {"S3Object": {"Bucket": BUCKET, "Name": "films/again.mp4", "Version": "v1"}},
        "ClientRequestToken": relabel_token, "MinConfidence": 60.0,
        "JobTag": f"film-{sha256('films/again.mp4')[:32]}-{stored}",
        "NotificationChannel": {"SNSTopicArn": TOPIC_ARN, "RoleArn": SERVICE_ROLE_ARN}, "Features": ["GENERAL_LABELS"]})

    assert starter.handle(batch(message(relabel))) == {"batchItemFailures": []}

    item = film(table, "films/again.mp4")
    assert relabel_token != original_token
    assert (item["Status"], item["JobId"], item["Sequencer"]) == ("PROCESSING", "job-2", stored)
    assert set(entries(table, "films/again.mp4")) == {"car"}  # kept until job-2's flip sweeps them
    assert_table_invariants(table, at_rest=False)


def test_a_relabel_request_that_met_a_newer_upload_starts_nothing(aws):
    starter, rekognition, _, table = aws
    upload = created("films/raced.mp4", "v2")
    expect_start(rekognition, upload, "job-2")
    starter.handle(batch(message(upload)))

    # Backfill read the table before the upload reached it: no item then, so sequencer "0".
    assert starter.handle(batch(message(relabel_record("films/raced.mp4", sequencer="0")))) == {"batchItemFailures": []}
    assert (film(table, "films/raced.mp4")["JobId"], film(table, "films/raced.mp4")["VersionId"]) == ("job-2", "v2")
