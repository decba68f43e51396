"""A deployed image-labels stack on the local AWS, for end-to-end tests and benchmarks.

`deploy_local_stack()` starts the local AWS in this process (moto's state is per process), deploys
the stack into it as local_aws/stack_deployment.py does for every caller (the real `cdk bootstrap`
and `cdk deploy`), and yields a `DeployedStack`: clients on
the endpoint, the stack's outputs, and readers of the label table and the failed-events queue that
each go to the service (never to a cache of what the test wrote).

Test modules share one deployment: `deployed_stack` below is a module-scoped fixture; a module
that needs other context values defines its own fixture around `deploy_local_stack(context=...)`.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import cv2
import numpy as np
import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

from film_invariants import film_problems
from local_aws import cdk_cli
from local_aws.clients import local_session
from local_aws.server import DEFAULT_DETECT_LABELS_CACHE_SIZE, DEFAULT_VIDEO_JOB_LIMIT, LocalAws
from local_aws.stack_deployment import STACK_NAME, StackDeployment, stack_on_local_aws

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
IMAGE_ENTRY = "IMAGE"
LABEL_PREFIX = "LABEL#"
COUNTER_ENTRY = "COUNT"
# How often wait_idle looks at the film queues while their messages wait out a delay.
_FILM_QUEUE_PROBE_S = 0.2

_deserialize = TypeDeserializer().deserialize


def plain(item: Mapping[str, dict]) -> dict:
    return {name: _deserialize(value) for name, value in item.items()}


@dataclass(frozen=True, kw_only=True)
class TableSnapshot:
    """Every item of the label table, read with a consistent Scan, grouped by kind."""

    images: dict[str, dict]  # ImageId -> image item
    label_entries: dict[str, list[dict]]  # ImageId -> its LABEL# items
    counters: dict[str, int]  # LabelKey -> ImageCount of its COUNT item
    other: list[dict] = field(default_factory=list)

    def status_counts(self) -> Counter:
        return Counter(item.get("Status") for item in self.images.values())


class DeployedStack:
    """The deployed stack and what a test needs to drive it and to read its state."""

    def __init__(self, *, aws: LocalAws, deployment: StackDeployment) -> None:
        self.aws = aws
        self.endpoint = aws.endpoint
        self.deployment = deployment
        self.outputs = outputs = deployment.outputs.values
        self.bucket = outputs["BucketName"]
        self.table = outputs["TableName"]
        self.function_name = outputs["FunctionName"]
        self.queue_url = outputs["FailedEventsQueueUrl"]
        self.starter_name = outputs["StarterFunctionName"]
        self.collector_name = outputs["CollectorFunctionName"]
        # The film pipeline's dead-letter queues: what the starter or the collector gave up on.
        self.film_work_urls = (outputs["FilmEventsQueueUrl"], outputs["FilmCompletionsQueueUrl"])
        self.film_dead_letter_urls = {"FilmEventFailures": outputs["FilmEventFailuresQueueUrl"],
                                      "FilmCompletionFailures": outputs["FilmCompletionFailuresQueueUrl"]}
        session = local_session(self.endpoint)
        # Many upload threads share the S3 client; the test's own calls never retry silently
        # into a pass, except throttling, which the local AWS does not answer unless injected.
        config = Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 3})
        self.s3 = session.client("s3", endpoint_url=self.endpoint.endpoint_url, config=config)
        self.dynamodb = session.client("dynamodb", endpoint_url=self.endpoint.endpoint_url, config=config)
        self.sqs = session.client("sqs", endpoint_url=self.endpoint.endpoint_url, config=config)
        self.lambda_ = session.client("lambda", endpoint_url=self.endpoint.endpoint_url, config=config)
        self.logs = session.client("logs", endpoint_url=self.endpoint.endpoint_url, config=config)
        self.iam = session.client("iam", endpoint_url=self.endpoint.endpoint_url, config=config)

    # ---- driving --------------------------------------------------------------------------------

    def put(self, key: str, body: bytes) -> str:
        """Upload; returns the new VersionId."""
        return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body).get("VersionId", "")

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def put_many(self, objects: Mapping[str, bytes], *, threads: int = 8) -> dict[str, str]:
        """Concurrent uploads (as a bulk upload tool makes them); key -> VersionId."""
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="upload") as pool:
            versions = list(pool.map(lambda pair: self.put(*pair), objects.items()))
        return dict(zip(objects, versions))

    def wait_idle(self, timeout_s: float) -> None:
        """Until no asynchronous invocation is queued, running or waiting for a retry, no event source
        mapping runs a batch or has a visible message waiting, no video job runs, and the film queues
        are empty: the local AWS's idleness leaves out messages waiting out a visibility timeout,
        but a film start or collection the starter or collector delays (a backlog) is work to come."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.aws.wait_idle(max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"the labeller was still busy after {timeout_s:.0f} s: {self.stats()}, "
                                     f"event source mappings: {self.aws.event_source_stats()}")
            waiting = {url: self.queue_depth(url) for url in self.film_work_urls}
            if not any(waiting.values()) and self.aws.wait_idle(0):
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"film messages still waiting after {timeout_s:.0f} s: {waiting}")
            time.sleep(_FILM_QUEUE_PROBE_S)

    def stats(self) -> dict:
        """The AsyncInvoker's counters (cumulative since the local AWS started)."""
        return self.aws.async_stats()

    def cli(self, *args: str) -> tuple[int, str, str]:
        """`imagelabels ARGS` in this process against this stack: (exit code, stdout, stderr)."""
        from imagelabels.cli import main

        stdout, stderr = io.StringIO(), io.StringIO()
        argv = [*args, "--endpoint-url", self.endpoint.endpoint_url, "--stack", STACK_NAME,
                "--region", self.endpoint.region]
        environ = {"AWS_ACCESS_KEY_ID": cdk_cli.FAKE_ACCESS_KEY_ID,
                   "AWS_SECRET_ACCESS_KEY": cdk_cli.FAKE_SECRET_ACCESS_KEY}
        code = main(argv, environ=environ, stdout=stdout, stderr=stderr)
        return code, stdout.getvalue(), stderr.getvalue()

    # ---- reading the table ----------------------------------------------------------------------

    def image(self, key: str) -> dict | None:
        item = self.dynamodb.get_item(TableName=self.table, Key={"ImageId": {"S": key}, "Entry": {"S": IMAGE_ENTRY}},
                                      ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def label_entries(self, key: str) -> list[dict]:
        """The image's LABEL# items, by Query on the table."""
        return self._query(TableName=self.table, ConsistentRead=True,
                           KeyConditionExpression="ImageId = :id AND begins_with(Entry, :prefix)",
                           ExpressionAttributeValues={":id": {"S": key}, ":prefix": {"S": LABEL_PREFIX}})

    def images_with_label(self, label_key: str) -> list[str]:
        """ImageIds carrying a label, by Query on the ByLabel index (duplicates kept, to be seen)."""
        items = self._query(TableName=self.table, IndexName="ByLabel", KeyConditionExpression="LabelKey = :label",
                            ExpressionAttributeValues={":label": {"S": label_key}})
        return [item["ImageId"] for item in items]

    def catalog(self) -> list[str]:
        """LabelKeys of the counters, by Query on the LabelCatalog index."""
        items = self._query(TableName=self.table, IndexName="LabelCatalog", KeyConditionExpression="Catalog = :c",
                            ExpressionAttributeValues={":c": {"S": "LABELS"}})
        return [item["LabelKey"] for item in items]

    def counter(self, label_key: str) -> int | None:
        item = self.dynamodb.get_item(TableName=self.table, ConsistentRead=True,
                                      Key={"ImageId": {"S": LABEL_PREFIX + label_key}, "Entry": {"S": COUNTER_ENTRY}}
                                      ).get("Item")
        return None if item is None else int(plain(item)["ImageCount"])

    def snapshot(self) -> TableSnapshot:
        images: dict[str, dict] = {}
        entries: dict[str, list[dict]] = {}
        counters: dict[str, int] = {}
        other: list[dict] = []
        for item in self._scan():
            entry = item["Entry"]
            if entry == IMAGE_ENTRY:
                images[item["ImageId"]] = item
            elif entry.startswith(LABEL_PREFIX):
                entries.setdefault(item["ImageId"], []).append(item)
            elif entry == COUNTER_ENTRY and item["ImageId"].startswith(LABEL_PREFIX):
                counters[item["LabelKey"]] = int(item["ImageCount"])
            else:
                other.append(item)
        return TableSnapshot(images=images, label_entries=entries, counters=counters, other=other)

    def _query(self, **kwargs) -> list[dict]:
        items = []
        while True:
            page = self.dynamodb.query(**kwargs)
            items += [plain(item) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _scan(self) -> list[dict]:
        items, kwargs = [], {"TableName": self.table, "ConsistentRead": True}
        while True:
            page = self.dynamodb.scan(**kwargs)
            items += [plain(item) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def log_records(self, function_name: str) -> list[dict]:
        """Every line the function logged (Lambda's JSON log format: one object a line), from the
        log group CloudWatch Logs keeps for it."""
        group = self.aws.log_group_of(function_name)
        records, kwargs = [], {"logGroupName": group}
        while True:
            page = self.logs.filter_log_events(**kwargs)
            for event in page["events"]:
                try:
                    record = json.loads(event["message"])
                except ValueError:  # a line the runtime printed itself
                    record = {"message": event["message"]}
                records.append(record if isinstance(record, dict) else {"message": event["message"]})
            if not page.get("nextToken"):
                return records
            kwargs["nextToken"] = page["nextToken"]

    # ---- the failed-events queue and the film dead-letter queues --------------------------------

    def film_dead_letter_depths(self) -> dict[str, int]:
        return {name: self.queue_depth(url) for name, url in self.film_dead_letter_urls.items()}

    def queue_depth(self, queue_url: str | None = None) -> int:
        """Messages in the queue, visible or not (default: the labeller's failed-events queue)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def peek_queue(self) -> list[dict]:
        """Every message body (parsed), left in the queue: received with visibility 0."""
        bodies: dict[str, dict] = {}
        for _ in range(20):
            response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                VisibilityTimeout=0, WaitTimeSeconds=0)
            messages = response.get("Messages", [])
            fresh = [message for message in messages if message["MessageId"] not in bodies]
            for message in fresh:
                bodies[message["MessageId"]] = json.loads(message["Body"])
            if len(bodies) >= self.queue_depth():
                break
        return list(bodies.values())


# ---- images for loads ---------------------------------------------------------------------------

def _sample_pixels() -> list[np.ndarray]:
    images = []
    for path in sorted(SAMPLES.iterdir()):
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            images.append(cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR))
    return images


def varied_images(count: int, seed: int) -> list[bytes]:
    """Small (96-192 px) crops of the sample photos, flipped, scaled, as JPEG or PNG: real content,
    so the labels vary as a library's do, and about 10 KB each."""
    rng = np.random.default_rng(seed)
    photos = _sample_pixels()
    bodies = []
    for n in range(count):
        photo = photos[n % len(photos)]
        height, width = photo.shape[:2]
        side = int(rng.integers(min(height, width) // 2, min(height, width) + 1))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        crop = photo[top:top + side, left:left + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        size = int(rng.integers(96, 193))
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
        extension = ".png" if n % 4 == 0 else ".jpg"
        ok, buffer = cv2.imencode(extension, crop)
        assert ok
        bodies.append(buffer.tobytes())
    return bodies


# ---- what must hold in the label table whatever happened ---------------------------------------

def assert_label_index_consistent(stack: DeployedStack) -> TableSnapshot:
    """Every object's label entries match its item, no entry is orphaned or kept for a failed or
    deleted object, and each label's counter equals the objects carrying it, counted three ways: the
    entries of a consistent Scan, a Query on the ByLabel index, and the COUNT item. Films (Media
    "video") carry no Labels list: their entries must be their LabelKeys, all of the item's VersionId
    and JobId, and at rest no film is still PROCESSING. Returns the Scan."""
    snapshot = stack.snapshot()
    problems: list[str] = []
    carriers: dict[str, set[str]] = {}
    for image_id, entries in snapshot.label_entries.items():
        image = snapshot.images.get(image_id)
        entry_keys = [entry["LabelKey"] for entry in entries]
        if image is None:
            problems.append(f"{image_id!r}: label entries {entry_keys} without an image item")
            continue
        if image.get("Status") != "LABELLED":
            problems.append(f"{image_id!r}: {image.get('Status')} but label entries {entry_keys}")
        for key in entry_keys:
            carriers.setdefault(key, set()).add(image_id)
    for image_id, image in snapshot.images.items():
        entries = snapshot.label_entries.get(image_id, [])
        if image.get("Media") == "video":
            problems += film_problems(image_id, image, entries)
            continue
        entry_keys = sorted(entry["LabelKey"] for entry in entries)
        if image.get("Status") == "LABELLED":
            named = sorted({label["Name"].casefold() for label in image.get("Labels") or []})
            if entry_keys != sorted(image.get("LabelKeys") or []) or entry_keys != named:
                problems.append(f"{image_id!r}: entries {entry_keys}, LabelKeys {sorted(image.get('LabelKeys') or [])}, "
                                f"Labels {named}")
        if any(entry.get("Media") == "video" for entry in entries):
            problems.append(f"{image_id!r}: an image with film label entries")
    for label_key in sorted(set(carriers) | set(snapshot.counters)):
        expected = len(carriers.get(label_key, ()))
        by_label = stack.images_with_label(label_key)
        if len(by_label) != len(set(by_label)) or set(by_label) != carriers.get(label_key, set()):
            problems.append(f"label {label_key!r}: ByLabel index gives {len(by_label)} entries "
                            f"({len(set(by_label))} images), the table {expected}")
        if snapshot.counters.get(label_key, 0) != expected:
            problems.append(f"label {label_key!r}: counter {snapshot.counters.get(label_key)}, images {expected}")
    catalog = stack.catalog()
    if len(catalog) != len(set(catalog)) or not set(carriers) <= set(catalog):
        problems.append(f"LabelCatalog index lists {sorted(catalog)} for labels {sorted(carriers)}")
    if snapshot.other:
        problems.append(f"items of no known kind: {snapshot.other[:3]}")
    assert not problems, "label table inconsistent:\n" + "\n".join(problems[:30])
    return snapshot


@contextlib.contextmanager
def deploy_local_stack(*, state_dir: Path | None = None, context: Mapping[str, str] | None = None,
                       max_workers_per_function: int = 4,
                       retry_delays_s: tuple[float, ...] = (1.0, 2.0),
                       detect_labels_cache_size: int = DEFAULT_DETECT_LABELS_CACHE_SIZE,
                       video_job_limit: int = DEFAULT_VIDEO_JOB_LIMIT) -> Iterator[DeployedStack]:
    """Start the local AWS, bootstrap, deploy `ImageLabels-dev` with `-c` overrides, yield, stop.
    `detect_labels_cache_size=0` runs the model for every DetectLabels (benchmarks of its speed);
    `video_job_limit` is how many Rekognition Video jobs may run at once (a backlog below 20)."""
    with contextlib.ExitStack() as cleanup:
        if state_dir is None:
            state_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="local-aws-")))
        aws = LocalAws(state_dir=state_dir, max_workers_per_function=max_workers_per_function,
                       retry_delays_s=retry_delays_s, detect_labels_cache_size=detect_labels_cache_size,
                       video_job_limit=video_job_limit)
        deployment = cleanup.enter_context(stack_on_local_aws(aws, context=context))
        yield DeployedStack(aws=aws, deployment=deployment)


def redeploy(stack: DeployedStack, *, context: Mapping[str, str]) -> float:
    """`cdk deploy` again with other context values (an update); returns its seconds."""
    return stack.deployment.deploy(context=context).seconds


@pytest.fixture(scope="module")
def deployed_stack(tmp_path_factory) -> Iterator[DeployedStack]:
    """One deployed dev stack per test module (a deploy takes ~10 s)."""
    logging.getLogger("local_aws").setLevel(logging.WARNING)
    with deploy_local_stack(state_dir=tmp_path_factory.mktemp("local-aws")) as stack:
        yield stack
