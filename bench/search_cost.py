"""Search cost: items read per result, `imagelabels search` (a Query on the ByLabel index) against
a Scan with a filter, in a table of 50,000 images where one label has 50 matches.

    .venv/bin/python bench/search_cost.py [--images 50000] [--matches 50]

The table lives in moto, in-process, with the layout of stacks/label_index.py; the items follow
the README's data model (image items, label entries, counters), written with BatchWriteItem.
Items read come from the responses' ScannedCount (plus the items BatchGetItem returns for the
several-label search): what DynamoDB bills reads by.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
    os.environ[name] = value

import boto3  # noqa: E402
from boto3.dynamodb.types import TypeSerializer  # noqa: E402
from moto import mock_aws  # noqa: E402

from label_table.reads import ReadStats  # noqa: E402
from label_table.search import search_library  # noqa: E402
from label_table_in_moto import create_label_table  # noqa: E402

TABLE = "bench-labels"
BUCKET = "bench-images"
COMMON_LABELS = [f"Common{n:02}" for n in range(20)]  # each on 1/20 of the images
EVERYWHERE = "Outdoors"  # on every image: the worst label to check candidates against
RARE = "Cat"

serializer = TypeSerializer()


def items_for(n: int, *, rare: bool) -> list[dict]:
    key = f"library/{n // 1000:03}/img-{n:06}.jpg"
    labels = [(COMMON_LABELS[n % len(COMMON_LABELS)], Decimal("80") + Decimal(n % 200) / 10), (EVERYWHERE, Decimal("75.5"))]
    if rare:
        labels.append((RARE, Decimal("70") + Decimal(n % 300) / 10))
    image = {
        "ImageId": key, "Entry": "IMAGE", "Status": "LABELLED", "Bucket": BUCKET, "Key": key, "Size": 200_000 + n,
        "ETag": f"{n:032x}", "VersionId": f"v{n}", "Sequencer": f"{0x0055AED6DCD9000000 + n:018X}",
        "EventName": "ObjectCreated:Put", "UpdatedAt": "2026-11-26T10:00:01.412+00:00", "LabelModelVersion": "3.0",
        "LabelKeys": sorted(name.casefold() for name, _ in labels),
        "Labels": [{"Name": name, "Confidence": confidence, "Parents": [], "Categories": [], "Aliases": [], "Instances": []}
                   for name, confidence in labels],
    }
    entries = [
        {"ImageId": key, "Entry": f"LABEL#{name.casefold()}", "Label": name, "LabelKey": name.casefold(), "Confidence": confidence,
         "Bucket": BUCKET, "Parents": [], "Categories": [], "InstanceCount": 0, "UpdatedAt": image["UpdatedAt"]}
        for name, confidence in labels
    ]
    return [image, *entries]


def fill(client, images: int, matches: int) -> int:
    step = images // matches
    counts: dict[str, int] = {}
    batch: list[dict] = []
    written = 0

    def flush():
        nonlocal batch, written
        request = {TABLE: [{"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in item.items()}}} for item in batch]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        written += len(batch)
        batch = []

    for n in range(images):
        for item in items_for(n, rare=n % step == 0 and n // step < matches):
            batch.append(item)
            if item["Entry"].startswith("LABEL#"):
                counts[item["Label"]] = counts.get(item["Label"], 0) + 1
            if len(batch) == 25:
                flush()
    for label, count in counts.items():
        batch.append({"ImageId": f"LABEL#{label.casefold()}", "Entry": "COUNT", "Label": label, "LabelKey": label.casefold(),
                      "ImageCount": count, "Catalog": "LABELS"})
        if len(batch) == 25:
            flush()
    if batch:
        flush()
    return written


def scan_with_filter(client, label: str) -> tuple[int, int]:
    """What a table without the index would need: every item read, the matches kept."""
    scanned = found = 0
    request = {"TableName": TABLE, "FilterExpression": "LabelKey = :label AND begins_with(#entry, :entry)",
               "ExpressionAttributeNames": {"#entry": "Entry"},
               "ExpressionAttributeValues": {":label": {"S": label.casefold()}, ":entry": {"S": "LABEL#"}}}
    while True:
        response = client.scan(**request)
        scanned += response["ScannedCount"]
        found += response["Count"]
        if "LastEvaluatedKey" not in response:
            return scanned, found
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--matches", type=int, default=50)
    args = parser.parse_args()

    with mock_aws():
        create_label_table(boto3.resource("dynamodb"), TABLE)
        client = boto3.client("dynamodb")
        started = time.perf_counter()
        written = fill(client, args.images, args.matches)
        print(f"table: {args.images:,} images, {written:,} items (written in {time.perf_counter() - started:.0f} s); "
              f"label {RARE!r} on {args.matches} images")

        scanned, found = scan_with_filter(client, RARE)
        assert found == args.matches
        for labels in ([RARE], [RARE, EVERYWHERE]):
            stats = ReadStats()
            hits = search_library(client, TABLE, labels, stats=stats)
            assert len(hits) == args.matches, (labels, len(hits))
            command_reads = stats.items_scanned + stats.items_batch_read
            query_per_result = command_reads / len(hits)
            scan_per_result = scanned / found
            print(f"search {' '.join(labels)!r}: {len(hits)} results; command read {command_reads:,} items "
                  f"({stats.queries} Query, {stats.query_pages} page(s), {stats.items_batch_read} by key) = "
                  f"{query_per_result:.2f} per result; Scan+filter read {scanned:,} = {scan_per_result:,.0f} per result; "
                  f"ratio {scan_per_result / query_per_result:,.0f}x fewer items read")


if __name__ == "__main__":
    main()
