"""The pipeline in-process, for the `imagelabels` behaviour tests: moto's S3, DynamoDB, SQS and
CloudFormation (a stack with the real outputs), the REAL handler (lambda_src/image_labeller) run on
S3-shaped events, and Rekognition answered by botocore's Stubber from the object's actual bytes.

S3 -> Lambda is emulated the way the deployed stack behaves: every PutObject (and multipart
upload) through the CLI's session, and every put/delete through the harness, delivers an
ObjectCreated/ObjectRemoved event to the handler, now or after a delay, or holds it back; an
invocation that raises lands in the failed-events queue as a Lambda on-failure destination record,
as it would after Lambda's retries. A film's event goes to the film pipeline instead
(tests/cli_film_harness.py: the real starter and collector behind moto's queues).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import threading
from contextlib import redirect_stderr
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from imagelabels.cli import main
from imagelabels.invoke import InvokeResult
from imagelabels.target import Target
from label_table_in_moto import create_label_table
from s3_event_factory import record

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
REGION = "eu-west-1"
STACK_NAME = "ImageLabels-test"
BUCKET = "imagelabels-test-images"
TABLE = "imagelabels-test-labels"
FUNCTION = "imagelabels-test-labeller"
QUEUE = "imagelabels-test-failed-events"


def rekognition_label(name: str, confidence: float, parents=(), boxes: int = 0) -> dict:
    return {
        "Name": name,
        "Confidence": confidence,
        "Parents": [{"Name": parent} for parent in parents],
        "Categories": [],
        "Aliases": [],
        "Instances": [{"BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.1, "Top": 0.1}, "Confidence": confidence}] * boxes,
    }


# What "Rekognition" sees in each sample photo (labels chosen to give searches something to do).
SAMPLE_LABELS = {
    "cat-chelsea.png": [rekognition_label("Cat", 97.8, ["Animal", "Pet"], boxes=1), rekognition_label("Animal", 97.8),
                        rekognition_label("Pet", 95.1, ["Animal"])],
    "coffee cup.jpg": [rekognition_label("Cup", 95.2, boxes=1), rekognition_label("Beverage", 90.1),
                       rekognition_label("Table", 75.0)],
    "astronaut-eileen-collins.jpg": [rekognition_label("Person", 99.1, boxes=1), rekognition_label("Animal", 71.0)],
    "cameraman.png": [rekognition_label("Person", 92.0, boxes=1), rekognition_label("Tripod", 94.0)],
    "rocket-launch.JPG": [rekognition_label("Rocket", 88.0), rekognition_label("Person", 72.5)],
}
LABELS_BY_DIGEST = {hashlib.sha256((SAMPLES / name).read_bytes()).hexdigest(): labels for name, labels in SAMPLE_LABELS.items()}
# Any other JPEG/PNG: one generic label.
OTHER_IMAGE_LABELS = [rekognition_label("Photo", 80.0)]
# A PNG header with 1x1 pixels: Rekognition answers InvalidParameterException (under 80 px).
TINY_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + b"\x00" * 16


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


class ImageAwareRekognition(Stubber):
    """botocore's Stubber, answering DetectLabels from the bytes of the object version named in the
    request instead of from a queue, so that concurrent uploads need no call order. `fault` makes
    every call fail with that error code (throttling, say) until cleared."""

    def __init__(self, client, s3) -> None:
        super().__init__(client)
        self._s3 = s3
        self.fault: str | None = None
        self.calls = 0
        self._lock = threading.Lock()

    def _assert_expected_params(self, model, params, context, **kwargs):
        # No queue to check against: keep the request's parameters for the answer.
        context["detect_labels_request"] = params

    def _error(self, code: str, message: str, status: int = 400):
        return AWSResponse(None, status, {}, None), {
            "ResponseMetadata": {"HTTPStatusCode": status},
            "Error": {"Code": code, "Message": message},
        }

    def _get_response_handler(self, model, params, context, **kwargs):
        with self._lock:
            self.calls += 1
        if self.fault:
            return self._error(self.fault, "Rate exceeded", 400)
        s3_object = context["detect_labels_request"]["Image"]["S3Object"]
        try:
            request = {"Bucket": s3_object["Bucket"], "Key": s3_object["Name"]}
            if s3_object.get("Version"):
                request["VersionId"] = s3_object["Version"]
            body = self._s3.get_object(**request)["Body"].read()
        except self._s3.exceptions.ClientError:
            return self._error("InvalidS3ObjectException", "Unable to get object metadata from S3.")
        if not (body.startswith(b"\xff\xd8\xff") or body.startswith(b"\x89PNG\r\n\x1a\n")):
            return self._error("InvalidImageFormatException", "Request has unsupported image format")
        if body == TINY_PNG:
            return self._error("InvalidParameterException", "Request has invalid parameters")
        labels = LABELS_BY_DIGEST.get(hashlib.sha256(body).hexdigest(), OTHER_IMAGE_LABELS)
        response = {"Labels": labels, "LabelModelVersion": "3.0"}
        self._validate_operation_response("DetectLabels", response)
        return AWSResponse(None, 200, {}, None), response


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@dataclass
class Pipeline:
    handler: object
    rekognition: ImageAwareRekognition
    s3: object
    dynamodb: object
    sqs: object
    table: object  # boto3 Table resource, for assertions through tests/label_table_in_moto.py
    queue_url: str
    notify: str = "now"  # "now", "hold" (kept in `held` until released) or "off" (no notification)
    invocations: list[dict] = field(default_factory=list)
    films: object = None  # cli_film_harness.FilmPipeline
    session_hooks: list = field(default_factory=list)  # (event name, handler) for the CLI's session
    held: list[dict] = field(default_factory=list)
    _sequence: int = 0x0062A1B2C3D4E50000
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _run_lock: threading.Lock = field(default_factory=threading.Lock)

    # --- S3 as the pipeline sees it --------------------------------------------------------------
    def next_sequencer(self) -> str:
        with self._lock:
            self._sequence += 0x100
            return f"{self._sequence:018X}"

    def created_record(self, key: str, *, version_id: str | None, etag: str, size: int, sequencer: str | None = None) -> dict:
        return record(key, sequencer=sequencer or self.next_sequencer(), size=size, etag=etag.strip('"'), bucket=BUCKET,
                      version_id=None if version_id == "null" else version_id)

    def removed_record(self, key: str, *, version_id: str | None, event_name: str = "ObjectRemoved:DeleteMarkerCreated") -> dict:
        return record(key, sequencer=self.next_sequencer(), event_name=event_name, version_id=version_id, bucket=BUCKET)

    def put(self, key: str, body: bytes, *, notify: str | None = None) -> dict:
        """An upload by someone else (or before the stack existed, with notify="off")."""
        response = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        record = self.created_record(key, version_id=response.get("VersionId"), etag=response["ETag"], size=len(body))
        self.notify_event({"Records": [record]}, mode=notify)
        return response

    def delete(self, key: str, *, version_id: str | None = None, notify: str | None = None) -> None:
        if version_id:
            self.s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version_id)
            record = self.removed_record(key, version_id=version_id, event_name="ObjectRemoved:Delete")
        else:
            marker = self.s3.delete_object(Bucket=BUCKET, Key=key)
            record = self.removed_record(key, version_id=marker.get("VersionId"))
        self.notify_event({"Records": [record]}, mode=notify)

    def notify_event(self, event: dict, *, mode: str | None = None) -> None:
        mode = mode or self.notify
        if mode == "now":
            self.deliver(event)
        elif mode == "hold":
            with self._lock:
                self.held.append(event)

    def release_held(self) -> None:
        with self._lock:
            events, self.held = self.held, []
        for event in events:
            self.deliver(event)

    # --- Lambda, asynchronous (S3) and synchronous (the CLI's Invoke) -----------------------------
    def invoke(self, event: dict) -> InvokeResult:
        """What Lambda's Invoke (RequestResponse) returns for the real handler."""
        payload = json.loads(json.dumps(event))  # the event crosses the wire as JSON
        with self._run_lock:  # one invocation at a time: moto's in-process backend is not transactional
            self.invocations.append(payload)
            try:
                result = self.handler.handle(payload, None)
            except Exception as error:  # Lambda turns any exception into a FunctionError
                return InvokeResult(payload={"errorMessage": str(error), "errorType": type(error).__name__},
                                    function_error="Unhandled")
        return InvokeResult(payload=json.loads(json.dumps(result)))

    def deliver(self, event: dict) -> None:
        """S3's asynchronous invocation: a failure (after Lambda's retries) is captured in the
        failed-events queue as an on-failure destination record. A film's event goes to the
        FilmEvents queue instead, as the bucket's film notification sends it."""
        if self.films is not None and self.films.handles(event):
            self.films.enqueue(event)
            return
        result = self.invoke(event)
        if not result.ok:
            self.capture(event, result.payload)

    def capture(self, event: dict, error: dict | None = None) -> None:
        record = {
            "version": "1.0",
            "timestamp": "2026-11-26T10:00:05.000Z",
            "requestContext": {"requestId": "c0ffee00-0000-4000-8000-000000000000",
                               "functionArn": f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": error or {"errorMessage": "failed", "errorType": "EventNotProcessed"},
        }
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(record))

    def queued(self) -> list[dict]:
        """The messages in the failed-events queue (received, then made visible again)."""
        messages = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
            if not batch:
                break
            messages.extend(batch)
        for message in messages:
            self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        return messages

    # --- the command -----------------------------------------------------------------------------
    def cli_session(self, delay: float = 0.0, region: str = REGION) -> boto3.Session:
        """The session the CLI gets: its PutObject calls notify the pipeline like the bucket does."""
        session = boto3.Session(region_name=region)
        timers: list[threading.Timer] = []

        def remember_key(params, context, **kwargs):
            context["harness_object"] = (params["Bucket"], params["Key"])

        def notify(http_response, parsed, context, **kwargs):
            if http_response.status_code != 200 or "harness_object" not in context:
                return
            bucket, key = context["harness_object"]
            head = self.s3.head_object(Bucket=bucket, Key=key, VersionId=parsed["VersionId"]) if parsed.get("VersionId") \
                else self.s3.head_object(Bucket=bucket, Key=key)
            record = self.created_record(key, version_id=parsed.get("VersionId"), etag=parsed["ETag"], size=head["ContentLength"])
            event = {"Records": [record]}
            if delay and self.notify == "now":
                timer = threading.Timer(delay, self.deliver, args=(event,))
                timers.append(timer)
                timer.start()
            else:
                self.notify_event(event)

        for operation in ("PutObject", "CompleteMultipartUpload"):
            session.events.register(f"provide-client-params.s3.{operation}", remember_key)
            session.events.register(f"after-call.s3.{operation}", notify)
        for event_name, hook in self.session_hooks:
            session.events.register(event_name, hook)
        self._timers = timers
        return session

    def run(self, *argv: str, delay: float = 0.0, cwd: Path | None = None, environ: dict | None = None) -> CliRun:
        stdout, stderr = io.StringIO(), io.StringIO()
        with redirect_stderr(stderr):
            code = main(
                ["--stack", STACK_NAME, "--region", REGION, *argv],
                environ=environ or {},
                stdout=stdout,
                stderr=stderr,
                session_factory=lambda target: self.cli_session(delay, target.region or REGION),
                invoker_factory=lambda connection: self.invoke,
                cwd=cwd,
            )
        for timer in getattr(self, "_timers", []):
            timer.join()
        return CliRun(code, stdout.getvalue(), stderr.getvalue())


