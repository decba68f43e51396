"""local_aws/adjust/cloudformation_custom_resources.py and cloudformation_stacks.py: moto (pinned)
still behaves as each adjustment assumes, and the adjusted server behaves as CloudFormation does.
A failure of a "moto still ..." test means the pin moved or moto changed: revisit that adjustment
rather than the test. One local AWS for the module (tests/adjust_fixtures.py).

Small templates through the CloudFormation API (no CDK synth).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from moto.cloudformation import models as cfn_models
from moto.cloudformation.custom_model import CustomModel

from adjust_fixtures import (  # noqa: F401 (aws and client are fixtures)
    RECORDS, aws, clear_records, client, create_function, deploy_change_set, moto_source, records, wait_for_stack,
)
from local_aws.adjust.cloudformation_stacks import deletion_order
from local_aws.adjust.registry import ORIGINALS

pytestmark = pytest.mark.usefixtures("aws")


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


# ---- custom resources ---------------------------------------------------------------------------


def test_moto_still_sends_only_a_create_from_a_docker_reachable_host():
    source = Path(inspect.getfile(CustomModel)).read_text()
    assert '"RequestType": "Create"' in source and "moto_server_host()" in source
    assert "Update" not in source and "def delete" not in source
    assert "threading.Thread(" in source  # answered later, so moto cannot wait for it
    assert 'if status == "SUCCESS"' in moto_source(ORIGINALS["CloudFormationResponse.process_cfn_response"])


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
    order = deletion_order(resources)
    assert order.index("Notifications") < order.index("Bucket")
    assert order.index("Notifications") < order.index("Function") < order.index("Policy") < order.index("Role")
    assert order.index("Policy") < order.index("Bucket")
    assert "for resource in remaining_resources.copy()" in moto_source(ORIGINALS["ResourceMap.delete"])


# ---- change sets and parameters -------------------------------------------------------------------


def test_moto_still_fails_missing_change_sets_badly():
    backend = cfn_models.CloudFormationBackend("eu-north-1", "123456789012")
    with pytest.raises(UnboundLocalError):
        ORIGINALS["CloudFormationBackend.delete_change_set"](backend, "cdk-deploy-change-set")
    with pytest.raises(cfn_models.ValidationError):
        ORIGINALS["CloudFormationBackend.describe_change_set"](backend, "cdk-deploy-change-set")


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
    backend = cfn_models.cloudformation_backends["123456789012"]["us-east-1"]
    change_set_id, stack_id = backend.create_change_set(
        stack_name="unadjusted-outputs", change_set_name="cs", template=OUTPUT_TEMPLATE, parameters={},
        description="", change_set_type="CREATE")
    ORIGINALS["CloudFormationBackend.execute_change_set"](backend, change_set_id)
    stack = backend.get_stack(stack_id)
    assert stack.status == "CREATE_COMPLETE" and stack.outputs is None
    # ...and it hands UsePreviousValue the resolved value, which is then resolved again as a path.
    assert ORIGINALS["Stack.stack_parameters"].fget(stack) == {"Version": "7"}
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
