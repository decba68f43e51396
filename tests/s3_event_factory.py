"""Builds S3 event notifications shaped like the ones S3 sends to Lambda."""

from __future__ import annotations

from urllib.parse import quote_plus

BUCKET = "image-labels-test-bucket"


def encode_key(key: str) -> str:
    """How S3 writes a key into an event: URL-encoded, a space as '+', slashes kept."""
    return quote_plus(key, safe="/")


def record(
    key: str,
    *,
    sequencer: str,
    event_name: str = "ObjectCreated:Put",
    size: int = 123_456,
    version_id: str | None = "v1",
    bucket: str = BUCKET,
    etag: str = "0123456789abcdef0123456789abcdef",
) -> dict:
    obj = {"key": encode_key(key), "sequencer": sequencer}
    if event_name.startswith("ObjectCreated"):
        obj.update({"size": size, "eTag": etag})
    if version_id:
        obj["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "eu-west-1",
        "eventTime": "2026-11-26T10:00:00.000Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "labeller",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def event(*records: dict) -> dict:
    return {"Records": list(records)}


TEST_EVENT = {
    "Service": "Amazon S3",
    "Event": "s3:TestEvent",
    "Time": "2026-11-26T10:00:00.000Z",
    "Bucket": BUCKET,
    "RequestId": "5582815E1AEA5ADF",
    "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
}
