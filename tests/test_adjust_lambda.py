"""local_aws/adjust/lambda_.py: moto (pinned) still behaves as each adjustment assumes, and the
adjusted server runs functions as Lambda does.
A failure of a "moto still ..." test means the pin moved or moto changed: revisit that adjustment
rather than the test. One local AWS for the module (tests/adjust_fixtures.py).
"""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend as get_lambda_backend

from adjust_fixtures import (  # noqa: F401 (aws and client are fixtures)
    EVENT_RECORDER, RECORDS, ROLE_ARN, aws, clear_records, client, create_function, deploy_change_set, moto_source,
    records, wait_for_stack,
)
from local_aws.adjust.registry import ORIGINALS

pytestmark = pytest.mark.usefixtures("aws")


def test_moto_still_runs_function_code_only_in_docker():
    source = moto_source(ORIGINALS["LambdaFunction.invoke"])
    assert "self._invoke_lambda(" in source
    assert "docker" in moto_source(LambdaFunction._invoke_lambda)


def test_invoke_runs_the_code_tails_the_log_and_queues_events(aws, client, tmp_path):
    create_function(client, "recorder", EVENT_RECORDER)
    lam = client("lambda")
    response = lam.invoke(FunctionName="recorder", Payload=json.dumps({"hello": 1}), LogType="Tail")
    assert json.loads(response["Payload"].read()) == {"echo": {"hello": 1}}
    assert "REPORT RequestId" in __import__("base64").b64decode(response["LogResult"]).decode()

    failed = lam.invoke(FunctionName="recorder", Payload=json.dumps({"fail": True}))
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorMessage"] == "asked to fail"

    clear_records(client, "events/")
    gate = tmp_path / "event-invoke-gate"
    queued = lam.invoke(FunctionName="recorder", InvocationType="Event", Payload=json.dumps({"gate": str(gate), "n": 2}))
    # The function cannot finish before the gate opens, and the gate opens only now: Invoke answered
    # without waiting for the code.
    assert queued["StatusCode"] == 202 and records(client, "events/") == []
    gate.touch()
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
    assert "AWS::Lambda::EventInvokeConfig" not in ORIGINALS["cloudformation model types"]


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
    assert "ReservedConcurrentExecutions" not in moto_source(LambdaFunction.update_configuration)
    assert "LoggingConfig" not in moto_source(ORIGINALS["LambdaFunction.create_from_cloudformation_json"])

    stack = deploy_change_set(client, "function-stack", function_template(retries=0, reserved=2, level="DEBUG"), "CREATE")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    lam = client("lambda")
    config = lam.get_function_event_invoke_config(FunctionName=outputs["Function"])
    assert config["MaximumRetryAttempts"] == 0 and config["MaximumEventAgeInSeconds"] == 3600
    assert config["DestinationConfig"]["OnFailure"]["Destination"].endswith(":function-stack-Failed-" + outputs["Queue"].rsplit("-", 1)[1])
    assert lam.get_function_concurrency(FunctionName=outputs["Function"])["ReservedConcurrentExecutions"] == 2
    function = get_lambda_backend(aws.account_id, aws.region).get_function(outputs["Function"])
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
