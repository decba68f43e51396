"""POST /api/uploads(/complete, /abort): what may be uploaded, and the plan for it (one presigned
PUT, or a multipart upload with a presigned URL per part)."""

from __future__ import annotations

import math

# Rekognition's limit for an image in S3: the image labeller's own, so the two never disagree.
from image_labeller.detection import MAX_IMAGE_BYTES
from label_table.media_keys import notified_spelling
from web_api.search_request import BadRequest

IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
FILM_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime"}
MAX_FILM_BYTES = 10 * 1024**3  # Rekognition Video's limit
SINGLE_PUT_BYTES = 100 * 1024 * 1024
PART_BYTES = 64 * 1024 * 1024
MAX_PARTS = 10_000  # S3's limit


def upload_key(name) -> str:
    if not isinstance(name, str) or not 1 <= len(name.encode("utf-8", "surrogatepass")) <= 1024:
        raise BadRequest("name must be an object key of 1 to 1024 UTF-8 bytes")
    if name.startswith("/"):
        raise BadRequest("name must not start with '/'")
    if _suffix(name) not in IMAGE_TYPES | FILM_TYPES:
        raise BadRequest("only images (.jpg, .jpeg, .png) and films (.mp4, .mov) are labelled")
    # The bucket's notification filter is case-sensitive: "beach.Jpg" goes up as "beach.jpg", as the
    # command uploads it, or it would never be labelled and the page would wait for it forever.
    return notified_spelling(name)


def _suffix(name: str) -> str:
    return "." + name.rsplit(".", 1)[-1].casefold() if "." in name else ""


def checked_upload(body: dict) -> tuple[str, int, str]:
    """(key, size, content type) of an upload request, or BadRequest."""
    key = upload_key(body.get("name"))
    size = body.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise BadRequest("size must be the file's size in bytes, more than 0")
    suffix = _suffix(key)
    if suffix in IMAGE_TYPES and size > MAX_IMAGE_BYTES:
        raise BadRequest("an image may be at most 15 MB (Rekognition's limit)")
    if suffix in FILM_TYPES and size > MAX_FILM_BYTES:
        raise BadRequest("a film may be at most 10 GiB (Rekognition Video's limit)")
    content_type = body.get("type") or (IMAGE_TYPES | FILM_TYPES)[suffix]
    if not isinstance(content_type, str) or len(content_type) > 255:
        raise BadRequest("type must be the file's media type, e.g. image/jpeg")
    return key, size, content_type


def part_size_for(size: int, *, part_bytes: int = PART_BYTES) -> int:
    """64 MiB, raised (to whole MiB) so that the upload needs at most 10,000 parts."""
    needed = math.ceil(size / MAX_PARTS)
    return max(part_bytes, math.ceil(needed / 2**20) * 2**20)


def plan_upload(s3, bucket: str, body: dict, *, expires_in: int, single_put_bytes: int = SINGLE_PUT_BYTES,
                part_bytes: int = PART_BYTES) -> dict:
    key, size, content_type = checked_upload(body)
    if size <= single_put_bytes:
        url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key, "ContentType": content_type},
                                        ExpiresIn=expires_in)
        return {"key": key, "method": "PUT", "url": url, "headers": {"Content-Type": content_type},
                "expires_in": expires_in}
    part_size = part_size_for(size, part_bytes=part_bytes)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)["UploadId"]
    parts = [
        {"number": number, "url": s3.generate_presigned_url(
            "upload_part", Params={"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": number},
            ExpiresIn=expires_in)}
        for number in range(1, math.ceil(size / part_size) + 1)
    ]
    return {"key": key, "upload_id": upload_id, "part_size": part_size, "parts": parts, "expires_in": expires_in}


def _upload_id(body: dict) -> tuple[str, str]:
    key = upload_key(body.get("key"))
    upload_id = body.get("upload_id")
    if not isinstance(upload_id, str) or not upload_id:
        raise BadRequest("upload_id must be the one POST /api/uploads gave")
    return key, upload_id


def complete_upload(s3, bucket: str, body: dict) -> dict:
    key, upload_id = _upload_id(body)
    parts = body.get("parts")
    if not isinstance(parts, list) or not parts or not all(
            isinstance(part, dict) and isinstance(part.get("number"), int) and isinstance(part.get("etag"), str)
            for part in parts):
        raise BadRequest('parts must be [{"number": 1, "etag": "..."}, ...]')
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": part["number"], "ETag": part["etag"]} for part in sorted(parts, key=lambda p: p["number"])]})
    # The version the upload made: the page waits for its labels, not an earlier version's.
    return {"key": key, "version_id": done.get("VersionId")}


def abort_upload(s3, bucket: str, body: dict) -> dict:
    key, upload_id = _upload_id(body)
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    return {"key": key}
