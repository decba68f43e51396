"""What GET /api/search, /api/item and /api/labels answer, from label_table's one implementation of
each read, with presigned GETs of the exact versions the labels describe."""

from __future__ import annotations

from label_table.layout import STATUS_DELETED, image_key, is_film, label_key
from label_table.object_summary import film_labels, object_item, object_summary
from label_table.reads import ReadStats, batch_get
from label_table.search import library_labels, search_library, unknown_labels_with_suggestions
from web_api.search_request import SearchRequest, encode_cursor


class NotFound(LookupError):
    """Answered 404 with this message."""


def presigned_get(s3, bucket: str, key: str, version_id: str | None, *, expires_in: int) -> str:
    params = {"Bucket": bucket, "Key": key}
    if version_id and version_id != "null":
        params["VersionId"] = version_id  # the version the labels describe, not whatever came since
    return s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)


def _boxes(item: dict, searched: set[str]) -> list[dict]:
    return [
        {"label": label["Name"], "confidence": instance.get("Confidence"),
         **{side.lower(): instance["BoundingBox"].get(side) for side in ("Left", "Top", "Width", "Height")}}
        for label in item.get("Labels") or [] if label_key(label.get("Name") or "") in searched
        for instance in label.get("Instances") or [] if instance.get("BoundingBox")
    ]


def search_answer(dynamodb, s3, table: str, bucket: str, request: SearchRequest, *, expires_in: int,
                  stats: ReadStats | None = None) -> dict:
    # One more than the page: whether there is a next page without a second search.
    hits = search_library(dynamodb, table, request.labels, min_confidence=request.min_confidence,
                          limit=request.limit + 1, after=request.after, stats=stats)
    page, more = hits[: request.limit], len(hits) > request.limit
    items = batch_get(dynamodb, table, [image_key(hit.key) for hit in page], projection="#labels, VersionId",
                      names={"#labels": "Labels"}, stats=stats)
    searched = {label_key(name) for name in request.labels}
    answer_hits = []
    for hit in page:
        item = items.get((hit.key, "IMAGE"), {})
        found = {"key": hit.key, "media": hit.media, "confidence": hit.confidence, "labels": hit.labels,
                 "url": presigned_get(s3, bucket, hit.key, item.get("VersionId"), expires_in=expires_in)}
        if hit.segments is not None:
            found["segments"] = [{"start_ms": int(start), "end_ms": int(end)} for start, end in hit.segments]
        else:
            found["boxes"] = _boxes(item, searched)
        answer_hits.append(found)
    answer = {"labels": request.labels, "hits": answer_hits,
              "next_cursor": encode_cursor(request.labels, request.min_confidence, page[-1].confidence, page[-1].key)
              if more else None}
    if not page and request.after is None:
        answer["unknown"] = unknown_labels_with_suggestions(dynamodb, table, request.labels)
    return answer


# What /api/item answers for a version the labeller has not recorded yet.
STATUS_WAITING = "WAITING"


def item_answer(dynamodb, s3, table: str, bucket: str, key: str, version_id: str | None = None, *,
                expires_in: int) -> dict:
    """The item; with `version_id` (the version an upload made) WAITING until the table describes
    that version: a new key has no item yet (not a 404 to the page that just uploaded it), an
    existing one still has the earlier version's."""
    item = object_item(dynamodb, table, key)
    if version_id is not None and (item is None or item.get("VersionId") != version_id):
        return {"key": key, "version_id": version_id, "status": STATUS_WAITING, "labels": []}
    if item is None:
        raise NotFound(f"nothing in the library has the key '{key}'")
    summary = object_summary(item, film_labels(dynamodb, table, item) if is_film(item) else None)
    summary["url"] = None if item.get("Status") == STATUS_DELETED else \
        presigned_get(s3, bucket, key, item.get("VersionId"), expires_in=expires_in)
    return summary


def labels_answer(dynamodb, table: str) -> dict:
    return {"labels": [{"label": count.label, "objects": count.objects} for count in library_labels(dynamodb, table)]}
