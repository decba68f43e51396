"""Makes samples/films/shots-cat-cup-cameraman-rocket.mp4 from the sample photos (same licences).

Five shots of three seconds: the cat, the coffee cup, the cameraman, the cat beside the cup (two
labels at once), the rocket. 320x240, 10 frames/s, H.264 in MP4, about 100 KB. The film is made by
the test suite's film factory, so the demo and the tests build films the same way.

    .venv/bin/python samples/films/make_demo_film.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from film_factory import CAMERAMAN, CAT, CUP, ROCKET, Shot, film, shot_times_ms  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "shots-cat-cup-cameraman-rocket.mp4"
SHOTS = [
    Shot.of(CAT, 3),
    Shot.of(CUP, 3),
    Shot.of(CAMERAMAN, 3),
    Shot.of((CAT, CUP), 3),
    Shot.of(ROCKET, 3),
]


def main() -> None:
    OUTPUT.write_bytes(film(SHOTS, faststart=True))
    for shot, (start, end) in zip(SHOTS, shot_times_ms(SHOTS)):
        print(f"{start:>6}-{end:<6} ms  {' + '.join(shot.photos)}")
    print(f"{OUTPUT.name}: {OUTPUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
