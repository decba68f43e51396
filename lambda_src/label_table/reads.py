"""Reads of the label table through a low-level DynamoDB client: Query pagination past 1 MB
pages, and batch reads that finish their unprocessed keys instead of dropping them."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from label_table.attribute_values import plain, wire

BATCH_GET_LIMIT = 100


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
