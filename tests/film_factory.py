"""Test films made from the licensed sample photos, so that the video tests know the truth.

A film is a list of shots, each one still picture (or pictures side by side) held for a number of
seconds, so the moment each label must appear and disappear is known to the frame. Films are
encoded with PyAV (libx264: OpenCV can decode H.264 but not encode it) and kept small (320x240,
10 frames/s, a few seconds) so that the tests stay fast. The bad inputs the local Rekognition Video
engine must reject are made here too: a non-video named .mp4, an empty file, a truncated film,
films in other codecs or containers, plus the odd-but-valid ones (one frame, all black).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CAT = "cat-chelsea.png"
CUP = "coffee cup.jpg"
CAMERAMAN = "cameraman.png"
ASTRONAUT = "astronaut-eileen-collins.jpg"
ROCKET = "rocket-launch.JPG"

WIDTH, HEIGHT, FPS = 320, 240, 10
# The muxer names PyAV uses for each container; "mov" writes a QuickTime file (ftyp "qt  ").
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}


@dataclass(frozen=True)
class Shot:
    """`photos` side by side (one panel each, aspect kept, black around), for `seconds`."""

    photos: tuple[str, ...]
    seconds: float

    @classmethod
    def of(cls, photos: str | tuple[str, ...], seconds: float) -> Shot:
        return cls(photos=(photos,) if isinstance(photos, str) else tuple(photos), seconds=seconds)


def shot_times_ms(shots: list[Shot]) -> list[tuple[int, int]]:
    """Each shot's [start, end) in milliseconds."""
    times, start = [], 0.0
    for shot in shots:
        times.append((round(start * 1000), round((start + shot.seconds) * 1000)))
        start += shot.seconds
    return times


def photo_rgb(name: str) -> np.ndarray:
    image = cv2.imread(str(SAMPLES / name), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(SAMPLES / name)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def composed_frame(photos: tuple[str, ...], *, width: int, height: int) -> np.ndarray:
    """The photos fitted into equal panels of a black width x height RGB frame."""
    frame = np.zeros((height, width, 3), np.uint8)
    panel_width = width // len(photos)
    for index, name in enumerate(photos):
        photo = photo_rgb(name)
        scale = min(panel_width / photo.shape[1], height / photo.shape[0])
        size = (max(1, round(photo.shape[1] * scale)), max(1, round(photo.shape[0] * scale)))
        fitted = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
        left = index * panel_width + (panel_width - size[0]) // 2
        top = (height - size[1]) // 2
        frame[top : top + size[1], left : left + size[0]] = fitted
    return frame


def encode_frames(
    frames: list[tuple[np.ndarray, int]],
    *,
    fps: int,
    suffix: str = ".mp4",
    codec: str = "libx264",
    faststart: bool = False,
) -> bytes:
    """(RGB frame, how many frames to hold it) encoded at `fps`; bytes of the whole file.

    `faststart` moves the index (moov) before the media data, as streaming encoders do: a film
    cut short then still opens and loses frames instead of its index."""
    height, width = frames[0][0].shape[:2]
    with tempfile.TemporaryDirectory() as folder:
        # A named file, not a buffer: faststart rewrites the file once it is complete.
        path = Path(folder) / f"film{suffix}"
        _encode_to(path, frames, fps=fps, width=width, height=height, codec=codec, faststart=faststart)
        return path.read_bytes()


def _encode_to(path: Path, frames, *, fps: int, width: int, height: int, codec: str, faststart: bool) -> None:
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), mode="w", format=CONTAINERS[path.suffix], options=options) as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for rgb, count in frames:
            for _ in range(count):
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():  # flush the encoder's delayed frames
            container.mux(packet)


def film(
    shots: list[Shot],
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    fps: int = FPS,
    suffix: str = ".mp4",
    codec: str = "libx264",
    faststart: bool = False,
) -> bytes:
    """An H.264 (or `codec`) film of the shots, each held for round(seconds * fps) frames."""
    frames = [
        (composed_frame(shot.photos, width=width, height=height), max(1, round(shot.seconds * fps))) for shot in shots
    ]
    return encode_frames(frames, fps=fps, suffix=suffix, codec=codec, faststart=faststart)


# --- odd but valid films --------------------------------------------------------------------------


def one_frame_film(photo: str = CAT) -> bytes:
    return encode_frames([(composed_frame((photo,), width=WIDTH, height=HEIGHT), 1)], fps=FPS)


def black_film(seconds: float = 2.0) -> bytes:
    return encode_frames([(np.zeros((HEIGHT, WIDTH, 3), np.uint8), round(seconds * FPS))], fps=FPS)


# --- bad inputs ---------------------------------------------------------------------------------


def not_a_video() -> bytes:
    """A PNG photo, as a user might upload under a .mp4 name."""
    return (SAMPLES / CAT).read_bytes()


def empty_file() -> bytes:
    return b""


def truncated_film(*, keep: float = 0.5, faststart: bool = True) -> bytes:
    """A 3 s cat film cut after `keep` of its bytes (an interrupted upload). With faststart the
    index survives and the media data is short; without it the index (written last) is gone."""
    whole = film([Shot.of(CAT, 3)], faststart=faststart)
    return whole[: int(len(whole) * keep)]


def mpeg4_part2_film() -> bytes:
    """MPEG-4 part 2 (what OpenCV's VideoWriter "mp4v" writes) in an .mp4: not H.264."""
    return film([Shot.of(CAT, 2)], codec="mpeg4")


def vp9_film() -> bytes:
    return film([Shot.of(CAT, 2)], codec="libvpx-vp9")


def matroska_h264_film() -> bytes:
    """H.264 in a Matroska container: the right codec in a container Rekognition does not take."""
    return film([Shot.of(CAT, 2)], suffix=".mkv")
