"""Offline labeller speed: milliseconds per image, and what a second concurrent caller adds.

    .venv/bin/python bench/labeller_speed.py [--rounds N]

Prints, in one run: model load time; per-sample latency (median of N) with one caller; throughput
with 1 and with 2 threads calling at once, and their ratio (the server is threaded; OpenCV and LiteRT
release the GIL, so 2 threads should use 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local_aws.rekognition_model import OfflineLabeller  # noqa: E402

SAMPLES = sorted(path for path in (ROOT / "samples").iterdir() if path.suffix.lower() in {".png", ".jpg", ".jpeg"})


def throughput(labeller: OfflineLabeller, images: list[bytes], *, threads: int, rounds: int) -> float:
    """Images a second when `threads` callers each label every image `rounds` times."""

    def work() -> None:
        for _ in range(rounds):
            for data in images:
                labeller.detect_labels(data)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return threads * rounds * len(images) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    started = time.perf_counter()
    labeller = OfflineLabeller.load(max_parallel=2)
    print(f"load: {time.perf_counter() - started:.2f} s")
    images = [path.read_bytes() for path in SAMPLES]
    throughput(labeller, images, threads=2, rounds=1)  # warm up, and create the second model pair

    print("\nper image, one caller (median of", args.rounds, "runs):")
    all_ms = []
    for path, data in zip(SAMPLES, images):
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            response = labeller.detect_labels(data)
            times.append(1000 * (time.perf_counter() - started))
        all_ms.extend(times)
        top = ", ".join(f"{label['Name']} {label['Confidence']:.1f}" for label in response["Labels"][:4])
        print(f"  {path.name:32} {statistics.median(times):6.0f} ms   {top}")
    print(f"  {'all':32} {statistics.median(all_ms):6.0f} ms median")

    one = throughput(labeller, images, threads=1, rounds=args.rounds)
    two = throughput(labeller, images, threads=2, rounds=args.rounds)
    print(f"\nthroughput: 1 thread {one:.2f} images/s, 2 threads {two:.2f} images/s, ratio {two / one:.2f}x")


if __name__ == "__main__":
    main()
