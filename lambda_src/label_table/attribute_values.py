"""Items between plain Python values and DynamoDB's typed wire format (low-level clients)."""

from __future__ import annotations

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def wire(value: dict) -> dict:
    return {name: _serializer.serialize(attribute) for name, attribute in value.items()}


def plain(item: dict) -> dict:
    return {name: _deserializer.deserialize(attribute) for name, attribute in item.items()}
