"""local_aws/adjust/sqs.py and the SQS event source mappings (local_aws/adjust/lambda_.py,
local_aws/event_source_poller.py): moto (pinned) still behaves as each adjustment assumes, and the
adjusted server's queues and mappings behave as SQS's and Lambda's do.
A failure of a "moto still ..." test means the pin moved or moto changed: revisit that adjustment
rather than the test. One local AWS for the module (tests/adjust_fixtures.py).
"""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest
from moto.awslambda.models import LambdaBackend
from moto.sqs import models as sqs_models

from adjust_fixtures import (  # noqa: F401 (aws and client are fixtures)
    EVENT_RECORDER, RECORDS, aws, clear_records, client, create_function, deploy_change_set, moto_source, records,
)
from local_aws.adjust.registry import ORIGINALS

pytestmark = pytest.mark.usefixtures("aws")

# Records each batch (and how many of its kind ran at that moment), then answers per message as the
# message's JSON body asks: "raise" fails the invocation, "fail" reports the item, "unknown" reports an
# id not in the batch, "fail-once-visible" reports it and makes it visible again at once the first time,
# "gate" waits for that file first.
SQS_CONSUMER = '''
import json, os, time, uuid, boto3
s3 = boto3.client("s3")
sqs = boto3.client("sqs")
RUNNING = os.environ.get("RUNNING_DIR")

def handler(event, context):
    marker = None
    if RUNNING:
        marker = os.path.join(RUNNING, uuid.uuid4().hex)
        open(marker, "w").close()
        running = len(os.listdir(RUNNING))
    else:
        running = None
    try:
        s3.put_object(Bucket="%(records)s", Key=f"sqs/{context.function_name}/{time.time_ns()}",
                      Body=json.dumps({"event": event, "running": running}))
        failures = []
        for record in event["Records"]:
            asked = json.loads(record["body"])
            if asked.get("gate"):
                deadline = time.monotonic() + 20
                while not os.path.exists(asked["gate"]) and time.monotonic() < deadline:
                    time.sleep(0.02)
            action = asked.get("action")
            if action == "raise":
                raise RuntimeError("asked to fail")
            if action == "fail":
                failures.append({"itemIdentifier": record["messageId"]})
            if action == "unknown":
                failures.append({"itemIdentifier": "not-a-message-of-this-batch"})
            if action == "fail-once-visible" and record["attributes"]["ApproximateReceiveCount"] == "1":
                queue_url = sqs.get_queue_url(QueueName=record["eventSourceARN"].split(":")[-1])["QueueUrl"]
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"],
                                              VisibilityTimeout=0)
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}
    finally:
        if marker:
            os.remove(marker)
''' % {"records": RECORDS}


def batches(client, function: str) -> list[dict]:
    return records(client, f"sqs/{function}/")


def make_queue(client, name: str, *, visibility_s: int = 30, dlq_after: int | None = None) -> tuple[str, str, str]:
    """(queue URL, queue ARN, DLQ URL or "")."""
    sqs = client("sqs")
    attributes = {"VisibilityTimeout": str(visibility_s)}
    dlq_url = ""
    if dlq_after is not None:
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": dlq_after})
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, dlq_url


def counts(client, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def send(client, url: str, *bodies: dict) -> list[str]:
    return [client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(body))["MessageId"] for body in bodies]


# ---- queues under concurrent clients --------------------------------------------------------------


class _ListSendingAtTheEnd(list):
    """A queue's message list whose iteration by Queue.delete_message's rebuild loop ends by having another
    thread send a message: what a SendMessage request does when it lands while DeleteMessage rebuilds."""

    def __init__(self, items, send_one):
        super().__init__(items)
        self._send_one = send_one
        self.sender: threading.Thread | None = None

    def __iter__(self):
        yield from super().__iter__()
        if sys._getframe(1).f_code.co_name == "delete_message" and self.sender is None:
            sent = threading.Event()
            self.sender = threading.Thread(target=lambda: (self._send_one(), sent.set()), daemon=True)
            self.sender.start()
            sent.wait(0.5)  # the adjusted server makes the sender wait for the delete instead


