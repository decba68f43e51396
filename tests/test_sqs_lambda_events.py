"""local_aws/sqs_lambda_events.py: what stays in the queue after a function answered a batch, by
Lambda's documented rules for ReportBatchItemFailures."""

from __future__ import annotations

import json

import pytest

from local_aws.sqs_lambda_events import failed_message_ids

IDS = ["m1", "m2", "m3"]


def kept(payload: object, *, report: bool = True, error: str | None = None) -> set[str]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return failed_message_ids(function_error=error, payload=raw, message_ids=IDS, report_item_failures=report)


@pytest.mark.parametrize("answer", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None},
                                    {"statusCode": 200}])
def test_answers_lambda_reads_as_complete_success(answer):
    assert kept(answer) == set()


@pytest.mark.parametrize("answer", [
    b"not json", ["m1"], "m1", {"batchItemFailures": "m1"},
    {"batchItemFailures": [{"itemIdentifier": ""}]}, {"batchItemFailures": [{"itemIdentifier": None}]},
    {"batchItemFailures": [{"itemIdentifer": "m1"}]}, {"batchItemFailures": [{"itemIdentifier": "m9"}]},
    {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m9"}]},
])
def test_answers_lambda_cannot_read_fail_the_whole_batch(answer):
    assert kept(answer) == set(IDS)


def test_named_items_stay_and_a_function_error_keeps_everything():
    assert kept({"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}) == {"m2", "m3"}
    assert kept({"batchItemFailures": []}, error="Unhandled") == set(IDS)


def test_without_report_batch_item_failures_any_answer_succeeds():
    assert kept({"batchItemFailures": [{"itemIdentifier": "m2"}]}, report=False) == set()
    assert kept(b"not json", report=False) == set()
