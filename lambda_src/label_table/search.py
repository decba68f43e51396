"""What `imagelabels search`, `show` and `labels` answer (and any other reader of the library):
reads of the label table through its keys and indexes only. Nothing here ever scans the table."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from decimal import Decimal

from label_table.attribute_values import plain, wire
from label_table.layout import (
    BY_LABEL_INDEX,
    CATALOG_PARTITION,
    COUNT_ENTRY,
    COUNTER_ID_PREFIX,
    LABEL_CATALOG_INDEX,
    LABEL_ENTRY_PREFIX,
    counter_key,
    image_key,
    label_entry_key,
    label_key,
)
from label_table.reads import ReadStats, batch_get, query


@dataclass(frozen=True, kw_only=True)
class SearchHit:
    key: str
    bucket: str
    confidence: Decimal  # the weakest of the searched labels' confidences: how sure ALL of them are
    labels: dict[str, Decimal]  # each searched label as the image carries it -> its confidence

    def as_json(self) -> dict:
        return {"key": self.key, "bucket": self.bucket, "confidence": self.confidence, "labels": self.labels}


def label_counts(dynamodb, table: str, keys: list[str], *, stats: ReadStats | None = None) -> dict[str, int]:
    """How many images carry each label, from the pipeline's counters (absent label: 0)."""
    counters = batch_get(dynamodb, table, [counter_key(key) for key in keys], projection="ImageCount", stats=stats)
    return {key: int(counters.get((counter_key(key)["ImageId"], COUNT_ENTRY), {}).get("ImageCount", 0)) for key in keys}


def search_images(
    dynamodb,
    table: str,
    labels: list[str],
    *,
    min_confidence: float | None = None,
    limit: int | None = None,
    page_size: int | None = None,
    stats: ReadStats | None = None,
) -> list[SearchHit]:
    """Images carrying every label, most confident first.

    One Query on ByLabel for the rarest label (by the pipeline's counters), newest pages only as
    far as needed; each candidate's other labels are read by key (BatchGetItem), never scanned.
    """
    keys = [key for key in dict.fromkeys(label_key(name) for name in labels) if key]
    if not keys:
        return []
    typed_order = list(keys)  # hits list their labels in the order the user gave them
    if len(keys) > 1:
        counts = label_counts(dynamodb, table, keys, stats=stats)
        if min(counts.values()) <= 0:
            return []
        keys.sort(key=lambda key: (counts[key], key))
    rarest, others = keys[0], keys[1:]

    condition = "LabelKey = :label"
    values: dict = {":label": rarest}
    threshold = None if min_confidence is None else Decimal(str(min_confidence))
    if threshold is not None:
        # Confidence is the index's sort key: the threshold narrows the Query itself.
        condition += " AND Confidence >= :min"
        values[":min"] = threshold
    if limit and not others:
        page_size = min(page_size or limit, limit)
    candidates = query(
        dynamodb,
        stats=stats,
        page_size=page_size,
        TableName=table,
        IndexName=BY_LABEL_INDEX,
        KeyConditionExpression=condition,
        ExpressionAttributeValues=wire(values),
        ScanIndexForward=False,
    )

    hits: list[SearchHit] = []
    batch: list[dict] = []

    def settle(batch: list[dict]) -> None:
        entries = {}
        if others:
            entries = batch_get(
                dynamodb,
                table,
                [label_entry_key(entry["ImageId"], other) for entry in batch for other in others],
                projection="#label, Confidence",
                names={"#label": "Label"},
                stats=stats,
            )
        for entry in batch:
            found = {rarest: (entry["Label"], entry["Confidence"])}
            for other in others:
                other_entry = entries.get((entry["ImageId"], LABEL_ENTRY_PREFIX + other))
                if other_entry is None or (threshold is not None and other_entry["Confidence"] < threshold):
                    break
                found[other] = (other_entry["Label"], other_entry["Confidence"])
            else:
                named = dict(found[key] for key in typed_order)
                hits.append(SearchHit(key=entry["ImageId"], bucket=entry.get("Bucket", ""), confidence=min(named.values()), labels=named))

    for entry in candidates:
        batch.append(entry)
        if len(batch) < 100 and not (limit and not others and len(hits) + len(batch) >= limit):
            continue
        settle(batch)
        ceiling = batch[-1]["Confidence"]
        batch = []
        if limit and len(hits) >= limit:
            # Candidates come most confident first, and an image's score never exceeds its
            # confidence for the rarest label: nothing still unread can beat the best `limit`.
            best = sorted(hit.confidence for hit in hits)[-limit]
            if best >= ceiling:
                break
    else:
        if batch:
            settle(batch)
    hits.sort(key=lambda hit: (-hit.confidence, hit.key))
    return hits[:limit] if limit else hits


