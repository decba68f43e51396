"""Inputs a media library really meets, each with the state the pipeline must leave behind.

Every case is an upload (or an upload followed by more steps) and the end state of its key in the
label table: labelled, failed with Rekognition's error code, removed, or never seen (the bucket's
notification filter does not match). The corpus is built from the sample photos and from images
made here with OpenCV, so nothing is downloaded.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

LABELLED = "LABELLED"
FAILED = "FAILED"
DELETED = "DELETED"  # the image item is a tombstone: no labels, no label entries
ABSENT = "ABSENT"  # no item at all: the notification filter does not match the key


@dataclass(frozen=True)
class Step:
    action: str  # "put" or "delete"
    body: bytes = b""


@dataclass(frozen=True)
class Case:
    name: str
    key: str
    steps: tuple[Step, ...]
    status: str
    error_code: str | None = None
    # Labels the final image must carry (only checked for real photos).
    labels: tuple[str, ...] = field(default=())


def photo(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def cat_png() -> bytes:
    return photo("cat-chelsea.png")


def coffee_jpeg() -> bytes:
    return photo("coffee cup.jpg")


def _cat_pixels() -> np.ndarray:
    return cv2.imdecode(np.frombuffer(cat_png(), np.uint8), cv2.IMREAD_COLOR)


def encode(extension: str, pixels: np.ndarray, params: list[int] | None = None) -> bytes:
    ok, buffer = cv2.imencode(extension, pixels, params or [])
    assert ok, extension
    return buffer.tobytes()


def solid(width: int, height: int, extension: str = ".png") -> bytes:
    pixels = np.full((height, width, 3), (40, 120, 200), np.uint8)
    return encode(extension, pixels)


def noise_png(min_bytes: int) -> bytes:
    """Random pixels do not compress, so the PNG is about 3 bytes a pixel."""
    side = int((min_bytes / 3) ** 0.5) + 64
    pixels = np.random.default_rng(7).integers(0, 256, (side, side, 3), dtype=np.uint8)
    body = encode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 0])
    assert len(body) > min_bytes, len(body)
    return body


def wide_png(width: int, height: int) -> bytes:
    """A valid PNG of any size, made without holding its pixels: one flat colour compresses to
    almost nothing, so a 10,001 px image stays a few kilobytes."""
    row = b"\x00" + b"\x80" * width  # filter byte, then one grey byte a pixel
    raw = zlib.compress(row * height, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def put(body: bytes) -> Step:
    return Step("put", body)


DELETE = Step("delete")


def corpus() -> list[Case]:
    cat, coffee = cat_png(), coffee_jpeg()
    cat_pixels = _cat_pixels()
    grey = cv2.cvtColor(cat_pixels, cv2.COLOR_BGR2GRAY)
    rgba = cv2.cvtColor(cat_pixels, cv2.COLOR_BGR2BGRA)
    deep = "/".join(f"level{depth}" for depth in range(40)) + "/cat.png"
    long_key = "long/" + "k" * (1024 - len("long/") - len(".png")) + ".png"
    assert len(long_key.encode()) == 1024
    invalid = "InvalidImageFormatException"
    cases = [
        # Not images at all, or not JPEG/PNG, whatever the name says.
        Case("empty object", "bad/empty.jpg", (put(b""),), FAILED, invalid),
        Case("truncated JPEG", "bad/truncated.jpg", (put(coffee[: len(coffee) // 2]),), FAILED, invalid),
        Case("text renamed .png", "bad/notes.png", (put(b"meeting notes, not a picture\n" * 20),), FAILED, invalid),
        Case("HTML renamed .jpg", "bad/page.jpg", (put(b"<!doctype html><html><body>hi</body></html>"),), FAILED, invalid),
        Case("PDF renamed .png", "bad/doc.png", (put(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"),), FAILED, invalid),
        Case("GIF renamed .jpg", "bad/anim.jpg", (put(b"GIF89a" + b"\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 20),), FAILED, invalid),
        Case("WebP renamed .png", "bad/modern.png", (put(encode(".webp", cat_pixels)),), FAILED, invalid),
        Case("BMP renamed .jpg", "bad/bitmap.jpg", (put(encode(".bmp", cat_pixels)),), FAILED, invalid),
        Case("TIFF renamed .jpeg", "bad/scan.jpeg", (put(encode(".tiff", cat_pixels)),), FAILED, invalid),
        Case("random bytes .PNG", "bad/RANDOM.PNG", (put(np.random.default_rng(1).bytes(4096)),), FAILED, invalid),
        # Images Rekognition refuses for their size.
        Case("1x1 image", "small/pixel.png", (put(solid(1, 1)),), FAILED, "InvalidParameterException"),
        Case("79 px wide", "small/79.png", (put(solid(79, 200)),), FAILED, "InvalidParameterException"),
        Case("80 px a side is enough", "small/80.jpg", (put(solid(80, 80, ".jpg")),), LABELLED),
        Case("10,001 px wide", "huge/wide.png", (put(wide_png(10_001, 100)),), FAILED, "ImageTooLargeException"),
        Case("16 MB file", "huge/16mb.png", (put(noise_png(16 * 1024 * 1024)),), FAILED, "ImageTooLargeException"),
        # Real images in forms a camera or an editor produces.
        Case("PNG renamed .jpg", "odd/cat-really-png.jpg", (put(cat),), LABELLED, labels=("Cat",)),
        Case("greyscale JPEG", "odd/grey.jpg", (put(encode(".jpg", grey)),), LABELLED, labels=("Cat",)),
        Case("RGBA PNG", "odd/alpha.png", (put(encode(".png", rgba)),), LABELLED, labels=("Cat",)),
        Case("16-bit PNG", "odd/deep.png", (put(encode(".png", cat_pixels.astype(np.uint16) * 257)),), LABELLED, labels=("Cat",)),
        Case("progressive JPEG", "odd/progressive.jpg", (put(encode(".jpg", cat_pixels, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])),), LABELLED, labels=("Cat",)),
        Case("JPEG with trailing bytes", "odd/trailer.jpg", (put(coffee + b"\x00" * 1000),), LABELLED, labels=("Cup",)),
        Case("upper-case extension", "odd/CAT.JPEG", (put(encode(".jpg", cat_pixels)),), LABELLED, labels=("Cat",)),
        # Keys that break naive decoding.
        Case("spaces in key", "keys/summer holiday/beach day.png", (put(cat),), LABELLED, labels=("Cat",)),
        Case("plus in key", "keys/cat+dog.png", (put(cat),), LABELLED, labels=("Cat",)),
        Case("literal %2B in key", "keys/100%2B.png", (put(cat),), LABELLED, labels=("Cat",)),
        Case("emoji in key", "keys/🐈 chelsea.png", (put(cat),), LABELLED, labels=("Cat",)),
        Case("accents and punctuation", "keys/café, été & co?#=.png", (put(cat),), LABELLED, labels=("Cat",)),
        Case("1,024-byte key", long_key, (put(cat),), LABELLED, labels=("Cat",)),
        Case("40 folders deep", deep, (put(cat),), LABELLED, labels=("Cat",)),
        # Sequences: the last state wins, whatever order the events are processed in.
        Case("same key 10 times quickly", "seq/ten.png", tuple(put(cat if i % 2 else coffee) for i in range(10)), LABELLED, labels=("Cat",)),
        Case("upload then immediate delete", "seq/gone.png", (put(cat), DELETE), DELETED),
        Case("delete of a never-labelled key", "seq/never.jpg", (DELETE,), DELETED),
        Case("good then bad overwrite", "seq/good-bad.jpg", (put(coffee), put(b"oops")), FAILED, invalid),
        Case("bad then good overwrite", "seq/bad-good.jpg", (put(b"oops"), put(coffee)), LABELLED, labels=("Cup",)),
        Case("delete then upload again", "seq/back.png", (put(cat), DELETE, put(cat)), LABELLED, labels=("Cat",)),
        # Keys the notification filter does not match: never labelled automatically (backfill
        # picks up mixed-case extensions).
        Case("mixed-case extension", "filter/Cat.Jpg", (put(cat),), ABSENT),
        Case("text file", "filter/readme.txt", (put(b"hello"),), ABSENT),
        Case("folder placeholder", "filter/folder/", (put(b""),), ABSENT),
    ]
    names = [case.name for case in cases]
    keys = [case.key for case in cases]
    assert len(set(names)) == len(names) and len(set(keys)) == len(keys), "cases must be distinct"
    return cases