def make_pipeline(monkeypatch: pytest.MonkeyPatch, *, films: bool = True) -> Pipeline:
    """Call inside `mock_aws()`: the stack's resources, its outputs, and the handler; with
    `films`, the film pipeline too (without: a stack deployed before films, no film outputs)."""
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("MIN_CONFIDENCE", "70")
    monkeypatch.setenv("MAX_LABELS", "10")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    dynamodb_resource = boto3.resource("dynamodb", region_name=REGION)
    table = create_label_table(dynamodb_resource, TABLE)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    outputs = {"BucketName": BUCKET, "TableName": TABLE, "FunctionName": FUNCTION, "FailedEventsQueueUrl": queue_url}
    film_pipeline = None
    if films:
        from cli_film_harness import make_film_pipeline

        film_pipeline = make_film_pipeline(monkeypatch, s3=s3, sqs=sqs, table_name=TABLE)
        outputs.update(film_pipeline.urls)
    create_stack(outputs=outputs)

    import image_labeller.handler as handler

    handler = importlib.reload(handler)  # module-level clients are created inside the mock
    rekognition = ImageAwareRekognition(handler.REKOGNITION, s3)
    rekognition.activate()
    pipeline = Pipeline(handler=handler, rekognition=rekognition, s3=s3, dynamodb=boto3.client("dynamodb", region_name=REGION),
                        sqs=sqs, table=table, queue_url=queue_url, films=film_pipeline)
    if film_pipeline is not None:
        film_pipeline.lock = pipeline._run_lock
    return pipeline


def create_stack(*, outputs: dict[str, str], name: str = STACK_NAME, endpoint_url: str | None = None) -> None:
    """A stack in moto's CloudFormation (in-process, or the moto server at endpoint_url) whose
    Outputs are the deployed stack's."""
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation = boto3.client("cloudformation", region_name=REGION, endpoint_url=endpoint_url)
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


def local_target(**overrides) -> Target:
    return Target(**{"stack_name": STACK_NAME, "region": REGION, "endpoint_url": None, "local": False, **overrides})
