"""End to end: the installed command (`python -m imagelabels`, a subprocess) against a deployed
stack in the local AWS, or any endpoint.

Runs when the local AWS is up (`.local-aws/endpoint.json` exists: `make demo` /
`python -m local_aws start`, then deploy the stack), or when IMAGELABELS_E2E_ENDPOINT_URL names an
endpoint. IMAGELABELS_E2E_STACK picks the stack (default: the one cdk.json names). Every test uses
keys under a fresh prefix, so runs never see each other's images.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
ENDPOINT_FILE = ROOT / ".local-aws" / "endpoint.json"

if os.environ.get("IMAGELABELS_E2E_ENDPOINT_URL"):
    TARGET = ["--endpoint-url", os.environ["IMAGELABELS_E2E_ENDPOINT_URL"]]
elif ENDPOINT_FILE.is_file():
    TARGET = ["--local"]
else:
    pytest.skip("no local AWS running (make demo) and IMAGELABELS_E2E_ENDPOINT_URL not set", allow_module_level=True)
if os.environ.get("IMAGELABELS_E2E_STACK"):
    TARGET += ["--stack", os.environ["IMAGELABELS_E2E_STACK"]]


def imagelabels(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in {"AWS_PROFILE"}}
    environment["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-m", "imagelabels", *TARGET, *argv], capture_output=True, text=True,
                            cwd=ROOT, env=environment, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def as_json(*argv: str):
    return json.loads(imagelabels(*argv, "--json").stdout)


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory, prefix):
    """A folder with photos in a sub-folder, a text file and an empty file, uploaded with --wait."""
    folder = tmp_path_factory.mktemp("upload") / "shoot"
    (folder / "photos").mkdir(parents=True)
    for name in ("cat-chelsea.png", "coffee cup.jpg", "cameraman.png"):
        shutil.copy(SAMPLES / name, folder / "photos" / name)
    (folder / "notes.txt").write_text("shot list")
    (folder / "empty.jpg").write_bytes(b"")
    result = imagelabels("upload", str(folder), "--prefix", prefix, "--wait", "--timeout", "300", "--json")
    return json.loads(result.stdout)


def _outputs() -> dict[str, str]:
    if TARGET[0] == "--local":
        endpoint = json.loads(ENDPOINT_FILE.read_text())
        url, region = endpoint["endpoint_url"], endpoint.get("region")
    else:
        url, region = TARGET[1], os.environ.get("AWS_REGION")
    from imagelabels.target import stack_name_from_cdk_json

    stack = os.environ.get("IMAGELABELS_E2E_STACK") or stack_name_from_cdk_json(ROOT / "cdk.json", stage=None)
    cloudformation = boto3.client("cloudformation", endpoint_url=url, region_name=region,
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    return {output["OutputKey"]: output["OutputValue"] for output in outputs} | {"_url": url, "_region": region}


def test_upload_labels_the_photos_and_skips_the_rest(uploaded, prefix):
    assert sorted(entry["key"] for entry in uploaded["uploaded"]) == [
        f"{prefix}/shoot/photos/cameraman.png", f"{prefix}/shoot/photos/cat-chelsea.png", f"{prefix}/shoot/photos/coffee cup.jpg"]
    assert {entry["status"] for entry in uploaded["uploaded"]} == {"LABELLED"}
    assert all(entry["labels"] for entry in uploaded["uploaded"])
    assert sorted(Path(entry["path"]).name for entry in uploaded["skipped"]) == ["empty.jpg", "notes.txt"]
    assert uploaded["failed"] == []


def test_search_show_and_labels_agree_with_what_was_uploaded(uploaded, prefix):
    cat = next(entry for entry in uploaded["uploaded"] if entry["key"].endswith("cat-chelsea.png"))
    top_label = cat["labels"][0]["name"]
    found = as_json("search", top_label)
    assert cat["key"] in [hit["key"] for hit in found]
    shown = as_json("show", cat["key"])
    assert shown["status"] == "LABELLED" and shown["labels"][0]["name"] == top_label
    counts = {entry["label"]: entry["images"] for entry in as_json("labels")}
    assert counts[top_label] >= 1


def test_backfill_relabels_an_image_whose_item_was_lost_and_a_rerun_does_nothing(uploaded, prefix):
    outputs = _outputs()
    key = f"{prefix}/shoot/photos/coffee cup.jpg"
    dynamodb = boto3.client("dynamodb", endpoint_url=outputs["_url"], region_name=outputs["_region"],
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    dynamodb.delete_item(TableName=outputs["TableName"], Key={"ImageId": {"S": key}, "Entry": {"S": "IMAGE"}})

    first = as_json("backfill", f"{prefix}/", "--no-progress")
    assert (first["labelled"], first["already_done"]) == (1, 2)
    assert as_json("show", key)["status"] == "LABELLED"
    again = as_json("backfill", f"{prefix}/", "--no-progress")
    assert (again["labelled"], again["already_done"]) == (0, 3)


def test_redrive_replays_a_captured_event(uploaded, prefix):
    outputs = _outputs()
    key = f"{prefix}/shoot/photos/cameraman.png"
    shown = as_json("show", key)
    record = {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": outputs["_region"], "eventTime": "2026-11-26T10:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": outputs["BucketName"]},
               "object": {"key": quote_plus(key, safe="/"), "size": shown["size"], "eTag": shown["etag"], "versionId": shown["version_id"],
                          "sequencer": "00"}},
    }
    sqs = boto3.client("sqs", endpoint_url=outputs["_url"], region_name=outputs["_region"],
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    sqs.send_message(QueueUrl=outputs["FailedEventsQueueUrl"],
                     MessageBody=json.dumps({"requestPayload": {"Records": [record]}, "requestContext": {"condition": "RetriesExhausted"}}))
    report = as_json("redrive")
    mine = [message for message in report["messages"] if message["keys"] == [key]]
    assert [message["verdict"] for message in mine] == ["skipped"]  # the table already holds a newer event
    assert as_json("show", key)["status"] == "LABELLED"
