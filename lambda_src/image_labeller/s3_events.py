"""S3 event records, parsed into what the labeller needs. Pure functions, no AWS calls."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_plus


class MalformedRecord(ValueError):
    """A record that is not an S3 object event this pipeline can act on."""


@dataclass(frozen=True, kw_only=True)
class ObjectEvent:
    action: str  # "created" or "removed"
    event_name: str
    event_time: str
    bucket: str
    key: str  # decoded: exactly the object's key
    size: int | None
    etag: str | None
    version_id: str | None
    sequencer: str
    # Set by `imagelabels backfill` (never by S3): label the object again although the table
    # already holds this very sequencer. See applies_over.
    relabel: bool = False

    def applies_over(self, stored_sequencer: str | None) -> bool:
        """True when this event may replace the state that wrote `stored_sequencer`.

        A real event must be later (is_after). A relabel request carries the sequencer its
        sender read from the table (or "0" when there was no item) and applies only while the
        stored state is still exactly that one: it never outranks a real event, earlier or later,
        because any real event that reached the table in between changed the stored sequencer.
        """
        if self.is_after(stored_sequencer):
            return True
        return (
            self.relabel
            and self.action == "created"
            and sequencer_value(self.sequencer) == sequencer_value(stored_sequencer)
        )

    def is_after(self, stored_sequencer: str | None) -> bool:
        """True when this event is later than the one that wrote `stored_sequencer`.

        Sequencers of one key are hex strings of varying length: compare them as numbers. An
        equal sequencer is the same event delivered again, so it is not after.
        """
        if stored_sequencer is None:
            return True
        return sequencer_value(self.sequencer) > sequencer_value(stored_sequencer)


    def removes_other_version_than(self, stored) -> bool:
        """True for the permanent deletion of a version other than the one labelled.

        In a versioned bucket, DeleteObject without a version id adds a delete marker
        (ObjectRemoved:DeleteMarkerCreated): the image is gone for users. DeleteObject with a
        version id (ObjectRemoved:Delete) removes that version only: when it is not the labelled
        version, the labelled image is still what users see, and its labels must stay.
        """
        return (
            self.event_name == "ObjectRemoved:Delete"
            and self.version_id is not None
            and stored is not None
            and stored.version_id is not None
            and stored.version_id != self.version_id
        )


def sequencer_value(sequencer: str) -> int:
    return int(sequencer, 16)


def object_events(event: dict) -> tuple[list[ObjectEvent], list[str]]:
    """All object events of a Lambda invocation from S3, and a description of each record that
    could not be parsed. An event without Records (s3:TestEvent) gives two empty lists."""
    events: list[ObjectEvent] = []
    problems: list[str] = []
    for position, record in enumerate(event.get("Records") or []):
        try:
            parsed = parse_record(record)
        except MalformedRecord as error:
            problems.append(f"record {position}: {error}")
            continue
        if parsed is not None:
            events.append(parsed)
    return events, problems


def parse_record(record: dict) -> ObjectEvent | None:
    """One record; None for S3 events that do not change an object's content (restore, tagging...)."""
    if not isinstance(record, dict):
        raise MalformedRecord("not an object")
    event_name = record.get("eventName") or ""
    if event_name.startswith("ObjectCreated:"):
        action = "created"
    elif event_name.startswith("ObjectRemoved:"):
        action = "removed"
    elif record.get("eventSource") == "aws:s3" and event_name:
        return None
    else:
        raise MalformedRecord(f"not an S3 object event (eventName {event_name!r})")
    try:
        s3 = record["s3"]
        bucket = s3["bucket"]["name"]
        obj = s3["object"]
        raw_key = obj["key"]
        sequencer = obj["sequencer"]
    except (KeyError, TypeError) as error:
        raise MalformedRecord(f"{event_name} without {error}") from None
    if not isinstance(raw_key, str) or not raw_key:
        raise MalformedRecord(f"{event_name} with an empty key")
    try:
        sequencer_value(sequencer)
    except (TypeError, ValueError):
        raise MalformedRecord(f"{event_name} with a sequencer that is not hexadecimal: {sequencer!r}") from None
    size = obj.get("size")
    return ObjectEvent(
        action=action,
        event_name=event_name,
        event_time=record.get("eventTime") or "",
        bucket=bucket,
        # S3 URL-encodes keys in events (a space arrives as "+"): decode before any API call.
        key=unquote_plus(raw_key),
        size=int(size) if isinstance(size, (int, float)) else None,
        etag=obj.get("eTag"),
        version_id=obj.get("versionId") or None,
        sequencer=sequencer,
        relabel=record.get("relabel") is True,
    )
