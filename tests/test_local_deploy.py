"""End to end on the local AWS: the real CDK CLI bootstraps, deploys, updates and destroys the stack,
and uploads run the deployed handler, labelled by the offline model.

One server (free port, temporary state folder) and one deployment for the module; the tests run in
file order, each building on the state the previous ones left (that is the user's path).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from iam_exercise import assert_role_fits_its_calls
from label_table.object_summary import object_item
from imagelabels.local_endpoint import pages_file, read_page_url
from label_table.search import search_library
from local_aws.clients import local_session
from local_aws.demo import SAMPLES, sample_images, upload_and_wait
from local_aws.page_user import ensure_page_user
from page_gateway_fixtures import http_call
from local_aws.server import LocalAws
from local_aws.stack_deployment import STACK_NAME, StackDeployment, deploy_stack

STACK = STACK_NAME
# What the offline model reliably gives for each sample (see samples/LICENSES.md for the photos).
EXPECTED_LABELS = {
    "cat-chelsea.png": {"Cat", "Animal", "Pet"},
    "coffee cup.jpg": {"Cup"},
    "cameraman.png": {"Person", "Tripod"},
    "astronaut-eileen-collins.jpg": {"Person"},
    "rocket-launch.JPG": {"Rocket"},
}
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    state = tmp_path_factory.mktemp("local-aws")
    with LocalAws(state_dir=state, retry_delays_s=(0.2, 0.4)) as local:
        yield local


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="module")
def clients(aws):
    session = local_session(aws.endpoint)
    return {name: session.client(name, endpoint_url=aws.endpoint_url)
            for name in ("cloudformation", "s3", "dynamodb", "lambda", "iam", "sqs")}


@pytest.fixture(scope="module")
def deployment(aws, cdk_out) -> StackDeployment:
    deployed = deploy_stack(endpoint=aws.endpoint, stack_name=STACK, output_dir=cdk_out)
    TIMINGS["bootstrap"] = deployed.runs["bootstrap"].seconds
    TIMINGS["deploy"] = deployed.runs["deploy"].seconds
    return deployed


@pytest.fixture(scope="module")
def outputs(deployment) -> dict[str, str]:
    return deployment.outputs.values


def found_by_label(clients, table: str, label: str) -> list[tuple[str, float]]:
    """(image, confidence) of `imagelabels search LABEL`'s hits, most confident first."""
    return [(hit.key, float(hit.confidence)) for hit in search_library(clients["dynamodb"], table, [label])]


def label_entries(clients, table: str, key: str) -> list[dict]:
    return clients["dynamodb"].query(
        TableName=table, KeyConditionExpression="ImageId = :id AND begins_with(Entry, :prefix)",
        ExpressionAttributeValues={":id": {"S": key}, ":prefix": {"S": "LABEL#"}},
    )["Items"]


