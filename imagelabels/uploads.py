"""`imagelabels upload`: which files go up under which keys (pure planning), the concurrent
upload (a large file, a film of gigabytes say, in parts through boto3's transfer manager), and the
wait until the pipeline has labelled (or failed) exactly the uploaded versions."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from imagelabels.errors import describe, error_code, missing_bucket
# is_image_key / is_film_key / NOTIFIED_SUFFIXES are imported from here by the demo and the tests.
from label_table.media_keys import NOTIFIED_SUFFIXES, is_film_key, is_image_key, notified_spelling  # noqa: F401
from label_table.layout import DONE_STATUSES, IMAGE_ENTRY, STATUS_LABELLED, describes_version, image_key, is_film
from label_table.object_summary import film_labels
from label_table.reads import batch_get

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# MP4 and QuickTime files open with an ISO base media box: 4 bytes of size, then its type "ftyp",
# then the major brand ("qt  " for QuickTime). 12 bytes tell them from anything else.
FILM_BOX_TYPE = b"ftyp"
QUICKTIME_BRAND = b"qt  "
HEAD_BYTES = 12

# Parts of one file sent at once by the transfer manager.
PARTS_AT_ONCE = 4
MIB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MIB  # 4 parts in flight per file keep memory near 64 MB a file
MIN_PART_SIZE = 5 * MIB  # S3's smallest part (all but the last)


@dataclass(frozen=True, kw_only=True)
class PlannedUpload:
    path: Path
    key: str
    content_type: str
    size: int

    @property
    def is_film(self) -> bool:
        return self.content_type.startswith("video/")


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
    if head[4:8] == FILM_BOX_TYPE:
        return "video/quicktime" if head[8:12] == QUICKTIME_BRAND else "video/mp4"
    return None


def refusal(name: str, content_type: str | None) -> str | None:
    """Why a file named `name` whose bytes say `content_type` is not sent, if it is not: the name
    decides which labeller the bucket notifies, so the bytes must be of that kind (an image named
    .mp4 would fail in the film pipeline, a film named .jpg in the image labeller)."""
    if is_image_key(name) and not (content_type or "").startswith("image/"):
        return "named like an image but is neither JPEG nor PNG"
    if is_film_key(name) and not (content_type or "").startswith("video/"):
        return "named like a film but is neither MP4 nor QuickTime (no ftyp box)"
    return None


def object_key(relative: str, *, prefix: str) -> str:
    """The key for a file: prefix + its path (forward slashes), the extension spelled so that the
    bucket's notification filter sees it."""
    return prefix + notified_spelling(relative)


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
    bytes of each image- or film-named file."""
    plan = UploadPlan()
    prefix = normalise_prefix(prefix)
    keys: dict[str, Path] = {}
    for file, relative in _candidate_files(paths, plan):
        if not (is_image_key(file.name) or is_film_key(file.name)):
            plan.skipped.append(SkippedFile(path=file, reason="not a .jpg, .jpeg, .png, .mp4 or .mov file"))
            continue
        try:
            size = file.stat().st_size
            with file.open("rb") as handle:
                head = handle.read(HEAD_BYTES)
        except OSError as error:
            reason = f"broken link to {os.readlink(file)}" if file.is_symlink() and not file.exists() else f"cannot read: {error.strerror or error}"
            plan.unreadable.append(SkippedFile(path=file, reason=reason))
            continue
        if size == 0:
            plan.skipped.append(SkippedFile(path=file, reason="empty file"))
            continue
        content_type = content_type_of(head)
        reason = refusal(file.name, content_type)
        if reason:
            plan.skipped.append(SkippedFile(path=file, reason=reason))
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
    # Filled by the wait: the item once it describes this very upload, and a labelled film's
    # label entries (film_labels: best first, with their segments).
    item: dict | None = None
    film_entries: list[dict] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def matches(self, item: dict) -> bool:
        """Whether the image item describes this upload (not an earlier or later one of the key)."""
        return describes_version(item, version_id=self.version_id, etag=self.etag)


def transfer_config(*, part_size: int = DEFAULT_PART_SIZE) -> TransferConfig:
    """A file of more than one part goes up in parts (PutObject stops at 5 GB); the transfer
    manager retries a failed part alone, and enlarges parts itself past 10,000 of them."""
    return TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size,
                          max_concurrency=PARTS_AT_ONCE, use_threads=True)


class MultipartReceipts:
    """The version id and ETag of each multipart upload, from its CompleteMultipartUpload answer
    (the transfer manager returns nothing): --wait matches the item against exactly that version.
    Keyed by object key, which is unique within one plan."""

    _CONTEXT = "imagelabels_multipart_key"

    def __init__(self, s3) -> None:
        self._events = s3.meta.events
        self._lock = threading.Lock()
        self.by_key: dict[str, dict] = {}

    def _remember_key(self, params, context, **kwargs) -> None:
        context[self._CONTEXT] = params["Key"]

    def _record(self, http_response, parsed, context, **kwargs) -> None:
        if http_response.status_code == 200 and self._CONTEXT in context:
            with self._lock:
                self.by_key[context[self._CONTEXT]] = parsed

    def __enter__(self) -> "MultipartReceipts":
        self._events.register("provide-client-params.s3.CompleteMultipartUpload", self._remember_key)
        self._events.register("after-call.s3.CompleteMultipartUpload", self._record)
        return self

    def __exit__(self, *exc) -> None:
        self._events.unregister("provide-client-params.s3.CompleteMultipartUpload", self._remember_key)
        self._events.unregister("after-call.s3.CompleteMultipartUpload", self._record)


def upload_one(s3, bucket: str, upload: PlannedUpload, *, config: TransferConfig | None = None,
               receipts: MultipartReceipts | None = None,
               on_bytes: Callable[[int], None] = lambda count: None) -> UploadResult:
    """One file: a single PutObject up to one part's size, else the transfer manager in parts.
    `on_bytes` hears of every chunk sent (from the transfer manager's threads)."""
    config = config or transfer_config()
    try:
        if upload.size < config.multipart_threshold or receipts is None:
            with upload.path.open("rb") as body:
                response = s3.put_object(Bucket=bucket, Key=upload.key, Body=body, ContentType=upload.content_type)
            on_bytes(upload.size)
        else:
            s3.upload_file(str(upload.path), bucket, upload.key, ExtraArgs={"ContentType": upload.content_type},
                           Config=config, Callback=on_bytes)
            response = receipts.by_key.get(upload.key, {})
    except OSError as error:
        return UploadResult(upload=upload, error=f"cannot read: {error.strerror or error}")
    except ClientError as error:
        if error_code(error) == "NoSuchBucket":
            raise missing_bucket(bucket) from None
        return UploadResult(upload=upload, error=describe(error))
    except (BotoCoreError, S3UploadFailedError) as error:
        cause = error.__cause__ or error.__context__
        if isinstance(cause, ClientError) and error_code(cause) == "NoSuchBucket":
            raise missing_bucket(bucket) from None
        return UploadResult(upload=upload, error=describe(cause) if isinstance(cause, ClientError) else str(error))
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
    part_size: int = DEFAULT_PART_SIZE,
    on_bytes: Callable[[int], None] = lambda count: None,
    on_done: Callable[[UploadResult], None] = lambda result: None,
) -> list[UploadResult]:
    """Uploads concurrently; a failed file never stops the others. Results in plan order.
    `on_bytes` hears of the bytes sent as they go; a file that fails counts its unsent rest as
    sent, so that a progress bar in bytes still ends full."""
    if not uploads:
        return []
    config = transfer_config(part_size=part_size)
    with MultipartReceipts(s3) as receipts, \
            ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="upload") as pool:
        def run(upload: PlannedUpload) -> UploadResult:
            sent = [0]
            lock = threading.Lock()

            def count(amount: int) -> None:
                with lock:
                    sent[0] += amount
                on_bytes(amount)

            result = upload_one(s3, bucket, upload, config=config, receipts=receipts, on_bytes=count)
            if not result.ok and sent[0] < upload.size:
                on_bytes(upload.size - sent[0])
            on_done(result)
            return result

        return list(pool.map(run, uploads))


