"""Asynchronous invocation runs events like Lambda does for S3: retries after errors, a maximum event age,
the on-failure destination record in AWS's format, and no more parallel runs than the function may have."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import pytest

from local_aws.async_invocations import AsyncInvoker, AsyncPolicy, destination_record
from local_aws.lambda_runtime import FunctionSpec, InvalidRequestContent, InvocationResult, LambdaRuntime

REGION = "eu-west-1"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:image-labels-failed"

# Fails while the counter file holds fewer than event["fail_times"] marks; records every attempt.
FLAKY_SOURCE = """
import json, os, time

def handler(event, context):
    attempts_file = event["attempts_file"]
    with open(attempts_file, "a") as attempts:
        attempts.write(f"{time.time()} {context.aws_request_id}\\n")
    with open(attempts_file) as attempts:
        made = len(attempts.read().splitlines())
    if made <= event.get("fail_times", 0):
        raise RuntimeError(f"failing attempt {made}")
    return {"attempt": made}
"""

# Records when each invocation started and ended, to measure how many overlapped.
SPAN_SOURCE = """
import os, time

def handler(event, context):
    started = time.time()
    time.sleep(event.get("sleep", 0.2))
    with open(os.path.join(event["dir"], context.aws_request_id), "w") as span:
        span.write(f"{started} {time.time()}")
