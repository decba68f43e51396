"""One object as `imagelabels show` (and any other reader) presents it: its item, and for a film
the label entries its current labelling shows, each with the time ranges it is on screen."""

from __future__ import annotations

from label_table.attribute_values import plain, wire
from label_table.layout import LABEL_ENTRY_PREFIX, MEDIA_IMAGE, MEDIA_VIDEO, film_entry_visible, image_key, is_film
from label_table.reads import ReadStats, query

# What a film item tells of the film (from Rekognition's VideoMetadata), as show --json names it.
FILM_FACTS = {"DurationMillis": "duration_ms", "FrameRate": "frame_rate", "Codec": "codec", "Format": "format",
              "FrameWidth": "frame_width", "FrameHeight": "frame_height"}


def object_item(dynamodb, table: str, key: str) -> dict | None:
    """The item of an image or a film, by its key."""
    response = dynamodb.get_item(TableName=table, Key=wire(image_key(key)), ConsistentRead=True)
    return plain(response["Item"]) if response.get("Item") else None


def film_labels(dynamodb, table: str, film: dict, *, stats: ReadStats | None = None) -> list[dict]:
    """The film's label entries that its current labelling shows (the visibility rule), best
    confidence first: one Query of the film's partition. None while the film is being labelled
    again or has failed: the entries still in the table then belong to another version."""
    entries = query(
        dynamodb,
        stats=stats,
        TableName=table,
        KeyConditionExpression="ImageId = :key AND begins_with(#entry, :prefix)",
        ExpressionAttributeNames={"#entry": "Entry"},
        ExpressionAttributeValues=wire({":key": film["ImageId"], ":prefix": LABEL_ENTRY_PREFIX}),
        ConsistentRead=True,
    )
    visible = [entry for entry in entries if film_entry_visible(film, entry)]
    return sorted(visible, key=lambda entry: (-entry["Confidence"], entry["Label"].casefold()))


def segments_json(segments) -> list[dict]:
    return [{"start_ms": int(start), "end_ms": int(end)} for start, end in segments or []]


def object_summary(item: dict, film_entries: list[dict] | None = None) -> dict:
    """The item as `show --json` prints it; a film with `film_entries` (film_labels) as its labels."""
    summary = {
        "key": item.get("Key") or item["ImageId"],
        "bucket": item.get("Bucket"),
        "media": MEDIA_VIDEO if is_film(item) else MEDIA_IMAGE,
        "status": item.get("Status"),
        "version_id": item.get("VersionId"),
        "etag": item.get("ETag"),
        "size": item.get("Size"),
        "event": item.get("EventName"),
        "event_time": item.get("EventTime"),
        "updated_at": item.get("UpdatedAt"),
        "label_model_version": item.get("LabelModelVersion"),
    }
    if is_film(item):
        summary["job_id"] = item.get("JobId")
        summary.update({name: item.get(attribute) for attribute, name in FILM_FACTS.items()})
        summary["labels"] = [
            {
                "name": entry.get("Label"),
                "confidence": entry.get("Confidence"),
                "parents": entry.get("Parents") or [],
                "categories": entry.get("Categories") or [],
                "segments": segments_json(entry.get("Segments")),
                "segments_merged": bool(entry.get("SegmentsMerged")),
            }
            for entry in film_entries or []
        ]
    else:
        summary["labels"] = [
            {
                "name": label.get("Name"),
                "confidence": label.get("Confidence"),
                "parents": label.get("Parents") or [],
                "categories": label.get("Categories") or [],
                "aliases": label.get("Aliases") or [],
                "instances": label.get("Instances") or [],
            }
            for label in item.get("Labels") or []
        ]
    if item.get("Error"):
        summary["error"] = {"code": item["Error"].get("Code"), "message": item["Error"].get("Message")}
    if item.get("ExpiresAt"):
        summary["expires_at"] = item["ExpiresAt"]
    return summary
