"""What the tests of local_aws/adjust/ share: one local AWS per test module, clients on it, and small
Python functions written here that record what they receive in S3.

Test modules import the fixtures (`aws`, `client`) by name and mark every test with
`pytest.mark.usefixtures("aws")`: moto's originals (ORIGINALS) are kept when the adjustments are
applied, i.e. when the server starts.
"""

from __future__ import annotations

import inspect
import io
import json
import time
import zipfile

import boto3
import pytest

from local_aws.server import LocalAws


RECORDS = "adjustment-records"  # bucket where the test functions write what they received
ROLE_ARN = "arn:aws:iam::123456789012:role/adjustment-tests"


# Records every event it gets; sleeps when asked; raises when asked. With a gate (the event's
# "gate", else the function's GATE environment variable: a file path) it records nothing until the
# test creates that file, so a test can tell "the call returned before the function finished"
# without a clock.
EVENT_RECORDER = '''
import json, os, time, boto3
s3 = boto3.client("s3")

def wait_for_gate(path):
    deadline = time.monotonic() + 20
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the gate {path} never opened")
        time.sleep(0.02)

def handler(event, context):
    gate = (event.get("gate") if isinstance(event, dict) else None) or os.environ.get("GATE")
    if gate:
        wait_for_gate(gate)
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


def deploy_change_set(client, stack: str, template: str, change_set_type: str) -> dict:
    cfn = client("cloudformation")
    cfn.create_change_set(StackName=stack, ChangeSetName="cs", TemplateBody=template, ChangeSetType=change_set_type)
    cfn.execute_change_set(StackName=stack, ChangeSetName="cs")
    return wait_for_stack(client, stack)
