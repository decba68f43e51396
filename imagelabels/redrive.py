"""`imagelabels redrive`: replay the events captured in the failed-events queue through the
labeller, and remove from the queue only what was replayed.

Each message is a Lambda on-failure destination record whose `requestPayload` is the original S3
event (a dead-letter queue would hold the bare event: both are accepted). Replaying an event is
safe: the handler's sequencer guard skips any record whose image has newer state since.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from botocore.exceptions import BotoCoreError, ClientError

from imagelabels.errors import describe
from imagelabels.invoke import InvokeResult, Invoker

SUCCEEDED = "succeeded"  # at least one record applied (labelled, failed as unreadable, deleted)
SKIPPED = "skipped"  # every record met newer state (superseded, other-version): nothing to do
FAILED = "failed"  # the function failed again: the message stays in the queue
UNREADABLE = "unreadable"  # not an event this command can replay: the message stays
WOULD_REPLAY = "would-replay"  # --dry-run
APPLIED_OUTCOMES = frozenset({"labelled", "failed", "deleted"})
SKIPPED_OUTCOMES = frozenset({"superseded", "other-version"})


class NotAnEvent(ValueError):
    pass


def event_of(body: str) -> dict:
    """The S3 event inside a queue message."""
    try:
        message = json.loads(body)
    except ValueError:
        raise NotAnEvent("message body is not JSON") from None
    if not isinstance(message, dict):
        raise NotAnEvent("message body is not a JSON object")
    event = message.get("requestPayload", message if "Records" in message else None)
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        raise NotAnEvent("no requestPayload with Records (not a Lambda on-failure record of an S3 event)")
    return event


def object_keys(event: dict) -> list[str]:
    """For the report: the decoded keys an event is about."""
    from urllib.parse import unquote_plus

    keys = []
    for record in event.get("Records") or []:
        try:
            keys.append(unquote_plus(record["s3"]["object"]["key"]))
        except (KeyError, TypeError):
            keys.append("?")
    return keys


def classify(result: InvokeResult) -> str:
    if not result.ok:
        return FAILED
    outcomes = result.outcomes
    if any(name in APPLIED_OUTCOMES for name in outcomes):
        return SUCCEEDED
    return SKIPPED


@dataclass(kw_only=True)
class MessageReport:
    message_id: str
    keys: list[str]
    verdict: str
    detail: str = ""


@dataclass(kw_only=True)
class RedriveReport:
    messages: list[MessageReport] = field(default_factory=list)
    deleted: int = 0
    delete_errors: list[str] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for message in self.messages if message.verdict == verdict)

    @property
    def ok(self) -> bool:
        return not self.delete_errors and self.count(FAILED) == 0 and self.count(UNREADABLE) == 0

    def as_json(self) -> dict:
        return {
            "succeeded": self.count(SUCCEEDED),
            "skipped": self.count(SKIPPED),
            "failed": self.count(FAILED),
            "unreadable": self.count(UNREADABLE),
            "would_replay": self.count(WOULD_REPLAY),
            "deleted": self.deleted,
            "messages": [vars(message) for message in self.messages],
        }


def receive_all(sqs, queue_url: str, *, visibility_timeout: int, wait_seconds: int, max_messages: int | None):
    """Every message currently visible, each hidden for `visibility_timeout` seconds so that this
    run receives it once. Stops at the first empty long poll."""
    seen: set[str] = set()
    while max_messages is None or len(seen) < max_messages:
        want = 10 if max_messages is None else min(10, max_messages - len(seen))
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=want,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_timeout,
            AttributeNames=["ApproximateReceiveCount"],
            MessageAttributeNames=["All"],
        )
        fresh = [message for message in response.get("Messages", []) if message["MessageId"] not in seen]
        if not fresh:
            return
        for message in fresh:
            seen.add(message["MessageId"])
        yield fresh


def redrive(
    *,
    sqs,
    queue_url: str,
    invoker: Invoker,
    dry_run: bool = False,
    concurrency: int = 4,
    max_messages: int | None = None,
    visibility_timeout: int = 900,
    wait_seconds: int = 1,
    on_message: Callable[[MessageReport], None] = lambda report: None,
) -> RedriveReport:
    report = RedriveReport()
    to_delete: list[dict] = []
    to_release: list[dict] = []  # made visible again at the end, for a later run

    def replay(message: dict) -> tuple[dict, MessageReport]:
        try:
            event = event_of(message.get("Body", ""))
        except NotAnEvent as error:
            return message, MessageReport(message_id=message["MessageId"], keys=[], verdict=UNREADABLE, detail=str(error))
        keys = object_keys(event)
        if dry_run:
            return message, MessageReport(message_id=message["MessageId"], keys=keys, verdict=WOULD_REPLAY)
        try:
            result = invoker(event)
        except (ClientError, BotoCoreError) as error:
            return message, MessageReport(message_id=message["MessageId"], keys=keys, verdict=FAILED, detail=describe(error))
        verdict = classify(result)
        detail = result.error_message if verdict == FAILED else ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items()))
        return message, MessageReport(message_id=message["MessageId"], keys=keys, verdict=verdict, detail=detail)

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="redrive") as pool:
        for batch in receive_all(sqs, queue_url, visibility_timeout=visibility_timeout, wait_seconds=wait_seconds, max_messages=max_messages):
            for message, message_report in pool.map(replay, batch):
                report.messages.append(message_report)
                on_message(message_report)
                if message_report.verdict in (SUCCEEDED, SKIPPED):
                    to_delete.append(message)
                else:
                    to_release.append(message)
            # Delete as we go: a run interrupted later never replays these again.
            _delete(sqs, queue_url, to_delete, report)
            to_delete = []
    release_messages(sqs, queue_url, to_release)
    return report


def _delete(sqs, queue_url: str, messages: list[dict], report: RedriveReport) -> None:
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        response = sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]} for n, message in enumerate(chunk)],
        )
        report.deleted += len(response.get("Successful", []))
        for failure in response.get("Failed", []):
            report.delete_errors.append(f"{chunk[int(failure['Id'])]['MessageId']}: {failure.get('Message') or failure.get('Code')}")


def release_messages(sqs, queue_url: str, messages: list[dict]) -> None:
    """Visible again at once: for a later run, not hidden for the visibility timeout."""
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                for n, message in enumerate(chunk)
            ],
        )
