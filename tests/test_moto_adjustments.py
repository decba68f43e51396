"""Each adjustment of local_aws/moto_adjustments.py: moto (pinned) still behaves as the adjustment
assumes, and the adjusted server behaves as AWS does. A failure of a "moto still ..." test means the
pin moved or moto changed: revisit that adjustment rather than the test.

One local AWS for the module; small templates through the CloudFormation API (no CDK synth) and
small Python functions written here.
"""

from __future__ import annotations

import inspect
import io
import json
import re
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_aws import moto_adjustments as adjustments
from local_aws.server import LocalAws

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# ORIGINALS is filled when the adjustments are applied, i.e. when the server starts.
pytestmark = pytest.mark.usefixtures("aws")
RECORDS = "adjustment-records"  # bucket where the test functions write what they received
ROLE_ARN = "arn:aws:iam::123456789012:role/adjustment-tests"

# A custom resource handler in the style of CDK's: records the request, answers the ResponseURL.
CUSTOM_RESOURCE_HANDLER = '''
import json, urllib.request, boto3
s3 = boto3.client("s3")

def handler(event, context):
    props = event["ResourceProperties"]
    s3.put_object(Bucket="%(records)s", Key=f"custom/{event['RequestType']}/{context.aws_request_id}", Body=json.dumps(event))
    if event["RequestType"] == "Delete" and props.get("BucketToCheck"):
        s3.head_bucket(Bucket=props["BucketToCheck"])  # raises, and never answers, if the bucket went first
    failing = props.get("Fail") == "true"
    body = {
        "Status": "FAILED" if failing else "SUCCESS",
        "Reason": "asked to fail" if failing else "",
        "PhysicalResourceId": event.get("PhysicalResourceId") or "probe-1",
        "StackId": event["StackId"], "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"FlagType": type(props.get("Flag")).__name__, "Flag": str(props.get("Flag"))},
    }
    request = urllib.request.Request(event["ResponseURL"], data=json.dumps(body).encode(), method="PUT",
                                     headers={"content-type": ""})
    urllib.request.urlopen(request).read()
''' % {"records": RECORDS}

# Records every event it gets; sleeps when asked; raises when asked.
EVENT_RECORDER = '''
import json, time, boto3
s3 = boto3.client("s3")

def handler(event, context):
    if isinstance(event, dict) and event.get("sleep"):
        s3.put_object(Bucket="%(records)s", Key=f"started/{context.aws_request_id}", Body=b"")
        time.sleep(event["sleep"])
    if isinstance(event, dict) and event.get("fail"):
        raise RuntimeError("asked to fail")
    s3.put_object(Bucket="%(records)s", Key=f"events/{time.time_ns()}-{context.aws_request_id}", Body=json.dumps(event))
    return {"echo": event}
''' % {"records": RECORDS}


def code_zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    with LocalAws(state_dir=tmp_path_factory.mktemp("local-aws"), retry_delays_s=(0.1, 0.2)) as local:
        yield local


@pytest.fixture(scope="module")
def client(aws):
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name=aws.region)
    made = {}

    def get(name: str):
        if name not in made:
            made[name] = session.client(name, endpoint_url=aws.endpoint_url)
        return made[name]

    get("iam").create_role(RoleName="adjustment-tests", AssumeRolePolicyDocument="{}")
    get("s3").create_bucket(Bucket=RECORDS)
    return get


def create_function(client, name: str, source: str, **extra) -> str:
    return client("lambda").create_function(
        FunctionName=name, Runtime="python3.14", Role=ROLE_ARN, Handler="index.handler",
        Code={"ZipFile": code_zip(source)}, Timeout=30, **extra,
    )["FunctionArn"]


def records(client, prefix: str) -> list[dict]:
    s3 = client("s3")
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=RECORDS, Prefix=prefix).get("Contents", []))
    return [json.loads(s3.get_object(Bucket=RECORDS, Key=key)["Body"].read()) for key in keys]


def clear_records(client, prefix: str) -> None:
    for item in client("s3").list_objects_v2(Bucket=RECORDS, Prefix=prefix).get("Contents", []):
        client("s3").delete_object(Bucket=RECORDS, Key=item["Key"])


