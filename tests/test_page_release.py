"""The page release custom resource function (lambda_src/page_release) against moto: what a deployment
leaves in the site bucket and on the image bucket, and the answer CloudFormation gets on its ResponseURL."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3
import pytest
from moto import mock_aws

from page_release import handler

REGION = "eu-west-1"
SITE = "site-bucket"
IMAGES = "image-bucket"
ASSETS = "cdk-assets"
PAGE_ORIGIN = "https://d111111abcdef8.cloudfront.net"
CONFIG = {"region": REGION, "apiBase": "/api", "auth": {"clientId": "abc", "scopes": ["openid", "email", "profile"]}}


class ResponseCatcher:
    """Stands in for CloudFormation's presigned ResponseURL: keeps every document PUT to it."""

    def __init__(self) -> None:
        self.documents: list[dict] = []
        catcher = self

        class Answer(BaseHTTPRequestHandler):
            def do_PUT(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                catcher.documents.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Answer)
        self.url = f"http://127.0.0.1:{self.server.server_port}/response?X-Amz-Signature=x"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def aws(monkeypatch):
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (SITE, IMAGES, ASSETS):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        cloudfront = boto3.client("cloudfront", region_name=REGION)
        distribution = cloudfront.create_distribution(DistributionConfig={
            "CallerReference": "test", "Comment": "", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": f"{SITE}.s3.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
        })["Distribution"]["Id"]
        monkeypatch.setattr(handler, "s3", s3)
        monkeypatch.setattr(handler, "cloudfront", cloudfront)
        with ResponseCatcher() as responses:
            yield s3, cloudfront, distribution, responses


def page_zip(s3, key: str, files: dict[str, str]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    s3.put_object(Bucket=ASSETS, Key=key, Body=buffer.getvalue())
    return key


def event(responses, request: str, kind: str, props: dict, physical_id: str | None = None, old: dict | None = None):
    message = {
        "RequestType": request, "ResourceType": kind, "ResourceProperties": {"ServiceToken": "arn", **props},
        "ResponseURL": responses.url, "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1",
        "RequestId": f"request-{len(responses.documents)}", "LogicalResourceId": "PageReleasePublication",
    }
    if physical_id:
        message["PhysicalResourceId"] = physical_id
    if old is not None:
        message["OldResourceProperties"] = old
    return message


def publication(source_key: str, distribution: str) -> dict:
    return {"SiteBucket": SITE, "SourceBucket": ASSETS, "SourceKey": source_key, "Config": CONFIG,
            "DistributionId": distribution}


def site_files(s3) -> dict[str, dict]:
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=SITE).get("Contents", [])]
    return {key: s3.get_object(Bucket=SITE, Key=key) for key in keys}


def test_a_release_publishes_the_page_with_content_types_and_the_deployments_config(aws):
    s3, _, distribution, responses = aws
    key = page_zip(s3, "one.zip", {"index.html": "<!doctype html>", "app.js": "export {}", "styles.css": "p{}",
                                   "img/logo.svg": "<svg/>"})
    handler.handle(event(responses, "Create", "Custom::PagePublication", publication(key, distribution)), None)

    (answer,) = responses.documents
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == f"page-publication-{SITE}"
    assert answer["RequestId"] == "request-0" and answer["LogicalResourceId"] == "PageReleasePublication"
    files = site_files(s3)
    assert {key: file["ContentType"] for key, file in files.items()} == {
        "index.html": "text/html; charset=utf-8",
        "app.js": "text/javascript; charset=utf-8",
        "styles.css": "text/css; charset=utf-8",
        "img/logo.svg": "image/svg+xml",
        "config.json": "application/json",
    }
    assert {file["CacheControl"] for file in files.values()} == {"no-cache"}
    assert json.loads(files["config.json"]["Body"].read()) == CONFIG
    assert files["index.html"]["Body"].read() == b"<!doctype html>"


def test_an_update_replaces_the_release_prunes_old_files_and_invalidates_the_cache(aws):
    s3, cloudfront, distribution, responses = aws
    first = page_zip(s3, "one.zip", {"index.html": "1", "old.js": "gone soon"})
    handler.handle(event(responses, "Create", "Custom::PagePublication", publication(first, distribution)), None)
    second = page_zip(s3, "two.zip", {"index.html": "2", "new.js": "export {}"})
    handler.handle(event(responses, "Update", "Custom::PagePublication", publication(second, distribution),
                         physical_id=f"page-publication-{SITE}", old=publication(first, distribution)), None)

    assert [d["Status"] for d in responses.documents] == ["SUCCESS", "SUCCESS"]
    files = site_files(s3)
    assert sorted(files) == ["config.json", "index.html", "new.js"]
    assert files["index.html"]["Body"].read() == b"2"
    (invalidation,) = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    assert responses.documents[1]["Data"]["InvalidationId"] == invalidation["Id"]
    paths = cloudfront.get_invalidation(DistributionId=distribution, Id=invalidation["Id"])["Invalidation"][
        "InvalidationBatch"]["Paths"]["Items"]
    assert paths == ["/*"]


