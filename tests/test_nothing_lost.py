"""Nothing lost (issue 5): on the local AWS, with the stack deployed by the real CDK CLI, the deployed
handler running in Lambda's asynchronous mode and the offline labeller at its real speed, every
uploaded image ends labelled, or recorded as failed with a reason, or waits in the failed-events
queue from which `imagelabels redrive` brings it back.

Faults are answered in front of moto (local_aws.faults), so the handler's boto3 clients meet AWS's
own error responses and retry them as they would on AWS.
"""

from __future__ import annotations

import json
import os
import time
from urllib.parse import quote_plus

import numpy as np

from bad_input_corpus import SAMPLES, cat_png, coffee_jpeg
from local_aws import faults
from local_stack import DeployedStack, assert_label_index_consistent, deployed_stack, varied_images  # noqa: F401

# The handler's clients make 1 + 5 attempts of a call (standard mode, max_attempts=5); Lambda then
# runs the event at most 1 + 2 times (retry attempts 2).
CALL_ATTEMPTS = 6
LAMBDA_ATTEMPTS = 3
# 1,000 uploads as the issue asks; set IMAGELABELS_LOAD_IMAGES to run a smaller load locally.
LOAD_IMAGES = int(os.environ.get("IMAGELABELS_LOAD_IMAGES", "1000"))
LOAD_REPEATS = max(1, LOAD_IMAGES // 40)  # keys uploaded a second time, with other content
# The load's bodies cycle through this many distinct images (a multiple of 4: .png keys get PNGs).
LOAD_DISTINCT_IMAGES = 40


def stats_delta(before: dict, after: dict) -> dict:
    return {name: after[name] - before.get(name, 0) for name in after if name not in ("queued", "in_flight")}


def label_names(image: dict) -> set[str]:
    return {label["Name"] for label in image.get("Labels") or []}


# ---- Rekognition throttles ---------------------------------------------------------------------

def test_throttled_detect_labels_ends_labelled_through_lambda_retries(deployed_stack: DeployedStack, injector):
    """Two uploads meet 12 throttled DetectLabels calls. An invocation that succeeds saw at most 5 of
    them, so two succeeding first invocations would account for 10 at most: at least one used up
    its 6 attempts and Lambda ran its event again. An event would need 18 to exhaust Lambda's
    retries, so none can. Both images end labelled; nothing is failed or captured."""
    stack = deployed_stack
    uploads = {"throttled/cat.png": (cat_png(), "Cat"), "throttled/coffee.jpg": (coffee_jpeg(), "Cup")}
    throttled_calls = CALL_ATTEMPTS * len(uploads)
    assert throttled_calls < CALL_ATTEMPTS * LAMBDA_ATTEMPTS
    injector.fail_next(faults.DETECT_LABELS, throttled_calls, code="ProvisionedThroughputExceededException",
                       message="Provisioned rate exceeded", status=400)
    before = stack.stats()

    versions = stack.put_many({key: body for key, (body, _) in uploads.items()})
    stack.wait_idle(180)

    delta = stats_delta(before, stack.stats())
    assert injector.injected(faults.DETECT_LABELS) == throttled_calls
    assert delta["submitted"] == len(uploads)
    assert delta["retried"] >= 1, delta  # Lambda's own retry was needed, not only boto3's
    assert delta["succeeded"] == len(uploads)
    assert delta["failed_to_destination"] == 0 and delta["dropped"] == 0
    assert stack.queue_depth() == 0
    for key, (_, expected_label) in uploads.items():
        image = stack.image(key)
        assert image["Status"] == "LABELLED", image
        assert image["VersionId"] == versions[key]
        assert expected_label in label_names(image)
        assert "Error" not in image
    assert_label_index_consistent(stack)


# ---- the table refuses writes; the events are captured; redrive ---------------------------------

def test_refused_writes_are_captured_then_redrive_labels_every_image(deployed_stack: DeployedStack, injector):
    stack = deployed_stack
    photos = {path.name: path.read_bytes() for path in sorted(SAMPLES.iterdir())
              if path.suffix.lower() in (".jpg", ".png")}
    uploads = {f"refused/{name}": body for name, body in list(photos.items())[:3]}
    injector.fail_until_cleared(faults.TRANSACT_WRITE_ITEMS, code="InternalServerError",
                                message="Internal server error", status=500)
    before = stack.stats()

    versions = stack.put_many(uploads)
    stack.wait_idle(240)  # every attempt of every event has failed by now

    delta = stats_delta(before, stack.stats())
    assert delta["submitted"] == len(uploads)
    assert delta["retried"] == len(uploads) * (LAMBDA_ATTEMPTS - 1), delta
    assert delta["failed_to_destination"] == len(uploads) and delta["dropped"] == 0, delta
    # Every attempt made all its write attempts against the refusing table.
    assert injector.injected(faults.TRANSACT_WRITE_ITEMS) == len(uploads) * LAMBDA_ATTEMPTS * CALL_ATTEMPTS
    for key in uploads:
        assert stack.image(key) is None, "a refused write must leave nothing half-written"

    records = stack.peek_queue()
    assert stack.queue_depth() == len(uploads) == len(records)
    captured_keys = set()
    for record in records:
        context = record["requestContext"]
        assert context["condition"] == "RetriesExhausted"
        assert context["approximateInvokeCount"] == LAMBDA_ATTEMPTS
        assert context["functionArn"].split(":")[6] == stack.function_name
        assert record["responseContext"]["functionError"] == "Unhandled"
        assert record["responsePayload"]["errorType"] == "EventNotProcessed"
        (s3_record,) = record["requestPayload"]["Records"]
        assert s3_record["eventName"] == "ObjectCreated:Put"
        assert s3_record["s3"]["bucket"]["name"] == stack.bucket
        captured_keys.add(s3_record["s3"]["object"]["key"])
    assert captured_keys == {quote_plus(key) for key in uploads}  # S3's URL-encoded keys, as sent

    injector.clear(faults.TRANSACT_WRITE_ITEMS)  # the table recovers
    code, out, err = stack.cli("redrive", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert (report["succeeded"], report["failed"], report["skipped"], report["unreadable"], report["deleted"]) == (
        len(uploads), 0, 0, 0, len(uploads)), report
    assert stack.queue_depth() == 0

    for key, version in versions.items():
        image = stack.image(key)
        assert image["Status"] == "LABELLED", image
        assert image["VersionId"] == version
        assert label_names(image), image
    assert_label_index_consistent(stack)
    counters = stack.snapshot().counters

    code, out, err = stack.cli("redrive")
    assert code == 0, out + err
    assert "nothing to replay" in out
    assert stack.snapshot().counters == counters


# ---- backfill ----------------------------------------------------------------------------------

def test_backfill_labels_exactly_the_objects_no_event_labelled(deployed_stack: DeployedStack):
    """`.Jpg` and `.Png` keys do not match the notification filter (S3 suffixes are case-sensitive), so
    nothing labels them on upload; backfill does, once."""
    stack = deployed_stack
    missed = {"backfill/holiday/Cat.Png": cat_png(), "backfill/Coffee.Jpg": coffee_jpeg(),
              "backfill/odd/Broken.Jpg": b"not an image at all"}
    seen = {"backfill/cat.png": cat_png(), "backfill/coffee.jpg": coffee_jpeg()}
    before = stack.stats()
    versions = stack.put_many({**missed, **seen})
    stack.wait_idle(120)
    assert stats_delta(before, stack.stats())["submitted"] == len(seen)
    assert all(stack.image(key) is None for key in missed)

    code, out, err = stack.cli("backfill", "backfill/", "--json", "--no-progress")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["listed"] == len(missed) + len(seen)
    assert (report["labelled"], report["failed"], report["already_done"], report["error"]) == (2, 1, len(seen), 0), report
    assert stats_delta(before, stack.stats())["submitted"] == len(seen)  # synchronous invocations, not events

    for key in missed:
        image = stack.image(key)
        assert image["VersionId"] == versions[key]
    assert "Cat" in label_names(stack.image("backfill/holiday/Cat.Png"))
    assert "Cup" in label_names(stack.image("backfill/Coffee.Jpg"))
    broken = stack.image("backfill/odd/Broken.Jpg")
    assert broken["Status"] == "FAILED" and broken["Error"]["Code"] == "InvalidImageFormatException"
    assert_label_index_consistent(stack)
    snapshot = stack.snapshot()

    code, out, err = stack.cli("backfill", "backfill/", "--json", "--no-progress")
    assert code == 0, out + err
    report = json.loads(out)
    assert (report["labelled"], report["failed"], report["already_done"]) == (0, 0, len(missed) + len(seen)), report
    assert stack.snapshot() == snapshot


# ---- load --------------------------------------------------------------------------------------

def test_load_in_bursts_every_image_labelled_once_counts_exact(deployed_stack: DeployedStack):
    """1,000 distinct keys in five bursts of concurrent uploads, and some keys uploaded again with
    other content while the first events are still queued: exactly one image item a key, at its
    latest version, labelled; no duplicated label entry; every counter exact.

    What is under test is concurrency (1,000 events racing through S3, Lambda's queue and DynamoDB
    transactions on shared counters), not the model's speed: the keys' bodies cycle through 40
    distinct images, which the local Rekognition labels once each (its answer cache; Rekognition
    answers identical bytes identically), so the load takes about a minute instead of 3-7 on 2
    cores. Every key is still its own object, event, invocation and set of label entries, and
    counters still move by as many images as carry each label. The 25 re-uploads use 25 further
    images, none of them a key's first content, so each really replaces the labels.
    bench/throughput.py measures the model at its real speed (cache off)."""
    stack = deployed_stack
    bursts = 5
    burst_size = -(-LOAD_IMAGES // bursts)
    distinct = varied_images(LOAD_DISTINCT_IMAGES, seed=5)
    bodies = [distinct[n % LOAD_DISTINCT_IMAGES] for n in range(LOAD_IMAGES)] + varied_images(LOAD_REPEATS, seed=6)
    keys = [f"load/{n // 100:02d}/img-{n:04d}" + (".png" if n % 4 == 0 else ".jpg") for n in range(LOAD_IMAGES)]
    early_keys = keys[: 2 * burst_size]
    repeated = np.random.default_rng(9).choice(len(early_keys), size=LOAD_REPEATS, replace=False)
    # Re-uploads go with bursts 3 to 5, after their first upload (bursts 1 and 2).
    second_uploads = [{} for _ in range(bursts)]
    for n, index in enumerate(repeated):
        second_uploads[2 + n % (bursts - 2)][early_keys[index]] = bodies[LOAD_IMAGES + n]
    before = stack.stats()
    started = time.monotonic()
    latest_version: dict[str, str] = {}
    for burst in range(bursts):
        chunk = {key: bodies[n] for n, key in enumerate(keys) if n // burst_size == burst}
        latest_version.update(stack.put_many({**chunk, **second_uploads[burst]}, threads=16))
        time.sleep(0.5)
    uploads = LOAD_IMAGES + LOAD_REPEATS
    stack.wait_idle(1800)
    seconds = time.monotonic() - started

    delta = stats_delta(before, stack.stats())
    print(f"\nload: {uploads} uploads of {LOAD_IMAGES} keys labelled in {seconds:.0f} s "
          f"({uploads / seconds * 60:.0f} a minute); {delta}")
    snapshot = assert_label_index_consistent(stack)
    load_images = {key: item for key, item in snapshot.images.items() if key.startswith("load/")}
    assert sorted(load_images) == sorted(keys), "one image item a key, no other"
    assert {key: item["VersionId"] for key, item in load_images.items()} == latest_version
    statuses = {item["Status"] for item in load_images.values()}
    assert statuses == {"LABELLED"}, statuses
    assert delta["submitted"] == delta["succeeded"] == uploads, delta
    assert delta["failed_to_destination"] == 0 and delta["dropped"] == 0
    assert stack.queue_depth() == 0
    labelled_somehow = sum(1 for item in load_images.values() if item.get("LabelKeys"))
    assert labelled_somehow > LOAD_IMAGES // 2  # crops of real photos: most carry labels
