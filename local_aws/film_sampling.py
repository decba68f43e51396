"""A film's labels over time, as Rekognition Video's label detection reports them, offline.

The film is decoded with OpenCV (its bundled FFmpeg decodes H.264 in MP4/MOV). One frame is
labelled every `sample_interval_ms` (default 500 ms, two a second), chosen by each frame's own
timestamp (CAP_PROP_POS_MSEC), not by counting frames, so variable frame rates sample evenly.

Each sampled moment gives one TIMESTAMPS entry per label (with its boxes). Sightings of a label are
merged into SEGMENTS by this rule:
- a segment goes on while the label is seen again within 1.5 sampling intervals of its last
  sighting (one missed sample or a jittery frame time does not split it; two missed samples do);
- a segment runs from its first sighting to its last sighting plus one sampling interval (the
  label is taken to stay until the next sample could have seen it go), clamped to the film's
  duration; so every segment lasts at least one interval unless the film ends sooner;
- its Confidence is the highest seen within it.
(Media2Cloud merges Rekognition's own timestamps similarly: a gap above 1.2x the interval splits,
runs under 900 ms are dropped. Here a lone sighting is kept: a short shot is still a shot.)

Only H.264 in an MP4 or QuickTime (MOV) container is accepted, as Rekognition documents. Anything
else, or a file that is cut short or does not decode, raises FilmError with the StatusMessage the
job fails with (the wording is this emulator's: Rekognition does not document its messages).
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

DEFAULT_SAMPLE_INTERVAL_MS = 500
# A gap up to this many intervals continues a segment (see the module docstring).
SEGMENT_GAP_INTERVALS = 1.5

UNSUPPORTED_MESSAGE = "Unsupported codec/format."
CORRUPT_MESSAGE = "The video could not be decoded: the file is truncated or corrupt."
# OpenCV's names for H.264 (FOURCC): it reports the codec ("h264"), some builds the tag ("avc1").
H264_FOURCCS = frozenset({"h264", "avc1", "H264", "AVC1"})
# FFmpeg's name for the demuxer that reads both MP4 and MOV, which is what Rekognition reports.
CONTAINER_FORMAT = "QuickTime / MOV"
# Top-level ISO base media (MP4/MOV) boxes a file may start with; old QuickTime files begin with
# "wide", "mdat" or "moov" rather than "ftyp".
FIRST_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})

LabelFrame = Callable[[np.ndarray], list[dict]]


class FilmError(Exception):
    """The film cannot be labelled; `status_message` is what GetLabelDetection reports."""

    def __init__(self, status_message: str):
        super().__init__(status_message)
        self.status_message = status_message


@dataclass(frozen=True)
class FilmLabels:
    video_metadata: dict
    moments: list[dict] = field(default_factory=list)  # AggregateBy TIMESTAMPS entries, by time
    segments: list[dict] = field(default_factory=list)  # AggregateBy SEGMENTS entries, by start


def check_container(file: BinaryIO, size: int) -> None:
    """The file is MP4/MOV and complete: every top-level box fits in the file and the index (moov)
    is there. Checked on the box headers first (only they are read), because FFmpeg decodes what
    arrived of a truncated film without complaint: the film just ends early."""
    position, seen_index = 0, False
    while position < size:
        file.seek(position)
        head = file.read(16)
        if len(head) < 8:
            raise FilmError(CORRUPT_MESSAGE if position else UNSUPPORTED_MESSAGE)
        box_size, kind = struct.unpack(">I4s", head[:8])
        if position == 0 and kind not in FIRST_BOXES:
            raise FilmError(UNSUPPORTED_MESSAGE)  # not an MP4/MOV at all (text, PNG, Matroska...)
        header = 8
        if box_size == 1:  # the real size follows as 64 bits
            if len(head) < 16:
                raise FilmError(CORRUPT_MESSAGE)
            (box_size,) = struct.unpack(">Q", head[8:16])
            header = 16
        elif box_size == 0:  # the box runs to the end of the file
            box_size = size - position
        if box_size < header or position + box_size > size:
            raise FilmError(CORRUPT_MESSAGE)
        seen_index = seen_index or kind == b"moov"
        position += box_size
    if not seen_index:
        raise FilmError(CORRUPT_MESSAGE if size else UNSUPPORTED_MESSAGE)


@contextmanager
def _film_path(data: bytes | str | os.PathLike):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        yield Path(data)
        return
    # OpenCV's FFmpeg backend reads files, not buffers.
    with tempfile.TemporaryDirectory(prefix="local-rekognition-video-") as folder:
        path = Path(folder) / "film.mp4"
        path.write_bytes(bytes(data))
        yield path


def _video_metadata(capture: cv2.VideoCapture) -> tuple[dict, float]:
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC))
    codec = fourcc.to_bytes(4, "little").decode("latin-1") if fourcc > 0 else ""
    if codec not in H264_FOURCCS:
        raise FilmError(UNSUPPORTED_MESSAGE)
    frame_rate = float(capture.get(cv2.CAP_PROP_FPS))
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if frame_rate <= 0 or width <= 0 or height <= 0:
        raise FilmError(CORRUPT_MESSAGE)
    metadata = {
        "Codec": "h264",
        "DurationMillis": 0,  # known once every frame has been read
        "Format": CONTAINER_FORMAT,
        "FrameRate": round(frame_rate, 3),
        "FrameHeight": height,
        "FrameWidth": width,
        # The range H.264 encoders write unless told otherwise; OpenCV does not report it.
        "ColorRange": "LIMITED",
    }
    return metadata, frame_rate


def film_segments(
    data: bytes | str | os.PathLike,
    *,
    label_frame: LabelFrame,
    sample_interval_ms: int = DEFAULT_SAMPLE_INTERVAL_MS,
    min_confidence: float = 50.0,
) -> FilmLabels:
    """Decodes the film, labels one frame per interval with `label_frame` (RGB array -> Rekognition
    Label dicts) and returns its metadata, per-moment labels and merged segments."""
    if sample_interval_ms <= 0:
        raise ValueError("sample_interval_ms must be positive")
    with _film_path(data) as path:
        with path.open("rb") as file:
            check_container(file, path.stat().st_size)
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        try:
            if not capture.isOpened():
                raise FilmError(CORRUPT_MESSAGE)
            metadata, frame_rate = _video_metadata(capture)
            expected_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            moments, last_time, frames = _sampled_moments(
                capture, label_frame=label_frame, interval_ms=sample_interval_ms, min_confidence=min_confidence
            )
        finally:
            capture.release()
    # Fewer frames than the index lists: the media data is damaged (a truncated film that kept its
    # index is caught by check_container already).
    if frames == 0 or (expected_frames > 0 and frames < expected_frames):
        raise FilmError(CORRUPT_MESSAGE)
    duration = round(last_time + 1000.0 / frame_rate)
    metadata["DurationMillis"] = duration
    return FilmLabels(
        video_metadata=metadata,
        moments=moments,
        segments=merged_segments(moments, interval_ms=sample_interval_ms, duration_ms=duration),
    )


def _sampled_moments(
    capture: cv2.VideoCapture, *, label_frame: LabelFrame, interval_ms: int, min_confidence: float
) -> tuple[list[dict], float, int]:
    """TIMESTAMPS entries for the first frame at or after each multiple of the interval; also the
    last frame's time and the number of frames read. Frames between samples are only grabbed
    (decoded, never converted), the cheapest way through an H.264 stream."""
    moments: list[dict] = []
    next_sample, last_time, frames = 0.0, 0.0, 0
    while capture.grab():
        frames += 1
        last_time = float(capture.get(cv2.CAP_PROP_POS_MSEC))
        if last_time + 0.5 < next_sample:  # half a millisecond: frame times are rounded
            continue
        ok, bgr = capture.retrieve()
        if not ok:
            raise FilmError(CORRUPT_MESSAGE)
        timestamp = round(last_time)
        for label in label_frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)):
            if label["Confidence"] < min_confidence:
                continue
            instances = [instance for instance in label.get("Instances", []) if instance["Confidence"] >= min_confidence]
            moments.append({"Timestamp": timestamp, "Label": {**label, "Instances": instances}})
        while next_sample <= last_time + 0.5:
            next_sample += interval_ms
    return moments, last_time, frames


def merged_segments(moments: list[dict], *, interval_ms: int, duration_ms: int) -> list[dict]:
    """SEGMENTS entries from TIMESTAMPS entries (the rule is in the module docstring), by start
    time then name."""
    sightings: dict[str, list[dict]] = {}
    for moment in moments:
        sightings.setdefault(moment["Label"]["Name"], []).append(moment)
    segments = []
    for run in (run for seen in sightings.values() for run in _runs(seen, interval_ms=interval_ms)):
        start = run[0]["Timestamp"]
        end = min(run[-1]["Timestamp"] + interval_ms, duration_ms)
        label = {key: value for key, value in run[0]["Label"].items() if key != "Instances"}
        label["Confidence"] = max(moment["Label"]["Confidence"] for moment in run)
        segments.append(
            {
                "Timestamp": start,
                "Label": label,
                "StartTimestampMillis": start,
                "EndTimestampMillis": end,
                "DurationMillis": end - start,
            }
        )
    segments.sort(key=lambda segment: (segment["StartTimestampMillis"], segment["Label"]["Name"]))
    return segments


def _runs(seen: list[dict], *, interval_ms: int) -> list[list[dict]]:
    runs = [[seen[0]]]
    for moment in seen[1:]:
        if moment["Timestamp"] - runs[-1][-1]["Timestamp"] <= SEGMENT_GAP_INTERVALS * interval_ms:
            runs[-1].append(moment)
        else:
            runs.append([moment])
    return runs
