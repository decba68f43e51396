"""Lambda entry point: parse the S3 event, process every record, report what happened.

Clients are created once per execution environment, at import, and reused by every invocation.
"""

from __future__ import annotations

import logging
import os

import boto3
from botocore.config import Config

from image_labeller.label_store import LabelStore
from image_labeller.pipeline import LabellerSettings, process_object_event
from image_labeller.s3_events import object_events

# No level of its own: Lambda applies the function's ApplicationLogLevel to the root logger, and
# its JSON formatter turns each `extra` field into a top-level key of the log line.
logger = logging.getLogger("image_labeller")

# Standard retry mode retries throttling and 5xx with backoff inside the call; what still fails
# raises, and Lambda's own retries (then the failure queue) take over.
_AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)

SETTINGS = LabellerSettings.from_environment(os.environ)
REKOGNITION = boto3.client("rekognition", config=_AWS_CONFIG)
STORE = LabelStore(boto3.client("dynamodb", config=_AWS_CONFIG), SETTINGS.table_name)


class EventNotProcessed(RuntimeError):
    """Some records failed or could not be read. Raised after every other record is done, so
    that Lambda retries the event; records already applied are skipped as superseded."""


def handle(event, context=None) -> dict:
    if not isinstance(event, dict) or "Records" not in event:
        # S3 sends s3:TestEvent (no Records) when notifications are configured.
        logger.info("Event without records ignored", extra={"event_kind": _event_kind(event)})
        return {"processed": 0}

    object_changes, malformed = object_events(event)
    for problem in malformed:
        logger.error("Malformed record", extra={"problem": problem})

    outcomes: dict[str, int] = {}
    failed: list[str] = []
    for change in object_changes:
        fields = {"bucket": change.bucket, "key": change.key, "event_name": change.event_name, "sequencer": change.sequencer}
        try:
            outcome = process_object_event(change, rekognition=REKOGNITION, store=STORE, settings=SETTINGS)
        except Exception:
            logger.exception("Record not processed; the event will be retried", extra=fields)
            failed.append(change.key)
            continue
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        logger.info("Record processed", extra={**fields, "outcome": outcome})

    if failed or malformed:
        raise EventNotProcessed(
            f"{len(failed)} record(s) failed ({', '.join(repr(key) for key in failed[:5])}), "
            f"{len(malformed)} malformed; see the log lines above"
        )
    return {"processed": len(object_changes), "outcomes": outcomes}


def _event_kind(event) -> str:
    if isinstance(event, dict):
        return str(event.get("Event") or event.get("detail-type") or sorted(event)[:5])
    return type(event).__name__
