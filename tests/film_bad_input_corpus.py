"""Films a media library really meets that are not good H.264 films, each with the state the film
pipeline must leave behind and why (tests/bad_input_corpus.py does the same for images).

What Rekognition does with them: StartLabelDetection only checks that the object exists (and its
size); the job then fails when the video cannot be read, GetLabelDetection answering JobStatus
FAILED with a StatusMessage. Rekognition documents H.264 in MP4 or MOV only, and does not document
its StatusMessages; "Unsupported codec/format." is the one users report for files it cannot read
(aws-samples/amazon-rekognition-video-analyzer issue #46). The collector records such a film FAILED
with Code "LabelDetectionFailed" and the StatusMessage. A film Rekognition can read but that shows
little is labelled with what it shows: a single frame is one moment, a black film has no labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import film_factory
from film_labeller.collect import FAILURE_CODE
from local_aws.film_sampling import CORRUPT_MESSAGE, UNSUPPORTED_MESSAGE

LABELLED = "LABELLED"
FAILED = "FAILED"


@dataclass(frozen=True)
class FilmCase:
    name: str
    key: str
    body: Callable[[], bytes]
    status: str
    reason: str
    error_code: str | None = None
    status_message: str | None = None  # Rekognition's, which becomes Error.Message
    # LABELLED: labels the film must carry (with their segments), and the most it may carry.
    segments: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    max_labels: int = 0
    duration_ms: int | None = None


def _failed(name: str, key: str, body: Callable[[], bytes], message: str, reason: str) -> FilmCase:
    return FilmCase(name, key, body, FAILED, reason, error_code=FAILURE_CODE, status_message=message)


def corpus() -> list[FilmCase]:
    cases = [
        _failed("PNG photo named .mp4", "bad/photo.mp4", film_factory.not_a_video, UNSUPPORTED_MESSAGE,
                "not a video at all: the job starts (the object exists) and cannot read it"),
        _failed("empty .mp4", "bad/empty.mp4", film_factory.empty_file, UNSUPPORTED_MESSAGE,
                "an upload of nothing (S3 notifies it like any object): no container to read"),
        _failed("truncated .mp4, index first", "bad/cut-faststart.mp4", film_factory.truncated_film, CORRUPT_MESSAGE,
                "an interrupted upload: the index lists frames the file no longer holds"),
        _failed("truncated .mp4, index lost", "bad/cut.mp4", lambda: film_factory.truncated_film(faststart=False),
                CORRUPT_MESSAGE, "an interrupted upload whose index (written last) never arrived"),
        _failed("VP9 in .mp4", "bad/vp9.mp4", film_factory.vp9_film, UNSUPPORTED_MESSAGE,
                "a codec Rekognition does not take (it documents H.264 only)"),
        _failed("MPEG-4 part 2 in .mp4", "bad/mpeg4.mp4", film_factory.mpeg4_part2_film, UNSUPPORTED_MESSAGE,
                "what OpenCV's mp4v writer and old cameras make: MPEG-4 but not H.264"),
        _failed("H.264 in Matroska named .mov", "bad/matroska.mov", film_factory.matroska_h264_film,
                UNSUPPORTED_MESSAGE, "the right codec in a container Rekognition does not take"),
        FilmCase("one-frame film", "odd/one-frame.mp4", film_factory.one_frame_film, LABELLED,
                 "a valid film of one 100 ms frame: one sampled moment, so its labels last that frame",
                 segments={"Cat": [(0, 100)]}, max_labels=8, duration_ms=100),
        FilmCase("all-black film", "odd/black.mov", lambda: film_factory.black_film(2.0), LABELLED,
                 "a valid film that shows nothing: labelled, with no label (not a failure: nothing to retry)",
                 max_labels=0, duration_ms=2000),
    ]
    keys = [case.key for case in cases]
    assert len(set(keys)) == len(keys) and len({case.name for case in cases}) == len(cases), "cases must be distinct"
    return cases
