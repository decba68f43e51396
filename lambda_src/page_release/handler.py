"""Lambda entry point of the page release custom resources (Custom::PagePublication, Custom::UploadCors)."""

from __future__ import annotations

import logging
import threading

import boto3

from page_release import cfn_response
from page_release.publication import invalidate, publish, unpublish
from page_release.upload_cors import remove_upload_cors, set_upload_cors

logger = logging.getLogger()

s3 = boto3.client("s3")
cloudfront = boto3.client("cloudfront")

# Answered FAILED this long before Lambda would stop the function, so a slow S3 or CloudFront call
# fails the stack operation with a reason instead of leaving it waiting for an hour.
TIMEOUT_MARGIN_S = 5.0


def handle(event: dict, context) -> None:
    physical_id = event.get("PhysicalResourceId") or f"{event['LogicalResourceId']}-{event['RequestId']}"
    answer = _OneAnswer(event)
    remaining_s = context.get_remaining_time_in_millis() / 1000 if context is not None else None
    watchdog = None
    if remaining_s is not None:
        watchdog = threading.Timer(max(remaining_s - TIMEOUT_MARGIN_S, 0.0), answer.send, kwargs={
            "status": "FAILED", "physical_id": physical_id,
            "reason": f"the release function ran out of time ({remaining_s:.0f} s)",
        })
        watchdog.daemon = True
        watchdog.start()
    try:
        physical_id, data = apply(event)
    except Exception as error:  # every failure must reach CloudFormation, or the stack hangs
        logger.exception("%s %s failed", event.get("RequestType"), event.get("ResourceType"))
        answer.send(status="FAILED", physical_id=physical_id, reason=f"{type(error).__name__}: {error}")
    else:
        answer.send(status="SUCCESS", physical_id=physical_id, data=data)
    finally:
        if watchdog is not None:
            watchdog.cancel()


class _OneAnswer:
    """CloudFormation takes the first answer to a request; the watchdog and the work race for it."""

    def __init__(self, event: dict) -> None:
        self._event = event
        self._lock = threading.Lock()
        self._sent = False

    def send(self, *, status: str, physical_id: str, reason: str = "", data: dict | None = None) -> None:
        with self._lock:
            if self._sent:
                return
            self._sent = True
            document = cfn_response.response_document(
                self._event, status=status, physical_id=physical_id, reason=reason, data=data
            )
            cfn_response.send(self._event["ResponseURL"], document)


def apply(event: dict) -> tuple[str, dict]:
    """Carries out one request; returns the physical id and the Data to answer with."""
    request = event["RequestType"]
    kind = event["ResourceType"]
    props = event["ResourceProperties"]
    if kind == "Custom::PagePublication":
        site = props["SiteBucket"]
        # The id names the bucket: a release into another bucket is a replacement, and
        # CloudFormation then deletes (empties) the old one.
        physical_id = f"page-publication-{site}"
        if request == "Delete":
            unpublish(s3, site_bucket=site)
            return physical_id, {}
        keys = publish(s3, site_bucket=site, source_bucket=props["SourceBucket"], source_key=props["SourceKey"],
                       config=props["Config"])
        data = {"Files": str(len(keys))}
        if request == "Update":
            data["InvalidationId"] = invalidate(
                cloudfront, distribution_id=props["DistributionId"], reference=event["RequestId"]
            )
        return physical_id, data
    if kind == "Custom::UploadCors":
        bucket = props["Bucket"]
        physical_id = f"upload-cors-{bucket}"
        if request == "Delete":
            remove_upload_cors(s3, bucket=bucket)
        else:
            set_upload_cors(s3, bucket=bucket, allowed_origins=props["AllowedOrigins"])
        return physical_id, {}
    raise ValueError(f"this function answers Custom::PagePublication and Custom::UploadCors, not {kind!r}")
