"""Lambda entry point of the page release custom resources (Custom::PagePublication, Custom::UploadCors)."""

from __future__ import annotations

import logging

import boto3

from page_release import cfn_response
from page_release.publication import invalidate, publish, unpublish
from page_release.upload_cors import remove_upload_cors, set_upload_cors

logger = logging.getLogger()

s3 = boto3.client("s3")
cloudfront = boto3.client("cloudfront")


def handle(event: dict, context) -> None:
    physical_id = event.get("PhysicalResourceId") or f"{event['LogicalResourceId']}-{event['RequestId']}"
    try:
        physical_id, data = apply(event)
    except Exception as error:  # every failure must reach CloudFormation, or the stack hangs
        logger.exception("%s %s failed", event.get("RequestType"), event.get("ResourceType"))
        document = cfn_response.response_document(
            event, status="FAILED", physical_id=physical_id, reason=f"{type(error).__name__}: {error}"
        )
    else:
        document = cfn_response.response_document(event, status="SUCCESS", physical_id=physical_id, data=data)
    cfn_response.send(event["ResponseURL"], document)


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
