"""The film pipeline in-process, for the `imagelabels` behaviour tests: moto's SQS queues as the
stack has them (FilmEvents, FilmCompletions and their DLQs), the REAL starter and collector
(lambda_src/film_labeller) fed from them as their event source mappings feed them, and
Rekognition Video answered by botocore's Stubber from the film's bytes.

A film is made by `film(...)`: bytes that open with an MP4 `ftyp` box, whose scenes (which label
is on screen when) the stub then reports for any job on that object version. StartLabelDetection
behaves as Rekognition does with its ClientRequestToken: the same token gives the same job and
no second notification. `faults` fails an operation (throttling, say). A job's end is announced on FilmCompletions in the SNS envelope (raw
message delivery off), unless `notifications` is off (a lost notification).

A message the starter or collector fails goes to its DLQ at once, as it would after the queue's
maxReceiveCount: what `imagelabels redrive` finds there.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import threading
from dataclasses import dataclass, field

import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from imagelabels.uploads import is_film_key

FILM_QUEUES = {
    "FilmEventsQueueUrl": "imagelabels-test-film-events",
    "FilmEventFailuresQueueUrl": "imagelabels-test-film-event-failures",
    "FilmCompletionsQueueUrl": "imagelabels-test-film-completions",
    "FilmCompletionFailuresQueueUrl": "imagelabels-test-film-completion-failures",
}
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:FilmJobs"
SERVICE_ROLE_ARN = "arn:aws:iam::123456789012:role/FilmJobsPublisher"
METADATA = {"Codec": "h264", "Format": "QuickTime / MOV", "FrameRate": 29.97, "FrameHeight": 720, "FrameWidth": 1280,
            "ColorRange": "LIMITED"}
_films: dict[str, dict] = {}  # sha256 of a film's bytes -> its scenes and duration
_made = iter(range(1, 10**9))


def film(*scenes: tuple[str, int, int, float], duration_ms: int = 60_000, size: int = 0) -> bytes:
    """An MP4's bytes (an `ftyp` box, then filler up to `size`) whose labels the stub knows:
    scenes are (label, start_ms, end_ms, confidence), one Rekognition segment each."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    body = head + f"film {next(_made)}".encode()
    body += b"\x00" * max(0, size - len(body))
    _films[hashlib.sha256(body).hexdigest()] = {"scenes": list(scenes), "duration_ms": duration_ms}
    return body


def detection(name: str, start: int, end: int, confidence: float) -> dict:
    return {"Timestamp": start, "StartTimestampMillis": start, "EndTimestampMillis": end, "DurationMillis": end - start,
            "Label": {"Name": name, "Confidence": confidence, "Parents": [], "Categories": [], "Aliases": [], "Instances": []}}


class FilmAwareRekognition(Stubber):
    """Stubber answering StartLabelDetection and GetLabelDetection from the object's bytes."""

    def __init__(self, client, *, s3, sqs, completions_url: str) -> None:
        super().__init__(client)
        self._s3, self._sqs, self._completions_url = s3, sqs, completions_url
        self.jobs: dict[str, dict] = {}
        self.tokens: dict[str, str] = {}
        self.notifications = True
        self.faults: dict[str, str] = {}  # operation name -> the error code it fails with (throttling, say)
        self._lock = threading.Lock()

    def _assert_expected_params(self, model, params, context, **kwargs):
        context["film_request"] = params

    def _error(self, code: str, message: str):
        return AWSResponse(None, 400, {}, None), {"ResponseMetadata": {"HTTPStatusCode": 400},
                                                  "Error": {"Code": code, "Message": message}}

    def _get_response_handler(self, model, params, context, **kwargs):
        request = context["film_request"]
        if model.name in self.faults:
            return self._error(self.faults[model.name], "Rate exceeded")
        if model.name == "StartLabelDetection":
            response = self._start(request)
        else:
            response = self._page(request)
        if "Error" in response:
            return self._error(**response["Error"])
        self._validate_operation_response(model.name, response)
        return AWSResponse(None, 200, {}, None), response

    def _start(self, request: dict) -> dict:
        with self._lock:
            if request["ClientRequestToken"] in self.tokens:  # a known token: that job, no new notification
                return {"JobId": self.tokens[request["ClientRequestToken"]]}
            s3_object = request["Video"]["S3Object"]
            try:
                body = self._s3.get_object(Bucket=s3_object["Bucket"], Key=s3_object["Name"],
                                           VersionId=s3_object["Version"])["Body"].read()
            except self._s3.exceptions.ClientError:
                return {"Error": {"code": "InvalidS3ObjectException", "message": "Unable to get object metadata from S3."}}
            job_id = f"job-{len(self.jobs) + 1}"
            self.tokens[request["ClientRequestToken"]] = job_id
            self.jobs[job_id] = {"object": s3_object, "tag": request["JobTag"],
                                 "film": _films.get(hashlib.sha256(body).hexdigest())}
        if self.notifications:
            self.announce(job_id)
        return {"JobId": job_id}

    def announce(self, job_id: str) -> None:
        """Rekognition's notification through SNS: the job has ended."""
        job = self.jobs[job_id]
        inner = {"JobId": job_id, "Status": "SUCCEEDED" if job["film"] else "FAILED", "API": "StartLabelDetection",
                 "JobTag": job["tag"], "Timestamp": 1795000000000,
                 "Video": {"S3ObjectName": job["object"]["Name"], "S3Bucket": job["object"]["Bucket"]}}
        envelope = {"Type": "Notification", "MessageId": f"sns-{job_id}", "TopicArn": TOPIC_ARN,
                    "Message": json.dumps(inner), "Timestamp": "2026-11-26T10:05:00.000Z"}
        self._sqs.send_message(QueueUrl=self._completions_url, MessageBody=json.dumps(envelope))

    def _page(self, request: dict) -> dict:
        job = self.jobs[request["JobId"]]
        response = {"JobId": request["JobId"], "JobTag": job["tag"], "LabelModelVersion": "3.0",
                    "Video": {"S3Object": job["object"]},
                    "GetRequestMetadata": {"SortBy": "NAME", "AggregateBy": "SEGMENTS"}}
        if job["film"] is None:
            return {**response, "JobStatus": "FAILED", "StatusMessage": "Unsupported codec/format.", "Labels": []}
        labels = sorted((detection(*scene) for scene in job["film"]["scenes"]),
                        key=lambda found: (found["Label"]["Name"], found["StartTimestampMillis"]))
        return {**response, "JobStatus": "SUCCEEDED", "Labels": labels,
                "VideoMetadata": {**METADATA, "DurationMillis": job["film"]["duration_ms"]}}


