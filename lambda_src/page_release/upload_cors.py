"""Custom::UploadCors: the image bucket's CORS rule that lets the page, and only the page, PUT uploads.

A custom resource rather than the bucket's own Cors property: the bucket's CORS names the distribution's
domain, the distribution's headers policy names the bucket's domain (CSP), a cycle in one template.
"""

from __future__ import annotations

# How long a browser may reuse a preflight answer, in seconds.
MAX_AGE_SECONDS = 3000


def cors_rules(allowed_origins: list[str]) -> dict:
    """Presigned PUTs (single and parts) from the page's origins; ETag exposed because completing a
    multipart upload needs each part's ETag, x-amz-version-id because the page waits for the labels
    of the version it uploaded (a key uploaded again still has the old version's labels meanwhile)."""
    origins = list(allowed_origins)
    bad = [origin for origin in origins if not isinstance(origin, str) or not origin.startswith("https://")]
    if not origins or bad:
        raise ValueError(f"AllowedOrigins must be one or more https:// origins, got {allowed_origins!r}")
    return {
        "CORSRules": [{
            "AllowedOrigins": origins,
            "AllowedMethods": ["PUT"],
            "AllowedHeaders": ["Content-Type"],
            "ExposeHeaders": ["ETag", "x-amz-version-id"],
            "MaxAgeSeconds": MAX_AGE_SECONDS,
        }]
    }


def set_upload_cors(s3, *, bucket: str, allowed_origins: list[str]) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors_rules(allowed_origins))


def remove_upload_cors(s3, *, bucket: str) -> None:
    """A bucket already gone (deleted with the stack) has no CORS to remove."""
    try:
        s3.delete_bucket_cors(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        pass
