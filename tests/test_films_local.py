"""Films end to end on the local AWS: the stack deployed by the real CDK CLI, films made with known
shots (tests/film_factory.py) uploaded to its bucket, the deployed starter and collector running
behind their queues, the local Rekognition Video engine sampling every 500 ms with the offline model.

One deployment for the module; the tests run in file order, each building on the state the
previous ones left, as a user's library grows.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

import film_factory
from film_factory import ASTRONAUT, CAMERAMAN, CAT, CUP, Shot, shot_times_ms
from film_labeller.collect import PAGE_BUDGET
from film_stack import deploy_film_stack, retried_messages, upload_films_and_wait
from iam_exercise import assert_role_fits_its_calls
from local_aws import faults
from local_aws.film_sampling import DEFAULT_SAMPLE_INTERVAL_MS
from local_aws.rekognition_model import OfflineLabeller
from local_aws.rekognition_video import MAX_RESULTS
from local_stack import DeployedStack, assert_label_index_consistent

INTERVAL = DEFAULT_SAMPLE_INTERVAL_MS
SHOTS = [Shot.of(CAT, 3), Shot.of(CUP, 3), Shot.of((CAT, CUP), 3)]
OTHER_SHOTS = [Shot.of(CAMERAMAN, 2), Shot.of(ASTRONAUT, 2)]
# Which shots show each label (index into the film's shots): the truth the segments must meet.
TRUTH = {"Cat": (0, 2), "Cup": (1, 2)}
OTHER_TRUTH = {"Person": (0, 1), "Tripod": (0,)}
FILMS = {
    "films/shots.mp4": (SHOTS, ".mp4"),
    "films/shots.mov": (SHOTS, ".mov"),
    "films/HOLIDAY.MP4": (OTHER_SHOTS, ".mp4"),
}
# Short shots that come back: every label of the film is seen in many stretches, so read one
# segment a page the film spans more than two page budgets of the collector.
PAGED_SHOTS = [Shot.of(photo, 1) for photo in (CAT, CUP) * 5] + [Shot.of(CAMERAMAN, 1), Shot.of((CAT, CUP), 1)]
SECONDS_TO_LABELLED: list[tuple[str, float]] = []  # (key, seconds) per upload, for the report


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with deploy_film_stack(tmp_path_factory) as deployed:
        yield deployed


def upload_and_wait(stack: DeployedStack, films: dict[str, bytes]) -> dict[str, str]:
    """Uploads at once, waits until the pipeline is idle; key -> VersionId. Keeps each film's
    seconds from upload to the collector's LABELLED write."""
    uploads = upload_films_and_wait(stack, films, timeout_s=180)
    for key in films:
        item = stack.image(key)
        if item and item.get("Status") == "LABELLED":
            SECONDS_TO_LABELLED.append((key, uploads.seconds_to(item)))
    return uploads.versions


def segments(stack: DeployedStack, key: str) -> dict[str, list[tuple[int, int]]]:
    return {entry["Label"]: [(int(start), int(end)) for start, end in entry["Segments"]]
            for entry in stack.label_entries(key)}


def assert_segments_cover_the_shots(found: dict[str, list[tuple[int, int]]], shots: list[Shot], truth: dict) -> None:
    """Each label's segments start and end within one sampling interval after its shots' (touching
    shots are one stretch), and nothing of it lies outside them by more than that."""
    times = shot_times_ms(shots)
    for label, shown_in in truth.items():
        stretches: list[list[int]] = []
        for index in shown_in:
            start, end = times[index]
            if stretches and stretches[-1][1] == start:
                stretches[-1][1] = end
            else:
                stretches.append([start, end])
        assert len(found.get(label, [])) == len(stretches), (label, found.get(label), stretches)
        for (start, end), (true_start, true_end) in zip(found[label], stretches):
            assert true_start <= start < true_start + INTERVAL, (label, found[label], stretches)
            assert true_end <= end <= true_end + INTERVAL, (label, found[label], stretches)


