"""`imagelabels upload`: which files go up under which keys (pure planning), the concurrent
upload, and the wait until the pipeline has labelled (or failed) exactly the uploaded versions."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from imagelabels.errors import describe, error_code, missing_bucket
from label_table.layout import DONE_STATUSES, IMAGE_ENTRY, describes_version, image_key
from label_table.reads import batch_get

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def is_image_key(name: str) -> bool:
    """JPEG and PNG by name, in any case (the notification filter only matches lower and upper)."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


# The bucket notifies the labeller for these suffixes only (S3 filters are case-sensitive; see
# stacks/image_labels_stack.py). Another spelling (".Jpg") is uploaded with a lower-case extension.
NOTIFIED_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, kw_only=True)
class PlannedUpload:
    path: Path
    key: str
    content_type: str
    size: int


@dataclass(frozen=True, kw_only=True)
class SkippedFile:
    path: Path
    reason: str


@dataclass(kw_only=True)
class UploadPlan:
    uploads: list[PlannedUpload] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)  # not images: expected, not an error
    unreadable: list[SkippedFile] = field(default_factory=list)  # asked for but cannot be sent: an error


def content_type_of(head: bytes) -> str | None:
    """What the file is, from its first bytes: its name can lie (a PNG renamed .jpg)."""
    if head.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if head.startswith(PNG_MAGIC):
        return "image/png"
    return None


def object_key(relative: str, *, prefix: str) -> str:
    """The key for a file: prefix + its path (forward slashes), the extension spelled so that the
    bucket's notification filter sees it."""
    stem, dot, extension = relative.rpartition(".")
    if dot and "." + extension not in NOTIFIED_SUFFIXES:
        relative = f"{stem}.{extension.lower()}"
    return prefix + relative


def normalise_prefix(prefix: str) -> str:
    prefix = prefix.strip().lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix


def _candidate_files(paths: Iterable[Path], plan: UploadPlan) -> list[tuple[Path, str]]:
    """(file, path relative to what the user named): a named file is its own name, a folder
    keeps its own name and everything below it (photos/2026/a.jpg)."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_file():
            found.append((path, path.name))
        elif path.is_dir():
            base = path.resolve().name or "root"

            def unreadable_folder(error: OSError) -> None:
                plan.unreadable.append(SkippedFile(path=Path(error.filename or path), reason=f"cannot read folder: {error.strerror}"))

            for folder, folders, files in os.walk(path, onerror=unreadable_folder):
                folders.sort()
                for name in sorted(files):
                    file = Path(folder) / name
                    relative = Path(base) / file.relative_to(path)
                    found.append((file, relative.as_posix()))
        elif path.is_symlink() and not path.exists():
            plan.unreadable.append(SkippedFile(path=path, reason=f"broken link to {os.readlink(path)}"))
        elif path.exists():
            plan.skipped.append(SkippedFile(path=path, reason="not a regular file"))
        else:
            plan.unreadable.append(SkippedFile(path=path, reason="no such file or folder"))
    return found


def plan_uploads(paths: Iterable[Path], *, prefix: str = "") -> UploadPlan:
    """Decides, for every file under `paths`, its key or why it is not sent. Reads only the first
    bytes of each image-named file."""
    plan = UploadPlan()
    prefix = normalise_prefix(prefix)
    keys: dict[str, Path] = {}
    for file, relative in _candidate_files(paths, plan):
        if not is_image_key(file.name):
            plan.skipped.append(SkippedFile(path=file, reason="not a .jpg, .jpeg or .png file"))
            continue
        try:
            size = file.stat().st_size
            with file.open("rb") as handle:
                head = handle.read(len(PNG_MAGIC))
        except OSError as error:
            reason = f"broken link to {os.readlink(file)}" if file.is_symlink() and not file.exists() else f"cannot read: {error.strerror or error}"
            plan.unreadable.append(SkippedFile(path=file, reason=reason))
            continue
        if size == 0:
            plan.skipped.append(SkippedFile(path=file, reason="empty file"))
            continue
        content_type = content_type_of(head)
        if content_type is None:
            plan.skipped.append(SkippedFile(path=file, reason="named like an image but is neither JPEG nor PNG"))
            continue
        key = object_key(relative, prefix=prefix)
        if key in keys:
            plan.unreadable.append(SkippedFile(path=file, reason=f"same key {key!r} as {keys[key]}"))
            continue
        keys[key] = file
        plan.uploads.append(PlannedUpload(path=file, key=key, content_type=content_type, size=size))
    return plan


@dataclass(kw_only=True)
class UploadResult:
    upload: PlannedUpload
    version_id: str | None = None
    etag: str | None = None
    error: str | None = None
    # Filled by the wait: the image item once it describes this very upload.
    item: dict | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def matches(self, item: dict) -> bool:
        """Whether the image item describes this upload (not an earlier or later one of the key)."""
        return describes_version(item, version_id=self.version_id, etag=self.etag)


def upload_one(s3, bucket: str, upload: PlannedUpload) -> UploadResult:
    try:
        with upload.path.open("rb") as body:
            response = s3.put_object(Bucket=bucket, Key=upload.key, Body=body, ContentType=upload.content_type)
    except OSError as error:
        return UploadResult(upload=upload, error=f"cannot read: {error.strerror or error}")
    except ClientError as error:
        if error_code(error) == "NoSuchBucket":
            raise missing_bucket(bucket) from None
        return UploadResult(upload=upload, error=describe(error))
    except BotoCoreError as error:
        return UploadResult(upload=upload, error=describe(error))
    version = response.get("VersionId")
    return UploadResult(
        upload=upload,
        version_id=version if version and version != "null" else None,
        etag=(response.get("ETag") or "").strip('"') or None,
    )


def upload_all(
    s3,
    bucket: str,
    uploads: list[PlannedUpload],
    *,
    concurrency: int,
    on_done: Callable[[UploadResult], None] = lambda result: None,
) -> list[UploadResult]:
    """Uploads concurrently; a failed file never stops the others. Results in plan order."""
    if not uploads:
        return []
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="upload") as pool:
        def run(upload: PlannedUpload) -> UploadResult:
            result = upload_one(s3, bucket, upload)
            on_done(result)
            return result

        return list(pool.map(run, uploads))


def wait_for_labels(
    dynamodb,
    table: str,
    results: list[UploadResult],
    *,
    timeout: float,
    poll_interval: float = 0.5,
    max_interval: float = 3.0,
    on_done: Callable[[UploadResult], None] = lambda result: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[UploadResult]:
    """Polls the image items of every uploaded file (100 per BatchGetItem) until each describes
    this upload with status LABELLED or FAILED, or `timeout` seconds pass. Returns those still waiting."""
    waiting = {result.upload.key: result for result in results if result.ok}
    deadline = clock() + timeout
    interval = poll_interval
    while waiting:
        items = batch_get(dynamodb, table, [image_key(key) for key in waiting], consistent=True)
        for key in list(waiting):
            item = items.get((key, IMAGE_ENTRY))
            result = waiting[key]
            if item and item.get("Status") in DONE_STATUSES and result.matches(item):
                result.item = item
                del waiting[key]
                on_done(result)
        if not waiting or clock() >= deadline:
            break
        sleep(min(interval, max(0.0, deadline - clock())))
        interval = min(max_interval, interval * 1.5)
    return list(waiting.values())
