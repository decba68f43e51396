"""The fault injector answers like AWS, so real botocore clients (and their retries) react as on AWS."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from local_aws import faults

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture()
def injector():
    injector = faults.install()
    yield injector
    injector.clear()
    faults.uninstall()


def client(service, endpoint, config=NO_RETRIES):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", config=config,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_next_calls_fail_with_the_aws_error_then_reach_moto(endpoint, injector):
    rekognition = client("rekognition", endpoint)
    injector.fail_next(faults.DETECT_LABELS, 2, code="ThrottlingException", message="Slow down", status=400)
    image = {"S3Object": {"Bucket": "images", "Name": "k.jpg"}}
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            rekognition.detect_labels(Image=image)
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert "Labels" in rekognition.detect_labels(Image=image)  # the third reaches moto
    assert injector.injected(faults.DETECT_LABELS) == 2
    assert injector.calls[faults.DETECT_LABELS] == 3


def test_botocore_retries_an_injected_throttle_inside_one_call(endpoint, injector):
    """The handler's clients use standard retries: a short burst of throttling never surfaces."""
    rekognition = client("rekognition", endpoint, Config(retries={"mode": "standard", "max_attempts": 5}))
    injector.fail_next(faults.DETECT_LABELS, 3, code="ThrottlingException", message="Slow down")
    assert "Labels" in rekognition.detect_labels(Image={"S3Object": {"Bucket": "images", "Name": "k.jpg"}})
    assert injector.calls[faults.DETECT_LABELS] == 4  # three throttled, then the answer


def test_refusal_lasts_until_cleared_and_touches_only_its_operation(endpoint, injector):
    dynamodb = client("dynamodb", endpoint)
    dynamodb.create_table(TableName="t", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    injector.fail_until_cleared(faults.TRANSACT_WRITE_ITEMS, code="InternalServerError", message="down", status=500)
    write = [{"Put": {"TableName": "t", "Item": {"k": {"S": "a"}}}}]
    for _ in range(3):
        with pytest.raises(ClientError) as raised:
            dynamodb.transact_write_items(TransactItems=write)
        assert raised.value.response["Error"]["Code"] == "InternalServerError"
    dynamodb.put_item(TableName="t", Item={"k": {"S": "other"}})  # other operations are untouched
    injector.clear(faults.TRANSACT_WRITE_ITEMS)
    dynamodb.transact_write_items(TransactItems=write)
    assert dynamodb.get_item(TableName="t", Key={"k": {"S": "a"}})["Item"]


def test_timed_refusal_ends_by_itself():
    now = [100.0]
    injector = faults.FaultInjector(clock=lambda: now[0])
    injector.fail_for("X.Op", 5, code="E", message="m")
    assert injector.error_for("X.Op") is not None
    now[0] = 105.0
    assert injector.error_for("X.Op") is None


def test_uninstall_restores_moto(endpoint):
    injector = faults.install()
    injector.fail_until_cleared(faults.DETECT_LABELS, code="ThrottlingException", message="m")
    faults.uninstall()
    assert "Labels" in client("rekognition", endpoint).detect_labels(Image={"S3Object": {"Bucket": "images", "Name": "k"}})
