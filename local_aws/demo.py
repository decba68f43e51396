"""`make demo`: the whole pipeline on this machine, with no AWS account.

Starts (or reuses) the local AWS, runs the real `cdk bootstrap` and `cdk deploy`, uploads the photos
in samples/, waits for their labels, prints them, runs one label search and says how to go on.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from local_aws import cdk_cli
from local_aws.__main__ import DEFAULT_STATE_DIR, LOG_FILE, export_lines, not_enforced_text, start_daemon
from local_aws.clients import local_client
from local_aws.stack_deployment import STACK_NAME, StackDeployment

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
BY_LABEL_INDEX = "ByLabel"
FINAL_STATUSES = {"LABELLED", "FAILED"}


def sample_images(folder: Path = SAMPLES) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)


def upload(s3, bucket: str, paths: list[Path]) -> dict[str, str]:
    """Key -> the VersionId of this upload (what the image item must reach)."""
    versions = {}
    for path in paths:
        response = s3.put_object(Bucket=bucket, Key=path.name, Body=path.read_bytes())
        versions[path.name] = response.get("VersionId", "")
    return versions


def wait_for_labels(dynamodb, table: str, versions: dict[str, str], timeout_s: float = 180) -> dict[str, dict]:
    """Each key's image item once it is LABELLED or FAILED for the uploaded version."""
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    done: dict[str, dict] = {}
    deadline = time.monotonic() + timeout_s
    while len(done) < len(versions) and time.monotonic() < deadline:
        for key, version in versions.items():
            if key in done:
                continue
            item = dynamodb.get_item(TableName=table, Key={"ImageId": {"S": key}, "Entry": {"S": "IMAGE"}},
                                     ConsistentRead=True).get("Item")
            if item is None:
                continue
            image = {name: deserialize(value) for name, value in item.items()}
            if image.get("Status") in FINAL_STATUSES and (not version or image.get("VersionId") == version):
                done[key] = image
        if len(done) < len(versions):
            time.sleep(0.3)
    missing = sorted(set(versions) - set(done))
    if missing:
        raise TimeoutError(f"no labels after {timeout_s:.0f} s for: {', '.join(missing)}")
    return done


def label_summary(image: dict, top: int = 4) -> str:
    if image.get("Status") == "FAILED":
        error = image.get("Error") or {}
        return f"FAILED: {error.get('Code')} ({error.get('Message')})"
    labels = sorted(image.get("Labels") or [], key=lambda label: -float(label["Confidence"]))
    return ", ".join(f"{label['Name']} {float(label['Confidence']):.0f}%" for label in labels[:top]) or "(no labels)"


def table_text(rows: list[tuple[str, str]]) -> str:
    width = max(len("image"), *(len(name) for name, _ in rows))
    lines = [f"{'image'.ljust(width)}  top labels (confidence)", f"{'-' * width}  {'-' * 40}"]
    lines += [f"{name.ljust(width)}  {summary}" for name, summary in rows]
    return "\n".join(lines)


def search_by_label(dynamodb, table: str, label: str) -> list[tuple[str, float]]:
    """Images carrying `label`, most confident first: a Query on the ByLabel index."""
    found = []
    kwargs = dict(TableName=table, IndexName=BY_LABEL_INDEX, KeyConditionExpression="LabelKey = :label",
                  ExpressionAttributeValues={":label": {"S": label.casefold()}}, ScanIndexForward=False)
    while True:
        page = dynamodb.query(**kwargs)
        found += [(item["ImageId"]["S"], float(Decimal(item["Confidence"]["N"]))) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def most_shared_label(images: dict[str, dict]) -> str:
    counts = Counter(label["Name"] for image in images.values() for label in image.get("Labels") or [])
    if not counts:
        return "Person"
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def run(state_dir: Path = DEFAULT_STATE_DIR) -> int:
    started = time.monotonic()
    step("Starting the local AWS (moto + local Lambda runtime + offline Rekognition model)")
    endpoint, fresh = start_daemon(state_dir)
    print(f"{'Started' if fresh else 'Reusing the running'} local AWS on {endpoint.endpoint_url} (logs: {state_dir / LOG_FILE})")
    print(not_enforced_text())

    deployment = StackDeployment(endpoint=endpoint, stack_name=STACK_NAME)
    step(f"cdk bootstrap aws://{endpoint.account_id}/{endpoint.region}")
    print(f"done in {deployment.bootstrap().seconds:.1f} s")
    step(f"cdk deploy {STACK_NAME} --require-approval never")
    print(f"done in {deployment.deploy().seconds:.1f} s")

    bucket, table = deployment.outputs.bucket, deployment.outputs.table
    print(f"bucket {bucket}\ntable  {table}")

    s3, dynamodb = local_client(endpoint, "s3"), local_client(endpoint, "dynamodb")
    images = sample_images()
    step(f"Uploading {len(images)} photos from samples/ to s3://{bucket}/")
    upload_started = time.monotonic()
    versions = upload(s3, bucket, images)
    labelled = wait_for_labels(dynamodb, table, versions)
    print(f"all labelled {time.monotonic() - upload_started:.1f} s after the first upload\n")
    print(table_text([(name, label_summary(labelled[name])) for name in sorted(labelled)]))
    print(f"\n(labels printed {time.monotonic() - started:.1f} s after the demo started)")

    label = most_shared_label(labelled)
    step(f"Label search: which images show a {label!r}? (Query on the {BY_LABEL_INDEX} index, best first)")
    for image_id, confidence in search_by_label(dynamodb, table, label):
        print(f"  {image_id}  {confidence:.1f}%")

    step("Keep using it")
    print("The local AWS keeps running, with the stack deployed. Find and add images:\n")
    print(f"  .venv/bin/imagelabels --local search {label.lower()}")
    print("  .venv/bin/imagelabels --local upload ~/Pictures --wait")
    print("  .venv/bin/imagelabels --local labels")
    print("\nOr point any AWS SDK or the CDK CLI at it:\n")
    print('  eval "$(.venv/bin/python -m local_aws env)"     # sets:')
    for line in export_lines(endpoint):
        print(f"      {line}")
    print(f"  node_modules/.bin/cdk deploy {STACK_NAME}     # redeploy your changes (bucket {bucket}, table {table})")
    print("\nStop it with:  make local-aws-stop      (it forgets every stack, bucket and table)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws.demo", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    try:
        return run(args.state_dir)
    except cdk_cli.CdkFailed as error:
        print(f"\n{error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
