"""What the collector does with one message of the FilmCompletions queue: read the finished
job's pages, write one entry per label, flip the film to LABELLED and sweep what is not this
job's, handing the rest on to itself when time runs short. Every dependency is an argument."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping

from botocore.exceptions import ClientError

from film_labeller.completion import Continuation, JobNotification
from film_labeller.film_store import FilmChanged, FilmStore, film_in_state, job_processing
from film_labeller.job_identity import tag_sequencer
from film_labeller.label_groups import LabelGroup, split_page
from image_labeller.detection import decimal_value
from image_labeller.pipeline import OUTCOME_FAILED, OUTCOME_LABELLED, ConfigurationError, utc_now
from image_labeller.s3_events import sequencer_value
from label_table.layout import STATUS_FAILED, STATUS_LABELLED, STATUS_PROCESSING

OUTCOME_STALE = "stale"  # the film moved on (other job, other state): nothing to change
OUTCOME_HANDED_ON = "handed-on"
OUTCOME_IGNORED = "ignored"  # a notification of another kind of job

# Hand on when less than this is left: a page (1,000 segments) and its writes fit easily.
HAND_ON_MILLIS = 60_000
# Pages per invocation, whatever the time left: long films are read in bounded steps.
PAGE_BUDGET = 20
FAILURE_CODE = "LabelDetectionFailed"
_PAGE_REQUEST = {"AggregateBy": "SEGMENTS", "SortBy": "NAME", "MaxResults": 1000}
_METADATA = ("DurationMillis", "Codec", "Format", "FrameWidth", "FrameHeight")


class JobNotRecordedYet(RuntimeError):
    """The job is newer than the film item: the starter's write of it is still to come (being
    retried). Raised so that the message comes back later: it is the job's only notification."""


class JobNotFinished(RuntimeError):
    """GetLabelDetection says the job is still running although a notification arrived."""


@dataclass(frozen=True, kw_only=True)
class CollectorSettings:
    table_name: str
    completions_queue_url: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "CollectorSettings":
        missing = [name for name in ("TABLE_NAME", "COMPLETIONS_QUEUE_URL") if not environ.get(name)]
        if missing:
            raise ConfigurationError(f"{', '.join(missing)} not set")
        return cls(table_name=environ["TABLE_NAME"], completions_queue_url=environ["COMPLETIONS_QUEUE_URL"])


def collect(
    message: JobNotification | Continuation,
    *,
    rekognition,
    store: FilmStore,
    hand_on: Callable[[Continuation], None],
    remaining_millis: Callable[[], int],
    clock: Callable[[], datetime] = utc_now,
    page_budget: int = PAGE_BUDGET,
) -> str:
    if isinstance(message, JobNotification) and not message.is_label_detection:
        return OUTCOME_IGNORED
    job_id = message.job_id
    continuing = isinstance(message, Continuation)
    carry = LabelGroup.from_carry(message.carry) if continuing and message.carry else None
    pages = message.pages if continuing else 0
    page, restarted = _page(rekognition, job_id, message.next_token if continuing else None)
    if restarted:
        carry, pages = None, 0

    key = ((page.get("Video") or {}).get("S3Object") or {}).get("Name") or getattr(message, "key", None)
    film = store.film(key) if key else None
    if not film or film.get("JobId") != job_id or film.get("Status") != STATUS_PROCESSING:
        if _newer_than(page.get("JobTag") or getattr(message, "job_tag", None), film):
            raise JobNotRecordedYet(f"{key!r}: job {job_id} is not on the film item yet")
        return OUTCOME_STALE

    status = page.get("JobStatus")
    if status == "FAILED" or getattr(message, "status", None) in ("FAILED", "ERROR"):
        reason = page.get("StatusMessage") or f"Rekognition reported the job {getattr(message, 'status', status)}"
        return _fail(store, film, job_id, reason, clock())
    if status != "SUCCEEDED":
        raise JobNotFinished(f"job {job_id} is {status}")

    existing = store.entries(key)  # once per invocation, then kept up to date by write_entries
    read = 0
    try:
        while True:
            next_token = page.get("NextToken")
            complete, carry = split_page(page.get("Labels") or [], carry, last_page=not next_token)
            updated_at = clock().isoformat(timespec="milliseconds")
            entries = [group.entry_item(key=key, film=film, job_id=job_id, updated_at=updated_at) for group in complete]
            store.write_entries(key, job_id, entries, existing)
            pages, read = pages + 1, read + 1
            if not next_token:
                break
            if remaining_millis() < HAND_ON_MILLIS or read >= page_budget:
                hand_on(Continuation(job_id=job_id, next_token=next_token,
                                     carry=carry.as_carry() if carry else None, pages=pages))
                return OUTCOME_HANDED_ON
            page, restarted = _page(rekognition, job_id, next_token)
            if restarted:
                carry, pages = None, 0
    except FilmChanged:
        return OUTCOME_STALE

    labelled = _labelled_item(film, page, sorted(k for k, e in existing.items() if e.job_id == job_id), clock())
    if not store.put_film(labelled, job_processing(job_id)):
        return OUTCOME_STALE
    store.sweep(key, state=film_in_state(film["Sequencer"], STATUS_LABELLED), keep=lambda entry: entry.job_id == job_id)
    return OUTCOME_LABELLED


def _page(rekognition, job_id: str, next_token: str | None) -> tuple[dict, bool]:
    """One page, and whether reading had to start again from page 1."""
    request = {"JobId": job_id, **_PAGE_REQUEST}
    if next_token:
        request["NextToken"] = next_token
    try:
        return rekognition.get_label_detection(**request), False
    except ClientError as error:
        if not next_token or error.response.get("Error", {}).get("Code") != "InvalidPaginationTokenException":
            raise
    # The token expired (24 h) or is unknown: every write is idempotent, so read it all again.
    return rekognition.get_label_detection(JobId=job_id, **_PAGE_REQUEST), True


def _newer_than(tag: str | None, film: dict | None) -> bool:
    sequencer = tag_sequencer(tag)
    if sequencer is None:
        return False
    return film is None or sequencer_value(sequencer) > sequencer_value(film["Sequencer"])


def _fail(store: FilmStore, film: dict, job_id: str, reason: str, now: datetime) -> str:
    item = {**film, "Status": STATUS_FAILED, "Error": {"Code": FAILURE_CODE, "Message": reason},
            "UpdatedAt": now.isoformat(timespec="milliseconds")}
    if not store.put_film(item, job_processing(job_id)):
        return OUTCOME_STALE
    store.sweep(film["ImageId"], state=film_in_state(film["Sequencer"], STATUS_FAILED), keep=lambda entry: False)
    return OUTCOME_FAILED


def _labelled_item(film: dict, page: dict, label_keys: list[str], now: datetime) -> dict:
    item = {key: value for key, value in film.items() if key != "Error"}
    item.update(Status=STATUS_LABELLED, UpdatedAt=now.isoformat(timespec="milliseconds"),
                LabelKeys=label_keys, LabelCount=len(label_keys))
    if page.get("LabelModelVersion"):
        item["LabelModelVersion"] = page["LabelModelVersion"]
    metadata = page.get("VideoMetadata") or {}
    if isinstance(metadata, list):  # older API versions answered with a list
        metadata = metadata[0] if metadata else {}
    for name in _METADATA:
        if metadata.get(name) is not None:
            item[name] = metadata[name]
    if metadata.get("FrameRate") is not None:
        item["FrameRate"] = decimal_value(metadata["FrameRate"])
    return item