def wait_for_stack(client, name: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        stack = client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return stack


def moto_source(obj) -> str:
    return inspect.getsource(obj)


@pytest.fixture(scope="module")
def probe_arn(client):
    return create_function(client, "custom-resource-probe", CUSTOM_RESOURCE_HANDLER)


def probe_template(probe_arn: str, *, count: int = 3, fail: bool = False) -> str:
    return json.dumps({
        "Resources": {
            "Target": {"Type": "AWS::S3::Bucket"},
            "Probe": {"Type": "Custom::Probe", "Properties": {
                "ServiceToken": probe_arn, "Flag": True, "Count": count, "Fail": fail,
                "BucketToCheck": {"Ref": "Target"},
            }},
        },
        "Outputs": {"FlagType": {"Value": {"Fn::GetAtt": ["Probe", "FlagType"]}},
                    "Flag": {"Value": {"Fn::GetAtt": ["Probe", "Flag"]}}},
    })


def deploy_change_set(client, stack: str, template: str, change_set_type: str) -> dict:
    cfn = client("cloudformation")
    cfn.create_change_set(StackName=stack, ChangeSetName="cs", TemplateBody=template, ChangeSetType=change_set_type)
    cfn.execute_change_set(StackName=stack, ChangeSetName="cs")
    return wait_for_stack(client, stack)


# ---- custom resources ---------------------------------------------------------------------------


def test_moto_still_sends_only_a_create_from_a_docker_reachable_host():
    source = Path(inspect.getfile(adjustments.CustomModel)).read_text()
    assert '"RequestType": "Create"' in source and "moto_server_host()" in source
    assert "Update" not in source and "def delete" not in source
    assert "threading.Thread(" in source  # answered later, so moto cannot wait for it
    assert 'if status == "SUCCESS"' in moto_source(adjustments.ORIGINALS["CloudFormationResponse.process_cfn_response"])


def test_custom_resources_get_create_update_delete_with_string_properties(client, probe_arn):
    clear_records(client, "custom/")
    stack = deploy_change_set(client, "probe-stack", probe_template(probe_arn), "CREATE")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == {"FlagType": "str", "Flag": "true"}  # CloudFormation passes scalars as strings
    create, = records(client, "custom/Create/")
    assert create["ResourceProperties"]["Count"] == "3"
    assert create["ResponseURL"].startswith(client("s3").meta.endpoint_url)

    cfn = client("cloudformation")
    cfn.create_change_set(StackName="probe-stack", ChangeSetName="cs2", TemplateBody=probe_template(probe_arn, count=4),
                          ChangeSetType="UPDATE")
    cfn.execute_change_set(StackName="probe-stack", ChangeSetName="cs2")
    assert wait_for_stack(client, "probe-stack")["StackStatus"] == "UPDATE_COMPLETE"
    update, = records(client, "custom/Update/")
    assert update["PhysicalResourceId"] == "probe-1"
    assert update["ResourceProperties"]["Count"] == "4" and update["OldResourceProperties"]["Count"] == "3"

    cfn.delete_stack(StackName="probe-stack")
    delete, = records(client, "custom/Delete/")
    assert delete["PhysicalResourceId"] == "probe-1"
    # The Delete handler checked the stack's bucket still existed: dependents are deleted first.
    assert "probe-stack" not in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]


def test_a_failed_custom_resource_fails_the_stack_with_its_reason(client, probe_arn):
    stack = deploy_change_set(client, "failing-stack", probe_template(probe_arn, fail=True), "CREATE")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason") or "" for e in
               client("cloudformation").describe_stack_events(StackName="failing-stack")["StackEvents"]]
    assert any("asked to fail" in reason for reason in reasons)
    client("cloudformation").delete_stack(StackName="failing-stack")


