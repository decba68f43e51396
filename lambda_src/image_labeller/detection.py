"""Amazon Rekognition DetectLabels: the request, the response as stored labels, and which
errors belong to the image (record them) rather than to the moment (retry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from label_table.layout import label_key

# Rekognition reads at most 15 MB from S3; a larger object is failed without calling it.
MAX_IMAGE_BYTES = 15 * 1024 * 1024

# Errors that mean "this object cannot be labelled as it is": retrying cannot help, so they are
# recorded on the image item. Everything else (throttling, 5xx, access denied, network) raises.
IMAGE_ERRORS = frozenset(
    {
        "InvalidImageFormatException",  # not JPEG/PNG, or corrupt
        "ImageTooLargeException",  # over 15 MB, or over 10,000 px a side
        "InvalidParameterException",  # what an image under 80 px a side gets
        "InvalidS3ObjectException",  # the object (version) no longer exists
    }
)


@dataclass(frozen=True, kw_only=True)
class DetectedLabel:
    name: str
    confidence: Decimal
    parents: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    instances: list[dict] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Labels are searched case-insensitively: "horse" finds "Horse"."""
        return label_key(self.name)

    def as_item(self) -> dict:
        return {
            "Name": self.name,
            "Confidence": self.confidence,
            "Parents": self.parents,
            "Categories": self.categories,
            "Aliases": self.aliases,
            "Instances": self.instances,
        }


@dataclass(frozen=True, kw_only=True)
class Detection:
    labels: list[DetectedLabel]
    model_version: str | None


def detect_labels_request(
    *, bucket: str, key: str, version_id: str | None, max_labels: int, min_confidence: float
) -> dict:
    s3_object = {"Bucket": bucket, "Name": key}
    if version_id:
        # Label exactly the version the event announced, not whatever was uploaded since.
        s3_object["Version"] = version_id
    return {
        "Image": {"S3Object": s3_object},
        "MaxLabels": max_labels,
        "MinConfidence": min_confidence,
    }


def detection_from_response(response: dict) -> Detection:
    labels: dict[str, DetectedLabel] = {}
    for raw in response.get("Labels") or []:
        name = raw.get("Name")
        if not name or raw.get("Confidence") is None:
            continue
        label = DetectedLabel(
            name=name,
            confidence=decimal_value(raw["Confidence"]),
            parents=names_of(raw.get("Parents")),
            categories=names_of(raw.get("Categories")),
            aliases=names_of(raw.get("Aliases")),
            instances=[_instance(instance) for instance in raw.get("Instances") or [] if instance.get("BoundingBox")],
        )
        kept = labels.get(label.key)
        if kept is None or label.confidence > kept.confidence:
            labels[label.key] = label
    # Highest confidence first; ties keep Rekognition's order (it lists a label before its parents).
    ordered = sorted(labels.values(), key=lambda label: -label.confidence)
    return Detection(labels=ordered, model_version=response.get("LabelModelVersion"))


def names_of(entries) -> list[str]:
    return [entry["Name"] for entry in entries or [] if entry.get("Name")]


def _instance(instance: dict) -> dict:
    box = instance["BoundingBox"]
    item = {"BoundingBox": {side: decimal_value(box[side]) for side in ("Width", "Height", "Left", "Top") if side in box}}
    if instance.get("Confidence") is not None:
        item["Confidence"] = decimal_value(instance["Confidence"])
    return item


def decimal_value(value) -> Decimal:
    # DynamoDB through boto3 rejects float; str() keeps the value Rekognition sent, and
    # rounding keeps items small without losing anything a user could notice.
    return Decimal(str(round(float(value), 4)))
