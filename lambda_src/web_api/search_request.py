"""GET /api/search: the query string checked, and the opaque paging cursor (base64url of JSON of the
labels, the threshold and the last hit's position), refused when another search made it."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs

from label_table.layout import label_key

MAX_LABELS = 10
MAX_LABEL_CHARS = 100
MAX_LIMIT = 100
DEFAULT_LIMIT = 24


class BadRequest(ValueError):
    """Input the caller must fix: answered 400 with this message."""


@dataclass(frozen=True)
class SearchRequest:
    labels: list[str]
    min_confidence: float | None
    limit: int
    after: tuple[Decimal, str] | None


def _identity(labels: list[str], min_confidence: float | None) -> dict:
    """What a cursor belongs to: the search, not its spelling ("Cat" and " cat" are one search)."""
    return {"labels": sorted({label_key(name) for name in labels}), "min": min_confidence}


def encode_cursor(labels: list[str], min_confidence: float | None, confidence: Decimal, key: str) -> str:
    payload = {**_identity(labels, min_confidence), "confidence": str(confidence), "key": key}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, labels: list[str], min_confidence: float | None) -> tuple[Decimal, str]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = (Decimal(payload["confidence"]), payload["key"])
        identity = {"labels": payload["labels"], "min": payload["min"]}
        if not isinstance(position[1], str) or not position[0].is_finite():
            raise ValueError
    except (ValueError, TypeError, KeyError, InvalidOperation, binascii.Error, UnicodeDecodeError):
        raise BadRequest("cursor is not one this API gave") from None
    if identity != _identity(labels, min_confidence):
        raise BadRequest("cursor belongs to another search (other labels or minimum confidence)")
    return position


def search_request(raw_query_string: str) -> SearchRequest:
    # parse_qs, not queryStringParameters: payload 2.0 joins a repeated parameter with commas.
    query = parse_qs(raw_query_string or "", keep_blank_values=True)
    labels = [name.strip() for name in query.get("label", [])]
    if not 1 <= len(labels) <= MAX_LABELS:
        raise BadRequest(f"give 1 to {MAX_LABELS} labels (label=Cat&label=Cup)")
    for name in labels:
        if not 1 <= len(name) <= MAX_LABEL_CHARS or not label_key(name):
            raise BadRequest(f"each label must be 1 to {MAX_LABEL_CHARS} characters")
    limit = _one(query, "limit", str(DEFAULT_LIMIT))
    if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT):
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    min_confidence = None
    raw_min = _one(query, "min_confidence", None)
    if raw_min is not None:
        try:
            min_confidence = float(raw_min)
        except ValueError:
            min_confidence = -1.0
        if not 0 <= min_confidence <= 100:
            raise BadRequest("min_confidence must be a number from 0 to 100")
    cursor = _one(query, "cursor", None)
    after = decode_cursor(cursor, labels, min_confidence) if cursor is not None else None
    return SearchRequest(labels=labels, min_confidence=min_confidence, limit=int(limit), after=after)


def _one(query: dict, name: str, default: str | None) -> str | None:
    values = query.get(name)
    if not values:
        return default
    if len(values) > 1:
        raise BadRequest(f"give {name} once")
    return values[0].strip()
