"""The local Rekognition Video label detection (local_aws/rekognition_video.py) with the real
offline model: films with known shots get segments at the shots' times, jobs behave as
Rekognition's (validation, idempotent tokens, the concurrent-job limit, FAILED films, one
completion message), and every answer parses with botocore's own model of the API."""

from __future__ import annotations

import json
import threading
import time

import pytest
from botocore.model import OperationModel
from botocore.parsers import create_parser

import film_factory
from film_factory import CAT, CUP, ROCKET, Shot
from local_aws.film_sampling import CORRUPT_MESSAGE, DEFAULT_SAMPLE_INTERVAL_MS, UNSUPPORTED_MESSAGE
from local_aws.rekognition_api import INVALID_S3_OBJECT_MESSAGE
from local_aws.rekognition_model import OfflineLabeller
from local_aws.rekognition_video import (
    MAX_VIDEO_BYTES,
    LocalVideoJobs,
    StoredVideo,
    offline_label_frame,
)
from local_aws.request_constraints import operation_model

ACCOUNT = "123456789012"
TOPIC = f"arn:aws:sns:eu-west-1:{ACCOUNT}:AmazonRekognitionLabels"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/rekognition-video"
CHANNEL = {"SNSTopicArn": TOPIC, "RoleArn": ROLE}
INTERVAL = DEFAULT_SAMPLE_INTERVAL_MS
SHOTS = [Shot.of(CAT, 3), Shot.of(CUP, 3), Shot.of((CAT, CUP), 2), Shot.of(ROCKET, 2)]
# Where each shot's main label must be, from the shots above (the cup stays through the cat + cup shot).
TRUTH = {"Cat": [(0, 3000), (6000, 8000)], "Cup": [(3000, 8000)], "Rocket": [(8000, 10000)]}


class Published:
    """Records what the engine publishes, as (topic, role, message dict)."""

    def __init__(self):
        self.messages: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()

    def __call__(self, topic_arn: str, role_arn: str, message: str) -> None:
        with self._lock:
            self.messages.append((topic_arn, role_arn, json.loads(message)))

    def for_job(self, job_id: str) -> list[dict]:
        return [message for _, _, message in self.messages if message["JobId"] == job_id]


class Store:
    def __init__(self, objects: dict[tuple[str, str, str | None], StoredVideo]):
        self.objects = objects

    def read(self, bucket: str, key: str, version: str | None) -> StoredVideo:
        return self.objects[(bucket, key, version)]


FILMS = {
    "shots.mp4": lambda: film_factory.film(SHOTS),
    "one-frame.mp4": film_factory.one_frame_film,
    "black.mov": film_factory.black_film,
    "cat-and-cup.mov": lambda: film_factory.film([Shot.of((CAT, CUP), 1)], suffix=".mov"),
    "photo.mp4": film_factory.not_a_video,
    "empty.mp4": film_factory.empty_file,
    "truncated.mp4": film_factory.truncated_film,
    "mpeg4.mp4": film_factory.mpeg4_part2_film,
    "vp9.mp4": film_factory.vp9_film,
}


@pytest.fixture(scope="module")
def labeller() -> OfflineLabeller:
    return OfflineLabeller.load()


@pytest.fixture(scope="module")
def store() -> Store:
    objects = {("films", key, None): StoredVideo.of(make()) for key, make in FILMS.items()}
    objects[("films", "shots.mp4", "v1")] = objects[("films", "shots.mp4", None)]
    return Store(objects)


@pytest.fixture(scope="module")
def published() -> Published:
    return Published()


@pytest.fixture(scope="module")
def jobs(labeller, published):
    engine = LocalVideoJobs(
        label_frame=offline_label_frame(labeller), label_model_version=labeller.model_version, publish=published
    )
    yield engine
    engine.shutdown()


def start(jobs, store, key: str, **parameters) -> tuple[int, dict]:
    request = {"Video": {"S3Object": {"Bucket": "films", "Name": key}}, **parameters}
    return jobs.start_label_detection(request, account_id=ACCOUNT, read_object=store.read)


def finished(jobs, store, key: str, **parameters) -> str:
    status, body = start(jobs, store, key, **parameters)
    assert status == 200, body
    assert jobs.wait_idle(timeout=120)
    return body["JobId"]


def get(jobs, job_id: str, **parameters) -> dict:
    status, body = jobs.get_label_detection({"JobId": job_id, **parameters})
    assert status == 200, body
    return body


