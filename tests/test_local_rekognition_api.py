"""DetectLabels over AWS's JSON protocol: request mapping, error bodies, and a round trip through a
real botocore client, which proves the wire format the unchanged handler will see."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from image_labeller.detection import IMAGE_ERRORS, detect_labels_request, detection_from_response
from local_aws.rekognition_api import CONTENT_TYPE, TARGET, DetectLabelsCache, detect_labels_response
from local_aws.rekognition_model import MAX_INLINE_BYTES, OfflineLabeller

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CAT = (SAMPLES / "cat-chelsea.png").read_bytes()
COFFEE = (SAMPLES / "coffee cup.jpg").read_bytes()
MISSING_MESSAGE = "Unable to get object metadata from S3. Check object key, region and/or access permissions."


class ObjectStore:
    """Objects by (bucket, key, version); version None is the latest. Records what was read."""

    def __init__(self, objects: dict[tuple[str, str, str | None], bytes]):
        self.objects = objects
        self.reads: list[tuple[str, str, str | None]] = []

    def read(self, bucket: str, key: str, version: str | None) -> bytes:
        self.reads.append((bucket, key, version))
        return self.objects[(bucket, key, version)]  # KeyError when missing, as the contract says


@pytest.fixture
def store() -> ObjectStore:
    return ObjectStore(
        {
            ("photos", "cat.png", None): CAT,
            ("photos", "coffee cup.jpg", "v2"): COFFEE,
            ("photos", "coffee cup.jpg", "v1"): CAT,
            ("photos", "notes.txt", None): b"not an image",
            ("photos", "big.png", None): CAT + bytes(MAX_INLINE_BYTES),  # fine from S3 (15 MB limit)
        }
    )


def call(request: dict, labeller, store) -> tuple[int, dict]:
    return detect_labels_response(request, labeller=labeller, read_object=store.read)


def label_names(body: dict) -> list[str]:
    return [label["Name"] for label in body["Labels"]]


# --- the request mapping ---------------------------------------------------------------------


def test_image_bytes_arrive_base64_encoded(labeller, store):
    status, body = call({"Image": {"Bytes": base64.b64encode(CAT).decode()}}, labeller, store)
    assert status == 200
    assert label_names(body)[0] == "Cat"
    assert body["LabelModelVersion"] == labeller.model_version
    assert store.reads == []


def test_an_s3_object_is_read_at_the_requested_version(labeller, store):
    request = {"Image": {"S3Object": {"Bucket": "photos", "Name": "coffee cup.jpg", "Version": "v2"}}}
    status, body = call({**request, "MaxLabels": 2, "MinConfidence": 80}, labeller, store)
    assert status == 200
    assert store.reads == [("photos", "coffee cup.jpg", "v2")]
    assert label_names(body) == ["Cup", "Tableware"]
    assert all(label["Confidence"] >= 80 for label in body["Labels"])


def test_a_missing_object_is_an_invalid_s3_object(labeller, store):
    for s3_object in (
        {"Bucket": "photos", "Name": "gone.png"},
        {"Bucket": "elsewhere", "Name": "cat.png"},
        {"Bucket": "photos", "Name": "cat.png", "Version": "deleted-version"},
    ):
        status, body = call({"Image": {"S3Object": s3_object}}, labeller, store)
        assert (status, body) == (400, {"__type": "InvalidS3ObjectException", "Message": MISSING_MESSAGE})


def test_inline_bytes_are_limited_to_5_mb_but_s3_objects_are_not(labeller, store):
    oversized = base64.b64encode(CAT + bytes(MAX_INLINE_BYTES)).decode()
    status, body = call({"Image": {"Bytes": oversized}}, labeller, store)
    assert (status, body["__type"]) == (400, "ImageTooLargeException")
    status, body = call({"Image": {"S3Object": {"Bucket": "photos", "Name": "big.png"}}}, labeller, store)
    assert status == 200 and "Cat" in label_names(body)


@pytest.mark.parametrize(
    ("request_body", "code"),
    [
        ({}, "InvalidParameterException"),
        ({"Image": {}}, "InvalidParameterException"),
        ({"Image": {"Bytes": "aGVsbG8=", "S3Object": {"Bucket": "photos", "Name": "cat.png"}}}, "InvalidParameterException"),
        ({"Image": {"Bytes": "not base64!"}}, "InvalidParameterException"),
        ({"Image": {"S3Object": {"Bucket": "photos"}}}, "InvalidParameterException"),
        ({"Image": {"S3Object": {"Bucket": "photos", "Name": "cat.png"}}, "MinConfidence": 150}, "InvalidParameterException"),
        ({"Image": {"S3Object": {"Bucket": "photos", "Name": "cat.png"}}, "Features": ["IMAGE_PROPERTIES"]}, "InvalidParameterException"),
        ({"Image": {"Bytes": base64.b64encode(b"plain text").decode()}}, "InvalidImageFormatException"),
        ({"Image": {"S3Object": {"Bucket": "photos", "Name": "notes.txt"}}}, "InvalidImageFormatException"),
    ],
)
def test_bad_requests_get_rekognitions_error_body(labeller, store, request_body, code):
    status, body = call(request_body, labeller, store)
    assert status == 400
    assert set(body) == {"__type", "Message"}
    assert body["__type"] == code and body["Message"]


def test_label_filters_in_settings_are_honoured(labeller, store):
    image = {"S3Object": {"Bucket": "photos", "Name": "coffee cup.jpg", "Version": "v2"}}
    _, only = call({"Image": image, "Settings": {"GeneralLabels": {"LabelInclusionFilters": ["Cup"]}}}, labeller, store)
    assert label_names(only) == ["Cup"]
    _, without_food = call(
        {"Image": image, "Settings": {"GeneralLabels": {"LabelCategoryExclusionFilters": ["Food and Beverage"]}}},
        labeller,
        store,
    )
    assert "Cup" in label_names(without_food) and "Espresso" not in label_names(without_food)


# --- the answer cache ----------------------------------------------------------------------------


class CountingLabeller:
    """The real labeller, counting how often the model runs."""

    def __init__(self, labeller: OfflineLabeller) -> None:
        self._labeller = labeller
        self.calls = 0

    def detect_labels(self, image_bytes: bytes, **parameters):
        self.calls += 1
        return self._labeller.detect_labels(image_bytes, **parameters)


def test_identical_bytes_and_parameters_are_labelled_once(labeller, store):
    counting, cache = CountingLabeller(labeller), DetectLabelsCache(max_entries=8)
    cat_in_s3 = {"Image": {"S3Object": {"Bucket": "photos", "Name": "cat.png"}}, "MinConfidence": 60}
    first = detect_labels_response(cat_in_s3, labeller=counting, read_object=store.read, cache=cache)
    first[1]["Labels"].clear()  # a caller changing its answer does not change the cached one
    # The same bytes inline, from another key: the same answer, not computed again.
    cat_inline = {"Image": {"Bytes": base64.b64encode(CAT).decode()}, "MinConfidence": 60}
    again = detect_labels_response(cat_inline, labeller=counting, read_object=store.read, cache=cache)
    assert counting.calls == 1 and (cache.hits, cache.misses) == (1, 1)
    assert again == call(cat_in_s3, labeller, store) and "Cat" in label_names(again[1])

    # Each parameter that changes the answer is its own entry.
    for changed in ({"MinConfidence": 90}, {"MaxLabels": 1}, {"Features": ["GENERAL_LABELS"]},
                    {"Settings": {"GeneralLabels": {"LabelInclusionFilters": ["Cat"]}}}):
        status, body = detect_labels_response({**cat_in_s3, **changed}, labeller=counting, read_object=store.read,
                                              cache=cache)
        assert (status, body) == call({**cat_in_s3, **changed}, labeller, store)
    assert counting.calls == 5 and len(cache) == 5
    assert label_names(detect_labels_response({**cat_in_s3, "MaxLabels": 1}, labeller=counting,
                                              read_object=store.read, cache=cache)[1]) == ["Cat"]
    assert counting.calls == 5


def test_errors_are_not_cached_and_the_cache_is_bounded(labeller, store):
    counting, cache = CountingLabeller(labeller), DetectLabelsCache(max_entries=2)
    text = {"Image": {"S3Object": {"Bucket": "photos", "Name": "notes.txt"}}}
    for _ in range(2):
        status, body = detect_labels_response(text, labeller=counting, read_object=store.read, cache=cache)
        assert (status, body["__type"]) == (400, "InvalidImageFormatException")
    assert counting.calls == 2 and len(cache) == 0  # the model was asked each time: no error is kept

    images = [{"Image": {"S3Object": {"Bucket": "photos", "Name": "coffee cup.jpg", "Version": "v2"}}},
              {"Image": {"S3Object": {"Bucket": "photos", "Name": "cat.png"}}},
              {"Image": {"S3Object": {"Bucket": "photos", "Name": "big.png"}}}]
    for request in images:
        assert detect_labels_response(request, labeller=counting, read_object=store.read, cache=cache)[0] == 200
    assert len(cache) == 2 and counting.calls == 5
    detect_labels_response(images[0], labeller=counting, read_object=store.read, cache=cache)  # least recent: gone
    assert counting.calls == 6
    with pytest.raises(ValueError):
        DetectLabelsCache(max_entries=0)


def test_a_failing_object_store_is_an_internal_error_not_a_crash(labeller):
    def broken(bucket, key, version):
        raise OSError("disk gone")

    status, body = detect_labels_response(
        {"Image": {"S3Object": {"Bucket": "photos", "Name": "cat.png"}}}, labeller=labeller, read_object=broken
    )
    assert (status, body["__type"]) == (500, "InternalServerError")


# --- the wire format, through botocore --------------------------------------------------------


@pytest.fixture(scope="module")
def rekognition(labeller):
    """A botocore Rekognition client talking to a minimal JSON-protocol server on a free port."""
    objects = ObjectStore({("photos", "coffee cup.jpg", None): COFFEE, ("photos", "notes.txt", None): b"hello"})

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            if self.headers.get("X-Amz-Target") == TARGET:
                status, body = detect_labels_response(request, labeller=labeller, read_object=objects.read)
            else:
                status, body = 400, {"__type": "UnknownOperationException", "Message": "not served here"}
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    client = boto3.client(
        "rekognition",
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    yield client
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_botocore_parses_a_success_as_the_handler_reads_it(rekognition):
    request = detect_labels_request(bucket="photos", key="coffee cup.jpg", version_id=None, max_labels=10, min_confidence=55)
    response = rekognition.detect_labels(**request)
    cup = next(label for label in response["Labels"] if label["Name"] == "Cup")
    assert set(cup["Instances"][0]["BoundingBox"]) == {"Width", "Height", "Left", "Top"}
    assert cup["Parents"] == [{"Name": "Tableware"}]
    detection = detection_from_response(response)  # the handler's own parsing
    assert detection.labels[0].name == "Cup" and detection.labels[0].instances
    assert detection.model_version == "local-ssd-mobilenet-v2-coco+efficientnet-lite3"


def test_botocore_sends_image_bytes_itself(rekognition):
    response = rekognition.detect_labels(Image={"Bytes": CAT}, MaxLabels=1)
    assert [label["Name"] for label in response["Labels"]] == ["Cat"]


@pytest.mark.parametrize(
    ("image", "code"),
    [
        ({"S3Object": {"Bucket": "photos", "Name": "gone.jpg"}}, "InvalidS3ObjectException"),
        ({"S3Object": {"Bucket": "photos", "Name": "notes.txt"}}, "InvalidImageFormatException"),
        ({"Bytes": CAT[:5000]}, "InvalidImageFormatException"),
    ],
)
def test_botocore_raises_client_errors_the_handler_records_as_image_failures(rekognition, image, code):
    with pytest.raises(ClientError) as raised:
        rekognition.detect_labels(Image=image)
    error = raised.value.response["Error"]
    assert error["Code"] == code
    assert code in IMAGE_ERRORS  # a failed item, not a retry
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if code == "InvalidS3ObjectException":
        assert error["Message"] == MISSING_MESSAGE
