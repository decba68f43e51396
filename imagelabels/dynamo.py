"""The label table as the pipeline writes it (README, "Data model"), read through a low-level
DynamoDB client: keys, pagination past 1 MB pages, batch reads that finish their unprocessed keys."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

IMAGE_ENTRY = "IMAGE"
LABEL_ENTRY_PREFIX = "LABEL#"
COUNT_ENTRY = "COUNT"
COUNTER_ID_PREFIX = "LABEL#"
CATALOG_PARTITION = "LABELS"
BY_LABEL_INDEX = "ByLabel"
LABEL_CATALOG_INDEX = "LabelCatalog"

STATUS_LABELLED = "LABELLED"
STATUS_FAILED = "FAILED"
STATUS_DELETED = "DELETED"
DONE_STATUSES = frozenset({STATUS_LABELLED, STATUS_FAILED})

BATCH_GET_LIMIT = 100

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def label_key(name: str) -> str:
    """How the pipeline keys a label (image_labeller.detection.label_key): "Coffee  cup" -> "coffee cup"."""
    return " ".join(name.split()).casefold()


def image_key(image_id: str) -> dict:
    return {"ImageId": image_id, "Entry": IMAGE_ENTRY}


def label_entry_key(image_id: str, key: str) -> dict:
    return {"ImageId": image_id, "Entry": LABEL_ENTRY_PREFIX + key}


def counter_key(key: str) -> dict:
    return {"ImageId": COUNTER_ID_PREFIX + key, "Entry": COUNT_ENTRY}


def describes_version(item: dict, *, version_id: str | None, etag: str | None) -> bool:
    """Whether an image item describes this version of its object: by version id when both have one
    (a versioned bucket), else by ETag."""
    if version_id and item.get("VersionId"):
        return item["VersionId"] == version_id
    return bool(etag) and item.get("ETag") == etag


def wire(value: dict) -> dict:
    return {name: _serializer.serialize(attribute) for name, attribute in value.items()}


def plain(item: dict) -> dict:
    return {name: _deserializer.deserialize(attribute) for name, attribute in item.items()}


@dataclass
class ReadStats:
    """What a command read, for the search-cost benchmark and for tests that prove no Scan ran."""

    queries: int = 0
    query_pages: int = 0
    items_scanned: int = 0  # ScannedCount summed over query pages
    items_batch_read: int = 0
    operations: list[str] = field(default_factory=list)


def query(client, *, stats: ReadStats | None = None, page_size: int | None = None, **request) -> Iterator[dict]:
    """Every item of a Query, page after page (a page ends at 1 MB or at `page_size` items)."""
    if page_size:
        request["Limit"] = page_size
    if stats:
        stats.queries += 1
        stats.operations.append("Query")
    while True:
        response = client.query(**request)
        if stats:
            stats.query_pages += 1
            stats.items_scanned += response.get("ScannedCount", 0)
        for item in response.get("Items", []):
            yield plain(item)
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        request["ExclusiveStartKey"] = last


def batch_get(
    client,
    table: str,
    keys: Iterable[dict],
    *,
    projection: str | None = None,
    names: dict[str, str] | None = None,
    consistent: bool = False,
    stats: ReadStats | None = None,
    sleep=time.sleep,
) -> dict[tuple[str, str], dict]:
    """Items by (ImageId, Entry); absent keys are absent from the result. Retries the keys
    DynamoDB leaves unprocessed (throttling, 16 MB) with backoff instead of dropping them."""
    unique = list({(key["ImageId"], key["Entry"]): key for key in keys}.values())
    found: dict[tuple[str, str], dict] = {}
    for start in range(0, len(unique), BATCH_GET_LIMIT):
        request: dict = {"Keys": [wire(key) for key in unique[start : start + BATCH_GET_LIMIT]], "ConsistentRead": consistent}
        if projection:
            # The key attributes always come back: results are matched to keys by them.
            request["ProjectionExpression"] = f"#key_id, #key_entry, {projection}"
            request["ExpressionAttributeNames"] = {**(names or {}), "#key_id": "ImageId", "#key_entry": "Entry"}
        pending = {table: request}
        attempt = 0
        while pending:
            if stats:
                stats.operations.append("BatchGetItem")
            response = client.batch_get_item(RequestItems=pending)
            for raw in response.get("Responses", {}).get(table, []):
                item = plain(raw)
                found[(item["ImageId"], item["Entry"])] = item
                if stats:
                    stats.items_batch_read += 1
            pending = response.get("UnprocessedKeys") or {}
            if pending:
                attempt += 1
                sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))
    return found
