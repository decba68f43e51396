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


def client(service, endpoint, config=NO_RETRIES):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", config=config,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


# ListTables stands for any JSON-protocol operation: what moto answers for it does not depend on
# the local AWS's other adjustments, which other test modules of this process may have installed.
LIST_TABLES = "DynamoDB_20120810.ListTables"


def test_next_calls_fail_with_the_aws_error_then_reach_moto(endpoint, injector):
    dynamodb = client("dynamodb", endpoint)
    injector.fail_next(LIST_TABLES, 2, code="ThrottlingException", message="Slow down", status=400)
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            dynamodb.list_tables()
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert "TableNames" in dynamodb.list_tables()  # the third reaches moto
    assert injector.injected(LIST_TABLES) == 2
    assert injector.calls[LIST_TABLES] == 3


def test_botocore_retries_an_injected_throttle_inside_one_call(endpoint, injector):
    """The handler's clients use standard retries: a short burst of throttling never surfaces."""
    dynamodb = client("dynamodb", endpoint, Config(retries={"mode": "standard", "max_attempts": 5}))
    injector.fail_next(LIST_TABLES, 3, code="ThrottlingException", message="Slow down")
    assert "TableNames" in dynamodb.list_tables()
    assert injector.calls[LIST_TABLES] == 4  # three throttled, then the answer


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
    injector.fail_until_cleared(LIST_TABLES, code="ThrottlingException", message="m")
    faults.uninstall()
    assert "TableNames" in client("dynamodb", endpoint).list_tables()
