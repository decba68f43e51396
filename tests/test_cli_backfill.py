"""`imagelabels backfill`: labels exactly the objects the table does not describe, through the real
handler, never outranking a real S3 event; a second run does nothing."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import pytest
from moto import mock_aws

from cli_film_harness import film
from cli_harness import BUCKET, REGION, make_pipeline, sample
from imagelabels.backfill import BucketObject, backfill_event, decide
from image_labeller.s3_events import parse_record
from label_table_in_moto import image, images_with_label, label_counts, label_entries


@pytest.fixture
def pipeline(monkeypatch):
    with mock_aws():
        yield make_pipeline(monkeypatch)


OBJ = BucketObject(key="a/b c+d%2B.png", version_id="v2", etag="e2", size=10)


@pytest.mark.parametrize(
    "item, force, label, sequencer",
    [
        (None, False, True, "0"),
        ({"Status": "LABELLED", "VersionId": "v2", "ETag": "e2", "Sequencer": "0A"}, False, False, "0A"),
        ({"Status": "FAILED", "VersionId": "v2", "ETag": "e2", "Sequencer": "0A"}, False, False, "0A"),
        ({"Status": "LABELLED", "VersionId": "v2", "ETag": "e2", "Sequencer": "0A"}, True, True, "0A"),
        ({"Status": "LABELLED", "VersionId": "v1", "ETag": "e1", "Sequencer": "0A"}, False, True, "0A"),
        ({"Status": "DELETED", "VersionId": "marker", "Sequencer": "0B"}, False, True, "0B"),
    ],
)
def test_what_backfill_does_with_each_state_of_the_table(item, force, label, sequencer):
    decision = decide(OBJ, item, force=force)
    assert (decision.label, decision.sequencer) == (label, sequencer)


def test_an_unversioned_object_is_matched_by_its_etag():
    obj = BucketObject(key="k.jpg", version_id=None, etag="e1", size=1)
    assert decide(obj, {"Status": "LABELLED", "ETag": "e1", "Sequencer": "01"}, force=False).label is False
    assert decide(obj, {"Status": "LABELLED", "ETag": "e0", "Sequencer": "01"}, force=False).label is True


def test_the_backfill_event_parses_like_an_s3_event_with_the_exact_key():
    record = backfill_event(OBJ, bucket="bucket", region=REGION, sequencer="0A")["Records"][0]
    event = parse_record(record)
    assert (event.key, event.version_id, event.etag, event.size, event.sequencer, event.relabel) == (
        "a/b c+d%2B.png", "v2", "e2", 10, "0A", True)
    assert event.action == "created" and unquote_plus(record["s3"]["object"]["key"]) == OBJ.key


def test_backfill_labels_exactly_the_unlabelled_images_and_a_second_run_does_nothing(pipeline):
    for n in range(3):
        pipeline.put(f"archive/old-{n}.jpg", sample("coffee cup.jpg"), notify="off")  # before the stack existed
    pipeline.put("archive/Mixed.JpG", sample("cat-chelsea.png"), notify="off")
    pipeline.put("archive/readme.txt", b"not an image", notify="off")
    pipeline.put("archive/labelled.png", sample("cat-chelsea.png"))  # labelled by its own event
    invoked = len(pipeline.invocations)

    run = pipeline.run("backfill")

    assert run.code == 0, run.stderr
    assert sorted(run.stdout.splitlines()[:-1]) == [
        "labelled     archive/Mixed.JpG (not in the table)",
        *[f"labelled     archive/old-{n}.jpg (not in the table)" for n in range(3)],
    ]
    assert run.stdout.splitlines()[-1] == (
        "5 image(s) listed: 4 labelled, 0 could not be labelled, 0 had newer state, 0 errors (rerun to retry), 1 already done")
    assert len(pipeline.invocations) - invoked == 4
    assert label_counts(pipeline.table) == {"Cup": 3, "Beverage": 3, "Table": 3, "Cat": 2, "Animal": 2, "Pet": 2}
    assert image(pipeline.table, "archive/readme.txt") is None

    invoked = len(pipeline.invocations)
    again = pipeline.run("backfill")
    assert again.code == 0
    assert again.stdout.splitlines() == [
        "5 image(s) listed: 0 labelled, 0 could not be labelled, 0 had newer state, 0 errors (rerun to retry), 5 already done"]
    assert len(pipeline.invocations) == invoked


def test_an_unreadable_object_is_recorded_failed_once_and_then_skipped(pipeline):
    pipeline.put("fake.png", b"text renamed .png", notify="off")
    run = pipeline.run("backfill")
    assert run.code == 0
    assert run.stdout.splitlines()[0] == "failed       fake.png (see imagelabels show KEY)"
    assert image(pipeline.table, "fake.png")["Error"]["Code"] == "InvalidImageFormatException"
    assert "1 already done" in pipeline.run("backfill").stdout


def test_prefix_limits_the_backfill(pipeline):
    pipeline.put("a/one.png", sample("cat-chelsea.png"), notify="off")
    pipeline.put("b/two.png", sample("cat-chelsea.png"), notify="off")
    run = pipeline.run("backfill", "a/")
    assert run.stdout.splitlines()[0] == "labelled     a/one.png (not in the table)"
    assert image(pipeline.table, "b/two.png") is None


def test_force_relabels_without_duplicating_anything(pipeline):
    pipeline.put("x.png", sample("cat-chelsea.png"))
    pipeline.put("y.jpg", sample("coffee cup.jpg"))
    before = {key: image(pipeline.table, key) for key in ("x.png", "y.jpg")}

    run = pipeline.run("backfill", "--force", "--concurrency", "2")

    assert run.code == 0
    assert "2 labelled" in run.stdout
    for key, item in before.items():
        after = image(pipeline.table, key)
        assert after["Sequencer"] == item["Sequencer"]  # a later real event still outranks it
        assert after["EventName"] == "ObjectCreated:Backfill" and after["UpdatedAt"] >= item["UpdatedAt"]
    assert label_counts(pipeline.table) == {"Cat": 1, "Animal": 1, "Pet": 1, "Cup": 1, "Beverage": 1, "Table": 1}
    assert images_with_label(pipeline.table, "cat") == [("x.png", 97.8)]


def test_an_image_whose_labelled_version_was_deleted_is_labelled_again(pipeline):
    older = pipeline.put("restored.png", sample("coffee cup.jpg"))
    current = pipeline.put("restored.png", sample("cat-chelsea.png"))
    pipeline.delete("restored.png", version_id=current["VersionId"])  # the older version is current again
    assert image(pipeline.table, "restored.png")["Status"] == "DELETED"

    run = pipeline.run("backfill")

    assert run.stdout.splitlines()[0] == "labelled     restored.png (its labelled version was deleted)"
    item = image(pipeline.table, "restored.png")
    assert (item["Status"], item["VersionId"]) == ("LABELLED", older["VersionId"])
    assert set(label_entries(pipeline.table, "restored.png")) == {"Cup", "Beverage", "Table"}


def test_a_real_event_still_in_flight_applies_after_the_backfill(pipeline):
    pipeline.put("late.png", sample("coffee cup.jpg"), notify="hold")  # its event waits in Lambda's queue
    assert pipeline.run("backfill").code == 0
    assert image(pipeline.table, "late.png")["Sequencer"] == "0"

    pipeline.release_held()

    item = image(pipeline.table, "late.png")
    assert item["Sequencer"] != "0" and item["EventName"] == "ObjectCreated:Put"
    assert label_counts(pipeline.table) == {"Cup": 1, "Beverage": 1, "Table": 1}


def test_a_real_upload_between_the_listing_and_the_invocation_wins(pipeline):
    pipeline.put("race.png", sample("coffee cup.jpg"), notify="off")
    real_invoke = pipeline.invoke

    def upload_lands_first(event):
        # A newer upload reaches the table after backfill read the item, before its event runs.
        pipeline.invoke = real_invoke
        pipeline.put("race.png", sample("cat-chelsea.png"))
        return real_invoke(event)

    pipeline.invoke = upload_lands_first
    run = pipeline.run("backfill")

    assert run.code == 0
    assert run.stdout.splitlines()[0] == "newer-state  race.png (a real event reached the table first)"
    assert set(label_entries(pipeline.table, "race.png")) == {"Cat", "Animal", "Pet"}
    assert label_counts(pipeline.table) == {"Cat": 1, "Animal": 1, "Pet": 1}


def test_invocations_that_fail_are_errors_and_a_rerun_finishes_the_job(pipeline):
    for n in range(3):
        pipeline.put(f"t{n}.png", sample("cat-chelsea.png"), notify="off")
    pipeline.rekognition.fault = "ThrottlingException"

    run = pipeline.run("backfill")

    assert run.code == 1
    assert "0 labelled" in run.stdout and "3 errors (rerun to retry)" in run.stdout
    assert "error        t0.png (EventNotProcessed: 1 record(s) failed ('t0.png')" in run.stdout
    pipeline.rekognition.fault = None
    rerun = pipeline.run("backfill", "--json")
    assert rerun.code == 0
    assert (rerun.json()["labelled"], rerun.json()["already_done"]) == (3, 0)


def test_dry_run_lists_what_would_be_labelled_and_invokes_nothing(pipeline):
    pipeline.put("new.png", sample("cat-chelsea.png"), notify="off")
    pipeline.put("done.png", sample("cat-chelsea.png"))
    invoked = len(pipeline.invocations)
    run = pipeline.run("backfill", "--dry-run")
    assert run.stdout.splitlines() == [
        "would-label  new.png (not in the table)",
        "2 image(s) under the bucket: 1 would be labelled, 1 already done",
    ]
    assert len(pipeline.invocations) == invoked and image(pipeline.table, "new.png") is None


def test_a_missing_bucket_is_one_clear_line(pipeline):
    pipeline.s3.delete_bucket(Bucket=BUCKET)
    run = pipeline.run("backfill")
    assert run.code == 1
    assert run.stderr.strip() == f"imagelabels: bucket '{BUCKET}' does not exist (the stack's BucketName output): was it deleted?"


def test_films_not_labelled_are_queued_as_relabel_records_for_the_starter_and_then_done(pipeline):
    pipeline.put("films/before.mp4", film(("Car", 0, 2_000, 90.0)), notify="off")  # before the stack existed
    pipeline.put("films/done.MOV", film(("Dog", 0, 1_000, 92.0)))
    pipeline.films.rekognition.notifications = False  # this job's notification is lost: PROCESSING for good
    pipeline.put("films/stuck.mp4", film(("Horse", 500, 1_500, 88.0)))
    pipeline.films.rekognition.notifications = True
    stuck = image(pipeline.table, "films/stuck.mp4")
    assert stuck["Status"] == "PROCESSING"
    invoked = len(pipeline.invocations)

    run = pipeline.run("backfill")

    assert run.code == 0, run.stderr
    assert sorted(run.stdout.splitlines()[:-1]) == [
        "queued       films/before.mp4 (not in the table)",
        "queued       films/stuck.mp4 (still PROCESSING: labelled again)",
    ]
    assert run.stdout.splitlines()[-1] == (
        "0 image(s) listed: 0 labelled, 0 could not be labelled, 0 had newer state, 0 errors (rerun to retry), 0 already done; "
        "3 film(s) listed: 2 queued for labelling (rerun later to see them done), 0 errors (rerun to retry), 1 already done")
    assert len(pipeline.invocations) == invoked  # films go to the starter's queue, not to the image labeller
    records = {parse_record(record).key: parse_record(record) for message in pipeline.films.messages("FilmEventsQueueUrl")
               for record in json.loads(message["Body"])["Records"]}
    assert set(records) == {"films/before.mp4", "films/stuck.mp4"}
    assert records["films/stuck.mp4"].relabel and records["films/stuck.mp4"].sequencer == stuck["Sequencer"]
    assert records["films/stuck.mp4"].version_id == stuck["VersionId"]

    pipeline.films.drain()

    assert {image(pipeline.table, key)["Status"] for key in ("films/before.mp4", "films/stuck.mp4")} == {"LABELLED"}
    assert image(pipeline.table, "films/stuck.mp4")["JobId"] != stuck["JobId"]  # a job of its own
    assert set(label_entries(pipeline.table, "films/stuck.mp4")) == {"Horse"}
    assert label_counts(pipeline.table) == {"Car": 1, "Dog": 1, "Horse": 1}
    again = pipeline.run("backfill", "--json").json()
    assert (again["films_listed"], again["queued"], again["already_done"]) == (3, 0, 3)


def test_a_stack_without_a_film_pipeline_backfills_its_images_and_leaves_films_alone(monkeypatch):
    with mock_aws():
        pipeline = make_pipeline(monkeypatch, films=False)
        pipeline.put("old.png", sample("cat-chelsea.png"), notify="off")
        pipeline.put("clip.mp4", film(("Car", 0, 1_000, 90.0)), notify="off")

        run = pipeline.run("backfill")

        assert run.code == 0, run.stderr
        assert run.stdout.splitlines() == [
            "labelled     old.png (not in the table)",
            "1 image(s) listed: 1 labelled, 0 could not be labelled, 0 had newer state, 0 errors (rerun to retry), 0 already done",
        ]
        assert image(pipeline.table, "clip.mp4") is None
