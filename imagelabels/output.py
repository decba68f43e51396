"""Output formats: aligned text tables for people, JSON for scripts."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Sequence

from label_table.segments import format_segment


def json_value(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal: whole numbers become int, others float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(json_value(item) for item in value)
    return value


def to_json(value: Any) -> str:
    return json.dumps(json_value(value), indent=2, ensure_ascii=False)


def confidence_text(value: Any) -> str:
    return f"{float(value):.1f}"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns as wide as their widest cell; the last column is not padded."""
    cells = [[str(header) for header in headers]] + [["" if cell is None else str(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = []
    for row in cells:
        padded = [cell.ljust(width) for cell, width in zip(row[:-1], widths[:-1])] + [row[-1]]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def labels_line(labels: list[tuple[str, object]], limit: int = 8) -> str:
    """"Cat 97.8, Animal 97.8, +3 more" from (name, confidence) pairs, best first."""
    text = ", ".join(f"{name} {confidence_text(confidence)}" for name, confidence in labels[:limit])
    if len(labels) > limit:
        text += f", +{len(labels) - limit} more"
    return text or "(no labels above the confidence threshold)"


def error_line(item: dict) -> str:
    error = item.get("Error") or {}
    return f"{error.get('Code', 'unknown error')}: {error.get('Message', '')}".rstrip(": ")


def ranges_text(segments, limit: int = 6) -> str:
    """A film's time ranges as people read them: "00:03-00:07, 1:02:10-1:02:15, +4 more"."""
    segments = list(segments or [])
    text = ", ".join(format_segment(segment) for segment in segments[:limit])
    if len(segments) > limit:
        text += f", +{len(segments) - limit} more"
    return text