def parsed(operation: str, body: dict, status: int = 200) -> dict:
    """The body as botocore's JSON parser reads it against Rekognition's model (unknown members
    would be dropped, so comparing with the body proves every member is in the model)."""
    model: OperationModel = operation_model("rekognition", operation)
    response = {"status_code": status, "headers": {}, "body": json.dumps(body).encode()}
    result = create_parser("json").parse(response, model.output_shape)
    result.pop("ResponseMetadata", None)
    return result


@pytest.fixture(scope="module")
def shots_job(jobs, store) -> str:
    return finished(jobs, store, "shots.mp4", NotificationChannel=CHANNEL, JobTag="film:shots")


def segments_of(body: dict, name: str) -> list[tuple[int, int]]:
    return [(e["StartTimestampMillis"], e["EndTimestampMillis"]) for e in body["Labels"] if e["Label"]["Name"] == name]


# --- what a film gets -----------------------------------------------------------------------------


def test_each_shots_label_spans_its_shots_within_one_sampling_interval(jobs, shots_job):
    body = get(jobs, shots_job, AggregateBy="SEGMENTS")
    assert body["JobStatus"] == "SUCCEEDED"
    for name, spans in TRUTH.items():
        found = segments_of(body, name)
        assert len(found) == len(spans), (name, found)
        for (start, end), (true_start, true_end) in zip(found, spans):
            assert true_start <= start < true_start + INTERVAL, (name, found)
            assert true_end <= end <= true_end + INTERVAL, (name, found)
    cat = next(e for e in body["Labels"] if e["Label"]["Name"] == "Cat")
    assert cat["Timestamp"] == cat["StartTimestampMillis"]
    assert cat["DurationMillis"] == cat["EndTimestampMillis"] - cat["StartTimestampMillis"]
    assert set(cat["Label"]) == {"Name", "Confidence", "Parents", "Aliases", "Categories"}  # no Instances
    assert {"Name": "Pet"} in cat["Label"]["Parents"]
    assert body["VideoMetadata"] == {
        "Codec": "h264",
        "DurationMillis": 10000,
        "Format": "QuickTime / MOV",
        "FrameRate": 10.0,
        "FrameHeight": 240,
        "FrameWidth": 320,
        "ColorRange": "LIMITED",
    }
    assert body["Video"] == {"S3Object": {"Bucket": "films", "Name": "shots.mp4"}}
    assert body["JobTag"] == "film:shots" and body["LabelModelVersion"] == OfflineLabeller.model_version
    assert parsed("GetLabelDetection", body) == body


def test_timestamps_are_every_sampled_moment_with_boxes(jobs, shots_job):
    body = get(jobs, shots_job)
    assert body["GetRequestMetadata"] == {"SortBy": "TIMESTAMP", "AggregateBy": "TIMESTAMPS"}
    cats = [e for e in body["Labels"] if e["Label"]["Name"] == "Cat"]
    assert [e["Timestamp"] for e in cats] == [0, 500, 1000, 1500, 2000, 2500, 6000, 6500, 7000, 7500]
    assert all(set(e) == {"Timestamp", "Label"} for e in body["Labels"])
    assert all(e["Label"]["Instances"][0]["BoundingBox"]["Width"] > 0.3 for e in cats)
    assert parsed("GetLabelDetection", body) == body


@pytest.mark.parametrize("aggregate_by", ["TIMESTAMPS", "SEGMENTS"])
def test_sort_by_timestamp_or_by_name(jobs, shots_job, aggregate_by):
    by_time = get(jobs, shots_job, AggregateBy=aggregate_by, SortBy="TIMESTAMP")["Labels"]
    by_name = get(jobs, shots_job, AggregateBy=aggregate_by, SortBy="NAME")["Labels"]
    assert by_time == sorted(by_time, key=lambda e: (e["Timestamp"], e["Label"]["Name"]))
    assert by_name == sorted(by_time, key=lambda e: (e["Label"]["Name"], e["Timestamp"]))
    assert by_time != by_name


@pytest.mark.parametrize(("aggregate_by", "sort_by"), [("TIMESTAMPS", "TIMESTAMP"), ("SEGMENTS", "NAME")])
def test_small_pages_reassemble_the_whole_answer(jobs, shots_job, aggregate_by, sort_by):
    whole = get(jobs, shots_job, AggregateBy=aggregate_by, SortBy=sort_by, MaxResults=5000)
    pages, token = [], None
    while True:
        page = get(jobs, shots_job, AggregateBy=aggregate_by, SortBy=sort_by, MaxResults=4,
                   **({"NextToken": token} if token else {}))
        assert len(page["Labels"]) <= 4 and parsed("GetLabelDetection", page) == page
        pages.append(page)
        token = page.get("NextToken")
        if token is None:
            break
    assert len(pages) > 3 and "NextToken" not in whole
    assert [e for page in pages for e in page["Labels"]] == whole["Labels"]


