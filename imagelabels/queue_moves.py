"""`imagelabels redrive` for films: every message of a film dead-letter queue goes back to the
queue it came from (FilmEventFailures -> FilmEvents, FilmCompletionFailures -> FilmCompletions),
where the starter or the collector takes it again. Their handlers are idempotent (the sequencer
rule, the job's conditional writes), so a message moved twice does no harm; one never moved is
lost labels. Hence the order: send, and delete from the DLQ only what was sent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from imagelabels.redrive import MessageReport, object_keys, receive_all, release_messages

MOVED = "moved"
WOULD_MOVE = "would-move"
NOT_MOVED = "not-moved"  # the send failed: the message stays in the DLQ, visible again
NOT_REMOVED = "not-removed"  # sent, but still in the DLQ too: a later run moves it again, harmlessly


@dataclass(frozen=True, kw_only=True)
class QueuePair:
    name: str  # for the report: "film events", "film completions"
    dead_letters_url: str
    source_url: str


@dataclass(kw_only=True)
class MoveReport:
    pair: QueuePair
    messages: list[MessageReport] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for message in self.messages if message.verdict == verdict)

    @property
    def ok(self) -> bool:
        return self.count(NOT_MOVED) == 0 and self.count(NOT_REMOVED) == 0

    def as_json(self) -> dict:
        return {
            "from": self.pair.dead_letters_url,
            "to": self.pair.source_url,
            "moved": self.count(MOVED),
            "would_move": self.count(WOULD_MOVE),
            "not_moved": self.count(NOT_MOVED),
            "not_removed": self.count(NOT_REMOVED),
            "messages": [vars(message) for message in self.messages],
        }


def film_message_keys(body: str) -> list[str]:
    """For the report: the object keys a film message is about (an S3 notification's records, a
    job notification's video), or none for what it cannot read (moved all the same)."""
    try:
        message = json.loads(body)
        if isinstance(message, dict) and message.get("Type") == "Notification":
            message = json.loads(message.get("Message") or "")
    except (TypeError, ValueError):
        return []
    if not isinstance(message, dict):
        return []
    if isinstance(message.get("Records"), list):
        return object_keys(message)
    video = message.get("Video")
    if isinstance(video, dict) and video.get("S3ObjectName"):
        return [video["S3ObjectName"]]
    return []


def move_back(sqs, pair: QueuePair, *, dry_run: bool = False, max_messages: int | None = None,
              visibility_timeout: int = 900, wait_seconds: int = 1) -> MoveReport:
    report = MoveReport(pair=pair)
    listed: list[dict] = []  # --dry-run: made visible again once all are counted, not before
    for batch in receive_all(sqs, pair.dead_letters_url, visibility_timeout=visibility_timeout,
                             wait_seconds=wait_seconds, max_messages=max_messages):
        if dry_run:
            report.messages.extend(_reported(message, WOULD_MOVE) for message in batch)
            listed.extend(batch)
            continue
        entries = [{"Id": str(n), "MessageBody": message["Body"], **_attributes(message)} for n, message in enumerate(batch)]
        response = sqs.send_message_batch(QueueUrl=pair.source_url, Entries=entries)
        failed = {int(failure["Id"]): failure.get("Message") or failure.get("Code") or "" for failure in response.get("Failed", [])}
        sent = [message for n, message in enumerate(batch) if n not in failed]
        kept = [message for n, message in enumerate(batch) if n in failed]
        report.messages.extend(_reported(batch[n], NOT_MOVED, reason) for n, reason in sorted(failed.items()))
        release_messages(sqs, pair.dead_letters_url, kept)
        if not sent:
            continue
        deleted = sqs.delete_message_batch(
            QueueUrl=pair.dead_letters_url,
            Entries=[{"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]} for n, message in enumerate(sent)],
        )
        not_deleted = {int(failure["Id"]): failure.get("Message") or failure.get("Code") or "" for failure in deleted.get("Failed", [])}
        for n, message in enumerate(sent):
            if n in not_deleted:
                report.messages.append(_reported(message, NOT_REMOVED, not_deleted[n]))
            else:
                report.messages.append(_reported(message, MOVED))
    release_messages(sqs, pair.dead_letters_url, listed)
    return report


def _reported(message: dict, verdict: str, detail: str = "") -> MessageReport:
    return MessageReport(message_id=message["MessageId"], keys=film_message_keys(message.get("Body", "")),
                        verdict=verdict, detail=detail)


def _attributes(message: dict) -> dict:
    """Message attributes travel with the body (S3 and SNS send none today; a sender may)."""
    attributes = message.get("MessageAttributes")
    return {"MessageAttributes": attributes} if attributes else {}