def delete_while_another_thread_sends(aws, delete) -> list[str]:
    backend = sqs_models.sqs_backends[aws.account_id][aws.region]
    backend.create_queue("rebuilt-while-sending")
    first = backend.send_message("rebuilt-while-sending", "first")
    received, = backend.receive_message("rebuilt-while-sending", 1, 0, 30)
    queue = backend.get_queue("rebuilt-while-sending")
    queue._messages = sending = _ListSendingAtTheEnd(
        queue._messages, lambda: backend.send_message("rebuilt-while-sending", "second"))
    delete(backend, "rebuilt-while-sending", received.receipt_handle)
    sending.sender.join(10)
    bodies = [message.body for message in backend.get_queue("rebuilt-while-sending")._messages]
    backend.delete_queue("rebuilt-while-sending")
    assert first.id == received.id
    return bodies


def test_moto_still_loses_a_message_sent_while_a_delete_rebuilds_the_queue(aws):
    assert "self._messages = new_messages" in moto_source(sqs_models.Queue.delete_message)
    assert delete_while_another_thread_sends(aws, ORIGINALS["SQSBackend.delete_message"]) == []


def test_a_message_sent_while_a_delete_rebuilds_the_queue_is_kept(aws):
    assert delete_while_another_thread_sends(aws, sqs_models.SQSBackend.delete_message) == ["second"]


def test_a_long_poll_still_waits_for_a_message(client):
    url, _, _ = make_queue(client, "long-poll")
    threading.Timer(0.3, lambda: send(client, url, {"late": True})).start()
    message, = client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    assert json.loads(message["Body"]) == {"late": True}


class _CountingCondition(threading.Condition):
    """A queue's condition that counts how often its waiters were woken."""

    def __init__(self):
        super().__init__()
        self.woken = 0

    def notify_all(self):
        self.woken += 1
        super().notify_all()


def wakes_of_a_visibility_change(aws, change_message_visibility) -> int:
    backend = sqs_models.sqs_backends[aws.account_id][aws.region]
    backend.create_queue("visibility-wakes")
    try:
        backend.send_message("visibility-wakes", "delayed")
        received, = backend.receive_message("visibility-wakes", 1, 0, 30)
        queue = backend.get_queue("visibility-wakes")
        queue._messages_lock = counting = _CountingCondition()
        change_message_visibility(backend, "visibility-wakes", received.receipt_handle, 0)
        assert [message.id for message in queue.messages] == [received.id]  # visible again: a waiting receiver could take it now
        return counting.woken
    finally:
        backend.delete_queue("visibility-wakes")


def test_moto_still_leaves_receivers_asleep_when_a_visibility_changes(aws):
    assert "notify" not in moto_source(ORIGINALS["SQSBackend.change_message_visibility"])
    assert wakes_of_a_visibility_change(aws, ORIGINALS["SQSBackend.change_message_visibility"]) == 0


def test_a_visibility_change_wakes_the_receivers(aws):
    assert wakes_of_a_visibility_change(aws, sqs_models.SQSBackend.change_message_visibility) == 1


# ---- event source mappings ---------------------------------------------------------------------------


def test_moto_still_runs_mappings_inside_send_message_all_or_nothing():
    add_message = moto_source(sqs_models.Queue.add_message)
    assert "lambda_event_source_mappings" in add_message and "send_sqs_batch" in add_message
    assert "visibility_timeout=0" in add_message  # a failed batch is visible again at once
    batch = moto_source(LambdaBackend.send_sqs_batch) + moto_source(LambdaBackend._send_sqs_message)
    assert "batchItemFailures" not in batch and '"ApproximateReceiveCount": "1"' in batch
    assert "queue" not in moto_source(ORIGINALS["LambdaBackend.delete_event_source_mapping"])