def test_a_pagination_token_only_works_for_its_job_and_order(jobs, store, shots_job):
    token = get(jobs, shots_job, MaxResults=3)["NextToken"]
    other_job = finished(jobs, store, "black.mov")
    for request in (
        {"JobId": shots_job, "NextToken": "not-a-token"},
        {"JobId": shots_job, "NextToken": token, "SortBy": "NAME"},
        {"JobId": shots_job, "NextToken": token, "AggregateBy": "SEGMENTS"},
        {"JobId": other_job, "NextToken": token},
    ):
        status, body = jobs.get_label_detection(request)
        assert (status, body["__type"]) == (400, "InvalidPaginationTokenException")
        assert parsed("GetLabelDetection", body, status)["Error"]["Code"] == "InvalidPaginationTokenException"
    assert get(jobs, shots_job, MaxResults=3, NextToken=token)["Labels"]


def test_the_page_size_knob_caps_pages_whatever_max_results_asks(jobs, shots_job):
    whole = get(jobs, shots_job, AggregateBy="SEGMENTS", SortBy="NAME", MaxResults=1000)
    assert "NextToken" not in whole and len(whole["Labels"]) > 3
    jobs.page_size = 1
    try:
        pages, token = [], None
        while True:
            page = get(jobs, shots_job, AggregateBy="SEGMENTS", SortBy="NAME", MaxResults=1000,
                       **({"NextToken": token} if token else {}))
            pages.append(page["Labels"])
            token = page.get("NextToken")
            if token is None:
                break
    finally:
        jobs.page_size = 1000
    assert [len(labels) for labels in pages] == [1] * len(whole["Labels"])
    assert [entry for labels in pages for entry in labels] == whole["Labels"]
    for outside in (0, 1001):
        with pytest.raises(ValueError, match="Rekognition's own maximum"):
            jobs.page_size = outside
    assert jobs.page_size == 1000


def test_one_frame_and_all_black_films_succeed(jobs, store):
    one = get(jobs, finished(jobs, store, "one-frame.mp4"), AggregateBy="SEGMENTS")
    assert one["JobStatus"] == "SUCCEEDED" and one["VideoMetadata"]["DurationMillis"] == 100
    assert segments_of(one, "Cat") == [(0, 100)]
    black = get(jobs, finished(jobs, store, "black.mov"))
    assert (black["JobStatus"], black["Labels"], black["VideoMetadata"]["DurationMillis"]) == ("SUCCEEDED", [], 2000)


def test_min_confidence_and_label_filters_apply_to_every_moment(jobs, store):
    filtered = finished(jobs, store, "cat-and-cup.mov", MinConfidence=78,
                        Settings={"GeneralLabels": {"LabelInclusionFilters": ["Cup", "Cat", "Dining Table", "Rocket"]}})
    labels = get(jobs, filtered)["Labels"]
    # In this shot the Cup scores ~83 % and the Dining Table ~73 %: under MinConfidence. Pet, Tableware... are
    # over it but not included.
    assert {e["Label"]["Name"] for e in labels} == {"Cat", "Cup"}
    assert all(e["Label"]["Confidence"] >= 78 for e in labels) and len(labels) == 4


# --- films Rekognition cannot read ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("photo.mp4", UNSUPPORTED_MESSAGE),
        ("empty.mp4", UNSUPPORTED_MESSAGE),
        ("mpeg4.mp4", UNSUPPORTED_MESSAGE),
        ("vp9.mp4", UNSUPPORTED_MESSAGE),
        ("truncated.mp4", CORRUPT_MESSAGE),
    ],
)
def test_an_unreadable_film_fails_the_job_not_the_call(jobs, store, published, key, message):
    job_id = finished(jobs, store, key, NotificationChannel=CHANNEL)
    body = get(jobs, job_id)
    assert (body["JobStatus"], body["StatusMessage"]) == ("FAILED", message)
    assert "Labels" not in body and "VideoMetadata" not in body
    assert parsed("GetLabelDetection", body) == body
    assert [m["Status"] for m in published.for_job(job_id)] == ["FAILED"]


