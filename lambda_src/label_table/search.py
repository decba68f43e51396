"""What `imagelabels search`, `show` and `labels` answer (and any other reader of the library):
reads of the label table through its keys and indexes only. Nothing here ever scans the table."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from decimal import Decimal

from label_table.attribute_values import wire
from label_table.layout import (
    BY_LABEL_INDEX,
    CATALOG_PARTITION,
    COUNT_ENTRY,
    COUNTER_ID_PREFIX,
    LABEL_CATALOG_INDEX,
    LABEL_ENTRY_PREFIX,
    MEDIA_IMAGE,
    MEDIA_VIDEO,
    counter_key,
    film_entry_visible,
    image_key,
    is_film,
    label_entry_key,
    label_key,
)
from label_table.reads import ReadStats, batch_get, query
from label_table.segments import Segment, intersect


@dataclass(frozen=True, kw_only=True)
class SearchHit:
    key: str
    bucket: str
    confidence: Decimal  # the weakest of the searched labels' confidences: how sure ALL of them are
    labels: dict[str, Decimal]  # each searched label as the object carries it -> its confidence
    media: str = MEDIA_IMAGE
    # A film: where every searched label is on screen at once (sorted [start_ms, end_ms] pairs).
    segments: list[Segment] | None = None

    def as_json(self) -> dict:
        found = {"key": self.key, "bucket": self.bucket, "media": self.media, "confidence": self.confidence,
                 "labels": self.labels}
        if self.segments is not None:
            found["segments"] = [{"start_ms": start, "end_ms": end} for start, end in self.segments]
        return found


def label_counts(dynamodb, table: str, keys: list[str], *, stats: ReadStats | None = None) -> dict[str, int]:
    """How many objects (images and films) carry each label, from the pipeline's counters (absent label: 0)."""
    counters = batch_get(dynamodb, table, [counter_key(key) for key in keys], projection="ImageCount", stats=stats)
    return {key: int(counters.get((counter_key(key)["ImageId"], COUNT_ENTRY), {}).get("ImageCount", 0)) for key in keys}


def search_library(
    dynamodb,
    table: str,
    labels: list[str],
    *,
    min_confidence: float | None = None,
    limit: int | None = None,
    page_size: int | None = None,
    after: tuple[Decimal, str] | None = None,
    stats: ReadStats | None = None,
) -> list[SearchHit]:
    """Images and films carrying every label, most confident first; a film only where all the
    labels are on screen at the same time, and only as its current labelling shows it.
    With `after` (the last hit's (confidence, key) of a previous page), only the hits that come
    after it in the (-confidence, key) order: the next page.

    One Query on ByLabel for the rarest label (by the pipeline's counters), newest pages only as
    far as needed; each candidate's other labels, and each candidate film's item (the visibility
    rule), are read by key (BatchGetItem), never scanned.
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
    if after is not None and not others:
        # One label: a hit's confidence IS its index sort key, so the cursor narrows the Query too.
        # (With more labels a hit scores its weakest label: a candidate above the cursor may still
        # score below it, so the cursor only filters.)
        condition = condition.replace("Confidence >= :min", "Confidence BETWEEN :min AND :after") if threshold is not None \
            else condition + " AND Confidence <= :after"
        values[":after"] = after[0]
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
                projection="#label, Confidence, Media, #segments, JobId, VersionId",
                names={"#label": "Label", "#segments": "Segments"},  # both DynamoDB reserved words
                stats=stats,
            )
        films = _film_items(dynamodb, table, [entry["ImageId"] for entry in batch if is_film(entry)], stats=stats)
        for entry in batch:
            found = {rarest: entry}
            for other in others:
                other_entry = entries.get((entry["ImageId"], LABEL_ENTRY_PREFIX + other))
                if other_entry is None or (threshold is not None and other_entry["Confidence"] < threshold):
                    break
                found[other] = other_entry
            else:
                named = {found[key]["Label"]: found[key]["Confidence"] for key in typed_order}
                hit = {"key": entry["ImageId"], "bucket": entry.get("Bucket", ""), "confidence": min(named.values()),
                       "labels": named}
                if after is not None and not _comes_after(hit["confidence"], hit["key"], after):
                    continue  # on an earlier page
                if not is_film(entry):
                    hits.append(SearchHit(**hit))
                    continue
                film = films.get(entry["ImageId"])
                if not all(film_entry_visible(film, label_entry) for label_entry in found.values()):
                    continue  # another version's entries, or a film being labelled again
                together = intersect([label_entry.get("Segments") or [] for label_entry in found.values()])
                if together:
                    hits.append(SearchHit(**hit, media=MEDIA_VIDEO, segments=together))

    for entry in candidates:
        batch.append(entry)
        if len(batch) < 100 and not (limit and not others and len(hits) + len(batch) >= limit):
            continue
        settle(batch)
        ceiling = batch[-1]["Confidence"]
        batch = []
        if limit and len(hits) >= limit:
            # Candidates come most confident first, and an object's score never exceeds its
            # confidence for the rarest label: nothing still unread can beat the best `limit`.
            # Strictly above: an unread candidate at the same confidence could still tie and come
            # first by key, and a page cut there would make the next page skip it.
            best = sorted(hit.confidence for hit in hits)[-limit]
            if best > ceiling:
                break
    else:
        if batch:
            settle(batch)
    hits.sort(key=lambda hit: (-hit.confidence, hit.key))
    return hits[:limit] if limit else hits


def _comes_after(confidence: Decimal, key: str, after: tuple[Decimal, str]) -> bool:
    """Whether a hit ranks after the cursor in the answer's (-confidence, key) order."""
    return (-confidence, key) > (-after[0], after[1])


def _film_items(dynamodb, table: str, keys: list[str], *, stats: ReadStats | None) -> dict[str, dict]:
    """The film items of candidate films, by key: what the visibility rule checks entries against."""
    if not keys:
        return {}
    items = batch_get(dynamodb, table, [image_key(key) for key in keys], projection="#status, VersionId, JobId",
                      names={"#status": "Status"}, stats=stats)
    return {image_id: item for (image_id, _), item in items.items()}


@dataclass(frozen=True, kw_only=True)
class LabelCount:
    label: str
    objects: int  # images and films carrying the label


def library_labels(dynamodb, table: str, *, stats: ReadStats | None = None) -> list[LabelCount]:
    """Every label on at least one image or film, most common first: the LabelCatalog index lists the
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
        LabelCount(label=counter.get("Label") or counter["ImageId"].removeprefix(COUNTER_ID_PREFIX), objects=int(counter.get("ImageCount", 0)))
        for counter in counters.values()
    ]
    return sorted((count for count in counts if count.objects > 0), key=lambda count: (-count.objects, count.label.casefold()))


def unknown_labels_with_suggestions(dynamodb, table: str, labels: list[str]) -> dict[str, list[str]]:
    """For a search that found nothing: each asked-for label no image or film carries, with the library's
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
