"""The messages of the FilmCompletions queue, parsed. Pure.

- Rekognition's job notification through SNS: the body is the SNS envelope
  {"Type": "Notification", "Message": "<json>"} (raw message delivery is off);
- the same notification raw (raw message delivery on): {"JobId", "Status", ...};
- a continuation the collector sent itself: {"Continuation": {"JobId", "NextToken", "Carry", "Pages"}}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from film_labeller.sqs_batch import MalformedMessage

JOB_STATUSES = frozenset({"SUCCEEDED", "FAILED", "ERROR"})
# The reference page's example says LABEL_DETECTION; real messages say StartLabelDetection.
LABEL_DETECTION_APIS = frozenset({"StartLabelDetection", "LABEL_DETECTION"})


@dataclass(frozen=True, kw_only=True)
class JobNotification:
    job_id: str
    status: str
    api: str | None = None
    job_tag: str | None = None  # absent when the job was started without one
    bucket: str | None = None
    key: str | None = None

    @property
    def is_label_detection(self) -> bool:
        return self.api is None or self.api in LABEL_DETECTION_APIS


@dataclass(frozen=True, kw_only=True)
class Continuation:
    job_id: str
    next_token: str
    carry: dict | None  # the label still being accumulated when the page ended (LabelGroup.as_carry)
    pages: int  # pages read so far


def parse_completion(body) -> JobNotification | Continuation:
    message = _json_object(body, "the body")
    if "Continuation" in message:
        return _continuation(message["Continuation"])
    if message.get("Type") == "Notification":
        return _notification(_json_object(message.get("Message"), "the SNS envelope's Message"))
    if "JobId" in message and "Status" in message:
        return _notification(message)
    raise MalformedMessage(f"neither a job notification nor a continuation (keys {sorted(message)[:6]})")


def continuation_body(continuation: Continuation) -> str:
    return json.dumps({
        "Continuation": {
            "JobId": continuation.job_id,
            "NextToken": continuation.next_token,
            "Carry": continuation.carry,
            "Pages": continuation.pages,
        }
    })


def _notification(message: dict) -> JobNotification:
    job_id, status = message.get("JobId"), message.get("Status")
    if not isinstance(job_id, str) or not job_id:
        raise MalformedMessage("job notification without a JobId")
    if status not in JOB_STATUSES:
        raise MalformedMessage(f"job notification with Status {status!r}")
    video = message.get("Video") if isinstance(message.get("Video"), dict) else {}
    return JobNotification(
        job_id=job_id,
        status=status,
        api=message.get("API"),
        job_tag=message.get("JobTag") or None,
        bucket=video.get("S3Bucket"),
        key=video.get("S3ObjectName"),
    )


def _continuation(fields) -> Continuation:
    if not isinstance(fields, dict):
        raise MalformedMessage("Continuation is not an object")
    job_id, token, carry, pages = fields.get("JobId"), fields.get("NextToken"), fields.get("Carry"), fields.get("Pages")
    if not isinstance(job_id, str) or not job_id or not isinstance(token, str) or not token:
        raise MalformedMessage("Continuation without JobId or NextToken")
    if carry is not None and not isinstance(carry, dict):
        raise MalformedMessage("Continuation's Carry is not an object")
    if not isinstance(pages, int) or pages < 0:
        raise MalformedMessage(f"Continuation with Pages {pages!r}")
    return Continuation(job_id=job_id, next_token=token, carry=carry, pages=pages)


def _json_object(text, what: str) -> dict:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        raise MalformedMessage(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedMessage(f"{what} is not a JSON object")
    return value
