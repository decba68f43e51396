"""An SQS record of the FilmEvents queue -> the S3 object events in it. Pure."""

from __future__ import annotations

import json

from film_labeller.sqs_batch import MalformedMessage
from image_labeller.s3_events import ObjectEvent, object_events


def film_events(record: dict) -> list[ObjectEvent]:
    """The object events in the S3 notification a queue message carries (S3 sends one record
    per message, but the format allows several). [] for s3:TestEvent, which S3 sends when the
    notification is configured. MalformedMessage for anything else."""
    try:
        notification = json.loads(record.get("body") or "")
    except (TypeError, ValueError):
        raise MalformedMessage("the body is not JSON") from None
    if not isinstance(notification, dict):
        raise MalformedMessage("the body is not a JSON object")
    if "Records" not in notification:
        if notification.get("Event") == "s3:TestEvent":
            return []
        raise MalformedMessage(f"not an S3 event notification (keys {sorted(notification)[:5]})")
    if not isinstance(notification["Records"], list):
        raise MalformedMessage("Records is not a list")
    events, problems = object_events(notification)
    if problems:
        raise MalformedMessage("; ".join(problems))
    return events
