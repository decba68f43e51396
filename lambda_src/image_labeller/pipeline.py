"""What happens to one object event. Every dependency is an argument, so tests pass their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable, Mapping

from botocore.exceptions import ClientError

from image_labeller.detection import (
    IMAGE_ERRORS,
    MAX_IMAGE_BYTES,
    Detection,
    detect_labels_request,
    detection_from_response,
)
from image_labeller.label_store import TOMBSTONE_SECONDS, LabelStore, WriteContention
from label_table.layout import STATUS_DELETED, STATUS_FAILED, STATUS_LABELLED, image_key
from image_labeller.s3_events import ObjectEvent

# Rekognition's own limit for MaxLabels is 1000; the stack allows at most 24 so that one image is
# one DynamoDB transaction (see stacks/settings.py).
MAX_LABELS_LIMIT = 24


class ConfigurationError(RuntimeError):
    """The function's environment is wrong: every invocation would fail the same way."""


@dataclass(frozen=True, kw_only=True)
class LabellerSettings:
    table_name: str
    min_confidence: float
    max_labels: int

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "LabellerSettings":
        table_name = environ.get("TABLE_NAME", "")
        if not table_name:
            raise ConfigurationError("TABLE_NAME is not set")
        try:
            min_confidence = float(environ.get("MIN_CONFIDENCE", "70"))
            max_labels = int(environ.get("MAX_LABELS", "10"))
        except ValueError as error:
            raise ConfigurationError(f"MIN_CONFIDENCE / MAX_LABELS: {error}") from None
        if not 0 <= min_confidence <= 100:
            raise ConfigurationError(f"MIN_CONFIDENCE must be 0-100, got {min_confidence}")
        if not 1 <= max_labels <= MAX_LABELS_LIMIT:
            raise ConfigurationError(f"MAX_LABELS must be 1-{MAX_LABELS_LIMIT}, got {max_labels}")
        return cls(table_name=table_name, min_confidence=min_confidence, max_labels=max_labels)


@dataclass(frozen=True)
class ImageFailure:
    code: str
    message: str


# What process_object_event reports, and the log line says.
OUTCOME_LABELLED = "labelled"
OUTCOME_FAILED = "failed"
OUTCOME_DELETED = "deleted"
OUTCOME_SUPERSEDED = "superseded"  # a newer or identical event was already applied
OUTCOME_OTHER_VERSION = "other-version"  # an older version was deleted; the labelled one remains

WRITE_ATTEMPTS = 5


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def process_object_event(
    event: ObjectEvent,
    *,
    rekognition,
    store: LabelStore,
    settings: LabellerSettings,
    clock: Callable[[], datetime] = utc_now,
) -> str:
    """Bring the table in line with one S3 event and return the outcome.

    Raises for anything a retry can fix (throttling, service errors, contention); records in
    the table anything that belongs to the image itself (not an image, too small, too large).
    """
    result: Detection | ImageFailure | None = None
    for _ in range(WRITE_ATTEMPTS):
        previous = store.current(event.key)
        if previous is not None and not event.applies_over(previous.sequencer):
            return OUTCOME_SUPERSEDED
        if event.removes_other_version_than(previous):
            return OUTCOME_OTHER_VERSION
        if event.action == "removed":
            item, labels, outcome = tombstone_item(event, clock()), [], OUTCOME_DELETED
        else:
            if result is None:  # label once, however many times the write has to be retried
                result = label_image(event, rekognition=rekognition, settings=settings)
            item, labels, outcome = _image_item(event, result, settings, clock())
        if store.replace(image_item=item, labels=labels, previous=previous):
            return outcome
    raise WriteContention(f"{event.key!r}: image item changed under {WRITE_ATTEMPTS} consecutive writes")


def label_image(event: ObjectEvent, *, rekognition, settings: LabellerSettings) -> Detection | ImageFailure:
    if event.size is not None and event.size > MAX_IMAGE_BYTES:
        return ImageFailure(
            "ImageTooLargeException",
            f"The object is {event.size} bytes; Rekognition reads images of at most {MAX_IMAGE_BYTES} bytes from S3.",
        )
    request = detect_labels_request(
        bucket=event.bucket,
        key=event.key,
        version_id=event.version_id,
        max_labels=settings.max_labels,
        min_confidence=settings.min_confidence,
    )
    try:
        response = rekognition.detect_labels(**request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in IMAGE_ERRORS:
            return ImageFailure(code, error.response["Error"].get("Message") or code)
        raise
    return detection_from_response(response)


def object_fields(event: ObjectEvent, status: str, now: datetime) -> dict:
    """What every object item holds, image or film: where it is and which event wrote it."""
    item = {
        **image_key(event.key),
        "Bucket": event.bucket,
        "Key": event.key,
        "Status": status,
        "Sequencer": event.sequencer,
        "EventName": event.event_name,
        "EventTime": event.event_time,
        "UpdatedAt": now.isoformat(timespec="milliseconds"),
    }
    if event.version_id:
        item["VersionId"] = event.version_id
    return item


def _image_item(event: ObjectEvent, result, settings: LabellerSettings, now: datetime):
    if isinstance(result, ImageFailure):
        item = object_fields(event, STATUS_FAILED, now)
        item["Error"] = {"Code": result.code, "Message": result.message}
        labels, outcome = [], OUTCOME_FAILED
    else:
        item = object_fields(event, STATUS_LABELLED, now)
        item["Labels"] = [label.as_item() for label in result.labels]
        if result.model_version:
            item["LabelModelVersion"] = result.model_version
        labels, outcome = result.labels, OUTCOME_LABELLED
    if event.size is not None:
        item["Size"] = event.size
    if event.etag:
        item["ETag"] = event.etag
    item["MinConfidence"] = _decimal_setting(settings.min_confidence)
    item["MaxLabels"] = settings.max_labels
    return item, labels, outcome


def tombstone_item(event: ObjectEvent, now: datetime) -> dict:
    item = object_fields(event, STATUS_DELETED, now)
    item["ExpiresAt"] = int(now.timestamp()) + TOMBSTONE_SECONDS
    return item


def _decimal_setting(value: float) -> Decimal:
    return Decimal(str(value))