@dataclass
class FilmPipeline:
    starter: object
    collector: object
    rekognition: FilmAwareRekognition
    sqs: object
    urls: dict[str, str]
    auto: bool = True  # run the starter and collector as soon as a message arrives
    dead_lettered: list[dict] = field(default_factory=list)
    # Shared with the image handler's invocations: moto's in-process backend is not transactional.
    lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def handles(event: dict) -> bool:
        records = event.get("Records") or []
        return bool(records) and all(is_film_key(record["s3"]["object"]["key"]) for record in records)

    def enqueue(self, event: dict) -> None:
        """What the bucket's film notification does: the S3 event, as the body, on FilmEvents."""
        self.sqs.send_message(QueueUrl=self.urls["FilmEventsQueueUrl"], MessageBody=json.dumps(event))
        if self.auto:
            self.drain()

    def drain(self, *, completions: bool = True) -> None:
        """Both event source mappings, until the queues are empty (`completions=False`: the
        starter only, so that the films stay PROCESSING)."""
        with self.lock:
            self._drain(completions=completions)

    def _drain(self, *, completions: bool) -> None:
        while True:
            taken = self._run("FilmEventsQueueUrl", "FilmEventFailuresQueueUrl", self.starter, batch_size=5)
            if completions:
                taken += self._run("FilmCompletionsQueueUrl", "FilmCompletionFailuresQueueUrl", self.collector, batch_size=1)
            if not taken:
                return

    def messages(self, output: str) -> list[dict]:
        """The messages now visible in a queue (received, then made visible again)."""
        messages = []
        while batch := self.sqs.receive_message(QueueUrl=self.urls[output], MaxNumberOfMessages=10,
                                                VisibilityTimeout=30).get("Messages", []):
            messages.extend(batch)
        for message in messages:
            self.sqs.change_message_visibility(QueueUrl=self.urls[output], ReceiptHandle=message["ReceiptHandle"],
                                               VisibilityTimeout=0)
        return messages

    def _run(self, output: str, dead_letters: str, handler, *, batch_size: int) -> int:
        url = self.urls[output]
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch_size,
                                            AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return 0
        records = [{"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
                    "attributes": message.get("Attributes", {}), "messageAttributes": {}, "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:eu-west-1:123456789012:{url.rsplit('/', 1)[-1]}",
                    "awsRegion": "eu-west-1"} for message in messages]
        failed = {failure["itemIdentifier"] for failure in handler.handle({"Records": records})["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:  # as after maxReceiveCount: into the DLQ
                self.sqs.send_message(QueueUrl=self.urls[dead_letters], MessageBody=message["Body"])
                self.dead_lettered.append(message)
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)


def make_film_pipeline(monkeypatch: pytest.MonkeyPatch, *, s3, sqs, table_name: str) -> FilmPipeline:
    """Call inside `mock_aws()`: the film queues, and the starter and collector loaded there."""
    urls = {output: sqs.create_queue(QueueName=name)["QueueUrl"] for output, name in FILM_QUEUES.items()}
    for name, value in {"TABLE_NAME": table_name, "MIN_CONFIDENCE": "70", "TOPIC_ARN": TOPIC_ARN,
                        "SERVICE_ROLE_ARN": SERVICE_ROLE_ARN, "EVENTS_QUEUE_URL": urls["FilmEventsQueueUrl"],
                        "COMPLETIONS_QUEUE_URL": urls["FilmCompletionsQueueUrl"]}.items():
        monkeypatch.setenv(name, value)
    starter = importlib.reload(importlib.import_module("film_labeller.starter"))
    collector = importlib.reload(importlib.import_module("film_labeller.collector"))
    # One Rekognition for both functions, so that the collector reads the jobs the starter started.
    monkeypatch.setattr(collector, "REKOGNITION", starter.REKOGNITION)
    rekognition = FilmAwareRekognition(starter.REKOGNITION, s3=s3, sqs=sqs, completions_url=urls["FilmCompletionsQueueUrl"])
    rekognition.activate()
    return FilmPipeline(starter=starter, collector=collector, rekognition=rekognition, sqs=sqs, urls=urls)