def test_deletion_order_puts_dependents_first():
    resources = {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Notifications": {"Properties": {"BucketName": {"Ref": "Bucket"}, "Fn": {"Fn::GetAtt": ["Function", "Arn"]}}},
        "Function": {"Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}, "DependsOn": ["Policy"]},
        "Policy": {"Properties": {"Roles": [{"Ref": "Role"}], "Doc": {"Fn::Sub": "${Bucket.Arn}/*"}}},
        "Role": {"Type": "AWS::IAM::Role"},
    }
    order = adjustments.deletion_order(resources)
    assert order.index("Notifications") < order.index("Bucket")
    assert order.index("Notifications") < order.index("Function") < order.index("Policy") < order.index("Role")
    assert order.index("Policy") < order.index("Bucket")
    assert "for resource in remaining_resources.copy()" in moto_source(adjustments.ORIGINALS["ResourceMap.delete"])


# ---- change sets and parameters -------------------------------------------------------------------


def test_moto_still_fails_missing_change_sets_badly():
    backend = adjustments.cfn_models.CloudFormationBackend("eu-north-1", "123456789012")
    with pytest.raises(UnboundLocalError):
        adjustments.ORIGINALS["CloudFormationBackend.delete_change_set"](backend, "cdk-deploy-change-set")
    with pytest.raises(adjustments.cfn_models.ValidationError):
        adjustments.ORIGINALS["CloudFormationBackend.describe_change_set"](backend, "cdk-deploy-change-set")


def test_missing_change_sets_are_not_found_and_deleting_them_is_a_no_op(client):
    cfn = client("cloudformation")
    with pytest.raises(ClientError) as raised:
        cfn.describe_change_set(StackName="nothing", ChangeSetName="cdk-deploy-change-set")
    assert raised.value.response["Error"]["Code"] in ("ChangeSetNotFound", "ChangeSetNotFoundException")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    cfn.delete_change_set(StackName="nothing", ChangeSetName="cdk-deploy-change-set")  # no error


OUTPUT_TEMPLATE = json.dumps({
    "Parameters": {"Version": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/adjustments/version"}},
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {"QueueName": {"Value": {"Fn::GetAtt": ["Queue", "QueueName"]}},
                "Version": {"Value": {"Ref": "Version"}}},
})


def test_moto_still_leaves_a_change_set_stack_without_outputs(client):
    client("ssm").put_parameter(Name="/adjustments/version", Value="7", Type="String", Overwrite=True)
    backend = adjustments.cfn_models.cloudformation_backends["123456789012"]["us-east-1"]
    change_set_id, stack_id = backend.create_change_set(
        stack_name="unadjusted-outputs", change_set_name="cs", template=OUTPUT_TEMPLATE, parameters={},
        description="", change_set_type="CREATE")
    adjustments.ORIGINALS["CloudFormationBackend.execute_change_set"](backend, change_set_id)
    stack = backend.get_stack(stack_id)
    assert stack.status == "CREATE_COMPLETE" and stack.outputs is None
    # ...and it hands UsePreviousValue the resolved value, which is then resolved again as a path.
    assert adjustments.ORIGINALS["Stack.stack_parameters"].fget(stack) == {"Version": "7"}
    backend.delete_stack(stack_id)


def test_a_change_set_stack_has_its_outputs_and_updates_reuse_ssm_parameter_paths(client):
    client("ssm").put_parameter(Name="/adjustments/version", Value="7", Type="String", Overwrite=True)
    stack = deploy_change_set(client, "outputs-stack", OUTPUT_TEMPLATE, "CREATE")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["Version"] == "7" and outputs["QueueName"].startswith("outputs-stack-Queue")

    client("ssm").put_parameter(Name="/adjustments/version", Value="8", Type="String", Overwrite=True)
    updated = json.loads(OUTPUT_TEMPLATE)
    updated["Resources"]["Other"] = {"Type": "AWS::SQS::Queue"}
    cfn = client("cloudformation")
    cfn.create_change_set(StackName="outputs-stack", ChangeSetName="cs2", TemplateBody=json.dumps(updated),
                          ChangeSetType="UPDATE", Parameters=[{"ParameterKey": "Version", "UsePreviousValue": True}])
    cfn.execute_change_set(StackName="outputs-stack", ChangeSetName="cs2")
    stack = wait_for_stack(client, "outputs-stack")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["Version"] == "8"  # read again from the path
    cfn.update_stack(StackName="outputs-stack", TemplateBody=OUTPUT_TEMPLATE,
                     Parameters=[{"ParameterKey": "Version", "UsePreviousValue": True}])
    assert wait_for_stack(client, "outputs-stack")["StackStatus"] == "UPDATE_COMPLETE"
    cfn.delete_stack(StackName="outputs-stack")


# ---- Lambda -----------------------------------------------------------------------------------------


def test_moto_still_runs_function_code_only_in_docker():
    source = moto_source(adjustments.ORIGINALS["LambdaFunction.invoke"])
    assert "self._invoke_lambda(" in source
    assert "docker" in moto_source(adjustments.LambdaFunction._invoke_lambda)


def test_invoke_runs_the_code_tails_the_log_and_queues_events(aws, client):
    create_function(client, "recorder", EVENT_RECORDER)
    lam = client("lambda")
    response = lam.invoke(FunctionName="recorder", Payload=json.dumps({"hello": 1}), LogType="Tail")
    assert json.loads(response["Payload"].read()) == {"echo": {"hello": 1}}
    assert "REPORT RequestId" in __import__("base64").b64decode(response["LogResult"]).decode()

    failed = lam.invoke(FunctionName="recorder", Payload=json.dumps({"fail": True}))
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorMessage"] == "asked to fail"

    clear_records(client, "events/")
    started = time.monotonic()
    queued = lam.invoke(FunctionName="recorder", InvocationType="Event", Payload=json.dumps({"sleep": 1.5, "n": 2}))
    assert queued["StatusCode"] == 202 and time.monotonic() - started < 1.0  # answered before the code ran
    assert aws.wait_idle(30)
    assert [event["n"] for event in records(client, "events/")] == [2]


def test_invoke_beyond_reserved_concurrency_is_throttled(aws, client):
    import threading

    create_function(client, "single-slot", EVENT_RECORDER)
    client("lambda").put_function_concurrency(FunctionName="single-slot", ReservedConcurrentExecutions=1)
    busy = threading.Thread(target=lambda: client("lambda").invoke(FunctionName="single-slot",
                                                                    Payload=json.dumps({"sleep": 5})))
    busy.start()
    # Probe only once the slow call is inside its handler (it marks that in S3), so that the probe
    # cannot take the only slot first, however slow this machine is today.
    deadline = time.monotonic() + 60
    while not client("s3").list_objects_v2(Bucket=RECORDS, Prefix="started/").get("KeyCount"):
        assert time.monotonic() < deadline, "the slow call never started"
        time.sleep(0.05)
    probe = boto3.client("lambda", endpoint_url=aws.endpoint_url, region_name=aws.region,
                         aws_access_key_id="testing", aws_secret_access_key="testing",
                         config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    with pytest.raises(ClientError) as raised:
        probe.invoke(FunctionName="single-slot", Payload=b"{}")
    busy.join()
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_moto_still_does_not_model_event_invoke_config_in_cloudformation():
    assert "AWS::Lambda::EventInvokeConfig" not in adjustments.ORIGINALS["cloudformation model types"]


def function_template(*, retries: int, reserved: int | None, level: str) -> str:
    function = {"Type": "AWS::Lambda::Function", "Properties": {
        "Code": {"ZipFile": EVENT_RECORDER + f"\n# {level}\n"}, "Handler": "index.handler", "Runtime": "python3.14", "Role": ROLE_ARN,
        "LoggingConfig": {"LogFormat": "JSON", "ApplicationLogLevel": level, "LogGroup": "adjustments-logs"},
    }}
    if reserved is not None:
        function["Properties"]["ReservedConcurrentExecutions"] = reserved
    return json.dumps({"Resources": {
        "Failed": {"Type": "AWS::SQS::Queue"},
        "Fn": function,
        "InvokeConfig": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
            "FunctionName": {"Ref": "Fn"}, "Qualifier": "$LATEST", "MaximumRetryAttempts": retries,
            "MaximumEventAgeInSeconds": 3600,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Failed", "Arn"]}}}}},
    }, "Outputs": {"Function": {"Value": {"Ref": "Fn"}}, "Queue": {"Value": {"Ref": "Failed"}}}})


def test_event_invoke_config_reserved_concurrency_and_logging_config_follow_the_template(aws, client):
    assert "ReservedConcurrentExecutions" not in moto_source(adjustments.LambdaFunction.update_configuration)
    assert "LoggingConfig" not in moto_source(adjustments.ORIGINALS["LambdaFunction.create_from_cloudformation_json"])

    stack = deploy_change_set(client, "function-stack", function_template(retries=0, reserved=2, level="DEBUG"), "CREATE")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    lam = client("lambda")
    config = lam.get_function_event_invoke_config(FunctionName=outputs["Function"])
    assert config["MaximumRetryAttempts"] == 0 and config["MaximumEventAgeInSeconds"] == 3600
    assert config["DestinationConfig"]["OnFailure"]["Destination"].endswith(":function-stack-Failed-" + outputs["Queue"].rsplit("-", 1)[1])
    assert lam.get_function_concurrency(FunctionName=outputs["Function"])["ReservedConcurrentExecutions"] == 2
    function = adjustments.get_lambda_backend(aws.account_id, aws.region).get_function(outputs["Function"])
    assert aws.function_spec(function).application_log_level == "DEBUG"
    assert aws.log_group_of(outputs["Function"]) == "adjustments-logs"

    # A failing event, no retries: it lands in the queue as Lambda's on-failure record.
    lam.invoke(FunctionName=outputs["Function"], InvocationType="Event", Payload=json.dumps({"fail": True}))
    assert aws.wait_idle(30)
    message, = client("sqs").receive_message(QueueUrl=outputs["Queue"], WaitTimeSeconds=1)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"fail": True}

    cfn = client("cloudformation")
    cfn.create_change_set(StackName="function-stack", ChangeSetName="cs2", ChangeSetType="UPDATE",
                          TemplateBody=function_template(retries=1, reserved=None, level="INFO"))
    cfn.execute_change_set(StackName="function-stack", ChangeSetName="cs2")
    assert wait_for_stack(client, "function-stack")["StackStatus"] == "UPDATE_COMPLETE"
    assert lam.get_function_event_invoke_config(FunctionName=outputs["Function"])["MaximumRetryAttempts"] == 1
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=outputs["Function"])
    assert aws._async_policy_for(function.function_arn).maximum_retry_attempts == 1
    assert lam.invoke(FunctionName=outputs["Function"], Payload=b'{"n": 1}')["StatusCode"] == 200  # new inline code runs
    cfn.delete_stack(StackName="function-stack")
    with pytest.raises(ClientError):
        lam.get_function_event_invoke_config(FunctionName=outputs["Function"])


# ---- S3 -------------------------------------------------------------------------------------------


def test_moto_still_creates_buckets_unversioned_and_events_without_sequencer():
    assert "Versioning" not in moto_source(adjustments.ORIGINALS["FakeBucket.create_from_cloudformation_json"])
    assert "sequencer" not in moto_source(adjustments.ORIGINALS["notifications._get_s3_event"])
    delete_source = moto_source(adjustments.ORIGINALS["S3Backend.delete_object"])
    marker_branch = delete_source.split("if version_id is None:")[1].split("else:")[0]
    assert "_set_delete_marker" in marker_branch and "send_event" not in marker_branch
    invoke_source = moto_source(adjustments.ORIGINALS["notifications._invoke_awslambda"])
    assert "func.invoke(" in invoke_source and "except:" in invoke_source  # synchronous, errors swallowed


def test_s3_events_reach_the_function_asynchronously_shaped_like_s3s(aws, client):
    stack = deploy_change_set(client, "bucket-stack", json.dumps({"Resources": {"Images": {
        "Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Enabled"}}}},
        "Outputs": {"Bucket": {"Value": {"Ref": "Images"}}}}), "CREATE")
    bucket = stack["Outputs"][0]["OutputValue"]
    s3 = client("s3")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    recorder_arn = create_function(client, "s3-recorder", EVENT_RECORDER)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": recorder_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})
    clear_records(client, "events/")

    started = time.monotonic()
    first = s3.put_object(Bucket=bucket, Key="a b.png", Body=b"one")["VersionId"]
    assert time.monotonic() - started < 1.0  # PutObject does not wait for the function
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
    backend = adjustments.s3_models.s3_backends[aws.account_id]["aws"]
    assert adjustments.ORIGINALS["S3Backend.delete_object"](backend, "unadjusted-markers", "never.png") == (False, {})
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


