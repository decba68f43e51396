"""One SQS batch from an event source mapping: each message processed on its own, failures
reported back (ReportBatchItemFailures) and delayed with ChangeMessageVisibility."""

from __future__ import annotations

import logging
import random
from typing import Callable, Mapping

from image_labeller.pipeline import ConfigurationError

# Longest and first delay of a retried message. The starter's queue keeps a message for 200
# receives: 60 s, 120 s, ... then 900 s each, about 48 hours before it lands in the DLQ.
MAX_DELAY_SECONDS = 900
FIRST_DELAY_SECONDS = 60
# Up to 10 % more, never less: delays of messages that failed together spread apart.
JITTER_SHARE = 0.1


class MalformedMessage(ValueError):
    """A message no retry can make readable. Reported failed and made visible again at once,
    so that the queue's maxReceiveCount moves it to the DLQ soon, where `imagelabels redrive`
    shows and replays it; a delay would only keep it out of sight."""


def receive_count(record: dict) -> int:
    try:
        return max(1, int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        return 1


def first_retry_seconds(environ: Mapping[str, str]) -> int:
    """FIRST_RETRY_SECONDS (context videoRetrySeconds): the first delay, 1-900, default 60."""
    try:
        seconds = int(environ.get("FIRST_RETRY_SECONDS", FIRST_DELAY_SECONDS))
    except ValueError as error:
        raise ConfigurationError(f"FIRST_RETRY_SECONDS: {error}") from None
    if not 1 <= seconds <= MAX_DELAY_SECONDS:
        raise ConfigurationError(f"FIRST_RETRY_SECONDS must be 1-{MAX_DELAY_SECONDS}, got {seconds}")
    return seconds


def retry_delay(count: int, jitter: float, *, first_delay_s: int = FIRST_DELAY_SECONDS) -> int:
    """Seconds before a message received `count` times is received again; jitter in [0, 1)."""
    base = min(MAX_DELAY_SECONDS, first_delay_s * 2 ** (min(count, 20) - 1))
    return int(base * (1 + JITTER_SHARE * jitter))


class MessageDelays:
    """ChangeMessageVisibility on the function's own queue, whose URL the stack passes in the
    environment: no sqs:GetQueueUrl to grant, and no call before the first delay."""

    def __init__(self, sqs, *, queue_url: str, logger: logging.Logger) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._logger = logger

    def delay(self, record: dict, seconds: int) -> None:
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=seconds
            )
        except Exception:
            # The message still comes back, after the queue's own visibility timeout.
            self._logger.exception("Message delay not set", extra={"message_id": record.get("messageId"), "seconds": seconds})


def process_batch(
    event: dict,
    process: Callable[[dict], str],
    *,
    delays: MessageDelays,
    logger: logging.Logger,
    jitter: Callable[[], float] = random.random,
    first_delay_s: int = FIRST_DELAY_SECONDS,
) -> dict:
    """Runs `process` (record -> outcome) on every record; returns the batch item failures."""
    failures: list[str] = []
    for record in (event or {}).get("Records") or []:
        fields = {"message_id": record.get("messageId"), "receive_count": receive_count(record)}
        try:
            outcome = process(record)
        except MalformedMessage as error:
            logger.error("Malformed message; it goes to the DLQ after the queue's receive limit",
                         extra={**fields, "problem": str(error), "body": str(record.get("body"))[:1000]})
            failures.append(record.get("messageId"))
            delays.delay(record, 0)
            continue
        except Exception:
            seconds = retry_delay(fields["receive_count"], jitter(), first_delay_s=first_delay_s)
            logger.exception("Message not processed; it will be retried", extra={**fields, "retry_in_seconds": seconds})
            failures.append(record.get("messageId"))
            delays.delay(record, seconds)
            continue
        logger.info("Message processed", extra={**fields, "outcome": outcome})
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}