def test_send_message_returns_before_the_function_finishes_and_records_are_lambdas(aws, client, tmp_path):
    create_function(client, "sqs-records", SQS_CONSUMER)
    url, arn, _ = make_queue(client, "shaped")
    mapping = client("lambda").create_event_source_mapping(FunctionName="sqs-records", EventSourceArn=arn, BatchSize=1)
    assert sqs_models.sqs_backends[aws.account_id][aws.region].get_queue("shaped").lambda_event_source_mappings == {}
    gate = tmp_path / "shaped-gate"
    sent = client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({"gate": str(gate)}), MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "film"}})
    # A batch is deleted once its function returned, and this one cannot return before the gate opens,
    # which happens only now: SendMessage did not wait for the function.
    assert sum(counts(client, url)) == 1
    gate.touch()
    assert aws.wait_idle(30)
    assert counts(client, url) == (0, 0)  # succeeded: deleted
    record, = [r for b in batches(client, "sqs-records") for r in b["event"]["Records"]]
    assert record["messageId"] == sent["MessageId"] and json.loads(record["body"]) == {"gate": str(gate)}
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["messageAttributes"] == {"kind": {"stringValue": "film", "stringListValues": [],
                                                    "binaryListValues": [], "dataType": "String"}}
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert int(record["attributes"]["SentTimestamp"]) <= int(record["attributes"]["ApproximateFirstReceiveTimestamp"])
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == ("aws:sqs", arn, aws.region)
    client("lambda").delete_event_source_mapping(UUID=mapping["UUID"])


def test_disabled_mappings_wait_and_batches_hold_up_to_batch_size(aws, client):
    create_function(client, "sqs-batches", SQS_CONSUMER)
    url, arn, _ = make_queue(client, "batched")
    lam = client("lambda")
    mapping = lam.create_event_source_mapping(FunctionName="sqs-batches", EventSourceArn=arn, BatchSize=5,
                                              Enabled=False)
    send(client, url, *({"n": n} for n in range(7)))
    # Another mapping's queue is served meanwhile: the poller runs, and still leaves this one alone.
    other_url, other_arn, _ = make_queue(client, "served-meanwhile")
    other = lam.create_event_source_mapping(FunctionName="sqs-batches", EventSourceArn=other_arn, BatchSize=1)
    send(client, other_url, {"other": True})
    assert aws.wait_idle(30)
    assert counts(client, other_url) == (0, 0) and counts(client, url) == (7, 0)
    assert [b["event"]["Records"][0]["eventSourceARN"] for b in batches(client, "sqs-batches")] == [other_arn]

    clear_records(client, "sqs/sqs-batches/")
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    assert aws.wait_idle(30)
    assert counts(client, url) == (0, 0)
    sizes = sorted(len(b["event"]["Records"]) for b in batches(client, "sqs-batches"))
    assert sizes == [2, 5]  # all 7 were visible at once: one full batch and the rest
    for made in (mapping, other):
        lam.delete_event_source_mapping(UUID=made["UUID"])


def test_at_most_maximum_concurrency_batches_run_at_once(aws, client, tmp_path):
    running = tmp_path / "running"
    running.mkdir()
    create_function(client, "sqs-bounded", SQS_CONSUMER, Environment={"Variables": {"RUNNING_DIR": str(running)}})
    url, arn, _ = make_queue(client, "bounded")
    mapping = client("lambda").create_event_source_mapping(FunctionName="sqs-bounded", EventSourceArn=arn,
                                                           BatchSize=1, ScalingConfig={"MaximumConcurrency": 2})
    gate = tmp_path / "bounded-gate"
    send(client, url, *({"gate": str(gate), "n": n} for n in range(6)))
    deadline = time.monotonic() + 60
    while len(batches(client, "sqs-bounded")) < 2:  # two batches have started and wait for the gate
        assert time.monotonic() < deadline, "the first two batches never started"
        assert aws.event_source_stats()["in_flight"] <= 2
        time.sleep(0.05)
    # Both slots are taken: the poller left the other four messages in the queue, visible.
    assert counts(client, url) == (4, 2)
    gate.touch()
    assert aws.wait_idle(60)
    seen = batches(client, "sqs-bounded")
    assert len(seen) == 6 and max(b["running"] for b in seen) <= 2
    client("lambda").delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_failed_batch_stays_for_its_visibility_timeout_then_goes_to_the_dlq(aws, client):
    create_function(client, "sqs-failing", SQS_CONSUMER)
    url, arn, dlq_url = make_queue(client, "failing", visibility_s=1, dlq_after=2)
    mapping = client("lambda").create_event_source_mapping(FunctionName="sqs-failing", EventSourceArn=arn)
    sent, = send(client, url, {"action": "raise"})
    dead, = client("sqs").receive_message(QueueUrl=dlq_url, WaitTimeSeconds=20)["Messages"]
    assert dead["MessageId"] == sent
    # The move to the DLQ happens at the receive after the second one, which can come while the
    # second invocation still runs (1 s visibility on a loaded machine): wait for it to finish.
    assert aws.wait_idle(30)
    client("lambda").delete_event_source_mapping(UUID=mapping["UUID"])
    receive_counts = [r["attributes"]["ApproximateReceiveCount"]
                      for b in batches(client, "sqs-failing") for r in b["event"]["Records"]]
    assert receive_counts == ["1", "2"]  # retried once after its visibility timeout, then moved
    assert counts(client, url) == (0, 0)