# ---- DynamoDB ------------------------------------------------------------------------------------


def test_moto_still_backs_up_and_restores_whole_tables_in_transactions():
    from moto.dynamodb.exceptions import TransactionCanceledException

    source = moto_source(adjustments.ORIGINALS["DynamoDBBackend.transact_write_items"])
    assert re.search(r"copy\.deepcopy\(\s*self\.tables\[table_name\]\s*\)", source)  # every touched table
    assert "self.tables[table_name] = original_table_state[table_name]" in source
    assert "lock" not in moto_source(adjustments.ORIGINALS["DynamoDBBackend.put_item"]).lower()

    # Behaviour: a cancelled transaction puts a copy taken *before* it ran in the table's place, so
    # a write another request made in between (here: straight into the live table) is gone.
    backend = adjustments.dynamodb_models.DynamoDBBackend("us-east-1", "123456789012")
    backend.create_table("t", schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         throughput=None, attr=[{"AttributeName": "pk", "AttributeType": "S"}],
                         global_indexes=None, indexes=None, streams=None, billing_mode="PAY_PER_REQUEST",
                         sse_specification=None, tags=[], deletion_protection_enabled=False, warm_throughput=None)
    live_table = backend.get_table("t")
    original_put = backend.put_item

    def put_that_races(table_name, item, *args, **kwargs):  # another writer, during the transaction
        live_table.put_item({"pk": {"S": "written-meanwhile"}})
        return original_put(table_name, item, *args, **kwargs)

    backend.put_item = put_that_races
    with pytest.raises(TransactionCanceledException):
        adjustments.ORIGINALS["DynamoDBBackend.transact_write_items"](backend, [
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "absent"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    assert backend.get_table("t") is not live_table  # the whole table was swapped for the backup
    assert backend.get_table("t").get_item(adjustments.dynamodb_models.DynamoType({"S": "written-meanwhile"})) is None


def test_concurrent_transactions_all_succeed_and_cancelled_ones_erase_nothing(client):
    dynamodb = client("dynamodb")
    dynamodb.create_table(TableName="concurrent-transactions", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    # A table big enough that moto's per-transaction deep copy takes a while (the window the races need).
    for start in range(0, 1500, 25):
        dynamodb.batch_write_item(RequestItems={"concurrent-transactions": [
            {"PutRequest": {"Item": {"pk": {"S": f"filler-{n}"}, "payload": {"S": "x" * 200}}}}
            for n in range(start, start + 25)]})

    def writer(thread: int) -> list[str]:
        problems = []
        for n in range(15):
            try:
                dynamodb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": "concurrent-transactions", "Item": {"pk": {"S": f"kept-{thread}-{n}"}},
                             "ConditionExpression": "attribute_not_exists(pk)"}},
                    {"Update": {"TableName": "concurrent-transactions", "Key": {"pk": {"S": "counter"}},
                                "UpdateExpression": "ADD hits :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                ])
            except ClientError as error:
                problems.append(f"kept-{thread}-{n}: {error}")
            with pytest.raises(ClientError) as cancelled:  # the condition fails: nothing of it may stay
                dynamodb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": "concurrent-transactions", "Item": {"pk": {"S": f"cancelled-{thread}-{n}"}}}},
                    {"ConditionCheck": {"TableName": "concurrent-transactions", "Key": {"pk": {"S": "no-such-item"}},
                                        "ConditionExpression": "attribute_exists(pk)"}},
                ])
            if cancelled.value.response["Error"]["Code"] != "TransactionCanceledException":
                problems.append(f"cancelled-{thread}-{n}: {cancelled.value}")
        return problems

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=6) as pool:
        problems = [problem for found in pool.map(writer, range(6)) for problem in found]
    assert problems == []  # no HTTP 500 "dictionary changed size during iteration", no lost condition
    keys = set()
    paginator = dynamodb.get_paginator("scan")
    for page in paginator.paginate(TableName="concurrent-transactions", ConsistentRead=True):
        keys.update(item["pk"]["S"] for item in page["Items"])
    assert {f"kept-{t}-{n}" for t in range(6) for n in range(15)} <= keys  # no cancelled transaction erased one
    assert not {key for key in keys if key.startswith("cancelled-")}
    counter = dynamodb.get_item(TableName="concurrent-transactions", Key={"pk": {"S": "counter"}}, ConsistentRead=True)
    assert counter["Item"]["hits"]["N"] == str(6 * 15)
    dynamodb.delete_table(TableName="concurrent-transactions")


