"""Film test helpers: SQS records as the event source mapping delivers them, and the table
invariants every film scenario must leave behind."""

from __future__ import annotations

import hashlib
import importlib
import json
from collections import Counter
from contextlib import contextmanager

import boto3
from boto3.dynamodb.conditions import Key
from botocore.stub import Stubber
from moto import mock_aws

from film_invariants import film_problems
from label_table_in_moto import TABLE_NAME, create_label_table

ACCOUNT = "123456789012"
EVENTS_QUEUE_ARN = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:FilmEvents"
EVENTS_QUEUE_URL = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/FilmEvents"
COMPLETIONS_QUEUE_ARN = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:FilmCompletions"
COMPLETIONS_QUEUE_URL = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/FilmCompletions"
TOPIC_ARN = f"arn:aws:sns:eu-west-1:{ACCOUNT}:FilmJobs"
SERVICE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/FilmJobsPublisher"

_messages = iter(range(1, 10_000_000))


def sqs_record(body, *, receive_count: int = 1, queue_arn: str = EVENTS_QUEUE_ARN) -> dict:
    number = next(_messages)
    return {
        "messageId": f"message-{number}",
        "receiptHandle": f"receipt-{number}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1795000000000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "eu-west-1",
    }


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def film(table, key: str) -> dict | None:
    return table.get_item(Key={"ImageId": key, "Entry": "IMAGE"}, ConsistentRead=True).get("Item")


def entries(table, key: str) -> dict[str, dict]:
    items = table.query(KeyConditionExpression=Key("ImageId").eq(key) & Key("Entry").begins_with("LABEL#"),
                        ConsistentRead=True)["Items"]
    return {item["LabelKey"]: item for item in items}


def counts(table) -> dict[str, int]:
    """ImageCount of every counter item, by label key (zero counts included)."""
    return {item["LabelKey"]: int(item["ImageCount"]) for item in _scan(table) if item["Entry"] == "COUNT"}


def assert_table_invariants(table, *, at_rest: bool = True) -> None:
    """What search relies on, whatever happened before:
    - a counter equals the number of label entries carrying its label (films and images);
    - a LABELLED film's entries are exactly its LabelKeys, all of its VersionId and JobId;
    - a FAILED or DELETED film has no entry; at rest no film is PROCESSING."""
    items = _scan(table)
    entry_keys = Counter(item["LabelKey"] for item in items if item["Entry"].startswith("LABEL#"))
    counters = {item["LabelKey"]: int(item["ImageCount"]) for item in items if item["Entry"] == "COUNT"}
    assert {key: count for key, count in counters.items() if count} == dict(entry_keys)
    problems: list[str] = []
    for item in items:
        if item["Entry"] != "IMAGE" or item.get("Media") != "video":
            continue
        own = [entry for entry in items if entry["ImageId"] == item["ImageId"] and entry["Entry"].startswith("LABEL#")]
        problems += film_problems(item["ImageId"], item, own, at_rest=at_rest)
        if item["Status"] in ("FAILED", "DELETED") and own:
            problems.append(f"{item['ImageId']!r}: {item['Status']} but label entries {[e['LabelKey'] for e in own]}")
        elif item["Status"] not in ("LABELLED", "FAILED", "DELETED", "PROCESSING"):
            problems.append(f"{item['ImageId']!r}: status {item['Status']!r}")
    assert not problems, "\n".join(problems)


def _scan(table) -> list[dict]:
    response = table.scan(ConsistentRead=True)
    items = response["Items"]
    while response.get("LastEvaluatedKey"):
        response = table.scan(ConsistentRead=True, ExclusiveStartKey=response["LastEvaluatedKey"])
        items += response["Items"]
    return items


def seed_labelled(store, *, key: str, bucket: str, version_id: str, job_id: str, sequencer: str,
                  labels: list[str]) -> None:
    """A film labelled by an earlier job, written through the store as the collector writes it."""
    from film_labeller.film_store import job_processing, unchanged_since

    item = {"ImageId": key, "Entry": "IMAGE", "Media": "video", "Bucket": bucket, "Key": key, "Status": "PROCESSING",
            "VersionId": version_id, "Sequencer": sequencer, "JobId": job_id, "UpdatedAt": "2026-11-26T10:00:00.000+00:00"}
    assert store.put_film(item, unchanged_since(None))
    existing = store.entries(key)
    store.write_entries(key, job_id, [entry_item(key, bucket, version_id, job_id, name) for name in labels], existing)
    keys = sorted(name.casefold() for name in labels)
    assert store.put_film({**item, "Status": "LABELLED", "LabelKeys": keys, "LabelCount": len(keys)},
                          job_processing(job_id))


def entry_item(key: str, bucket: str, version_id: str, job_id: str, name: str, segments=((0, 1000),)) -> dict:
    from decimal import Decimal

    return {"ImageId": key, "Entry": f"LABEL#{name.casefold()}", "Label": name, "LabelKey": name.casefold(),
            "Confidence": Decimal("90"), "Bucket": bucket, "Media": "video", "VersionId": version_id, "JobId": job_id,
            "Segments": [list(segment) for segment in segments], "SegmentCount": len(segments),
            "SegmentsMerged": False, "Parents": [], "Categories": [], "UpdatedAt": "2026-11-26T10:00:00.000+00:00"}


@contextmanager
def film_handler(module_name: str, monkeypatch, *, environ: dict, jitter: float):
    """The handler module loaded inside moto (its module-level clients are created there), with
    the label table created as the stack does, Rekognition and SQS stubbed, jitter fixed."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        table = create_label_table(boto3.resource("dynamodb"))
        handler = importlib.reload(importlib.import_module(module_name))
        monkeypatch.setattr(handler.JITTER, "random", lambda: jitter)
        with Stubber(handler.REKOGNITION) as rekognition, Stubber(handler.SQS) as sqs:
            yield handler, rekognition, sqs, table
            rekognition.assert_no_pending_responses()
            sqs.assert_no_pending_responses()
