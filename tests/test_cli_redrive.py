"""`imagelabels redrive`: events captured in the failed-events queue (Lambda on-failure records)
replayed through the real handler; what succeeded, failed again or met newer state, and what stays."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from cli_film_harness import film
from cli_harness import make_pipeline, sample
from imagelabels.invoke import InvokeResult
from imagelabels.redrive import FAILED, SKIPPED, SUCCEEDED, NotAnEvent, classify, event_of
from label_table_in_moto import image, label_counts, label_entries


@pytest.fixture
def pipeline(monkeypatch):
    with mock_aws():
        yield make_pipeline(monkeypatch)


def test_an_on_failure_record_and_a_bare_event_both_give_the_s3_event():
    event = {"Records": [{"eventName": "ObjectCreated:Put"}]}
    assert event_of(json.dumps({"requestContext": {}, "requestPayload": event})) == event
    assert event_of(json.dumps(event)) == event  # a dead-letter queue holds the bare event
    for body, reason in [("not json", "not JSON"), ("[1]", "not a JSON object"), ('{"requestPayload": {"x": 1}}', "no requestPayload")]:
        with pytest.raises(NotAnEvent, match=reason):
            event_of(body)


@pytest.mark.parametrize(
    "result, verdict",
    [
        (InvokeResult(payload={"processed": 1, "outcomes": {"labelled": 1}}), SUCCEEDED),
        (InvokeResult(payload={"processed": 2, "outcomes": {"superseded": 1, "deleted": 1}}), SUCCEEDED),
        (InvokeResult(payload={"processed": 1, "outcomes": {"superseded": 1}}), SKIPPED),
        (InvokeResult(payload={"processed": 1, "outcomes": {"other-version": 1}}), SKIPPED),
        (InvokeResult(payload={"processed": 0}), SKIPPED),
        (InvokeResult(payload={"errorMessage": "boom", "errorType": "EventNotProcessed"}, function_error="Unhandled"), FAILED),
    ],
)
def test_each_answer_of_the_function_has_one_verdict(result, verdict):
    assert classify(result) == verdict


def test_events_captured_while_rekognition_throttled_are_labelled_by_redrive(pipeline):
    pipeline.rekognition.fault = "ThrottlingException"
    for n in range(3):
        pipeline.put(f"burst/cat-{n}.png", sample("cat-chelsea.png"))
    assert [image(pipeline.table, f"burst/cat-{n}.png") for n in range(3)] == [None] * 3
    assert len(pipeline.queued()) == 3

    pipeline.rekognition.fault = None
    run = pipeline.run("redrive")

    assert run.code == 0, run.stderr
    assert sorted(run.stdout.splitlines()[:3]) == [f"succeeded    burst/cat-{n}.png (labelled 1)" for n in range(3)]
    assert run.stdout.splitlines()[-1] == (
        "3 succeeded, 0 failed again (kept in the queue), 0 skipped (newer state exists), 0 unreadable (kept); 3 removed from the queue")
    assert {image(pipeline.table, f"burst/cat-{n}.png")["Status"] for n in range(3)} == {"LABELLED"}
    assert label_counts(pipeline.table)["Cat"] == 3
    assert pipeline.queued() == []
    again = pipeline.run("redrive")
    assert (again.code, again.stdout.strip()) == (0, "the failed-events queue is empty: nothing to replay")


def test_an_event_whose_image_changed_since_is_skipped_and_removed(pipeline):
    pipeline.rekognition.fault = "ThrottlingException"
    pipeline.put("scene.jpg", sample("cat-chelsea.png"))  # captured
    pipeline.rekognition.fault = None
    pipeline.put("scene.jpg", sample("coffee cup.jpg"))  # a newer upload, labelled

    run = pipeline.run("redrive")

    assert run.code == 0
    assert run.stdout.splitlines()[0] == "skipped      scene.jpg (superseded 1)"
    assert set(label_entries(pipeline.table, "scene.jpg")) == {"Cup", "Beverage", "Table"}  # the cat never comes back
    assert label_counts(pipeline.table).get("Cat", 0) == 0
    assert pipeline.queued() == []


def test_an_event_that_fails_again_stays_in_the_queue_visible_for_the_next_run(pipeline):
    pipeline.rekognition.fault = "ThrottlingException"
    pipeline.put("stuck.png", sample("cat-chelsea.png"))
    before = pipeline.queued()

    run = pipeline.run("redrive")

    assert run.code == 1
    line = run.stdout.splitlines()[0]
    assert line.startswith("failed       stuck.png (EventNotProcessed: 1 record(s) failed ('stuck.png')")
    assert "0 removed from the queue" in run.stdout
    after = pipeline.queued()  # visible again right away, not hidden for the visibility timeout
    assert [message["MessageId"] for message in after] == [message["MessageId"] for message in before]
    assert image(pipeline.table, "stuck.png") is None


def test_a_message_that_is_not_an_event_is_kept_and_reported(pipeline):
    pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody="hello")
    run = pipeline.run("redrive")
    assert run.code == 1
    assert run.stdout.splitlines()[0] == "unreadable   - (message body is not JSON)"
    assert len(pipeline.queued()) == 1
    assert pipeline.invocations == []


def test_dry_run_lists_the_events_and_changes_nothing(pipeline):
    pipeline.rekognition.fault = "ThrottlingException"
    pipeline.put("a b+c.png", sample("cat-chelsea.png"))  # the key arrives URL-encoded in the event
    pipeline.rekognition.fault = None
    invoked = len(pipeline.invocations)

    run = pipeline.run("redrive", "--dry-run")

    assert run.code == 0
    assert run.stdout.splitlines() == [
        "would-replay a b+c.png",
        "1 event(s) would be replayed, 0 unreadable; nothing changed",
    ]
    assert len(pipeline.invocations) == invoked
    assert len(pipeline.queued()) == 1
    assert image(pipeline.table, "a b+c.png") is None


def test_a_delete_event_replayed_late_removes_the_labels_it_was_meant_to(pipeline):
    pipeline.put("old.png", sample("cat-chelsea.png"))
    pipeline.rekognition.fault = None
    record = pipeline.removed_record("old.png", version_id="delete-marker")
    pipeline.capture({"Records": [record]})  # the delete's event failed (the table refused writes)

    run = pipeline.run("redrive", "--json")

    assert run.code == 0
    report = run.json()
    assert (report["succeeded"], report["deleted"]) == (1, 1)
    assert report["messages"][0]["keys"] == ["old.png"] and report["messages"][0]["detail"] == "deleted 1"
    assert image(pipeline.table, "old.png")["Status"] == "DELETED"
    assert label_counts(pipeline.table)["Cat"] == 0


def test_max_messages_replays_only_that_many(pipeline):
    pipeline.rekognition.fault = "ThrottlingException"
    for n in range(4):
        pipeline.put(f"m{n}.png", sample("cat-chelsea.png"))
    pipeline.rekognition.fault = None
    run = pipeline.run("redrive", "--max-messages", "3")
    assert run.code == 0
    assert "3 succeeded" in run.stdout
    assert len(pipeline.queued()) == 1


def test_film_dead_letters_go_back_to_their_queues_and_the_films_get_labelled(pipeline):
    films = pipeline.films
    films.rekognition.faults["StartLabelDetection"] = "ThrottlingException"
    pipeline.put("films/a.mp4", film(("Car", 0, 1_000, 90.0)))  # the starter gave up: FilmEventFailures
    del films.rekognition.faults["StartLabelDetection"]
    films.rekognition.faults["GetLabelDetection"] = "ThrottlingException"
    pipeline.put("films/b.mp4", film(("Dog", 0, 1_000, 91.0)))  # the collector gave up: FilmCompletionFailures
    del films.rekognition.faults["GetLabelDetection"]
    assert image(pipeline.table, "films/a.mp4") is None and image(pipeline.table, "films/b.mp4")["Status"] == "PROCESSING"
    films.auto = False

    run = pipeline.run("redrive")

    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == [
        "moved        films/a.mp4 (film events)",
        "moved        films/b.mp4 (film completions)",
        "the failed-events queue is empty: nothing to replay",
        "film events: 1 moved back to their queue, 0 not moved (kept in the dead-letter queue), "
        "0 moved but not removed (a rerun moves them again, harmlessly)",
        "film completions: 1 moved back to their queue, 0 not moved (kept in the dead-letter queue), "
        "0 moved but not removed (a rerun moves them again, harmlessly)",
    ]
    assert films.messages("FilmEventFailuresQueueUrl") == [] and films.messages("FilmCompletionFailuresQueueUrl") == []
    assert [message["Body"] for message in films.messages("FilmEventsQueueUrl")] == [films.dead_lettered[0]["Body"]]
    assert [message["Body"] for message in films.messages("FilmCompletionsQueueUrl")] == [films.dead_lettered[1]["Body"]]

    films.drain()

    assert {image(pipeline.table, key)["Status"] for key in ("films/a.mp4", "films/b.mp4")} == {"LABELLED"}
    assert label_counts(pipeline.table) == {"Car": 1, "Dog": 1}
    assert pipeline.run("redrive").stdout.strip() == "the failed-events queue is empty: nothing to replay"


def test_film_dead_letters_in_a_dry_run_are_counted_and_stay(pipeline):
    pipeline.films.rekognition.faults["StartLabelDetection"] = "ThrottlingException"
    for name in ("x", "y"):
        pipeline.put(f"films/{name}.mp4", film(("Car", 0, 1_000, 90.0)))

    run = pipeline.run("redrive", "--dry-run", "--json")

    assert run.code == 0
    events = run.json()["films"]["events"]
    assert (events["would_move"], events["moved"]) == (2, 0)
    assert sorted(key for message in events["messages"] for key in message["keys"]) == ["films/x.mp4", "films/y.mp4"]
    assert "film events: 2 message(s) would be moved back to their queue" in run.stderr
    assert len(pipeline.films.messages("FilmEventFailuresQueueUrl")) == 2
    assert pipeline.films.messages("FilmEventsQueueUrl") == []


def test_a_stack_without_film_queues_still_redrives_its_images(monkeypatch):
    with mock_aws():
        pipeline = make_pipeline(monkeypatch, films=False)
        pipeline.rekognition.fault = "ThrottlingException"
        pipeline.put("old-stack.png", sample("cat-chelsea.png"))
        pipeline.rekognition.fault = None

        run = pipeline.run("redrive", "--json")

        assert run.code == 0, run.stderr
        assert (run.json()["succeeded"], "films" in run.json()) == (1, False)
        assert image(pipeline.table, "old-stack.png")["Status"] == "LABELLED"
