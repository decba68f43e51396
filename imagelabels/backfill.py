"""`imagelabels backfill [PREFIX]`: label the images and films already in the bucket that the
table does not describe (uploaded before the stack existed, events lost, a labelled version
deleted, a film whose job's notification never came).

Each object gets a synthetic ObjectCreated event, invoked synchronously, that carries the
sequencer read from its image item ("0" when there is none) and `"relabel": true`. The handler
applies it only while the table still holds exactly that sequencer, so it never outranks a real S3
event: one that is in flight applies afterwards (its sequencer is larger than any the table held
before it), one that already applied makes the backfill event a no-op. A rerun skips whatever is
LABELLED or FAILED for the object's current version: backfill resumes by nature.

A film's event goes, as the same relabel record in an S3 notification, to the FilmEvents queue
(the starter takes it as it takes S3's own; see film_labeller.start): labelling a film takes
minutes, so backfill reports it queued, and a later run finds it done.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator
from urllib.parse import quote_plus

from botocore.exceptions import BotoCoreError, ClientError

from imagelabels.errors import describe, error_code, missing_bucket
from imagelabels.invoke import Invoker
from imagelabels.uploads import is_film_key, is_image_key
from label_table.layout import DONE_STATUSES, IMAGE_ENTRY, STATUS_DELETED, STATUS_PROCESSING, describes_version, image_key
from label_table.reads import batch_get

NO_ITEM_SEQUENCER = "0"  # below every real sequencer
EVENT_NAME = "ObjectCreated:Backfill"

LABELLED = "labelled"
FAILED = "failed"  # the image could not be labelled (recorded as FAILED in the table)
NEWER = "newer-state"  # a real event reached the table first: nothing to do
ERROR = "error"  # the invocation failed: a rerun tries again
DONE = "already-done"
QUEUED = "queued"  # a film's relabel record is in the FilmEvents queue


@dataclass(frozen=True, kw_only=True)
class BucketObject:
    key: str
    version_id: str | None  # None in a bucket that was never versioned
    etag: str
    size: int

    @property
    def is_film(self) -> bool:
        return is_film_key(self.key)


@dataclass(frozen=True, kw_only=True)
class Decision:
    obj: BucketObject
    label: bool
    sequencer: str = NO_ITEM_SEQUENCER
    reason: str = ""


def current_objects(s3, bucket: str, prefix: str, *, films: bool) -> Iterator[BucketObject]:
    """The current version of every .jpg/.jpeg/.png object (any case) under `prefix`, and with
    `films` of every .mp4/.mov one.
    ListObjectVersions rather than ListObjectsV2: the version id is what the table matches on,
    and what the handler needs to tell "an older version was deleted" from "the image was"."""
    paginator = s3.get_paginator("list_object_versions")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for version in page.get("Versions", []):
                wanted = is_image_key(version["Key"]) or (films and is_film_key(version["Key"]))
                if not version.get("IsLatest") or not wanted:
                    continue
                version_id = version.get("VersionId")
                yield BucketObject(
                    key=version["Key"],
                    version_id=None if version_id in (None, "null") else version_id,
                    etag=(version.get("ETag") or "").strip('"'),
                    size=int(version.get("Size", 0)),
                )
    except ClientError as error:
        if error_code(error) == "NoSuchBucket":
            raise missing_bucket(bucket) from None
        raise


def decide(obj: BucketObject, item: dict | None, *, force: bool) -> Decision:
    """Pure: whether to label `obj` given its image item, and at which sequencer."""
    if item is None:
        return Decision(obj=obj, label=True, reason="not in the table")
    sequencer = str(item.get("Sequencer") or NO_ITEM_SEQUENCER)
    same_version = describes_version(item, version_id=obj.version_id, etag=obj.etag)
    status = item.get("Status")
    if status in DONE_STATUSES and same_version:
        if force:
            return Decision(obj=obj, label=True, sequencer=sequencer, reason=f"{status.lower()}, relabelled (--force)")
        return Decision(obj=obj, label=False, sequencer=sequencer, reason=f"already {status.lower()}")
    if status == STATUS_DELETED:
        return Decision(obj=obj, label=True, sequencer=sequencer, reason="its labelled version was deleted")
    if status == STATUS_PROCESSING and same_version:
        # A job that should have ended long ago, or whose notification was lost: start another.
        return Decision(obj=obj, label=True, sequencer=sequencer, reason="still PROCESSING: labelled again")
    return Decision(obj=obj, label=True, sequencer=sequencer, reason=f"table describes another version ({status})")


def backfill_event(obj: BucketObject, *, bucket: str, region: str, sequencer: str, now: datetime | None = None) -> dict:
    """An event shaped like S3's own (key URL-encoded as S3 does), plus the relabel mark."""
    s3_object = {"key": quote_plus(obj.key, safe="/"), "size": obj.size, "eTag": obj.etag, "sequencer": sequencer}
    if obj.version_id:
        s3_object["versionId"] = obj.version_id
    moment = (now or datetime.now(timezone.utc)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": moment,
                "eventName": EVENT_NAME,
                "relabel": True,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "imagelabels-backfill",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": s3_object,
                },
            }
        ]
    }