# ---- Rekognition ------------------------------------------------------------------------------------


def test_moto_still_answers_detect_labels_with_a_canned_label():
    from moto.rekognition.models import RekognitionBackend

    labels, _, _ = RekognitionBackend("us-east-1", "123456789012").detect_labels()
    assert [label["Name"] for label in labels] == ["Mobile Phone"]


def test_detect_labels_is_answered_by_the_offline_model_from_s3(client):
    s3, rekognition = client("s3"), client("rekognition")
    s3.create_bucket(Bucket="rekognition-input")
    version = s3.put_object(Bucket="rekognition-input", Key="cat.png",
                            Body=(SAMPLES / "cat-chelsea.png").read_bytes()).get("VersionId")
    s3.put_object(Bucket="rekognition-input", Key="text.jpg", Body=b"not an image")

    labels = rekognition.detect_labels(Image={"S3Object": {"Bucket": "rekognition-input", "Name": "cat.png"}},
                                       MinConfidence=70)["Labels"]
    assert "Cat" in {label["Name"] for label in labels}
    assert len(rekognition.detect_labels(Image={"S3Object": {"Bucket": "rekognition-input", "Name": "cat.png"}},
                                         MaxLabels=1)["Labels"]) == 1
    for image, code in [({"Bucket": "rekognition-input", "Name": "missing.png"}, "InvalidS3ObjectException"),
                        ({"Bucket": "no-such-bucket", "Name": "cat.png"}, "InvalidS3ObjectException"),
                        ({"Bucket": "rekognition-input", "Name": "text.jpg"}, "InvalidImageFormatException")]:
        with pytest.raises(ClientError) as raised:
            rekognition.detect_labels(Image={"S3Object": image})
        assert raised.value.response["Error"]["Code"] == code
    assert version is None  # unversioned bucket: no VersionId, and none needed


