"""local_aws/adjust/s3.py: moto (pinned) still behaves as each adjustment assumes, and the adjusted
server's buckets and event notifications behave as S3's do.
A failure of a "moto still ..." test means the pin moved or moto changed: revisit that adjustment
rather than the test. One local AWS for the module (tests/adjust_fixtures.py).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from moto.s3 import models as s3_models

from adjust_fixtures import (  # noqa: F401 (aws and client are fixtures)
    EVENT_RECORDER, aws, clear_records, client, create_function, deploy_change_set, moto_source, records,
)
from local_aws.adjust.registry import ORIGINALS
from page_gateway_fixtures import http_call
from test_adjust_cloudfront import outputs_of, page_template

pytestmark = pytest.mark.usefixtures("aws")


def test_moto_still_creates_buckets_unversioned_and_events_without_sequencer():
    assert "Versioning" not in moto_source(ORIGINALS["FakeBucket.create_from_cloudformation_json"])
    assert "sequencer" not in moto_source(ORIGINALS["notifications._get_s3_event"])
    delete_source = moto_source(ORIGINALS["S3Backend.delete_object"])
    marker_branch = delete_source.split("if version_id is None:")[1].split("else:")[0]
    assert "_set_delete_marker" in marker_branch and "send_event" not in marker_branch
    invoke_source = moto_source(ORIGINALS["notifications._invoke_awslambda"])
    assert "func.invoke(" in invoke_source and "except:" in invoke_source  # synchronous, errors swallowed


def test_s3_events_reach_the_function_asynchronously_shaped_like_s3s(aws, client, tmp_path):
    stack = deploy_change_set(client, "bucket-stack", json.dumps({"Resources": {"Images": {
        "Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Enabled"}}}},
        "Outputs": {"Bucket": {"Value": {"Ref": "Images"}}}}), "CREATE")
    bucket = stack["Outputs"][0]["OutputValue"]
    s3 = client("s3")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    gate = tmp_path / "s3-recorder-gate"
    recorder_arn = create_function(client, "s3-recorder", EVENT_RECORDER, Environment={"Variables": {"GATE": str(gate)}})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": recorder_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})
    clear_records(client, "events/")

    first = s3.put_object(Bucket=bucket, Key="a b.png", Body=b"one")["VersionId"]
    # The function records nothing before its gate opens, and it opens only now: PutObject returned
    # without waiting for the function.
    assert records(client, "events/") == []
    gate.touch()
    second = s3.put_object(Bucket=bucket, Key="a b.png", Body=b"two")["VersionId"]
    assert aws.wait_idle(30)
    marker = s3.delete_object(Bucket=bucket, Key="a b.png")["VersionId"]
    assert aws.wait_idle(30)
    s3.delete_object(Bucket=bucket, Key="a b.png", VersionId=first)
    assert aws.wait_idle(30)

    seen = [event["Records"][0] for event in records(client, "events/")]
    summary = [(r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"].get("versionId")) for r in seen]
    assert sorted(summary) == sorted([
        ("ObjectCreated:Put", "a+b.png", first), ("ObjectCreated:Put", "a+b.png", second),
        ("ObjectRemoved:DeleteMarkerCreated", "a+b.png", marker), ("ObjectRemoved:Delete", "a+b.png", first)])
    by_name = {(r["eventName"], r["s3"]["object"].get("versionId")): int(r["s3"]["object"]["sequencer"], 16) for r in seen}
    assert (by_name[("ObjectCreated:Put", first)] < by_name[("ObjectCreated:Put", second)]
            < by_name[("ObjectRemoved:DeleteMarkerCreated", marker)] < by_name[("ObjectRemoved:Delete", first)])
    for version in s3.list_object_versions(Bucket=bucket).get("Versions", []) + \
            s3.list_object_versions(Bucket=bucket).get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    assert aws.wait_idle(30)
    client("cloudformation").delete_stack(StackName="bucket-stack")


def test_moto_still_adds_no_delete_marker_for_a_key_it_never_held(aws, client):
    client("s3").create_bucket(Bucket="unadjusted-markers")
    client("s3").put_bucket_versioning(Bucket="unadjusted-markers", VersioningConfiguration={"Status": "Enabled"})
    backend = s3_models.s3_backends[aws.account_id]["aws"]
    assert ORIGINALS["S3Backend.delete_object"](backend, "unadjusted-markers", "never.png") == (False, {})
    assert "never.png" not in backend.get_bucket("unadjusted-markers").keys


def test_deleting_a_key_never_held_in_a_versioned_bucket_adds_a_marker_and_notifies(aws, client):
    s3 = client("s3")
    s3.create_bucket(Bucket="never-held")
    s3.put_bucket_versioning(Bucket="never-held", VersioningConfiguration={"Status": "Enabled"})
    recorder_arn = create_function(client, "never-held-recorder", EVENT_RECORDER)
    s3.put_bucket_notification_configuration(Bucket="never-held", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": recorder_arn, "Events": ["s3:ObjectRemoved:*"]}]})
    clear_records(client, "events/")

    deleted = s3.delete_object(Bucket="never-held", Key="never.png")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"]
    marker, = s3.list_object_versions(Bucket="never-held")["DeleteMarkers"]
    assert (marker["Key"], marker["VersionId"], marker["IsLatest"]) == ("never.png", deleted["VersionId"], True)
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket="never-held", Key="never.png")
    assert raised.value.response["Error"]["Code"] == "NoSuchKey"
    assert aws.wait_idle(30)
    record, = [event["Records"][0] for event in records(client, "events/")]
    assert record["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
    assert record["s3"]["object"]["key"] == "never.png"
    assert record["s3"]["object"]["versionId"] == deleted["VersionId"]
    assert record["s3"]["object"]["sequencer"]

    # An upload after it is the current version; removing the marker leaves it; both events are S3's.
    uploaded = s3.put_object(Bucket="never-held", Key="never.png", Body=b"now")["VersionId"]
    assert s3.get_object(Bucket="never-held", Key="never.png")["Body"].read() == b"now"
    s3.delete_object(Bucket="never-held", Key="never.png", VersionId=deleted["VersionId"])
    assert s3.get_object(Bucket="never-held", Key="never.png")["VersionId"] == uploaded
    assert aws.wait_idle(30)
    names = sorted(event["Records"][0]["eventName"] for event in records(client, "events/"))
    assert names == ["ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated"]


def test_s3_events_reach_a_queue_shaped_like_s3s_after_its_test_event(aws, client):
    s3, sqs = client("s3"), client("sqs")
    s3.create_bucket(Bucket="films-to-queue")
    s3.put_bucket_versioning(Bucket="films-to-queue", VersioningConfiguration={"Status": "Enabled"})
    queue_url = sqs.create_queue(QueueName="film-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket="films-to-queue", NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".mp4"}]}}}]})
    first = s3.put_object(Bucket="films-to-queue", Key="a film.mp4", Body=b"one")["VersionId"]
    s3.put_object(Bucket="films-to-queue", Key="a still.png", Body=b"not a film")
    marker = s3.delete_object(Bucket="films-to-queue", Key="a film.mp4")["VersionId"]
    s3.delete_object(Bucket="films-to-queue", Key="a film.mp4", VersionId=first)

    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        bodies += [json.loads(message["Body"]) for message in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    test_event, *events = bodies
    # S3 sends this when the configuration is set; a consumer must recognise and skip it.
    assert (test_event["Service"], test_event["Event"], test_event["Bucket"]) == ("Amazon S3", "s3:TestEvent", "films-to-queue")
    seen = [event["Records"][0] for event in events]
    assert [(r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"]["versionId"]) for r in seen] == [
        ("ObjectCreated:Put", "a+film.mp4", first), ("ObjectRemoved:DeleteMarkerCreated", "a+film.mp4", marker),
        ("ObjectRemoved:Delete", "a+film.mp4", first)]
    sequencers = [int(r["s3"]["object"]["sequencer"], 16) for r in seen]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == 3
    assert all(r["eventSource"] == "aws:s3" and r["s3"]["bucket"]["name"] == "films-to-queue" for r in seen)


def test_moto_still_looks_a_multipart_upload_up_without_a_check():
    assert "bucket.multiparts[multipart_id]" in moto_source(ORIGINALS["S3Backend.complete_multipart_upload"])


def test_completing_an_aborted_multipart_upload_is_no_such_upload(aws, client):
    s3 = client("s3")
    s3.create_bucket(Bucket="multipart-ends")
    aborted = s3.create_multipart_upload(Bucket="multipart-ends", Key="film.mp4")["UploadId"]
    etag = s3.upload_part(Bucket="multipart-ends", Key="film.mp4", UploadId=aborted, PartNumber=1, Body=b"x")["ETag"]
    s3.abort_multipart_upload(Bucket="multipart-ends", Key="film.mp4", UploadId=aborted)
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(Bucket="multipart-ends", Key="film.mp4", UploadId=aborted, MultipartUpload=parts)
    assert refused.value.response["Error"]["Code"] == "NoSuchUpload"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def preflight(endpoint_url: str, bucket: str, origin: str) -> tuple[int, dict]:
    """(status, headers with lower-cased names) of a browser's preflight for a PUT from `origin`."""
    status, headers, _ = http_call("OPTIONS", f"{endpoint_url}/{bucket}/upload.jpg", headers={
        "Origin": origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type"})
    return status, headers


def test_a_cors_rule_naming_a_deployed_page_allows_its_local_gateway_only(aws, client):
    stack = deploy_change_set(client, "cors-page", page_template(policy_name="CorsPageHeaders"), "CREATE")
    outputs = outputs_of(stack)
    page_origin = f"https://{outputs['DomainName']}"
    gateway_origin = aws.page_urls()[outputs["DistributionRef"]].rstrip("/")
    assert not ORIGINALS["responses.cors_matches_origin"](gateway_origin, [page_origin])  # moto alone refuses it

    s3 = client("s3")
    s3.create_bucket(Bucket="page-uploads")
    s3.put_bucket_cors(Bucket="page-uploads", CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [page_origin], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag", "x-amz-version-id"]}]})
    status, headers = preflight(aws.endpoint_url, "page-uploads", gateway_origin)
    assert status == 200 and headers["access-control-allow-origin"] == gateway_origin
    assert "PUT" in headers["access-control-allow-methods"]
    assert preflight(aws.endpoint_url, "page-uploads", "http://127.0.0.1:9")[0] == 403  # not a page's gateway

    s3.put_bucket_cors(Bucket="page-uploads", CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": ["https://elsewhere.example.com"], "AllowedMethods": ["PUT"]}]})
    assert preflight(aws.endpoint_url, "page-uploads", gateway_origin)[0] == 403  # the rule must name the page
    client("cloudformation").delete_stack(StackName="cors-page")
