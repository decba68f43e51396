"""Custom::PagePublication: the page's files from the web/ asset zip, plus config.json, in the site bucket.

The site bucket holds nothing but the page, so whatever a release does not contain is a file of an
earlier release: it is deleted once the new files are in place (new files first, so that a browser
never finds index.html naming a module that is already gone).
"""

from __future__ import annotations

import io
import json
import mimetypes
import posixpath
import zipfile

CONFIG_KEY = "config.json"
# Every response is revalidated: a release must reach browsers at once, and the page is small.
CACHE_CONTROL = "no-cache"

# Lambda's image has no /etc/mime.types, so Python's guesses there are poorer than on a desktop:
# the types a browser insists on (modules, styles) are written out.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}


class ReleaseError(ValueError):
    """A release that cannot be published as given; the message says what is wrong with it."""


def content_type(key: str) -> str:
    suffix = posixpath.splitext(key)[1].lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def release_files(archive: bytes) -> dict[str, bytes]:
    """The files of the asset zip by key. A name that would leave the bucket's root is refused,
    and the zip may not carry its own config.json (the deployment writes that one)."""
    files = {}
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        for entry in zipped.infolist():
            if entry.is_dir():
                continue
            key = posixpath.normpath(entry.filename.replace("\\", "/"))
            if key.startswith(("/", "../")) or key == "..":
                raise ReleaseError(f"the page archive names a file outside the site: {entry.filename!r}")
            files[key] = zipped.read(entry)
    if CONFIG_KEY in files:
        raise ReleaseError(f"the page archive has its own {CONFIG_KEY}; the deployment writes that file")
    if "index.html" not in files:
        raise ReleaseError("the page archive has no index.html")
    return files


def publish(s3, *, site_bucket: str, source_bucket: str, source_key: str, config: dict) -> list[str]:
    """Puts the release and config.json, then deletes the files of earlier releases.
    Returns the keys published."""
    archive = s3.get_object(Bucket=source_bucket, Key=source_key)["Body"].read()
    files = release_files(archive)
    files[CONFIG_KEY] = json.dumps(config, indent=2, sort_keys=True).encode()
    for key, body in sorted(files.items()):
        s3.put_object(Bucket=site_bucket, Key=key, Body=body, ContentType=content_type(key), CacheControl=CACHE_CONTROL)
    stale = [key for key in site_keys(s3, site_bucket) if key not in files]
    delete_keys(s3, site_bucket, stale)
    return sorted(files)


def unpublish(s3, *, site_bucket: str) -> None:
    """Empties the site bucket (it holds only what releases put there), so that CloudFormation can
    delete it. A bucket already gone is nothing to do."""
    try:
        delete_keys(s3, site_bucket, site_keys(s3, site_bucket))
    except s3.exceptions.NoSuchBucket:
        pass


def site_keys(s3, bucket: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def delete_keys(s3, bucket: str, keys: list[str]) -> None:
    # One DeleteObject per key: DeleteObjects needs a Content-MD5 the local AWS and some proxies
    # mishandle, and a page is a dozen files.
    for key in keys:
        s3.delete_object(Bucket=bucket, Key=key)


def invalidate(cloudfront, *, distribution_id: str, reference: str) -> str:
    """Asks CloudFront to drop every cached path, so an updated page is served at once."""
    answer = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": reference},
    )
    return answer["Invalidation"]["Id"]
