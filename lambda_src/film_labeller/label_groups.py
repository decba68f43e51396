"""GetLabelDetection's SEGMENTS pages (sorted by NAME) -> one group per label, with its merged
and bounded segments: what becomes the label's entry. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from image_labeller.detection import decimal_value, names_of
from label_table.layout import MEDIA_VIDEO, label_entry_key, label_key
from label_table.segments import Segment, bound


@dataclass(kw_only=True)
class LabelGroup:
    name: str
    confidence: Decimal  # the best segment's: the ByLabel sort key
    segments: list[Segment]  # merged, at most MAX_SEGMENTS
    segment_count: int  # how many segments Rekognition gave, before merging
    merged: bool = False  # whether bounding joined segments with a gap between them
    parents: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return label_key(self.name)

    def absorb(self, other: "LabelGroup") -> None:
        self.confidence = max(self.confidence, other.confidence)
        self.segments, merged = bound(self.segments + other.segments)
        self.merged = self.merged or other.merged or merged
        self.segment_count += other.segment_count
        self.parents += [name for name in other.parents if name not in self.parents]
        self.categories += [name for name in other.categories if name not in self.categories]

    def entry_item(self, *, key: str, film: dict, job_id: str, updated_at: str) -> dict:
        item = {
            **label_entry_key(key, self.key),
            "Label": self.name,
            "LabelKey": self.key,
            "Confidence": self.confidence,
            "Bucket": film["Bucket"],
            "Media": MEDIA_VIDEO,
            "JobId": job_id,
            "Segments": self.segments,
            "SegmentCount": self.segment_count,
            "SegmentsMerged": self.merged,
            "Parents": self.parents,
            "Categories": self.categories,
            "UpdatedAt": updated_at,
        }
        if film.get("VersionId"):
            item["VersionId"] = film["VersionId"]
        return item

    def as_carry(self) -> dict:
        """JSON for a continuation message: at most MAX_SEGMENTS pairs, a few KB."""
        return {
            "Name": self.name,
            "Confidence": str(self.confidence),
            "Segments": self.segments,
            "SegmentCount": self.segment_count,
            "SegmentsMerged": self.merged,
            "Parents": self.parents,
            "Categories": self.categories,
        }

    @classmethod
    def from_carry(cls, carry: dict) -> "LabelGroup":
        return cls(
            name=carry["Name"],
            confidence=Decimal(carry["Confidence"]),
            segments=[[int(start), int(end)] for start, end in carry["Segments"]],
            segment_count=int(carry["SegmentCount"]),
            merged=bool(carry.get("SegmentsMerged")),
            parents=list(carry.get("Parents") or []),
            categories=list(carry.get("Categories") or []),
        )


def groups_of(labels: list[dict]) -> list[LabelGroup]:
    """One group per label key, in the order the page names them."""
    groups: dict[str, LabelGroup] = {}
    for detection in labels or []:
        label = detection.get("Label") or {}
        if not label.get("Name") or label.get("Confidence") is None:
            continue
        group = LabelGroup(
            name=label["Name"],
            confidence=decimal_value(label["Confidence"]),
            segments=[_segment(detection)],
            segment_count=1,
            parents=names_of(label.get("Parents")),
            categories=names_of(label.get("Categories")),
        )
        if group.key in groups:
            groups[group.key].absorb(group)
        else:
            groups[group.key] = group
    return list(groups.values())


def split_page(labels: list[dict], carry: LabelGroup | None, *, last_page: bool) -> tuple[list[LabelGroup], LabelGroup | None]:
    """The labels a page completes, and the one to carry to the next page.

    Sorted by NAME, every label of a page is complete except perhaps the last, which may go on
    in the next page; the carry from the previous page is joined to its continuation here.
    """
    groups = groups_of(labels)
    if carry is not None:
        same = next((group for group in groups if group.key == carry.key), None)
        if same is None:
            groups.insert(0, carry)
        else:
            carry.absorb(same)
            groups[groups.index(same)] = carry
    if last_page or not groups:
        return groups, None
    return groups[:-1], groups[-1]


def _segment(detection: dict) -> Segment:
    start = int(detection.get("StartTimestampMillis", detection.get("Timestamp", 0)))
    if detection.get("EndTimestampMillis") is not None:
        end = int(detection["EndTimestampMillis"])
    else:
        end = start + int(detection.get("DurationMillis") or 0)
    return [start, max(start, end)]