def test_a_missing_object_or_version_is_refused_at_start(jobs, store, published):
    before = len(published.messages)
    for s3_object in ({"Bucket": "films", "Name": "gone.mp4"}, {"Bucket": "films", "Name": "shots.mp4", "Version": "v9"}):
        status, body = jobs.start_label_detection(
            {"Video": {"S3Object": s3_object}, "NotificationChannel": CHANNEL}, account_id=ACCOUNT, read_object=store.read
        )
        assert (status, body) == (400, {"__type": "InvalidS3ObjectException", "Message": INVALID_S3_OBJECT_MESSAGE})
    status, body = jobs.start_label_detection(
        {"Video": {"S3Object": {"Bucket": "films", "Name": "shots.mp4", "Version": "v1"}}},
        account_id=ACCOUNT, read_object=store.read,
    )
    assert status == 200 and get(jobs, body["JobId"])["Video"]["S3Object"]["Version"] == "v1"
    assert jobs.wait_idle(timeout=120) and len(published.messages) == before


def test_a_video_over_10_gb_is_refused_without_being_read(jobs):
    def never_read():
        raise AssertionError("a video over 10 GB was read")

    def stored(size):
        return lambda bucket, key, version: StoredVideo(size=size, read=never_read if size > MAX_VIDEO_BYTES else bytes)

    request = {"Video": {"S3Object": {"Bucket": "films", "Name": "huge.mp4"}}}
    status, body = jobs.start_label_detection(request, account_id=ACCOUNT, read_object=stored(MAX_VIDEO_BYTES + 1))
    assert (status, body["__type"]) == (400, "VideoTooLargeException")
    status, body = jobs.start_label_detection(request, account_id=ACCOUNT, read_object=stored(MAX_VIDEO_BYTES))
    assert status == 200  # exactly 10 GB is allowed (this one is empty: its job fails)
    assert jobs.wait_idle(timeout=30) and get(jobs, body["JobId"])["JobStatus"] == "FAILED"


# --- requests Rekognition refuses -----------------------------------------------------------------

VIDEO = {"S3Object": {"Bucket": "films", "Name": "shots.mp4"}}


@pytest.mark.parametrize(
    "request_body",
    [
        {},
        {"Video": {}},
        {"Video": {"S3Object": {"Bucket": "films"}}},
        {"Video": {"S3Object": {"Bucket": "ab", "Name": "shots.mp4"}}},
        {"Video": {"S3Object": {"Bucket": "films", "Name": ""}}},
        {"Video": VIDEO, "ClientRequestToken": ""},
        {"Video": VIDEO, "ClientRequestToken": "a" * 65},
        {"Video": VIDEO, "ClientRequestToken": "has space"},
        {"Video": VIDEO, "MinConfidence": 100.5},
        {"Video": VIDEO, "MinConfidence": -1},
        {"Video": VIDEO, "MinConfidence": "50"},
        {"Video": VIDEO, "JobTag": ""},
        {"Video": VIDEO, "JobTag": "a" * 1025},
        {"Video": VIDEO, "JobTag": "has space"},
        {"Video": VIDEO, "NotificationChannel": {"SNSTopicArn": TOPIC}},
        {"Video": VIDEO, "NotificationChannel": {"SNSTopicArn": "topic", "RoleArn": ROLE}},
        {"Video": VIDEO, "Features": ["IMAGE_PROPERTIES"]},
        {"Video": VIDEO, "Features": ["GENERAL_LABELS", "GENERAL_LABELS"]},
        {"Video": VIDEO, "Settings": {"GeneralLabels": {"LabelInclusionFilters": "Cup"}}},
    ],
)
def test_invalid_start_requests_are_invalid_parameters(jobs, store, request_body):
    status, body = jobs.start_label_detection(request_body, account_id=ACCOUNT, read_object=store.read)
    assert (status, body["__type"]) == (400, "InvalidParameterException"), body
    assert body["Message"]


@pytest.mark.parametrize(
    "request_body",
    [
        {},
        {"JobId": "not a job id!"},
        {"JobId": "a" * 64, "MaxResults": 0},
        {"JobId": "a" * 64, "SortBy": "DATE"},
        {"JobId": "a" * 64, "AggregateBy": "SHOTS"},
        {"JobId": "a" * 64, "NextToken": "t" * 256},
    ],
)
def test_invalid_get_requests_are_invalid_parameters(jobs, request_body):
    status, body = jobs.get_label_detection(request_body)
    assert (status, body["__type"]) == (400, "InvalidParameterException"), body


def test_an_unknown_job_is_not_found(jobs):
    status, body = jobs.get_label_detection({"JobId": "a" * 64})
    assert (status, body["__type"]) == (400, "ResourceNotFoundException")


# --- tokens, limits, notifications ----------------------------------------------------------------


