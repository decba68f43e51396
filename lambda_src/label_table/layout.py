"""The label table's layout (README, "Data model"): the one definition the labellers write by and
the command and any other reader read by. Index names mirror stacks/label_index.py (a test checks
that both agree: the stack cannot import Lambda code).

One table, partition ImageId, sort Entry:
- object item:  ImageId=<key>            Entry="IMAGE"              an image or (Media="video") a film
- label entry:  ImageId=<key>            Entry="LABEL#<label key>"  LabelKey + Confidence feed ByLabel
- counter:      ImageId="LABEL#<key>"    Entry="COUNT"              ImageCount (objects carrying the label);
                                                                    Catalog feeds LabelCatalog
"""

from __future__ import annotations

# The entry of every object's item, images and films alike (named before films existed).
IMAGE_ENTRY = "IMAGE"
LABEL_ENTRY_PREFIX = "LABEL#"
COUNT_ENTRY = "COUNT"
COUNTER_ID_PREFIX = "LABEL#"
CATALOG_PARTITION = "LABELS"
BY_LABEL_INDEX = "ByLabel"
LABEL_CATALOG_INDEX = "LabelCatalog"

STATUS_PROCESSING = "PROCESSING"  # films only: a Rekognition Video job is running
STATUS_LABELLED = "LABELLED"
STATUS_FAILED = "FAILED"
STATUS_DELETED = "DELETED"
DONE_STATUSES = frozenset({STATUS_LABELLED, STATUS_FAILED})

MEDIA_IMAGE = "image"  # also what an item without Media is (written before films existed)
MEDIA_VIDEO = "video"


def label_key(name: str) -> str:
    """How a label is keyed: case- and space-insensitive, "Coffee  cup" -> "coffee cup"."""
    return " ".join(name.split()).casefold()


def image_key(image_id: str) -> dict:
    """The key of an object's item (image or film)."""
    return {"ImageId": image_id, "Entry": IMAGE_ENTRY}


def label_entry_key(image_id: str, key: str) -> dict:
    return {"ImageId": image_id, "Entry": LABEL_ENTRY_PREFIX + key}


def counter_key(key: str) -> dict:
    return {"ImageId": COUNTER_ID_PREFIX + key, "Entry": COUNT_ENTRY}


def is_film(item: dict) -> bool:
    return item.get("Media") == MEDIA_VIDEO


def describes_version(item: dict, *, version_id: str | None, etag: str | None) -> bool:
    """Whether an object's item describes this version of its object: by version id when both have
    one (a versioned bucket), else by ETag."""
    if version_id and item.get("VersionId"):
        return item["VersionId"] == version_id
    return bool(etag) and item.get("ETag") == etag


def film_entry_visible(film: dict | None, entry: dict) -> bool:
    """The visibility rule: a film's label entry is part of an answer only while the film item is
    LABELLED by the same job for the same version. Entries of an older version stay in the table
    while a re-upload is PROCESSING (and until the flip's sweep): this keeps them out of sight,
    so an answer never mixes two versions."""
    return (
        film is not None
        and film.get("Status") == STATUS_LABELLED
        and film.get("JobId") is not None
        and entry.get("JobId") == film.get("JobId")
        and entry.get("VersionId") == film.get("VersionId")
    )
