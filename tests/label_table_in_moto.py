"""Creates the label table in moto with the layout the stack declares, and reads it back."""

from __future__ import annotations

from boto3.dynamodb.conditions import Key

TABLE_NAME = "image-labels-test"


def create_label_table(dynamodb_resource, name: str = TABLE_NAME):
    return dynamodb_resource.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "ImageId", "KeyType": "HASH"}, {"AttributeName": "Entry", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "ImageId", "AttributeType": "S"},
            {"AttributeName": "Entry", "AttributeType": "S"},
            {"AttributeName": "LabelKey", "AttributeType": "S"},
            {"AttributeName": "Confidence", "AttributeType": "N"},
            {"AttributeName": "Catalog", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "ByLabel",
                "KeySchema": [
                    {"AttributeName": "LabelKey", "KeyType": "HASH"},
                    {"AttributeName": "Confidence", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "LabelCatalog",
                "KeySchema": [
                    {"AttributeName": "Catalog", "KeyType": "HASH"},
                    {"AttributeName": "LabelKey", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["Label"]},
            },
        ],
    )


def image(table, key: str) -> dict | None:
    return table.get_item(Key={"ImageId": key, "Entry": "IMAGE"}, ConsistentRead=True).get("Item")


def label_entries(table, key: str) -> dict[str, dict]:
    items = table.query(
        KeyConditionExpression=Key("ImageId").eq(key) & Key("Entry").begins_with("LABEL#"), ConsistentRead=True
    )["Items"]
    return {item["Label"]: item for item in items}


def images_with_label(table, label: str) -> list[tuple[str, float]]:
    items = table.query(
        IndexName="ByLabel", KeyConditionExpression=Key("LabelKey").eq(label.casefold()), ScanIndexForward=False
    )["Items"]
    return [(item["ImageId"], float(item["Confidence"])) for item in items]


def label_counts(table) -> dict[str, int]:
    catalog = table.query(IndexName="LabelCatalog", KeyConditionExpression=Key("Catalog").eq("LABELS"))["Items"]
    counts = {}
    for entry in catalog:
        counter = table.get_item(Key={"ImageId": entry["ImageId"], "Entry": entry["Entry"]})["Item"]
        counts[counter["Label"]] = int(counter["ImageCount"])
    return counts