def test_mp4_mov_and_upper_case_films_get_labels_where_their_shots_show_them(stack):
    bodies = {key: film_factory.film(shots, suffix=suffix) for key, (shots, suffix) in FILMS.items()}
    versions = upload_and_wait(stack, bodies)

    for key, (shots, _) in FILMS.items():
        item = stack.image(key)
        assert item["Status"] == "LABELLED", (key, item.get("Error"))
        assert item["Media"] == "video" and item["Key"] == key and item["Bucket"] == stack.bucket
        assert item["VersionId"] == versions[key] and item["Size"] == len(bodies[key])
        assert item["JobId"] and item["JobTag"].startswith("film-")
        assert item["LabelModelVersion"] == OfflineLabeller.model_version
        assert item["DurationMillis"] == sum(shot.seconds for shot in shots) * 1000
        assert (item["FrameRate"], item["Codec"], item["Format"]) == (Decimal(10), "h264", "QuickTime / MOV")
        assert (item["FrameWidth"], item["FrameHeight"]) == (320, 240)
        assert "Error" not in item and "Labels" not in item
        truth = TRUTH if shots is SHOTS else OTHER_TRUTH
        assert_segments_cover_the_shots(segments(stack, key), shots, truth)
    assert segments(stack, "films/shots.mp4") == segments(stack, "films/shots.mov")  # the same film in MOV
    snapshot = assert_label_index_consistent(stack)
    assert snapshot.counters["cat"] == 2 and snapshot.counters["person"] == 1
    assert stack.film_dead_letter_depths() == {"FilmEventFailures": 0, "FilmCompletionFailures": 0}


def test_a_search_for_two_labels_answers_only_where_both_are_on_screen(stack):
    """`imagelabels search cat cup` against the deployed stack: the films where the cat and the cup
    are on screen at once (the third shot, 6-9 s), never the shots where only one of them is."""
    import json

    code, out, err = stack.cli("search", "cat", "cup", "--json")
    assert (code, err) == (0, "")
    hits = {hit["key"]: hit for hit in json.loads(out)}
    assert set(hits) == {"films/shots.mp4", "films/shots.mov"}  # HOLIDAY.MP4 shows neither
    for hit in hits.values():
        assert hit["media"] == "video"
        (together,) = hit["segments"]
        assert 6000 <= together["start_ms"] < 6000 + INTERVAL and 9000 <= together["end_ms"] <= 9000 + INTERVAL
    code, out, _ = stack.cli("search", "cat", "--json")
    cat_hits = {hit["key"]: hit for hit in json.loads(out)}
    assert len(cat_hits["films/shots.mp4"]["segments"]) == 2  # the first shot and the third


def test_a_film_uploaded_again_with_other_shots_has_only_the_new_versions_labels(stack):
    before = stack.snapshot().counters
    old_keys = set(stack.image("films/shots.mp4")["LabelKeys"])
    versions = upload_and_wait(stack, {"films/shots.mp4": film_factory.film(OTHER_SHOTS)})

    item = stack.image("films/shots.mp4")
    assert item["Status"] == "LABELLED" and item["VersionId"] == versions["films/shots.mp4"]
    assert_segments_cover_the_shots(segments(stack, "films/shots.mp4"), OTHER_SHOTS, OTHER_TRUTH)
    new_keys = set(item["LabelKeys"])
    assert not old_keys & new_keys  # the cat and cup film became one of people: nothing carried over
    assert {entry["VersionId"] for entry in stack.label_entries("films/shots.mp4")} == {item["VersionId"]}
    after = assert_label_index_consistent(stack).counters
    assert {key: after.get(key, 0) - before.get(key, 0) for key in old_keys | new_keys} == {
        **{key: -1 for key in old_keys}, **{key: +1 for key in new_keys}}


def test_a_deleted_film_leaves_a_tombstone_and_no_labels(stack):
    before = stack.snapshot().counters
    labels = set(stack.image("films/HOLIDAY.MP4")["LabelKeys"])
    stack.delete("films/HOLIDAY.MP4")
    stack.wait_idle(120)

    item = stack.image("films/HOLIDAY.MP4")
    assert (item["Status"], item["Media"], item["EventName"]) == ("DELETED", "video", "ObjectRemoved:DeleteMarkerCreated")
    assert item["ExpiresAt"] > time.time()
    assert stack.label_entries("films/HOLIDAY.MP4") == []
    after = assert_label_index_consistent(stack).counters
    assert labels and {key: after.get(key, 0) - before[key] for key in labels} == {key: -1 for key in labels}


def comparable(entries: list[dict]) -> dict[str, dict]:
    """A film's entries without what differs between two uploads of the same film."""
    return {entry["LabelKey"]: {name: value for name, value in entry.items()
                                if name not in ("ImageId", "VersionId", "JobId", "UpdatedAt")} for entry in entries}


def handed_on(stack: DeployedStack) -> list[dict]:
    return [record for record in stack.log_records(stack.collector_name) if record.get("message") == "Job handed on"]