def test_deploy_creates_the_stack_with_its_outputs_and_wiring(outputs, clients):
    stack = clients["cloudformation"].describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert set(outputs) == {
        "BucketName", "TableName", "FunctionName", "FailedEventsQueueUrl", "FilmEventsQueueUrl",
        "FilmEventFailuresQueueUrl", "FilmCompletionsQueueUrl", "FilmCompletionFailuresQueueUrl",
        "FilmJobsTopicArn", "StarterFunctionName", "CollectorFunctionName",
        "PageUrl", "DistributionId", "SiteBucketName", "UserPoolId", "UserPoolClientId", "WebApiFunctionName",
    }

    bucket = outputs["BucketName"]
    assert clients["s3"].get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    notifications = clients["s3"].get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert len(notifications) == 12  # created and removed, six suffixes each: the custom resource ran
    assert {n["LambdaFunctionArn"].rsplit(":", 1)[1] for n in notifications} == {outputs["FunctionName"]}

    invoke_config = clients["lambda"].get_function_event_invoke_config(FunctionName=outputs["FunctionName"])
    queue_arn = clients["sqs"].get_queue_attributes(
        QueueUrl=outputs["FailedEventsQueueUrl"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert invoke_config["MaximumRetryAttempts"] == 2
    assert invoke_config["MaximumEventAgeInSeconds"] == 21600
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn


def test_sample_photos_get_their_expected_labels(aws, outputs, clients):
    started = time.monotonic()
    uploads = upload_and_wait(clients["s3"], clients["dynamodb"], bucket=outputs["BucketName"],
                              table=outputs["TableName"], paths=sample_images(SAMPLES), timeout_s=120)
    TIMINGS["five uploads labelled"] = time.monotonic() - started

    assert set(uploads) == set(EXPECTED_LABELS)
    for key, expected in EXPECTED_LABELS.items():
        image = uploads[key].item
        names = {label["Name"] for label in image["Labels"]}
        assert image["Status"] == "LABELLED", (key, image.get("Error"))
        assert expected <= names, (key, names)
        assert image["VersionId"] == uploads[key].version_id
        assert all(float(label["Confidence"]) >= 70 for label in image["Labels"])  # the dev stage's minConfidence


def test_label_search_finds_exactly_the_right_images(outputs, clients):
    table = outputs["TableName"]
    people = found_by_label(clients, table, "Person")
    assert {image for image, _ in people} == {"cameraman.png", "astronaut-eileen-collins.jpg"}
    assert [confidence for _, confidence in people] == sorted((c for _, c in people), reverse=True)
    assert {image for image, _ in found_by_label(clients, table, "cat")} == {"cat-chelsea.png"}
    assert found_by_label(clients, table, "giraffe") == []


def page_get(url: str, *, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    return http_call("GET", url, headers={"Authorization": f"Bearer {token}"} if token else {})


def test_the_deployed_page_is_served_with_its_headers_config_and_api(aws, outputs, clients):
    """The stack's page as the local page gateway serves it: what the release published to the site
    bucket, the distribution's response headers, config.json naming the deployed client, and
    /api/* answered by the deployed API function for a token of the deployed pool only."""
    page_url = read_page_url(pages_file(aws.state_dir), outputs["DistributionId"])
    site_keys = {item["Key"] for item in clients["s3"].list_objects_v2(Bucket=outputs["SiteBucketName"])["Contents"]}
    assert {"index.html", "app.js", "styles.css", "config.json"} <= site_keys

    status, headers, body = page_get(page_url)
    assert status == 200 and b'<input type="search"' in body
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self';" in headers["content-security-policy"]
    assert aws.endpoint_url in headers["content-security-policy"]  # presigned images come from the local S3

    status, _, body = page_get(page_url + "config.json")
    config = json.loads(body)
    assert config["auth"]["clientId"] == outputs["UserPoolClientId"]
    assert config["auth"]["tokenUrl"] == page_url + "oauth2/token"

    assert page_get(page_url + "api/labels")[0] == 401
    cognito = local_session(aws.endpoint).client("cognito-idp", endpoint_url=aws.endpoint_url)
    earlier = ensure_page_user(cognito, user_pool_id=outputs["UserPoolId"])
    user = ensure_page_user(cognito, user_pool_id=outputs["UserPoolId"])  # the demo run again: a new password
    assert user.username == earlier.username and user.password != earlier.password
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.initiate_auth(ClientId=outputs["UserPoolClientId"], AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": earlier.username, "PASSWORD": earlier.password})
    tokens = cognito.initiate_auth(ClientId=outputs["UserPoolClientId"], AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": user.username, "PASSWORD": user.password})
    status, _, body = page_get(page_url + "api/labels", token=tokens["AuthenticationResult"]["AccessToken"])
    assert status == 200
    assert {"label": "Cat", "objects": 1} in json.loads(body)["labels"]
    status, _, body = page_get(page_url + "api/search?label=person",
                               token=tokens["AuthenticationResult"]["AccessToken"])
    assert status == 200
    assert {hit["key"] for hit in json.loads(body)["hits"]} == {"cameraman.png", "astronaut-eileen-collins.jpg"}


def test_a_non_image_jpg_is_recorded_failed_with_rekognitions_error(aws, outputs, clients):
    clients["s3"].put_object(Bucket=outputs["BucketName"], Key="notes/not-a-photo.jpg", Body=b"just some text\n")
    assert aws.wait_idle(60)
    image = object_item(clients["dynamodb"], outputs["TableName"], "notes/not-a-photo.jpg")
    assert image["Status"] == "FAILED"
    assert image["Error"]["Code"] == "InvalidImageFormatException"
    assert label_entries(clients, outputs["TableName"], "notes/not-a-photo.jpg") == []


def test_a_delete_removes_the_images_labels(aws, outputs, clients):
    clients["s3"].delete_object(Bucket=outputs["BucketName"], Key="cat-chelsea.png")  # adds a delete marker
    assert aws.wait_idle(60)
    image = object_item(clients["dynamodb"], outputs["TableName"], "cat-chelsea.png")
    assert image["Status"] == "DELETED"
    assert image["EventName"] == "ObjectRemoved:DeleteMarkerCreated"
    assert label_entries(clients, outputs["TableName"], "cat-chelsea.png") == []
    assert found_by_label(clients, outputs["TableName"], "cat") == []


def test_a_redeploy_with_a_higher_min_confidence_applies_to_new_uploads(aws, deployment, outputs, clients):
    # cameraman.png: Tripod and Electronics about 95 %, Person about 92 %.
    TIMINGS["update"] = deployment.deploy(context={"minConfidence": "93"}).seconds
    stack = clients["cloudformation"].describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    environment = clients["lambda"].get_function_configuration(FunctionName=outputs["FunctionName"])["Environment"]
    assert environment["Variables"]["MIN_CONFIDENCE"] == "93"

    clients["s3"].put_object(Bucket=outputs["BucketName"], Key="again/cameraman.png",
                             Body=(SAMPLES / "cameraman.png").read_bytes())
    assert aws.wait_idle(60)
    image = object_item(clients["dynamodb"], outputs["TableName"], "again/cameraman.png")
    names = {label["Name"] for label in image["Labels"]}
    assert image["Status"] == "LABELLED" and image["MinConfidence"] == 93
    assert "Tripod" in names and "Person" not in names
    assert {image for image, _ in found_by_label(clients, outputs["TableName"], "person")} == {
        "cameraman.png", "astronaut-eileen-collins.jpg"}


def test_a_deploy_without_changes_succeeds(deployment):
    run = deployment.deploy(context={"minConfidence": "93"})
    TIMINGS["no-change deploy"] = run.seconds
    assert "(no changes)" in run.output


# Granted but never called by the handler itself, and why they stay.
USED_BY_LAMBDA_NOT_THE_HANDLER = {
    "logs:CreateLogStream": "Lambda writes the function's log stream with the function's role",
    "logs:PutLogEvents": "Lambda writes the function's log events with the function's role",
    "sqs:SendMessage": "Lambda sends failed asynchronous events to the on-failure destination with the role",
}


def test_the_labellers_role_allows_every_call_it_made_and_nothing_unused(aws, outputs, clients):
    assert_role_fits_its_calls(aws=aws, iam=clients["iam"], lambda_=clients["lambda"],
                               function_name=outputs["FunctionName"], used_by_lambda=USED_BY_LAMBDA_NOT_THE_HANDLER,
                               must_call={"DetectLabels", "GetItem", "TransactWriteItems"},
                               resource_star_for={"rekognition:DetectLabels"})


def empty_bucket(s3, bucket: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])


def test_destroy_leaves_no_stack(aws, deployment, outputs, clients):
    assert aws.wait_idle(60)
    s3 = clients["s3"]
    buckets = [bucket["Name"] for bucket in s3.list_buckets()["Buckets"] if bucket["Name"].startswith("imagelabels-dev-")]
    for bucket in buckets:  # as the README says: a dev stack's buckets must be emptied first
        empty_bucket(s3, bucket)
    assert aws.wait_idle(60)
    TIMINGS["destroy"] = deployment.destroy().seconds

    live = [s["StackName"] for s in clients["cloudformation"].describe_stacks()["Stacks"]]
    assert STACK not in live
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("imagelabels-dev-")] == []
    assert outputs["TableName"] not in clients["dynamodb"].list_tables()["TableNames"]
    assert outputs["FunctionName"] not in {f["FunctionName"] for f in clients["lambda"].list_functions()["Functions"]}
    print("\nlocal AWS timings (s):", {name: round(seconds, 1) for name, seconds in TIMINGS.items()})
