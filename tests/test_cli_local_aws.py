"""End to end: the installed command (`python -m imagelabels`, a subprocess) against the real stack
deployed on the local AWS (tests/local_stack.py), or against any endpoint.

By default the module deploys its own stack into an in-process local AWS. IMAGELABELS_E2E_ENDPOINT_URL
points it at another endpoint instead (a stack already deployed there; IMAGELABELS_E2E_STACK picks
it, default: the one cdk.json names). Every test uses keys under a fresh prefix, so runs never see
each other's images.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import pytest

from imagelabels.stack_outputs import read_stack_outputs
from local_aws import cdk_cli
from local_stack import STACK_NAME, deployed_stack  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": cdk_cli.FAKE_ACCESS_KEY_ID,
                    "AWS_SECRET_ACCESS_KEY": cdk_cli.FAKE_SECRET_ACCESS_KEY}


@dataclass(frozen=True)
class Target:
    url: str
    region: str
    stack: str


@pytest.fixture(scope="module")
def target(request) -> Target:
    if os.environ.get("IMAGELABELS_E2E_ENDPOINT_URL"):
        from imagelabels.target import stack_name_from_cdk_json

        return Target(url=os.environ["IMAGELABELS_E2E_ENDPOINT_URL"],
                      region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                      stack=os.environ.get("IMAGELABELS_E2E_STACK") or stack_name_from_cdk_json(ROOT / "cdk.json", stage=None))
    stack = request.getfixturevalue("deployed_stack")
    return Target(url=stack.endpoint.endpoint_url, region=stack.endpoint.region, stack=STACK_NAME)


@pytest.fixture(scope="module")
def imagelabels(target):
    def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        environment.update(FAKE_CREDENTIALS, PYTHONPATH=str(ROOT))
        command = [sys.executable, "-m", "imagelabels", "--endpoint-url", target.url, "--region", target.region,
                   "--stack", target.stack, *argv]
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=environment, timeout=600)
        if check:
            assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        return result

    return run


@pytest.fixture(scope="module")
def as_json(imagelabels):
    return lambda *argv: json.loads(imagelabels(*argv, "--json").stdout)


def client(service: str, target: Target):
    return boto3.client(service, endpoint_url=target.url, region_name=target.region,
                        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


def outputs_of(target: Target) -> dict[str, str]:
    return read_stack_outputs(client("cloudformation", target), target.stack, where=target.url, region=target.region).values


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory, prefix, imagelabels):
    """A folder with photos in a sub-folder, a text file and an empty file, uploaded with --wait."""
    folder = tmp_path_factory.mktemp("upload") / "shoot"
    (folder / "photos").mkdir(parents=True)
    for name in ("cat-chelsea.png", "coffee cup.jpg", "cameraman.png"):
        shutil.copy(SAMPLES / name, folder / "photos" / name)
    (folder / "notes.txt").write_text("shot list")
    (folder / "empty.jpg").write_bytes(b"")
    result = imagelabels("upload", str(folder), "--prefix", prefix, "--wait", "--timeout", "300", "--json")
    return json.loads(result.stdout)


def test_upload_labels_the_photos_and_skips_the_rest(uploaded, prefix):
    assert sorted(entry["key"] for entry in uploaded["uploaded"]) == [
        f"{prefix}/shoot/photos/cameraman.png", f"{prefix}/shoot/photos/cat-chelsea.png", f"{prefix}/shoot/photos/coffee cup.jpg"]
    assert {entry["status"] for entry in uploaded["uploaded"]} == {"LABELLED"}
    assert all(entry["labels"] for entry in uploaded["uploaded"])
    assert sorted(Path(entry["path"]).name for entry in uploaded["skipped"]) == ["empty.jpg", "notes.txt"]
    assert uploaded["failed"] == []


def test_search_show_and_labels_agree_with_what_was_uploaded(uploaded, prefix, as_json):
    cat = next(entry for entry in uploaded["uploaded"] if entry["key"].endswith("cat-chelsea.png"))
    top_label = cat["labels"][0]["name"]
    found = as_json("search", top_label)
    assert cat["key"] in [hit["key"] for hit in found]
    shown = as_json("show", cat["key"])
    assert shown["status"] == "LABELLED" and shown["labels"][0]["name"] == top_label
    counts = {entry["label"]: entry["objects"] for entry in as_json("labels")}
    assert counts[top_label] >= 1


def test_backfill_relabels_an_image_whose_item_was_lost_and_a_rerun_does_nothing(uploaded, prefix, as_json, target):
    outputs = outputs_of(target)
    key = f"{prefix}/shoot/photos/coffee cup.jpg"
    dynamodb = client("dynamodb", target)
    dynamodb.delete_item(TableName=outputs["TableName"], Key={"ImageId": {"S": key}, "Entry": {"S": "IMAGE"}})

    first = as_json("backfill", f"{prefix}/", "--no-progress")
    assert (first["labelled"], first["already_done"]) == (1, 2)
    assert as_json("show", key)["status"] == "LABELLED"
    again = as_json("backfill", f"{prefix}/", "--no-progress")
    assert (again["labelled"], again["already_done"]) == (0, 3)


def test_redrive_replays_a_captured_event(uploaded, prefix, as_json, target):
    outputs = outputs_of(target)
    key = f"{prefix}/shoot/photos/cameraman.png"
    shown = as_json("show", key)
    record = {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": target.region, "eventTime": "2026-11-26T10:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": outputs["BucketName"]},
               "object": {"key": quote_plus(key, safe="/"), "size": shown["size"], "eTag": shown["etag"], "versionId": shown["version_id"],
                          "sequencer": "00"}},
    }
    sqs = client("sqs", target)
    sqs.send_message(QueueUrl=outputs["FailedEventsQueueUrl"],
                     MessageBody=json.dumps({"requestPayload": {"Records": [record]}, "requestContext": {"condition": "RetriesExhausted"}}))
    report = as_json("redrive")
    mine = [message for message in report["messages"] if message["keys"] == [key]]
    assert [message["verdict"] for message in mine] == ["skipped"]  # the table already holds a newer event
    assert as_json("show", key)["status"] == "LABELLED"
