"""`search` and `show` on films the real starter and collector labelled (tests/cli_film_harness.py):
a film is found where its labels are on screen together, ranked with the images, and never
through the entries of a version that is not its labelled one."""

from __future__ import annotations

import pytest
from moto import mock_aws

from cli_film_harness import film
from cli_harness import BUCKET, make_pipeline, sample

STREET = film(("Person", 5_000, 20_000, 95.0), ("Car", 0, 8_000, 97.5), ("Car", 15_000, 30_000, 90.0),
              ("Tree", 40_000, 45_000, 80.0), duration_ms=61_500)
PETS = film(("Dog", 0, 3_000, 91.0), ("Cat", 5_000, 8_000, 93.0), duration_ms=10_000)
LONG = film(("Rocket", 3_600_000, 3_605_500, 89.0), ("Person", 59_000, 61_000, 75.0), duration_ms=2 * 3_600_000)


@pytest.fixture(scope="module")
def shared_library():
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        pipeline = make_pipeline(monkeypatch)
        pipeline.put("people/eileen.jpg", sample("astronaut-eileen-collins.jpg"))  # Person 99.1, Animal 71.0
        pipeline.put("people/cameraman.png", sample("cameraman.png"))  # Person 92.0, Tripod 94.0
        pipeline.put("films/street.mp4", STREET)
        pipeline.put("films/pets.MOV", PETS)
        pipeline.put("films/launch.mp4", LONG)
        pipeline.put("films/broken.mp4", b"\x00\x00\x00\x18ftypmp42 but not a film Rekognition can read")
        yield pipeline


@pytest.fixture
def library(shared_library):
    shared_library.session_hooks.clear()
    yield shared_library
    shared_library.session_hooks.clear()


def test_a_film_is_ranked_with_the_images_and_shows_where_the_label_is_on_screen(library):
    seen = []
    library.session_hooks.append(("before-call.dynamodb", lambda model, **kwargs: seen.append(model.name)))
    run = library.run("search", "person")
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == [
        "KEY                   CONFIDENCE  ON SCREEN",
        "people/eileen.jpg     99.1",
        "films/street.mp4      95.0        00:05-00:20",
        "people/cameraman.png  92.0",
        "films/launch.mp4      75.0        00:59-01:01",
    ]
    # The ByLabel Query, then the film items by key for the visibility rule: never a Scan.
    assert seen == ["Query", "BatchGetItem"]


def test_a_film_json_hit_carries_its_media_and_segments(library):
    hits = library.run("search", "car", "--json").json()
    assert hits == [{"key": "films/street.mp4", "bucket": BUCKET, "media": "video", "confidence": 97.5,
                     "labels": {"Car": 97.5}, "segments": [{"start_ms": 0, "end_ms": 8_000}, {"start_ms": 15_000, "end_ms": 30_000}]}]
    assert library.run("search", "tripod", "--json").json()[0]["media"] == "image"


def test_two_labels_find_a_film_only_where_both_are_on_screen_at_once(library):
    run = library.run("search", "car", "person")
    assert run.stdout.splitlines() == [
        "KEY               CONFIDENCE  LABELS                 ON SCREEN",
        "films/street.mp4  95.0        Car 97.5, Person 95.0  00:05-00:08, 00:15-00:20",
    ]
    [hit] = library.run("search", "car", "person", "--json").json()
    # The weakest label decides the score: a film's entry carries the label's best confidence.
    assert (hit["confidence"], hit["labels"]) == (95.0, {"Car": 97.5, "Person": 95.0})
    assert hit["segments"] == [{"start_ms": 5_000, "end_ms": 8_000}, {"start_ms": 15_000, "end_ms": 20_000}]


def test_two_labels_never_on_screen_together_find_nothing(library):
    run = library.run("search", "dog", "cat")
    assert (run.code, run.stdout) == (0, "")
    assert run.stderr.strip() == "no image carries 'dog' and 'cat'"
    assert library.run("search", "dog", "--json").json()[0]["key"] == "films/pets.MOV"


def test_ranges_past_an_hour_are_shown_with_hours(library):
    assert library.run("search", "rocket").stdout.splitlines()[1] == "films/launch.mp4  89.0        1:00:00-1:00:06"


def test_show_prints_a_films_timeline_best_label_first(library):
    run = library.run("show", "films/street.mp4")
    assert run.code == 0
    lines = run.stdout.splitlines()
    assert lines[0].startswith("films/street.mp4  LABELLED  (")
    assert lines[1:] == [
        "film: 01:02, 29.97 fps, h264, 1280x720",
        "LABEL   CONFIDENCE  ON SCREEN",
        "Car     97.5        00:00-00:08, 00:15-00:30",
        "Person  95.0        00:05-00:20",
        "Tree    80.0        00:40-00:45",
    ]


def test_show_json_gives_the_film_metadata_and_each_labels_segments(library):
    shown = library.run("show", "films/street.mp4", "--json").json()
    assert (shown["media"], shown["status"], shown["key"], shown["bucket"]) == ("video", "LABELLED", "films/street.mp4", BUCKET)
    assert (shown["duration_ms"], shown["frame_rate"], shown["codec"], shown["frame_width"], shown["frame_height"]) == (
        61_500, 29.97, "h264", 1280, 720)
    assert shown["version_id"] and shown["job_id"] and shown["size"] == len(STREET)
    assert shown["labels"][0] == {"name": "Car", "confidence": 97.5, "parents": [], "categories": [],
                                  "segments": [{"start_ms": 0, "end_ms": 8_000}, {"start_ms": 15_000, "end_ms": 30_000}],
                                  "segments_merged": False}
    assert [label["name"] for label in shown["labels"]] == ["Car", "Person", "Tree"]


def test_show_gives_the_reason_a_film_could_not_be_labelled(library):
    run = library.run("show", "films/broken.mp4")
    assert run.stdout.splitlines()[1] == "could not be labelled: LabelDetectionFailed: Unsupported codec/format."
    assert library.run("show", "films/broken.mp4", "--json").json()["error"] == {
        "code": "LabelDetectionFailed", "message": "Unsupported codec/format."}


def test_labels_counts_films_and_images_alike(library):
    counts = {entry["label"]: entry["objects"] for entry in library.run("labels", "--json").json()}
    assert counts["Person"] == 4  # two images, two films: one each, however many segments
    assert counts["Car"] == 1
