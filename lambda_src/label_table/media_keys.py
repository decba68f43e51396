"""Which object keys the pipeline labels, and how a key is spelled so that it is: the one rule the
command's uploads and the web API's uploads both follow."""

from __future__ import annotations

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
FILM_EXTENSIONS = (".mp4", ".mov")

# The bucket notifies the labellers for these suffixes only (S3 filters are case-sensitive; see
# stacks/image_labels_stack.py). Another spelling (".Jpg") is uploaded with a lower-case extension.
NOTIFIED_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG", ".mp4", ".mov", ".MP4", ".MOV")


def is_image_key(name: str) -> bool:
    """JPEG and PNG by name, in any case (the notification filter only matches lower and upper)."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def is_film_key(name: str) -> bool:
    """MP4 and QuickTime by name, in any case: what the bucket sends to the film pipeline."""
    return name.lower().endswith(FILM_EXTENSIONS)


def notified_spelling(name: str) -> str:
    """The name with its extension spelled so that the bucket's notification filter sees it."""
    stem, dot, extension = name.rpartition(".")
    if dot and "." + extension not in NOTIFIED_SUFFIXES:
        return f"{stem}.{extension.lower()}"
    return name