def test_a_reused_token_returns_the_same_job_once_and_refuses_other_parameters(jobs, store, published):
    first = finished(jobs, store, "one-frame.mp4", ClientRequestToken="films-one-frame-v1", NotificationChannel=CHANNEL)
    again = finished(jobs, store, "one-frame.mp4", ClientRequestToken="films-one-frame-v1", NotificationChannel=CHANNEL)
    assert again == first
    assert len(published.for_job(first)) == 1  # no second run, no second notification
    status, body = start(jobs, store, "one-frame.mp4", ClientRequestToken="films-one-frame-v1", MinConfidence=80)
    assert (status, body["__type"]) == (400, "IdempotentParameterMismatchException")
    assert parsed("StartLabelDetection", {"JobId": first}) == {"JobId": first}


def test_the_completion_message_is_rekognitions(jobs, published, shots_job):
    [(topic, role, message)] = [entry for entry in published.messages if entry[2]["JobId"] == shots_job]
    assert (topic, role) == (TOPIC, ROLE)
    assert message == {
        "JobId": shots_job,
        "Status": "SUCCEEDED",
        "API": "StartLabelDetection",
        "JobTag": "film:shots",
        "Timestamp": message["Timestamp"],
        "Video": {"S3ObjectName": "shots.mp4", "S3Bucket": "films"},
    }
    assert abs(message["Timestamp"] - time.time() * 1000) < 3_600_000  # milliseconds, not seconds


def test_jobs_past_the_concurrent_limit_are_refused_until_one_ends(labeller, store):
    release, published = threading.Event(), Published()

    def held_label_frame(rgb):
        release.wait(timeout=60)
        return labeller.label_rgb(rgb, min_confidence=0)

    engine = LocalVideoJobs(label_frame=held_label_frame, label_model_version="held", publish=published,
                            max_concurrent_jobs=1)
    try:
        status, body = start(engine, store, "one-frame.mp4", ClientRequestToken="held", JobTag="held")
        assert status == 200
        running = get(engine, body["JobId"])
        assert running == {
            "JobStatus": "IN_PROGRESS",
            "JobId": body["JobId"],
            "Video": {"S3Object": {"Bucket": "films", "Name": "one-frame.mp4"}},
            "JobTag": "held",
            "GetRequestMetadata": {"SortBy": "TIMESTAMP", "AggregateBy": "TIMESTAMPS"},
        }
        assert parsed("GetLabelDetection", running) == running
        status, refused = start(engine, store, "black.mov")
        assert (status, refused["__type"]) == (400, "LimitExceededException")
        assert start(engine, store, "one-frame.mp4", ClientRequestToken="held", JobTag="held") == (200, body)
        status, _ = engine.start_label_detection(
            {"Video": VIDEO}, account_id="210987654321", read_object=store.read
        )
        assert status == 200  # the limit is per account
        release.set()
        assert engine.wait_idle(timeout=120)
        assert start(engine, store, "black.mov")[0] == 200
        assert engine.wait_idle(timeout=60)
    finally:
        release.set()
        engine.shutdown()


def test_a_jobs_times_say_when_it_was_started_taken_by_a_worker_and_finished(labeller, store):
    release, published = threading.Event(), Published()
    labelling = threading.Event()

    def held_label_frame(rgb):
        labelling.set()
        release.wait(timeout=60)
        return labeller.label_rgb(rgb, min_confidence=0)

    engine = LocalVideoJobs(label_frame=held_label_frame, label_model_version="held", publish=published)
    try:
        before = time.monotonic()
        status, body = start(engine, store, "one-frame.mp4", NotificationChannel=CHANNEL)
        assert status == 200 and labelling.wait(timeout=60)
        running = engine.job_times(body["JobId"])
        assert before <= running.submitted <= running.started and running.finished is None
        release.set()
        assert engine.wait_idle(timeout=60)
        done = engine.job_times(body["JobId"])
        assert (done.submitted, done.started) == (running.submitted, running.started)
        assert running.started <= done.finished <= time.monotonic()
        assert engine.job_times("0" * 64) is None
    finally:
        release.set()
        engine.shutdown()


def test_a_failing_notification_does_not_change_the_job(labeller, store):
    def broken_publish(topic_arn, role_arn, message):
        raise ConnectionError("SNS is down")

    engine = LocalVideoJobs(label_frame=offline_label_frame(labeller), label_model_version="x", publish=broken_publish)
    try:
        status, body = start(engine, store, "black.mov", NotificationChannel=CHANNEL)
        assert status == 200 and engine.wait_idle(timeout=60)
        assert get(engine, body["JobId"])["JobStatus"] == "SUCCEEDED"
    finally:
        engine.shutdown()