def test_deleting_the_publication_empties_the_site_bucket(aws):
    s3, _, distribution, responses = aws
    key = page_zip(s3, "one.zip", {"index.html": "1", "app.js": ""})
    handler.handle(event(responses, "Create", "Custom::PagePublication", publication(key, distribution)), None)
    handler.handle(event(responses, "Delete", "Custom::PagePublication", publication(key, distribution),
                         physical_id=f"page-publication-{SITE}"), None)
    assert [d["Status"] for d in responses.documents] == ["SUCCESS", "SUCCESS"]
    assert site_files(s3) == {}


def test_upload_cors_allows_exactly_the_page_origin_and_is_removed_on_delete(aws):
    s3, _, _, responses = aws
    props = {"Bucket": IMAGES, "AllowedOrigins": [PAGE_ORIGIN, "https://labels.example.com"]}
    handler.handle(event(responses, "Create", "Custom::UploadCors", props), None)
    assert s3.get_bucket_cors(Bucket=IMAGES)["CORSRules"] == [{
        "AllowedOrigins": [PAGE_ORIGIN, "https://labels.example.com"],
        "AllowedMethods": ["PUT"],
        "AllowedHeaders": ["Content-Type"],
        "ExposeHeaders": ["ETag", "x-amz-version-id"],
        "MaxAgeSeconds": 3000,
    }]
    handler.handle(event(responses, "Delete", "Custom::UploadCors", props, physical_id=f"upload-cors-{IMAGES}"), None)
    assert [d["Status"] for d in responses.documents] == ["SUCCESS", "SUCCESS"]
    assert responses.documents[0]["PhysicalResourceId"] == f"upload-cors-{IMAGES}"
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchCORSConfiguration"):
        s3.get_bucket_cors(Bucket=IMAGES)


def test_deleting_after_the_buckets_are_gone_still_succeeds(aws):
    s3, _, distribution, responses = aws
    s3.delete_bucket(Bucket=IMAGES)
    s3.delete_bucket(Bucket=SITE)
    handler.handle(event(responses, "Delete", "Custom::UploadCors", {"Bucket": IMAGES, "AllowedOrigins": [PAGE_ORIGIN]},
                         physical_id=f"upload-cors-{IMAGES}"), None)
    handler.handle(event(responses, "Delete", "Custom::PagePublication", publication("one.zip", distribution),
                         physical_id=f"page-publication-{SITE}"), None)
    assert [d["Status"] for d in responses.documents] == ["SUCCESS", "SUCCESS"]


@pytest.mark.parametrize(
    "files, reason",
    [
        ({"app.js": ""}, "the page archive has no index.html"),
        ({"index.html": "", "config.json": "{}"}, "has its own config.json"),
        ({"index.html": "", "../escape.js": ""}, "names a file outside the site: '../escape.js'"),
    ],
)
def test_a_release_that_cannot_be_published_fails_with_the_reason_and_publishes_nothing(aws, files, reason):
    s3, _, distribution, responses = aws
    key = page_zip(s3, "bad.zip", files)
    handler.handle(event(responses, "Create", "Custom::PagePublication", publication(key, distribution)), None)
    (answer,) = responses.documents
    assert answer["Status"] == "FAILED"
    assert reason in answer["Reason"]
    assert site_files(s3) == {}


def test_failures_of_aws_calls_are_answered_failed_with_the_error(aws):
    s3, _, distribution, responses = aws
    handler.handle(event(responses, "Create", "Custom::PagePublication", publication("missing.zip", distribution)),
                   None)
    handler.handle(event(responses, "Create", "Custom::UploadCors", {"Bucket": IMAGES, "AllowedOrigins": []}), None)
    handler.handle(event(responses, "Create", "Custom::Other", {}), None)
    statuses = [(d["Status"], d["Reason"]) for d in responses.documents]
    assert [status for status, _ in statuses] == ["FAILED"] * 3
    assert "NoSuchKey" in statuses[0][1]
    assert "AllowedOrigins must be one or more https:// origins" in statuses[1][1]
    assert "not 'Custom::Other'" in statuses[2][1]
    # A failed Create still names a physical id, so CloudFormation's rollback Delete can follow it.
    assert all(d["PhysicalResourceId"] for d in responses.documents)


class SlowContext:
    """A Lambda context with little time left."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_a_release_that_runs_out_of_time_is_answered_failed_once(aws, monkeypatch):
    s3, _, distribution, responses = aws
    key = page_zip(s3, "one.zip", {"index.html": "1"})
    stuck = threading.Event()
    monkeypatch.setattr(handler, "TIMEOUT_MARGIN_S", 0.0)

    def stuck_publish(*args, **kwargs):
        stuck.wait(5)
        return []

    monkeypatch.setattr(handler, "publish", stuck_publish)
    released = threading.Thread(target=handler.handle, args=(
        event(responses, "Create", "Custom::PagePublication", publication(key, distribution)), SlowContext(100)))
    released.start()
    for _ in range(100):  # the watchdog's answer arrives while the work is still stuck
        if responses.documents:
            break
        stuck.wait(0.05)
    stuck.set()
    released.join()
    (answer,) = responses.documents
    assert answer["Status"] == "FAILED"
    assert "ran out of time" in answer["Reason"]
