"""What Lambda gives a function for a batch of SQS messages, and how it reads the function's answer
(the event source mapping contract; local_aws/event_source_poller.py runs the batches).
"""

from __future__ import annotations

import base64
import json
from typing import Any


def sqs_event_record(message: Any, *, queue_arn: str, region: str) -> dict:
    """One record of the event Lambda gives a function for an SQS message (a moto Message)."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": str(message.sender_id),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    trace_header = (message.system_attributes or {}).get("AWSTraceHeader")
    if trace_header:
        attributes["AWSTraceHeader"] = str(trace_header.get("StringValue", trace_header)
                                           if isinstance(trace_header, dict) else trace_header)
    if queue_arn.endswith(".fifo"):
        attributes.update(SequenceNumber=message.sequence_number, MessageGroupId=message.group_id,
                          MessageDeduplicationId=message.deduplication_id)
    record = {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {name: _lambda_message_attribute(value)
                              for name, value in (message.message_attributes or {}).items()},
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.message_attributes:
        record["md5OfMessageAttributes"] = message.attribute_md5
    return record


def _lambda_message_attribute(value: dict) -> dict:
    """SQS's {DataType, StringValue | BinaryValue} as Lambda spells it in an event."""
    converted: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType")}
    if value.get("StringValue") is not None:
        converted["stringValue"] = value["StringValue"]
    binary = value.get("BinaryValue")
    if binary is not None:
        converted["binaryValue"] = base64.b64encode(binary).decode() if isinstance(binary, bytes) else binary
    return converted


def failed_message_ids(*, function_error: str | None, payload: bytes, message_ids: list[str],
                       report_item_failures: bool) -> set[str]:
    """The messages of a batch that stay in the queue after the function answered.

    AWS: a function error fails the batch; without ReportBatchItemFailures any answer succeeds it;
    with it, a null/empty response or batchItemFailures list succeeds it, the named messages fail,
    and an answer it cannot read (not JSON, an itemIdentifier that is empty, missing or not in the
    batch) fails the whole batch."""
    everything = set(message_ids)
    if function_error is not None:
        return everything
    if not report_item_failures:
        return set()
    try:
        response = json.loads(payload or b"null")
    except ValueError:
        return everything
    if response is None:
        return set()
    if not isinstance(response, dict):
        return everything
    failures = response.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return everything
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in everything:
            return everything
        failed.add(identifier)
    return failed
