"""Rekognition Video label detection (StartLabelDetection / GetLabelDetection), answered offline.

Pure request -> (HTTP status, JSON body), like rekognition_api.py for DetectLabels: the HTTP layer
only routes `RekognitionService.StartLabelDetection` / `.GetLabelDetection` here. Requests are
checked against botocore's model of the operations (request_constraints.py), errors carry the JSON
protocol's `__type`. A job runs in the background on a bounded thread pool: the film is decoded and
sampled by film_sampling.py and each sampled frame is labelled by the offline model. When the job
ends, Rekognition's completion message goes to the job's NotificationChannel through `publish`.

As on Rekognition: a reused ClientRequestToken with the same parameters returns the same JobId
without a second run or notification, with other parameters it is refused; at most
`max_concurrent_jobs` jobs per account are IN_PROGRESS; the object must exist when the job starts
and be at most 10 GB; a film Rekognition cannot read makes the job FAILED, not the call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial

from local_aws.film_sampling import DEFAULT_SAMPLE_INTERVAL_MS, FilmError, FilmLabels, LabelFrame, film_segments
from local_aws.rekognition_api import INVALID_S3_OBJECT_MESSAGE, error_body, filtered_labels
from local_aws.rekognition_model import OfflineLabeller, RekognitionError
from local_aws.request_constraints import ConstraintViolation, check_request

START_TARGET = "RekognitionService.StartLabelDetection"
GET_TARGET = "RekognitionService.GetLabelDetection"
MAX_VIDEO_BYTES = 10 * 1024**3
DEFAULT_MAX_CONCURRENT_JOBS = 20  # Rekognition's default quota per account
DEFAULT_MIN_CONFIDENCE = 50.0
# The model allows any MaxResults >= 1; the API reference: "If you specify a value greater than
# 1000, a maximum of 1000 results is returned."
MAX_RESULTS = 1000
# The messages are the API reference's descriptions of each error (Rekognition's own wording for
# these cases is not documented).
VIDEO_TOO_LARGE_MESSAGE = (
    "The file size or duration of the supplied media is too large. The maximum file size is 10GB. "
    "The maximum duration is 6 hours."
)
IDEMPOTENT_MISMATCH_MESSAGE = (
    "A ClientRequestToken input parameter was reused with an operation, but at least one of the other "
    "input parameters is different from the previous call to the operation."
)
NOT_FOUND_MESSAGE = "The resource specified in the request cannot be found."
BAD_TOKEN_MESSAGE = "Pagination token in the request is not valid."
INTERNAL_MESSAGE = "Amazon Rekognition experienced a service issue."

Publish = Callable[[str, str, str], None]  # (SNS topic ARN, role ARN, message JSON)
log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class StoredVideo:
    """An object as the store has it: its size is known before its bytes are read, so a video
    over 10 GB is refused without reading it."""

    size: int
    read: Callable[[], bytes]

    @classmethod
    def of(cls, data: bytes) -> StoredVideo:
        return cls(size=len(data), read=lambda: data)


# (bucket, key, version or None) -> the stored video; raises KeyError when there is none.
ReadVideo = Callable[[str, str, str | None], StoredVideo]


def offline_label_frame(labeller: OfflineLabeller) -> LabelFrame:
    """Every label the offline model gives a frame (its own floors apply); the job's MinConfidence
    is applied by film_segments."""
    return partial(labeller.label_rgb, min_confidence=0)


@dataclass(frozen=True, kw_only=True)
class JobTimes:
    """When a job was started (StartLabelDetection), taken by a worker and finished (its result
    or failure set, before the notification), in time.monotonic() seconds: what a benchmark
    needs to tell the job's own decode-and-label time from the pipeline around it."""

    submitted: float
    started: float | None = None  # None while it waits for a worker
    finished: float | None = None  # None while it runs


