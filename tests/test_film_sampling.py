"""Decoding, sampling and segment merging of films (local_aws/film_sampling.py), and the test films
themselves: OpenCV must decode what the film factory encodes, or no video test means anything.

The labeller here is a stand-in that names a frame by its brightness, so times are checked against
the frames' known content without the model (test_local_rekognition_video.py uses the real one)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import film_factory
from film_factory import CAT, CUP, Shot
from local_aws.film_sampling import (
    CORRUPT_MESSAGE,
    DEFAULT_SAMPLE_INTERVAL_MS,
    UNSUPPORTED_MESSAGE,
    FilmError,
    film_segments,
    merged_segments,
)

DEMO_FILM = Path(__file__).resolve().parent.parent / "samples" / "films" / "shots-cat-cup-cameraman-rocket.mp4"


def decoded(data: bytes, tmp_path: Path, suffix: str = ".mp4") -> tuple[cv2.VideoCapture, list[np.ndarray]]:
    path = tmp_path / f"film{suffix}"
    path.write_bytes(data)
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return capture, frames


def fourcc(capture: cv2.VideoCapture) -> str:
    return int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()


# --- the test films -------------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "brand"), [(".mp4", b"isom"), (".mov", b"qt  ")])
def test_factory_films_are_h264_that_opencv_decodes_shot_by_shot(tmp_path, suffix, brand):
    shots = [Shot.of(CAT, 1), Shot.of(CUP, 1.5)]
    data = film_factory.film(shots, fps=8, suffix=suffix)
    assert data[4:12] == b"ftyp" + brand
    capture, frames = decoded(data, tmp_path, suffix)
    assert fourcc(capture) == "h264"
    assert capture.get(cv2.CAP_PROP_FPS) == 8
    assert len(frames) == 8 + 12 and frames[0].shape == (240, 320, 3)
    cat = film_factory.composed_frame((CAT,), width=320, height=240).astype(int)
    cup = film_factory.composed_frame((CUP,), width=320, height=240).astype(int)
    # Each frame is its shot's photo (within H.264's loss), not the other one.
    for index, frame in enumerate(frames):
        expected, other = (cat, cup) if index < 8 else (cup, cat)
        assert np.abs(frame - expected).mean() < 6 < np.abs(frame - other).mean()


def test_the_demo_film_holds_the_shots_its_script_lists(tmp_path):
    capture, frames = decoded(DEMO_FILM.read_bytes(), tmp_path)
    assert DEMO_FILM.stat().st_size < 300_000
    assert fourcc(capture) == "h264" and len(frames) == 150
    for (photos, start) in [((CAT,), 0), ((CUP,), 3), (("cameraman.png",), 6), ((CAT, CUP), 9), (("rocket-launch.JPG",), 12)]:
        expected = film_factory.composed_frame(photos, width=320, height=240).astype(int)
        assert np.abs(frames[start * 10 + 15] - expected).mean() < 6


# --- sampling and merging, with a stand-in labeller --------------------------------------------


def brightness_label(rgb: np.ndarray) -> list[dict]:
    """"Light" for a bright frame (Confidence: its brightness in %), nothing for a dark one."""
    brightness = round(100 * float(rgb.mean()) / 255, 1)
    if brightness < 50:
        return []
    box = {"Width": 0.5, "Height": 0.5, "Left": 0.25, "Top": 0.25}
    return [
        {
            "Name": "Light",
            "Confidence": brightness,
            "Instances": [{"BoundingBox": box, "Confidence": brightness}, {"BoundingBox": box, "Confidence": 40.0}],
            "Parents": [],
            "Aliases": [],
            "Categories": [{"Name": "Colors and Visual Composition"}],
        }
    ]


def grey_film(levels_and_seconds: list[tuple[int, float]], *, fps: int = 10) -> bytes:
    frames = [(np.full((240, 320, 3), level, np.uint8), round(seconds * fps)) for level, seconds in levels_and_seconds]
    return film_factory.encode_frames(frames, fps=fps)


class RecordingLabeller:
    def __init__(self):
        self.frames = 0

    def __call__(self, rgb):
        self.frames += 1
        return brightness_label(rgb)


@pytest.mark.parametrize(("fps", "sampled"), [(10, [0, 500, 1000, 1500]), (12, [0, 500, 1000, 1500]), (7, [0, 571, 1000, 1571])])
def test_one_frame_is_labelled_per_interval_by_its_timestamp(fps, sampled):
    labeller = RecordingLabeller()
    result = film_segments(grey_film([(255, 2)], fps=fps), label_frame=labeller)
    assert [moment["Timestamp"] for moment in result.moments] == sampled
    assert labeller.frames == 4  # not one call per frame
    assert result.video_metadata == {
        "Codec": "h264",
        "DurationMillis": 2000,
        "Format": "QuickTime / MOV",
        "FrameRate": float(fps),
        "FrameHeight": 240,
        "FrameWidth": 320,
        "ColorRange": "LIMITED",
    }


def test_a_label_seen_in_a_stretch_of_the_film_is_one_segment_of_that_stretch():
    result = film_segments(grey_film([(0, 1), (255, 1.5), (0, 1), (200, 0.5)]), label_frame=brightness_label)
    spans = [(s["StartTimestampMillis"], s["EndTimestampMillis"], s["DurationMillis"]) for s in result.segments]
    assert spans == [(1000, 2500, 1500), (3500, 4000, 500)]
    first, second = result.segments
    assert first["Timestamp"] == 1000 and first["Label"]["Confidence"] == 100.0
    assert second["Label"]["Confidence"] == pytest.approx(78.4, abs=1)
    assert "Instances" not in first["Label"]
    assert first["Label"]["Categories"] == [{"Name": "Colors and Visual Composition"}]


def test_min_confidence_drops_weak_labels_and_weak_boxes():
    result = film_segments(grey_film([(255, 1), (150, 1)]), label_frame=brightness_label, min_confidence=45)
    assert [m["Timestamp"] for m in result.moments] == [0, 500, 1000, 1500]
    assert all(len(m["Label"]["Instances"]) == 1 for m in result.moments)  # the 40 % box is gone
    result = film_segments(grey_film([(255, 1), (150, 1)]), label_frame=brightness_label, min_confidence=80)
    assert [m["Timestamp"] for m in result.moments] == [0, 500]
    assert [(s["StartTimestampMillis"], s["EndTimestampMillis"]) for s in result.segments] == [(0, 1000)]


def test_a_film_can_be_given_as_a_path(tmp_path):
    path = tmp_path / "light.mov"
    path.write_bytes(grey_film([(255, 1)]))
    assert len(film_segments(str(path), label_frame=brightness_label).moments) == 2


def moment(timestamp: int, name: str = "Cat", confidence: float = 90.0) -> dict:
    return {"Timestamp": timestamp, "Label": {"Name": name, "Confidence": confidence, "Instances": []}}


def spans(segments: list[dict]) -> list[tuple[str, int, int]]:
    return [(s["Label"]["Name"], s["StartTimestampMillis"], s["EndTimestampMillis"]) for s in segments]


def test_the_merge_rule_one_missed_sample_joins_two_split():
    interval = DEFAULT_SAMPLE_INTERVAL_MS
    # 0, 500 then a 700 ms gap (a jittery frame: joined), then 2000 after 1200 (two samples missed: split)
    moments = [moment(0), moment(500), moment(1200), moment(3200), moment(0, "Pet"), moment(3200, "Pet")]
    assert spans(merged_segments(moments, interval_ms=interval, duration_ms=3500)) == [
        ("Cat", 0, 1700),
        ("Pet", 0, 500),
        ("Cat", 3200, 3500),  # clamped to the film's end
        ("Pet", 3200, 3500),
    ]
    assert spans(merged_segments([moment(0), moment(750)], interval_ms=interval, duration_ms=9000)) == [("Cat", 0, 1250)]
    assert spans(merged_segments([moment(0), moment(751)], interval_ms=interval, duration_ms=9000)) == [
        ("Cat", 0, 500),
        ("Cat", 751, 1251),
    ]


def test_a_segments_confidence_is_its_best_sighting():
    moments = [moment(0, confidence=60), moment(500, confidence=95.5), moment(1000, confidence=70)]
    [only] = merged_segments(moments, interval_ms=500, duration_ms=5000)
    assert only["Label"]["Confidence"] == 95.5 and only["DurationMillis"] == 1500


# --- films that are odd, and films that cannot be labelled -------------------------------------


def test_a_one_frame_film_is_one_short_moment():
    result = film_segments(film_factory.one_frame_film(), label_frame=brightness_label)
    assert result.video_metadata["DurationMillis"] == 100


def test_an_all_black_film_has_no_labels():
    result = film_segments(film_factory.black_film(), label_frame=brightness_label)
    assert (result.moments, result.segments) == ([], [])
    assert result.video_metadata["DurationMillis"] == 2000


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (film_factory.not_a_video, UNSUPPORTED_MESSAGE),
        (film_factory.empty_file, UNSUPPORTED_MESSAGE),
        (lambda: b"tiny", UNSUPPORTED_MESSAGE),
        (film_factory.mpeg4_part2_film, UNSUPPORTED_MESSAGE),
        (film_factory.vp9_film, UNSUPPORTED_MESSAGE),
        (film_factory.matroska_h264_film, UNSUPPORTED_MESSAGE),
        (film_factory.truncated_film, CORRUPT_MESSAGE),
        (lambda: film_factory.truncated_film(faststart=False), CORRUPT_MESSAGE),
        (lambda: film_factory.truncated_film(keep=0.97), CORRUPT_MESSAGE),
    ],
    ids=["png", "empty", "four-bytes", "mpeg4-part2", "vp9", "h264-in-matroska", "truncated", "truncated-no-index",
         "last-bytes-missing"],
)
def test_films_rekognition_cannot_read_raise_the_jobs_status_message(make, message):
    labeller = RecordingLabeller()
    with pytest.raises(FilmError) as raised:
        film_segments(make(), label_frame=labeller)
    assert raised.value.status_message == message
    assert labeller.frames == 0  # refused before any frame is labelled