@pytest.mark.parametrize("second_action, kept", [("fail", 1), ("unknown", 3), ("raise", 3), (None, 0)])
def test_report_batch_item_failures_keeps_only_the_failed_messages(aws, client, second_action, kept):
    name = f"items-{second_action or 'none'}"
    create_function(client, f"sqs-{name}", SQS_CONSUMER)
    url, arn, _ = make_queue(client, name)  # 30 s visibility: what stays is still in flight at the end
    lam = client("lambda")
    mapping = lam.create_event_source_mapping(FunctionName=f"sqs-{name}", EventSourceArn=arn, BatchSize=3,
                                              FunctionResponseTypes=["ReportBatchItemFailures"], Enabled=False)
    send(client, url, {"n": 1}, {"n": 2, "action": second_action}, {"n": 3})
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    assert aws.wait_idle(30)
    assert [len(b["event"]["Records"]) for b in batches(client, f"sqs-{name}")] == [3]
    assert counts(client, url) == (0, kept)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_without_report_batch_item_failures_a_reported_item_is_deleted_too(aws, client):
    create_function(client, "sqs-unreported", SQS_CONSUMER)
    url, arn, _ = make_queue(client, "unreported")
    mapping = client("lambda").create_event_source_mapping(FunctionName="sqs-unreported", EventSourceArn=arn)
    send(client, url, {"action": "fail"})
    assert aws.wait_idle(30)
    assert counts(client, url) == (0, 0)
    client("lambda").delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_visibility_the_function_set_is_kept(aws, client):
    create_function(client, "sqs-visibility", SQS_CONSUMER)
    url, arn, _ = make_queue(client, "visibility")  # 30 s: only the function's 0 lets it come back now
    mapping = client("lambda").create_event_source_mapping(FunctionName="sqs-visibility", EventSourceArn=arn,
                                                           FunctionResponseTypes=["ReportBatchItemFailures"])
    send(client, url, {"action": "fail-once-visible"})
    assert aws.wait_idle(30)
    receive_counts = [r["attributes"]["ApproximateReceiveCount"]
                      for b in batches(client, "sqs-visibility") for r in b["event"]["Records"]]
    assert receive_counts == ["1", "2"] and counts(client, url) == (0, 0)
    client("lambda").delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_cloudformation_mapping_is_polled_until_the_stack_goes(aws, client):
    template = {"Resources": {
        "Events": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}},
        "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": "sqs-stack", "EventSourceArn": {"Fn::GetAtt": ["Events", "Arn"]}, "BatchSize": 5,
            "FunctionResponseTypes": ["ReportBatchItemFailures"], "ScalingConfig": {"MaximumConcurrency": 2}}}},
        "Outputs": {"Queue": {"Value": {"Ref": "Events"}}}}
    create_function(client, "sqs-stack", SQS_CONSUMER)
    stack = deploy_change_set(client, "mapping-stack", json.dumps(template), "CREATE")
    url = stack["Outputs"][0]["OutputValue"]
    send(client, url, {"n": 1})
    assert aws.wait_idle(30)
    assert counts(client, url) == (0, 0) and len(batches(client, "sqs-stack")) == 1
    client("cloudformation").delete_stack(StackName="mapping-stack")
    assert client("lambda").list_event_source_mappings(FunctionName="sqs-stack")["EventSourceMappings"] == []