"""


def make_spec(name: str, source: str, **overrides) -> FunctionSpec:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("index.py", textwrap.dedent(source))
    fields = dict(
        arn=f"arn:aws:lambda:{REGION}:123456789012:function:{name}",
        name=name,
        handler="index.handler",
        code_sha256=hashlib.sha256(buffer.getvalue()).hexdigest(),
        code_zip=buffer.getvalue(),
        environment={},
        timeout_s=5.0,
    )
    fields.update(overrides)
    return FunctionSpec(**fields)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    lambda_runtime = LambdaRuntime(endpoint_url="http://127.0.0.1:9", region=REGION,
                                   work_dir=tmp_path_factory.mktemp("async-runtime"), max_workers_per_function=3)
    yield lambda_runtime
    lambda_runtime.shutdown()


class Harness:
    """An AsyncInvoker with per-function policies and a destination queue that records what it got."""

    def __init__(self, runtime: LambdaRuntime, *, retry_delays_s=(0.05, 0.1), failing_sends: int = 0) -> None:
        self.policies: dict[str, AsyncPolicy] = {}
        self.sent: list[tuple[str, dict]] = []
        self.failing_sends = failing_sends
        self.invoker = AsyncInvoker(runtime=runtime, policy_for=lambda arn: self.policies.get(arn, AsyncPolicy()),
                                    send_to_queue=self.send, retry_delays_s=retry_delays_s)

    def send(self, queue_arn: str, body: str) -> None:
        if self.failing_sends:
            self.failing_sends -= 1
            raise ConnectionError("queue unreachable")
        self.sent.append((queue_arn, json.loads(body)))


@pytest.fixture
def harness(runtime):
    created = Harness(runtime)
    yield created
    created.invoker.shutdown()


def attempts_in(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_submit_returns_at_once_and_the_event_runs_in_the_background(harness, tmp_path):
    spec = make_spec("async-success", SPAN_SOURCE)
    started = time.monotonic()
    request_id = harness.invoker.submit(spec, json.dumps({"dir": str(tmp_path), "sleep": 0.5}).encode())
    submitted_after = time.monotonic() - started

    assert submitted_after < 0.2
    assert harness.invoker.wait_idle(0.1) is False  # still running
    assert harness.invoker.wait_idle(15)
    assert (tmp_path / request_id).exists()  # the handler saw the same request id
    stats = harness.invoker.stats()
    assert stats["submitted"] == 1 and stats["succeeded"] == 1
    assert stats["retried"] == stats["dropped"] == stats["failed_to_destination"] == 0


def test_function_error_is_retried_until_it_succeeds(harness, tmp_path):
    spec = make_spec("async-flaky", FLAKY_SOURCE)
    attempts_file = tmp_path / "attempts"
    harness.invoker.submit(spec, json.dumps({"attempts_file": str(attempts_file), "fail_times": 2}).encode())

    assert harness.invoker.wait_idle(15)
    assert attempts_in(attempts_file) == 3
    stats = harness.invoker.stats()
    assert stats["succeeded"] == 1 and stats["retried"] == 2 and stats["dropped"] == 0
    # The same request id on every attempt, as Lambda's retries keep it.
    assert len({line.split()[1] for line in attempts_file.read_text().splitlines()}) == 1
    times = [float(line.split()[0]) for line in attempts_file.read_text().splitlines()]
    assert times[1] - times[0] >= 0.05 and times[2] - times[1] >= 0.1  # the retry delays, in order


def test_exhausted_retries_send_lambdas_invocation_record_to_the_destination(harness, tmp_path):
    spec = make_spec("async-exhausted", FLAKY_SOURCE)
    harness.policies[spec.arn] = AsyncPolicy(maximum_retry_attempts=1, on_failure_destination=QUEUE_ARN)
    event = {"attempts_file": str(tmp_path / "attempts"), "fail_times": 99}
    request_id = harness.invoker.submit(spec, json.dumps(event).encode())

    assert harness.invoker.wait_idle(15)
    assert attempts_in(tmp_path / "attempts") == 2
    [(queue_arn, record)] = harness.sent
    assert queue_arn == QUEUE_ARN
    assert set(record) == {"version", "timestamp", "requestContext", "requestPayload", "responseContext", "responsePayload"}
    assert record["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"{spec.arn}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 2,
    }
    assert record["requestPayload"] == event
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "failing attempt 2"
    stats = harness.invoker.stats()
    assert stats["failed_to_destination"] == 1 and stats["retried"] == 1 and stats["dropped"] == 0


def test_timeout_counts_as_a_function_error(harness):
    spec = make_spec("async-timeout", "import time\ndef handler(e, c):\n    time.sleep(30)\n", timeout_s=0.3)
    harness.policies[spec.arn] = AsyncPolicy(maximum_retry_attempts=0, on_failure_destination=QUEUE_ARN)
    harness.invoker.submit(spec, b"{}")

    assert harness.invoker.wait_idle(15)
    [(_, record)] = harness.sent
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responsePayload"]["errorType"] == "Sandbox.Timedout"


def test_without_destination_the_failed_event_is_dropped_loudly(harness, tmp_path, caplog):
    spec = make_spec("async-dropped", FLAKY_SOURCE)
    harness.policies[spec.arn] = AsyncPolicy(maximum_retry_attempts=0)
    with caplog.at_level(logging.ERROR, logger="local_aws.async_invocations"):
        request_id = harness.invoker.submit(
            spec, json.dumps({"attempts_file": str(tmp_path / "attempts"), "fail_times": 99}).encode())
        assert harness.invoker.wait_idle(15)

    assert harness.sent == []
    assert harness.invoker.stats()["dropped"] == 1
    assert any("DROPPED" in message and request_id in message for message in caplog.messages)


def test_event_older_than_the_maximum_age_is_not_run_again(harness, tmp_path):
    slow_retries = Harness(harness.invoker._runtime, retry_delays_s=(1.0,))
    spec = make_spec("async-aged", FLAKY_SOURCE)
    slow_retries.policies[spec.arn] = AsyncPolicy(maximum_event_age_s=0.5, on_failure_destination=QUEUE_ARN)
    try:
        slow_retries.invoker.submit(spec, json.dumps({"attempts_file": str(tmp_path / "attempts"), "fail_times": 99}).encode())
        assert slow_retries.invoker.wait_idle(15)
    finally:
        slow_retries.invoker.shutdown()

    assert attempts_in(tmp_path / "attempts") == 1  # the retry would have run past the maximum age
    [(_, record)] = slow_retries.sent
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_parallel_runs_never_exceed_reserved_concurrency(harness, tmp_path):
    spec = make_spec("async-reserved-two", SPAN_SOURCE, reserved_concurrency=2)
    for _ in range(8):
        harness.invoker.submit(spec, json.dumps({"dir": str(tmp_path), "sleep": 0.2}).encode())

    assert harness.invoker.wait_idle(30)
    spans = [tuple(map(float, path.read_text().split())) for path in tmp_path.iterdir()]
    assert len(spans) == 8
    boundaries = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda b: (b[0], b[1]))
    running = peak = 0
    for _, change in boundaries:
        running += change
        peak = max(peak, running)
    assert peak == 2
    stats = harness.invoker.stats()
    assert stats["succeeded"] == 8 and stats["throttled"] >= 1 and stats["retried"] == 0


def test_reserved_concurrency_zero_sends_events_to_the_destination_unrun(harness, tmp_path):
    spec = make_spec("async-reserved-zero", FLAKY_SOURCE, reserved_concurrency=0)
    harness.policies[spec.arn] = AsyncPolicy(on_failure_destination=QUEUE_ARN)
    harness.invoker.submit(spec, json.dumps({"attempts_file": str(tmp_path / "attempts")}).encode())

    assert harness.invoker.wait_idle(15)
    assert attempts_in(tmp_path / "attempts") == 0
    [(_, record)] = harness.sent
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responsePayload" not in record


def test_sync_invoke_holding_the_only_slot_makes_the_event_wait_not_fail(harness, tmp_path):
    release = tmp_path / "release"
    spec = make_spec(
        "async-waits-for-sync",
        f"""
        import os, time
        def handler(event, context):
            while event.get("hold") and not os.path.exists({str(release)!r}):
                time.sleep(0.01)
            return "ran"
        """,
        reserved_concurrency=1,
    )
    runtime = harness.invoker._runtime
    holder = threading.Thread(target=runtime.invoke, args=(spec, b'{"hold": true}'))
    holder.start()
    time.sleep(0.5)
    harness.invoker.submit(spec, b"{}")
    assert harness.invoker.wait_idle(0.5) is False
    release.touch()
    holder.join(10)

    assert harness.invoker.wait_idle(15)
    stats = harness.invoker.stats()
    assert stats["succeeded"] == 1 and stats["throttled"] == 1 and stats["retried"] == 0


def test_destination_send_is_retried_then_an_undeliverable_record_is_logged_in_full(runtime, tmp_path, caplog):
    spec = make_spec("async-send-fails", FLAKY_SOURCE)
    flaky_queue = Harness(runtime, failing_sends=2)
    dead_queue = Harness(runtime, failing_sends=100)
    for harness in (flaky_queue, dead_queue):
        harness.policies[spec.arn] = AsyncPolicy(maximum_retry_attempts=0, on_failure_destination=QUEUE_ARN)
    try:
        flaky_queue.invoker.submit(spec, json.dumps({"attempts_file": str(tmp_path / "a"), "fail_times": 99}).encode())
        with caplog.at_level(logging.ERROR, logger="local_aws.async_invocations"):
            dead_queue.invoker.submit(spec, json.dumps({"attempts_file": str(tmp_path / "b"), "fail_times": 99}).encode())
            assert flaky_queue.invoker.wait_idle(15) and dead_queue.invoker.wait_idle(15)
    finally:
        flaky_queue.invoker.shutdown()
        dead_queue.invoker.shutdown()

    assert len(flaky_queue.sent) == 1 and flaky_queue.invoker.stats()["failed_to_destination"] == 1
    assert dead_queue.sent == []
    assert dead_queue.invoker.stats()["dropped"] == 1 and dead_queue.invoker.stats()["destination_errors"] == 1
    assert any("could not be sent" in message and str(tmp_path / "b") in message for message in caplog.messages)


def test_non_sqs_destination_is_refused_loudly(harness, tmp_path, caplog):
    spec = make_spec("async-sns-destination", FLAKY_SOURCE)
    harness.policies[spec.arn] = AsyncPolicy(maximum_retry_attempts=0,
                                             on_failure_destination=f"arn:aws:sns:{REGION}:123456789012:topic")
    with caplog.at_level(logging.ERROR, logger="local_aws.async_invocations"):
        harness.invoker.submit(spec, json.dumps({"attempts_file": str(tmp_path / "a"), "fail_times": 99}).encode())
        assert harness.invoker.wait_idle(15)

    assert harness.sent == [] and harness.invoker.stats()["dropped"] == 1
    assert any("not an SQS queue" in message for message in caplog.messages)


def test_submit_refuses_a_payload_that_is_not_json(harness):
    with pytest.raises(InvalidRequestContent):
        harness.invoker.submit(make_spec("async-bad-payload", FLAKY_SOURCE), b"{oops")
    assert harness.invoker.stats()["submitted"] == 0


def test_destination_record_without_a_function_error_has_no_function_error_key():
    result = InvocationResult(request_id="r", payload=b'{"ok": true}', function_error=None, log="", duration_ms=1.0)
    record = destination_record(request_id="r", function_arn="arn:aws:lambda:eu-west-1:1:function:f",
                                condition="RetriesExhausted", approximate_invoke_count=1,
                                request_payload={"a": 1}, last_result=result)
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": True}
