"""Local Rekognition Video speed: seconds of film labelled per second of wall time, at the default
sampling interval, and how the time splits between decoding and the model.

    .venv/bin/python bench/video_labelling_speed.py [--seconds 15]

Makes each film first (not timed) from the sample photos, then runs film_segments once per film:
"model" is the time spent inside the labeller, "decode" everything else (reading every frame,
converting the sampled ones, merging).
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from film_factory import ASTRONAUT, CAMERAMAN, CAT, CUP, ROCKET, Shot, film  # noqa: E402
from local_aws.film_sampling import DEFAULT_SAMPLE_INTERVAL_MS, film_segments  # noqa: E402
from local_aws.rekognition_model import OfflineLabeller  # noqa: E402

SIZES = [(320, 240, 10), (320, 240, 30), (1280, 720, 30)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    photos = [CAT, CUP, CAMERAMAN, ROCKET, ASTRONAUT]
    shots = [Shot.of(photos[index % len(photos)], 3) for index in range(max(1, round(args.seconds / 3)))]
    labeller = OfflineLabeller.load(max_parallel=1)
    label = partial(labeller.label_rgb, min_confidence=0)
    model_seconds = 0.0

    def timed_label(rgb):
        nonlocal model_seconds
        started = time.perf_counter()
        try:
            return label(rgb)
        finally:
            model_seconds += time.perf_counter() - started

    print(f"sampling every {DEFAULT_SAMPLE_INTERVAL_MS} ms, one job at a time")
    for width, height, fps in SIZES:
        data = film(shots, width=width, height=height, fps=fps)
        # Warm up: the model's first call at a new size, and the decoder's first file.
        label(np.zeros((height, width, 3), np.uint8))
        film_segments(data, label_frame=lambda rgb: [], sample_interval_ms=10**6)
        model_seconds = 0.0
        started = time.perf_counter()
        result = film_segments(data, label_frame=timed_label)
        wall = time.perf_counter() - started
        film_seconds = result.video_metadata["DurationMillis"] / 1000
        samples = len({moment["Timestamp"] for moment in result.moments})
        print(
            f"{width}x{height} {fps} fps, {film_seconds:.0f} s, {len(data) // 1024} KB: "
            f"{film_seconds / wall:.2f} s of film per s ({wall:.2f} s wall: decode {wall - model_seconds:.2f} s, "
            f"model {model_seconds:.2f} s for {samples} sampled frames = {1000 * model_seconds / max(1, samples):.0f} ms each)"
        )


if __name__ == "__main__":
    main()