def image_item(dynamodb, table: str, key: str) -> dict | None:
    response = dynamodb.get_item(TableName=table, Key=wire(image_key(key)), ConsistentRead=True)
    return plain(response["Item"]) if response.get("Item") else None


def image_summary(item: dict) -> dict:
    """The image item as `show --json` prints it."""
    summary = {
        "key": item.get("Key") or item["ImageId"],
        "bucket": item.get("Bucket"),
        "status": item.get("Status"),
        "version_id": item.get("VersionId"),
        "etag": item.get("ETag"),
        "size": item.get("Size"),
        "event": item.get("EventName"),
        "event_time": item.get("EventTime"),
        "updated_at": item.get("UpdatedAt"),
        "label_model_version": item.get("LabelModelVersion"),
        "labels": [
            {
                "name": label.get("Name"),
                "confidence": label.get("Confidence"),
                "parents": label.get("Parents") or [],
                "categories": label.get("Categories") or [],
                "aliases": label.get("Aliases") or [],
                "instances": label.get("Instances") or [],
            }
            for label in item.get("Labels") or []
        ],
    }
    if item.get("Error"):
        summary["error"] = {"code": item["Error"].get("Code"), "message": item["Error"].get("Message")}
    if item.get("ExpiresAt"):
        summary["expires_at"] = item["ExpiresAt"]
    return summary


@dataclass(frozen=True, kw_only=True)
class LabelCount:
    label: str
    images: int


def library_labels(dynamodb, table: str, *, stats: ReadStats | None = None) -> list[LabelCount]:
    """Every label with at least one image, most common first: the LabelCatalog index lists the
    labels (one entry each), their counters give the numbers."""
    catalog = list(
        query(
            dynamodb,
            stats=stats,
            TableName=table,
            IndexName=LABEL_CATALOG_INDEX,
            KeyConditionExpression="Catalog = :catalog",
            ExpressionAttributeValues=wire({":catalog": CATALOG_PARTITION}),
        )
    )
    counters = batch_get(
        dynamodb,
        table,
        [{"ImageId": entry["ImageId"], "Entry": entry["Entry"]} for entry in catalog],
        projection="#label, ImageCount",
        names={"#label": "Label"},
        stats=stats,
    )
    counts = [
        LabelCount(label=counter.get("Label") or counter["ImageId"].removeprefix(COUNTER_ID_PREFIX), images=int(counter.get("ImageCount", 0)))
        for counter in counters.values()
    ]
    return sorted((count for count in counts if count.images > 0), key=lambda count: (-count.images, count.label.casefold()))


def unknown_labels_with_suggestions(dynamodb, table: str, labels: list[str]) -> dict[str, list[str]]:
    """For a search that found nothing: each asked-for label no image carries, with the library's
    labels that look like it ("cats" -> Cat). Only runs after an empty answer."""
    keys = {name: key for name in labels if (key := label_key(name))}
    counts = label_counts(dynamodb, table, list(dict.fromkeys(keys.values())))
    unknown = [name for name, key in keys.items() if counts.get(key, 0) <= 0]
    if not unknown:
        return {}
    known = {count.label.casefold(): count.label for count in library_labels(dynamodb, table)}
    return {
        name: [known[match] for match in difflib.get_close_matches(keys[name], list(known), n=3, cutoff=0.6)]
        for name in unknown
    }
