"""What the starter does with one film event: start a Rekognition Video job and record it, or
record why the film cannot be labelled, or tombstone a deleted film. Every dependency is an
argument, so tests pass their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable, Mapping

from botocore.exceptions import ClientError

from film_labeller.film_store import FilmStore, film_in_state, unchanged_since
from film_labeller.job_identity import client_request_token, job_tag
from image_labeller.label_store import WriteContention, stored_image
from image_labeller.pipeline import (
    OUTCOME_DELETED,
    OUTCOME_FAILED,
    OUTCOME_OTHER_VERSION,
    OUTCOME_SUPERSEDED,
    WRITE_ATTEMPTS,
    ConfigurationError,
    object_fields,
    tombstone_item,
    utc_now,
)
from image_labeller.s3_events import ObjectEvent
from label_table.layout import MEDIA_VIDEO, STATUS_FAILED, STATUS_PROCESSING

OUTCOME_STARTED = "started"

# Errors that belong to the object itself: retrying cannot help, so they are recorded on the film
# item. Everything else raises and is retried from the queue with a growing delay:
# LimitExceeded (20 jobs at once per account), throttling, 5xx, and AccessDenied (a
# configuration error that a fix of the stack cures).
FILM_ERRORS = frozenset({"InvalidS3ObjectException", "InvalidParameterException", "VideoTooLargeException"})


@dataclass(frozen=True, kw_only=True)
class StarterSettings:
    table_name: str
    min_confidence: float
    topic_arn: str
    service_role_arn: str
    events_queue_url: str  # FilmEvents: where a refused start's message is delayed

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "StarterSettings":
        missing = [name for name in ("TABLE_NAME", "TOPIC_ARN", "SERVICE_ROLE_ARN", "EVENTS_QUEUE_URL") if not environ.get(name)]
        if missing:
            raise ConfigurationError(f"{', '.join(missing)} not set")
        try:
            min_confidence = float(environ.get("MIN_CONFIDENCE", "70"))
        except ValueError as error:
            raise ConfigurationError(f"MIN_CONFIDENCE: {error}") from None
        if not 0 <= min_confidence <= 100:
            raise ConfigurationError(f"MIN_CONFIDENCE must be 0-100, got {min_confidence}")
        return cls(
            table_name=environ["TABLE_NAME"],
            min_confidence=min_confidence,
            topic_arn=environ["TOPIC_ARN"],
            service_role_arn=environ["SERVICE_ROLE_ARN"],
            events_queue_url=environ["EVENTS_QUEUE_URL"],
        )


@dataclass(frozen=True)
class FilmFailure:
    code: str
    message: str


def start_label_detection_request(event: ObjectEvent, settings: StarterSettings) -> dict:
    s3_object = {"Bucket": event.bucket, "Name": event.key}
    if event.version_id:
        # Label exactly the version the event announced, not whatever was uploaded since.
        s3_object["Version"] = event.version_id
    return {
        "Video": {"S3Object": s3_object},
        "ClientRequestToken": client_request_token(
            bucket=event.bucket, key=event.key, version_id=event.version_id, sequencer=event.sequencer,
            min_confidence=settings.min_confidence, relabel_time=event.event_time if event.relabel else None,
        ),
        "MinConfidence": settings.min_confidence,
        "JobTag": job_tag(key=event.key, sequencer=event.sequencer),
        "NotificationChannel": {"SNSTopicArn": settings.topic_arn, "RoleArn": settings.service_role_arn},
        "Features": ["GENERAL_LABELS"],
    }


def start_job(event: ObjectEvent, *, rekognition, settings: StarterSettings) -> str | FilmFailure:
    """The job's id, or why the film cannot be labelled. Raises for what a retry can fix."""
    try:
        return rekognition.start_label_detection(**start_label_detection_request(event, settings))["JobId"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in FILM_ERRORS:
            return FilmFailure(code, error.response["Error"].get("Message") or code)
        raise


def start_film_event(
    event: ObjectEvent,
    *,
    rekognition,
    store: FilmStore,
    settings: StarterSettings,
    clock: Callable[[], datetime] = utc_now,
) -> str:
    """Bring the film item in line with one S3 event and return the outcome.

    Order: read the film item, skip an event that is not newer, start the job (its token makes
    a repeated start return the same job), then ONE write conditional on the item read. A
    terminal state (FAILED, DELETED) then sweeps the film's label entries with their counters.
    """
    job: str | FilmFailure | None = None
    for _ in range(WRITE_ATTEMPTS):
        previous = stored_image(store.film(event.key))
        if previous is not None and not event.applies_over(previous.sequencer):
            return OUTCOME_SUPERSEDED
        if event.removes_other_version_than(previous):
            return OUTCOME_OTHER_VERSION
        if event.action == "removed":
            item, outcome = {**tombstone_item(event, clock()), "Media": MEDIA_VIDEO}, OUTCOME_DELETED
        else:
            if job is None:  # start once, however many times the write has to be retried
                job = start_job(event, rekognition=rekognition, settings=settings)
            item, outcome = film_item(event, job, settings, clock())
        if store.put_film(item, unchanged_since(previous.sequencer if previous else None)):
            break
    else:
        raise WriteContention(f"{event.key!r}: film item changed under {WRITE_ATTEMPTS} consecutive writes")
    if item["Status"] != STATUS_PROCESSING:
        # Nothing belongs to a failed or deleted film: every entry goes, each with its counter.
        store.sweep(event.key, state=film_in_state(item["Sequencer"], item["Status"]), keep=lambda entry: False)
    return outcome


def film_item(event: ObjectEvent, job: str | FilmFailure, settings: StarterSettings, now: datetime) -> tuple[dict, str]:
    if isinstance(job, FilmFailure):
        item = object_fields(event, STATUS_FAILED, now)
        item["Error"] = {"Code": job.code, "Message": job.message}
        outcome = OUTCOME_FAILED
    else:
        item = object_fields(event, STATUS_PROCESSING, now)
        item["JobId"] = job
        outcome = OUTCOME_STARTED
    item["Media"] = MEDIA_VIDEO
    item["JobTag"] = job_tag(key=event.key, sequencer=event.sequencer)
    item["MinConfidence"] = Decimal(str(settings.min_confidence))
    if event.size is not None:
        item["Size"] = event.size
    if event.etag:
        item["ETag"] = event.etag
    return item, outcome