def wait_for_labels(
    dynamodb,
    table: str,
    results: list[UploadResult],
    *,
    timeout: float,
    film_timeout: float | None = None,
    poll_interval: float = 0.5,
    max_interval: float = 3.0,
    on_done: Callable[[UploadResult], None] = lambda result: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[UploadResult]:
    """Polls the items of every uploaded file (100 per BatchGetItem) until each describes this
    upload with status LABELLED or FAILED (a film is PROCESSING first), or its time is up:
    `timeout` seconds for an image, `film_timeout` for a film (a Rekognition Video job takes
    minutes). A labelled film's labels are read as well. Returns those still waiting."""
    waiting = {result.upload.key: result for result in results if result.ok}
    started = clock()
    film_timeout = timeout if film_timeout is None else film_timeout
    deadlines = {key: started + (film_timeout if result.upload.is_film else timeout) for key, result in waiting.items()}
    interval = poll_interval
    while waiting:
        items = batch_get(dynamodb, table, [image_key(key) for key in waiting], consistent=True)
        for key in list(waiting):
            item = items.get((key, IMAGE_ENTRY))
            result = waiting[key]
            if item and item.get("Status") in DONE_STATUSES and result.matches(item):
                result.item = item
                if is_film(item) and item.get("Status") == STATUS_LABELLED:
                    result.film_entries = film_labels(dynamodb, table, item)
                del waiting[key]
                on_done(result)
        now = clock()
        for key in [key for key in waiting if now >= deadlines[key]]:
            del waiting[key]
        if not waiting:
            break
        next_deadline = min(deadlines[key] for key in waiting)
        sleep(min(interval, max(0.0, next_deadline - clock())))
        interval = min(max_interval, interval * 1.5)
    return [result for result in results if result.ok and result.item is None]