@dataclass(kw_only=True)
class _Job:
    job_id: str
    account_id: str
    parameters: str  # the request without its token, canonical JSON: what idempotency compares
    video: dict
    job_tag: str | None
    notification: dict | None
    min_confidence: float
    settings: dict | None
    status: str = "IN_PROGRESS"
    status_message: str | None = None
    result: FilmLabels | None = None
    entries: dict[tuple[str, str], list[dict]] = field(default_factory=dict)  # by (SortBy, AggregateBy)
    times: JobTimes = field(default_factory=lambda: JobTimes(submitted=time.monotonic()))


class LocalVideoJobs:
    """Label detection jobs, run in the background, kept for the life of the object."""

    def __init__(
        self,
        *,
        label_frame: LabelFrame,
        label_model_version: str,
        publish: Publish,
        max_workers: int = 2,
        max_concurrent_jobs: int = DEFAULT_MAX_CONCURRENT_JOBS,
        sample_interval_ms: int = DEFAULT_SAMPLE_INTERVAL_MS,
        page_size: int = MAX_RESULTS,
    ) -> None:
        self._label_frame = label_frame
        self.page_size = page_size
        self._label_model_version = label_model_version
        self._publish = publish
        self._max_concurrent_jobs = max_concurrent_jobs
        self._sample_interval_ms = sample_interval_ms
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rekognition-video")
        self._jobs: dict[str, _Job] = {}
        self._by_token: dict[tuple[str, str], str] = {}
        self._unfinished = 0  # jobs whose run (and notification) has not ended
        self._changed = threading.Condition()
        self._token_key = secrets.token_bytes(32)  # signs NextTokens: a forged or foreign one is refused

    @property
    def page_size(self) -> int:
        """The most entries one GetLabelDetection page holds, whatever MaxResults asks: a test knob.
        Rekognition's own cap is 1000 (MAX_RESULTS), so a caller only sees a NextToken on films
        with more than 1000 entries; a smaller cap makes a short film span many pages, to prove
        that a caller follows NextToken. It may be changed while jobs run: it applies to the next page."""
        return self._page_size

    @page_size.setter
    def page_size(self, entries: int) -> None:
        if not 1 <= entries <= MAX_RESULTS:
            raise ValueError(f"page_size must be 1-{MAX_RESULTS} (Rekognition's own maximum), got {entries}")
        self._page_size = entries

    # --- StartLabelDetection ----------------------------------------------------------------------

    def start_label_detection(self, request: dict, *, account_id: str, read_object: ReadVideo) -> tuple[int, dict]:
        try:
            return 200, self._start(request, account_id=account_id, read_object=read_object)
        except RekognitionError as error:
            return error.status, error_body(error.code, error.message)
        except Exception:
            log.exception("StartLabelDetection failed")
            return 500, error_body("InternalServerError", INTERNAL_MESSAGE)

    def _start(self, request: dict, *, account_id: str, read_object: ReadVideo) -> dict:
        _check("StartLabelDetection", request)
        settings = request.get("Settings")
        filtered_labels([], settings)  # refuses malformed filters now, not in the job
        token = request.get("ClientRequestToken")
        parameters = json.dumps({k: v for k, v in request.items() if k != "ClientRequestToken"}, sort_keys=True)
        s3_object = request["Video"].get("S3Object")
        # The model marks none of these required (Video may one day take other sources).
        if s3_object is None or "Bucket" not in s3_object or "Name" not in s3_object:
            raise RekognitionError("InvalidParameterException", "Video.S3Object with Bucket and Name is required.")
        with self._changed:
            if token is not None and (account_id, token) in self._by_token:
                earlier = self._jobs[self._by_token[(account_id, token)]]
                if earlier.parameters != parameters:
                    raise RekognitionError("IdempotentParameterMismatchException", IDEMPOTENT_MISMATCH_MESSAGE)
                return {"JobId": earlier.job_id}  # the same job: no second run, no second notification
            try:
                stored = read_object(s3_object["Bucket"], s3_object["Name"], s3_object.get("Version"))
            except LookupError:  # KeyError included: no such bucket, key or version
                raise RekognitionError("InvalidS3ObjectException", INVALID_S3_OBJECT_MESSAGE) from None
            if stored.size > MAX_VIDEO_BYTES:
                raise RekognitionError("VideoTooLargeException", VIDEO_TOO_LARGE_MESSAGE)
            running = sum(job.account_id == account_id and job.status == "IN_PROGRESS" for job in self._jobs.values())
            if running >= self._max_concurrent_jobs:
                raise RekognitionError(
                    "LimitExceededException",
                    f"An Amazon Rekognition service limit was exceeded: {self._max_concurrent_jobs} concurrent jobs.",
                )
            job = _Job(
                job_id=secrets.token_hex(32),
                account_id=account_id,
                parameters=parameters,
                video={"S3Object": dict(s3_object)},
                job_tag=request.get("JobTag"),
                notification=request.get("NotificationChannel"),
                min_confidence=float(request.get("MinConfidence", DEFAULT_MIN_CONFIDENCE)),
                settings=settings,
            )
            self._jobs[job.job_id] = job
            if token is not None:
                self._by_token[(account_id, token)] = job.job_id
            self._unfinished += 1
        self._pool.submit(self._run, job, stored)
        return {"JobId": job.job_id}

    def _run(self, job: _Job, stored: StoredVideo) -> None:
        notified_status = "SUCCEEDED"
        with self._changed:
            job.times = replace(job.times, started=time.monotonic())
        try:
            try:
                result = film_segments(
                    stored.read(),
                    label_frame=lambda rgb: filtered_labels(self._label_frame(rgb), job.settings),
                    sample_interval_ms=self._sample_interval_ms,
                    min_confidence=job.min_confidence,
                )
                self._finish(job, status="SUCCEEDED", result=result)
            except FilmError as error:
                notified_status = "FAILED"
                self._finish(job, status="FAILED", message=error.status_message)
            except LookupError:  # the object (version) went away between start and run
                notified_status = "FAILED"
                self._finish(job, status="FAILED", message=INVALID_S3_OBJECT_MESSAGE)
            except Exception:
                log.exception("label detection job %s failed", job.job_id)
                notified_status = "ERROR"  # the notification's word for a service-side failure
                self._finish(job, status="FAILED", message=INTERNAL_MESSAGE)
            if job.notification is not None:
                self._notify(job, notified_status)
        finally:
            with self._changed:
                self._unfinished -= 1
                self._changed.notify_all()

    def _finish(self, job: _Job, *, status: str, result: FilmLabels | None = None, message: str | None = None):
        with self._changed:
            job.status, job.result, job.status_message = status, result, message
            job.times = replace(job.times, finished=time.monotonic())
            self._changed.notify_all()

    def _notify(self, job: _Job, status: str) -> None:
        s3_object = job.video["S3Object"]
        message = {"JobId": job.job_id, "Status": status, "API": "StartLabelDetection"}
        if job.job_tag is not None:
            message["JobTag"] = job.job_tag
        message["Timestamp"] = int(time.time() * 1000)
        message["Video"] = {"S3ObjectName": s3_object["Name"], "S3Bucket": s3_object["Bucket"]}
        try:
            self._publish(job.notification["SNSTopicArn"], job.notification["RoleArn"], json.dumps(message))
        except Exception:  # Rekognition's failed notification does not change the job
            log.exception("completion notification for job %s failed", job.job_id)

    # --- GetLabelDetection ------------------------------------------------------------------------

    def get_label_detection(self, request: dict) -> tuple[int, dict]:
        try:
            return 200, self._get(request)
        except RekognitionError as error:
            return error.status, error_body(error.code, error.message)
        except Exception:
            log.exception("GetLabelDetection failed")
            return 500, error_body("InternalServerError", INTERNAL_MESSAGE)

    def _get(self, request: dict) -> dict:
        _check("GetLabelDetection", request)
        with self._changed:
            job = self._jobs.get(request["JobId"])
            if job is None:
                raise RekognitionError("ResourceNotFoundException", NOT_FOUND_MESSAGE)
            status, message, result = job.status, job.status_message, job.result
        sort_by, aggregate_by = request.get("SortBy", "TIMESTAMP"), request.get("AggregateBy", "TIMESTAMPS")
        body = {"JobStatus": status}
        if message is not None:
            body["StatusMessage"] = message
        if result is not None:
            entries = self._entries(job, result, sort_by=sort_by, aggregate_by=aggregate_by)
            page_size = min(request.get("MaxResults", MAX_RESULTS), self._page_size)
            offset = self._offset(request.get("NextToken"), job, sort_by=sort_by, aggregate_by=aggregate_by)
            if offset > len(entries):
                raise RekognitionError("InvalidPaginationTokenException", BAD_TOKEN_MESSAGE)
            body["VideoMetadata"] = dict(result.video_metadata)
            body["Labels"] = entries[offset : offset + page_size]
            if offset + page_size < len(entries):
                body["NextToken"] = self._token(offset + page_size, job, sort_by=sort_by, aggregate_by=aggregate_by)
            body["LabelModelVersion"] = self._label_model_version
        body["JobId"] = job.job_id
        body["Video"] = job.video
        if job.job_tag is not None:
            body["JobTag"] = job.job_tag
        body["GetRequestMetadata"] = {"SortBy": sort_by, "AggregateBy": aggregate_by}
        return body

    @staticmethod
    def _entries(job: _Job, result: FilmLabels, *, sort_by: str, aggregate_by: str) -> list[dict]:
        """The job's entries in the requested order (computed once per order and kept)."""
        key = (sort_by, aggregate_by)
        if key not in job.entries:
            entries = result.segments if aggregate_by == "SEGMENTS" else result.moments
            job.entries[key] = sorted(entries, key=_by_name if sort_by == "NAME" else _by_time)
        return job.entries[key]

    def _signature(self, offset: int, job: _Job, *, sort_by: str, aggregate_by: str) -> str:
        text = f"{job.job_id}|{sort_by}|{aggregate_by}|{offset}".encode()
        return hmac.new(self._token_key, text, hashlib.sha256).hexdigest()[:32]

    def _token(self, offset: int, job: _Job, *, sort_by: str, aggregate_by: str) -> str:
        signature = self._signature(offset, job, sort_by=sort_by, aggregate_by=aggregate_by)
        return base64.urlsafe_b64encode(f"{offset}:{signature}".encode()).decode()

    def _offset(self, token: str | None, job: _Job, *, sort_by: str, aggregate_by: str) -> int:
        """Where the page starts. A token only works for the job and the order it was made for."""
        if token is None:
            return 0
        try:
            offset_text, signature = base64.urlsafe_b64decode(token.encode()).decode().split(":")
            offset = int(offset_text)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise RekognitionError("InvalidPaginationTokenException", BAD_TOKEN_MESSAGE) from None
        expected = self._signature(offset, job, sort_by=sort_by, aggregate_by=aggregate_by)
        if offset < 0 or not hmac.compare_digest(signature, expected):
            raise RekognitionError("InvalidPaginationTokenException", BAD_TOKEN_MESSAGE)
        return offset

    # --- for tests, benchmarks and shutdown -------------------------------------------------------

    def job_times(self, job_id: str) -> JobTimes | None:
        """When the job was started, taken by a worker and finished; None for an unknown job."""
        with self._changed:
            job = self._jobs.get(job_id)
            return None if job is None else job.times

    def wait_idle(self, timeout: float) -> bool:
        """True once every started job has ended and sent its notification; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._unfinished == 0, timeout=timeout)

    def shutdown(self) -> None:
        """Lets running jobs end; jobs not begun yet are dropped."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def _check(operation: str, request) -> None:
    try:
        check_request("rekognition", operation, request)
    except ConstraintViolation as violation:
        raise RekognitionError("InvalidParameterException", f"1 validation error detected: {violation}") from None


def _by_name(entry: dict) -> tuple:
    return entry["Label"]["Name"], entry["Timestamp"]


def _by_time(entry: dict) -> tuple:
    return entry["Timestamp"], entry["Label"]["Name"]