def test_the_server_answers_identical_detect_labels_requests_from_its_cache(aws, client, tmp_path):
    s3, rekognition = client("s3"), client("rekognition")
    s3.create_bucket(Bucket="rekognition-cache")
    cat = (SAMPLES / "cat-chelsea.png").read_bytes()
    s3.put_object(Bucket="rekognition-cache", Key="one.png", Body=cat)
    s3.put_object(Bucket="rekognition-cache", Key="two.png", Body=cat)  # other key, same bytes
    cache = aws.detect_labels_cache
    hits, misses = cache.hits, cache.misses
    first = rekognition.detect_labels(Image={"S3Object": {"Bucket": "rekognition-cache", "Name": "one.png"}},
                                      MinConfidence=55)
    second = rekognition.detect_labels(Image={"S3Object": {"Bucket": "rekognition-cache", "Name": "two.png"}},
                                       MinConfidence=55)
    assert (cache.hits - hits, cache.misses - misses) == (1, 1)
    assert first["Labels"] == second["Labels"] and "Cat" in {label["Name"] for label in first["Labels"]}

    assert LocalAws(state_dir=tmp_path, detect_labels_cache_size=0).detect_labels_cache is None
    assert LocalAws(state_dir=tmp_path, detect_labels_cache_size=3).detect_labels_cache.max_entries == 3
    with pytest.raises(ValueError):
        LocalAws(state_dir=tmp_path, detect_labels_cache_size=-1)