@dataclass(kw_only=True)
class ObjectReport:
    key: str
    outcome: str
    detail: str = ""


@dataclass(kw_only=True)
class BackfillReport:
    listed: int = 0  # images
    films_listed: int = 0
    objects: list[ObjectReport] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for report in self.objects if report.outcome == outcome)

    @property
    def ok(self) -> bool:
        return self.count(ERROR) == 0

    def as_json(self) -> dict:
        return {
            "listed": self.listed,
            "films_listed": self.films_listed,
            **{name.replace("-", "_"): self.count(name) for name in (LABELLED, FAILED, NEWER, ERROR, DONE, QUEUED)},
            "objects": [vars(report) for report in self.objects if report.outcome != DONE],
        }


def plan_backfill(
    *, s3, dynamodb, bucket: str, table: str, prefix: str, force: bool, films: bool = False
) -> tuple[list[BucketObject], list[Decision]]:
    objects = list(current_objects(s3, bucket, prefix, films=films))
    items = batch_get(
        dynamodb,
        table,
        [image_key(obj.key) for obj in objects],
        projection="#status, VersionId, ETag, Sequencer",
        names={"#status": "Status"},
        consistent=True,
    )
    return objects, [decide(obj, items.get((obj.key, IMAGE_ENTRY)), force=force) for obj in objects]


def outcome_of(result) -> tuple[str, str]:
    if not result.ok:
        return ERROR, result.error_message
    outcomes = result.outcomes
    if outcomes.get("labelled"):
        return LABELLED, ""
    if outcomes.get("failed"):
        return FAILED, "see imagelabels show KEY"
    if outcomes.get("superseded") or outcomes.get("other-version"):
        return NEWER, "a real event reached the table first"
    return ERROR, f"unexpected answer from the function: {result.payload!r}"


def backfill(
    *,
    s3,
    dynamodb,
    invoker: Invoker,
    bucket: str,
    table: str,
    region: str,
    prefix: str = "",
    force: bool = False,
    dry_run: bool = False,
    concurrency: int = 4,
    sqs=None,
    film_events_queue_url: str | None = None,
    on_planned: Callable[[int], None] = lambda count: None,
    on_done: Callable[[ObjectReport], None] = lambda report: None,
) -> BackfillReport:
    """Images are labelled by invoking the function; films (only when the stack has a film
    pipeline, `film_events_queue_url`) are queued for the starter."""
    films = film_events_queue_url is not None
    objects, decisions = plan_backfill(s3=s3, dynamodb=dynamodb, bucket=bucket, table=table, prefix=prefix, force=force,
                                       films=films)
    report = BackfillReport(listed=sum(1 for obj in objects if not obj.is_film),
                            films_listed=sum(1 for obj in objects if obj.is_film))
    report.objects.extend(ObjectReport(key=d.obj.key, outcome=DONE, detail=d.reason) for d in decisions if not d.label)
    todo = [decision for decision in decisions if decision.label]
    on_planned(len(todo))
    if dry_run:
        report.objects.extend(ObjectReport(key=d.obj.key, outcome="would-label", detail=d.reason) for d in todo)
        return report

    def run(decision: Decision) -> ObjectReport:
        event = backfill_event(decision.obj, bucket=bucket, region=region, sequencer=decision.sequencer)
        try:
            if decision.obj.is_film:
                # The body S3 itself sends to the queue: the starter reads it like any other.
                sqs.send_message(QueueUrl=film_events_queue_url, MessageBody=json.dumps(event))
                outcome, detail = QUEUED, ""
            else:
                outcome, detail = outcome_of(invoker(event))
        except (ClientError, BotoCoreError) as error:
            outcome, detail = ERROR, describe(error)
        object_report = ObjectReport(key=decision.obj.key, outcome=outcome, detail=detail or decision.reason)
        on_done(object_report)
        return object_report

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="backfill") as pool:
        report.objects.extend(pool.map(run, todo))
    return report
