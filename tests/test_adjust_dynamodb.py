"""local_aws/adjust/dynamodb.py: moto (pinned) still behaves as the adjustment assumes, and the
adjusted server's transactions stay atomic and isolated under concurrent writers, as DynamoDB's do.
A failure of a "moto still ..." test means the pin moved or moto changed: revisit that adjustment
rather than the test. One local AWS for the module (tests/adjust_fixtures.py).
"""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb import models as dynamodb_models

from adjust_fixtures import aws, client, moto_source  # noqa: F401 (aws and client are fixtures)
from local_aws.adjust.registry import ORIGINALS

pytestmark = pytest.mark.usefixtures("aws")


def test_moto_still_backs_up_and_restores_whole_tables_in_transactions():
    from moto.dynamodb.exceptions import TransactionCanceledException

    source = moto_source(ORIGINALS["DynamoDBBackend.transact_write_items"])
    assert re.search(r"copy\.deepcopy\(\s*self\.tables\[table_name\]\s*\)", source)  # every touched table
    assert "self.tables[table_name] = original_table_state[table_name]" in source
    assert "lock" not in moto_source(ORIGINALS["DynamoDBBackend.put_item"]).lower()

    # Behaviour: a cancelled transaction puts a copy taken *before* it ran in the table's place, so
    # a write another request made in between (here: straight into the live table) is gone.
    backend = dynamodb_models.DynamoDBBackend("us-east-1", "123456789012")
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
        ORIGINALS["DynamoDBBackend.transact_write_items"](backend, [
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "absent"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    assert backend.get_table("t") is not live_table  # the whole table was swapped for the backup
    assert backend.get_table("t").get_item(dynamodb_models.DynamoType({"S": "written-meanwhile"})) is None


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