def test_a_film_read_one_segment_a_page_gets_the_labels_it_gets_in_one_page(stack):
    body = film_factory.film(PAGED_SHOTS)
    upload_and_wait(stack, {"paging/one-page.mp4": body})
    whole = stack.label_entries("paging/one-page.mp4")
    pages = sum(int(entry["SegmentCount"]) for entry in whole)  # one SEGMENTS entry a page
    assert pages > 2 * PAGE_BUDGET, pages  # so at least two invocations hand on to the next
    hand_ons_before = len(handed_on(stack))

    engine = stack.aws.video_jobs()
    engine.page_size = 1
    try:
        upload_and_wait(stack, {"paging/page-by-page.mp4": body})
    finally:
        engine.page_size = MAX_RESULTS

    paged_item, whole_item = stack.image("paging/page-by-page.mp4"), stack.image("paging/one-page.mp4")
    assert paged_item["Status"] == "LABELLED"
    assert comparable(stack.label_entries("paging/page-by-page.mp4")) == comparable(whole)
    assert (paged_item["LabelKeys"], paged_item["DurationMillis"]) == (whole_item["LabelKeys"], whole_item["DurationMillis"])
    continuations = handed_on(stack)[hand_ons_before:]
    assert [record.get("job_id") for record in continuations] == [paged_item["JobId"]] * ((pages - 1) // PAGE_BUDGET)
    assert [record.get("pages") for record in continuations] == [
        PAGE_BUDGET * n for n in range(1, len(continuations) + 1)]
    assert_label_index_consistent(stack)
    print(f"\n{len(whole)} labels, {pages} segments: {pages} pages, handed on {len(continuations)} times")


def test_a_film_whose_start_and_collection_are_refused_once_ends_labelled(stack, injector):
    """Rekognition refuses the start (its 20 jobs are running; the starter's client tries twice)
    and the first result read (the role lacked the permission, since fixed): both messages come
    back after the starter's and the collector's own delay, and the film is labelled."""
    injector.fail_next(faults.START_LABEL_DETECTION, 2, code="LimitExceededException",
                       message="An Amazon Rekognition service limit was exceeded.")
    injector.fail_next(faults.GET_LABEL_DETECTION, 1, code="AccessDeniedException",
                       message="User is not authorized to perform: rekognition:GetLabelDetection", status=400)
    retried_before = {name: len(retried_messages(stack, name)) for name in (stack.starter_name, stack.collector_name)}
    upload_and_wait(stack, {"refused/shots.mp4": film_factory.film(SHOTS)})

    assert injector.injected(faults.START_LABEL_DETECTION) == 2
    assert injector.injected(faults.GET_LABEL_DETECTION) == 1
    assert stack.image("refused/shots.mp4")["Status"] == "LABELLED"
    assert_segments_cover_the_shots(segments(stack, "refused/shots.mp4"), SHOTS, TRUTH)
    for name in (stack.starter_name, stack.collector_name):
        assert len(retried_messages(stack, name)) == retried_before[name] + 1, name
    assert stack.film_dead_letter_depths() == {"FilmEventFailures": 0, "FilmCompletionFailures": 0}
    assert_label_index_consistent(stack)


# Granted, never called by the function's code: Lambda calls them with the function's role.
USED_BY_LAMBDA_FOR_AN_SQS_FUNCTION = {
    "sqs:ReceiveMessage": "the event source mapping receives the queue's messages with the role",
    "sqs:DeleteMessage": "the event source mapping deletes each message the function processed",
    "sqs:GetQueueAttributes": "the event source mapping reads the queue's attributes when it is created",
    "logs:CreateLogStream": "Lambda writes the function's log stream with the function's role",
    "logs:PutLogEvents": "Lambda writes the function's log events with the function's role",
}


def test_the_starters_and_collectors_roles_allow_every_call_they_made_and_nothing_unused(stack):
    clients = {"aws": stack.aws, "iam": stack.iam, "lambda_": stack.lambda_, "used_by_lambda": USED_BY_LAMBDA_FOR_AN_SQS_FUNCTION}
    assert_role_fits_its_calls(
        **clients, function_name=stack.starter_name, resource_star_for={"rekognition:StartLabelDetection"},
        must_call={"GetItem", "StartLabelDetection", "PutItem", "Query", "TransactWriteItems", "ChangeMessageVisibility"})
    assert_role_fits_its_calls(
        **clients, function_name=stack.collector_name, resource_star_for={"rekognition:GetLabelDetection"},
        must_call={"GetLabelDetection", "GetItem", "Query", "TransactWriteItems", "PutItem", "SendMessage",
                   "ChangeMessageVisibility"})
    print("\nseconds from upload to LABELLED:", [(key, round(seconds, 1)) for key, seconds in SECONDS_TO_LABELLED])
