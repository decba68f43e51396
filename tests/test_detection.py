"""Rekognition responses as stored labels, and the DynamoDB transaction that stores them (pure)."""

from __future__ import annotations

from decimal import Decimal

from image_labeller.detection import detect_labels_request, detection_from_response
from image_labeller.label_store import StoredImage, transaction_items


def test_request_names_the_version_and_the_limits():
    assert detect_labels_request(bucket="b", key="a b.jpg", version_id="v7", max_labels=10, min_confidence=70.0) == {
        "Image": {"S3Object": {"Bucket": "b", "Name": "a b.jpg", "Version": "v7"}},
        "MaxLabels": 10,
        "MinConfidence": 70.0,
    }
    unversioned = detect_labels_request(bucket="b", key="k", version_id=None, max_labels=5, min_confidence=55)
    assert "Version" not in unversioned["Image"]["S3Object"]


def test_labels_keep_confidence_as_decimal_and_boxes_without_boxless_instances():
    detection = detection_from_response({
        "Labels": [
            {"Name": "Horse", "Confidence": 91.123456789, "Parents": [{"Name": "Animal"}], "Categories": [{"Name": "Animals and Pets"}],
             "Aliases": [{"Name": "Pony"}],
             "Instances": [{"BoundingBox": {"Width": 0.5, "Height": 0.25, "Left": 0.1, "Top": 0.2}, "Confidence": 90.0}, {}]},
            {"Name": "Beach", "Confidence": 99.5},
            {"Name": "", "Confidence": 99.0},
            {"Name": "horse", "Confidence": 50.0},
        ],
        "LabelModelVersion": "3.0",
    })
    assert detection.model_version == "3.0"
    assert [label.name for label in detection.labels] == ["Beach", "Horse"]
    horse = detection.labels[1].as_item()
    assert horse == {
        "Name": "Horse", "Confidence": Decimal("91.1235"), "Parents": ["Animal"], "Categories": ["Animals and Pets"],
        "Aliases": ["Pony"],
        "Instances": [{"BoundingBox": {"Width": Decimal("0.5"), "Height": Decimal("0.25"), "Left": Decimal("0.1"),
                                       "Top": Decimal("0.2")}, "Confidence": Decimal("90.0")}],
    }


def _labels(*names):
    return detection_from_response({"Labels": [{"Name": n, "Confidence": 90 - i} for i, n in enumerate(names)]}).labels


def _image(key="k.jpg"):
    return {"ImageId": key, "Entry": "IMAGE", "Bucket": "b", "Sequencer": "02", "UpdatedAt": "2026-11-26T10:00:00+00:00"}


def test_first_labelling_puts_labels_and_counts_each_once():
    parts = transaction_items(table_name="t", image_item=_image(), labels=_labels("Cat", "Animal"), previous=None)
    assert parts[0]["Put"]["ConditionExpression"] == "attribute_not_exists(ImageId)"
    assert parts[0]["Put"]["Item"]["LabelKeys"] == ["animal", "cat"]
    kinds = [(next(iter(p)), (p.get("Put", {}).get("Item") or p.get("Update", {}).get("Key") or {}).get("Entry")) for p in parts[1:]]
    assert kinds == [("Put", "LABEL#cat"), ("Put", "LABEL#animal"), ("Update", "COUNT"), ("Update", "COUNT")]
    assert all(p["Update"]["ExpressionAttributeValues"][":delta"] == 1 for p in parts[3:])


def test_relabelling_deletes_stale_entries_and_moves_counts_only_for_changes():
    previous = StoredImage(sequencer="01", status="LABELLED", label_keys=frozenset({"cat", "animal", "pet"}))
    parts = transaction_items(table_name="t", image_item=_image(), labels=_labels("Cat", "Cup"), previous=previous)
    assert parts[0]["Put"]["ConditionExpression"] == "Sequencer = :read_sequencer"
    assert parts[0]["Put"]["ExpressionAttributeValues"] == {":read_sequencer": "01"}
    deletes = [p["Delete"]["Key"]["Entry"] for p in parts if "Delete" in p]
    assert deletes == ["LABEL#animal", "LABEL#pet"]
    counts = {p["Update"]["Key"]["ImageId"]: p["Update"]["ExpressionAttributeValues"][":delta"] for p in parts if "Update" in p}
    assert counts == {"LABEL#cup": 1, "LABEL#animal": -1, "LABEL#pet": -1}


def test_the_largest_relabel_fits_one_transaction():
    from image_labeller.pipeline import MAX_LABELS_LIMIT

    old = frozenset(f"old{n}" for n in range(MAX_LABELS_LIMIT))
    new = _labels(*(f"New{n}" for n in range(MAX_LABELS_LIMIT)))
    parts = transaction_items(table_name="t", image_item=_image(), labels=new,
                              previous=StoredImage(sequencer="01", status="LABELLED", label_keys=old))
    assert len(parts) <= 100  # DynamoDB's TransactWriteItems limit


def test_stack_and_handler_share_the_label_limit():
    from image_labeller.pipeline import MAX_LABELS_LIMIT
    from stacks.settings import MAX_LABELS_PER_IMAGE

    assert MAX_LABELS_LIMIT == MAX_LABELS_PER_IMAGE
