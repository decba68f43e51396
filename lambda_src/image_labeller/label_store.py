"""The label table: the items the labeller writes, and the one transaction that writes them.

The layout (image item, label entries, counters) is label_table.layout's.

Every change to one image (labels, failure, deletion) is ONE TransactWriteItems: the image item,
its label items and the label counters change together or not at all, and the image item's put
is conditional on the sequencer read just before, so concurrent or repeated events cannot
interleave. The caller decides, from that read, whether its event is newer.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from botocore.exceptions import ClientError

from image_labeller.detection import DetectedLabel
from label_table.attribute_values import plain, wire
from label_table.layout import CATALOG_PARTITION, counter_key, image_key, label_entry_key

# A deleted image keeps a tombstone (status DELETED, no labels) so that an older event arriving
# late cannot resurrect it. Lambda drops async events after 6 hours: 30 days is ample.
TOMBSTONE_SECONDS = 30 * 24 * 3600


class WriteContention(RuntimeError):
    """The image item kept changing under us; raised so that Lambda retries the event."""


@dataclass(frozen=True, kw_only=True)
class StoredImage:
    sequencer: str
    status: str
    label_keys: frozenset[str]
    version_id: str | None = None


def label_item(image_id: str, bucket: str, label: DetectedLabel, updated_at: str) -> dict:
    return {
        **label_entry_key(image_id, label.key),
        "Label": label.name,
        "LabelKey": label.key,
        "Confidence": label.confidence,
        "Bucket": bucket,
        "Parents": label.parents,
        "Categories": label.categories,
        "InstanceCount": len(label.instances),
        "UpdatedAt": updated_at,
    }


def stored_image(item: dict | None) -> StoredImage | None:
    if not item:
        return None
    return StoredImage(
        sequencer=item["Sequencer"],
        status=item.get("Status", ""),
        label_keys=frozenset(item.get("LabelKeys") or ()),
        version_id=item.get("VersionId"),
    )


def transaction_items(
    *,
    table_name: str,
    image_item: dict,
    labels: list[DetectedLabel],
    previous: StoredImage | None,
) -> list[dict]:
    """The TransactWriteItems parts (plain Python values) that move one image from `previous`
    to `image_item` with `labels`. Pure: the unit tests check it without AWS."""
    image_id = image_item["ImageId"]
    new_keys = {label.key for label in labels}
    old_keys = set(previous.label_keys) if previous else set()
    image_item = {**image_item, "LabelKeys": sorted(new_keys)}

    if previous is None:
        guard = {"ConditionExpression": "attribute_not_exists(ImageId)"}
    else:
        guard = {
            "ConditionExpression": "Sequencer = :read_sequencer",
            "ExpressionAttributeValues": {":read_sequencer": previous.sequencer},
        }
    parts: list[dict] = [{"Put": {"TableName": table_name, "Item": image_item, **guard}}]

    updated_at = image_item["UpdatedAt"]
    for label in labels:
        parts.append({"Put": {"TableName": table_name, "Item": label_item(image_id, image_item["Bucket"], label, updated_at)}})
    for stale in sorted(old_keys - new_keys):
        parts.append({"Delete": {"TableName": table_name, "Key": label_entry_key(image_id, stale)}})

    names = {label.key: label.name for label in labels}
    for added in sorted(new_keys - old_keys):
        parts.append(counter_change(table_name, added, names[added], +1))
    for removed in sorted(old_keys - new_keys):
        parts.append(counter_change(table_name, removed, removed, -1))
    return parts


def counter_change(table_name: str, key: str, name: str, delta: int) -> dict:
    """The transaction part that moves one label's object count by `delta` (films use it too:
    a counter counts every object carrying the label, whatever its kind)."""
    return {
        "Update": {
            "TableName": table_name,
            "Key": counter_key(key),
            # Names through placeholders: several (Catalog among them) are DynamoDB reserved words.
            "UpdateExpression": "ADD #count :delta SET #label = if_not_exists(#label, :name), "
            "#key = :key, #catalog = :catalog",
            "ExpressionAttributeNames": {
                "#count": "ImageCount",
                "#label": "Label",
                "#key": "LabelKey",
                "#catalog": "Catalog",
            },
            "ExpressionAttributeValues": {
                ":delta": delta,
                ":name": name,
                ":key": key,
                ":catalog": CATALOG_PARTITION,
            },
        }
    }


class LabelStore:
    """Reads and writes one table through a low-level DynamoDB client."""

    def __init__(self, client, table_name: str, *, conflict_attempts: int = 6) -> None:
        self._client = client
        self.table_name = table_name
        self._conflict_attempts = conflict_attempts

    def current(self, image_id: str) -> StoredImage | None:
        response = self._client.get_item(
            TableName=self.table_name,
            Key=wire(image_key(image_id)),
            ConsistentRead=True,
            ProjectionExpression="Sequencer, #status, LabelKeys, VersionId",
            ExpressionAttributeNames={"#status": "Status"},
        )
        item = response.get("Item")
        return stored_image(plain(item) if item else None)

    def replace(self, *, image_item: dict, labels: list[DetectedLabel], previous: StoredImage | None) -> bool:
        """Write the transaction. False when the image item changed since `previous` was read
        (the caller re-reads and decides again); WriteContention when other transactions on the
        same counters keep conflicting."""
        parts = transaction_items(table_name=self.table_name, image_item=image_item, labels=labels, previous=previous)
        reasons = write_transaction(self._client, parts, attempts=self._conflict_attempts, subject=image_item["ImageId"])
        # Only the image item's put carries a condition: a failed condition means it changed.
        return reasons is None


def write_transaction(client, parts: list[dict], *, attempts: int, subject: str) -> list[str] | None:
    """Writes one TransactWriteItems (parts as plain Python values). None when written; the
    cancellation reason codes (one per part, "None" for the parts that were fine) when a
    condition failed, for the caller to re-read and decide again. A TransactionConflict (another
    transaction on the same label counter) is retried with backoff; WriteContention when it
    keeps conflicting."""
    for attempt in range(attempts):
        try:
            client.transact_write_items(TransactItems=[wire_part(part) for part in parts])
            return None
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") or "None" for reason in error.response.get("CancellationReasons") or []]
            if "ConditionalCheckFailed" in reasons:
                return reasons
            if "TransactionConflict" not in reasons and reasons:
                raise
            # Another object's transaction touched the same label counter: back off, retry.
            time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))
    raise WriteContention(f"{subject!r}: transaction kept conflicting on label counters")


def wire_part(part: dict) -> dict:
    (operation, body), = part.items()
    body = dict(body)
    for field in ("Item", "Key", "ExpressionAttributeValues"):
        if field in body:
            body[field] = wire(body[field])
    return {operation: body}
