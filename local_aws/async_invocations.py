"""Lambda's asynchronous invocation (InvocationType=Event, and how S3 notifications invoke functions), on top
of the local runtime: a queue per function, dispatch bounded by the function's concurrency, retries after
function errors, a maximum event age, and the invocation record sent to an on-failure SQS destination.

As on AWS: a throttled attempt (no free slot) is not a retry attempt, the event just waits; a function error
(exception, timeout, crash) is retried up to MaximumRetryAttempts more times; an event that fails them all or
outlives MaximumEventAgeInSeconds is sent to the on-failure destination, or dropped when there is none; and
with reserved concurrency 0 new events go to the destination at once, never run. Differences: retry delays
are short (AWS waits about 1 then 2 minutes), events are kept in memory only (lost if the process ends: a
shutdown with events pending logs every one in full), and only SQS on-failure destinations are supported.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from local_aws.lambda_runtime import (
    FunctionSpec,
    InvocationResult,
    LambdaRuntime,
    TooManyRequests,
    error_payload,
    payload_text,
)
from local_aws.lambda_worker import iso_millis

logger = logging.getLogger(__name__)

# Delivery to the destination queue: attempts and the pause before each retry.
_SEND_RETRY_DELAYS_S = (0.1, 0.5, 2.0)


@dataclass(frozen=True)
class AsyncPolicy:
    """A function's EventInvokeConfig."""

    maximum_retry_attempts: int = 2
    maximum_event_age_s: float = 21600
    on_failure_destination: str | None = None  # an SQS queue ARN; other destination types are not supported


def destination_record(*, request_id: str, function_arn: str, condition: str, approximate_invoke_count: int,
                       request_payload: object, last_result: InvocationResult | None,
                       now: datetime.datetime | None = None) -> dict:
    """The invocation record Lambda sends to an on-failure destination (AWS's documented format).

    An event that never ran (reserved concurrency 0) has no response: responseContext and responsePayload
    are then left out (what AWS sends in that case is unverified)."""
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    record = {
        "version": "1.0",
        "timestamp": iso_millis(moment),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": approximate_invoke_count,
        },
        "requestPayload": request_payload,
    }
    if last_result is not None:
        record["responseContext"] = {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            **({"functionError": last_result.function_error} if last_result.function_error else {}),
        }
        try:
            record["responsePayload"] = json.loads(last_result.payload)
        except ValueError:
            record["responsePayload"] = last_result.payload.decode(errors="replace")
    return record


def is_sqs_arn(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) >= 6 and parts[0] == "arn" and parts[2] == "sqs"


@dataclass
class _Event:
    request_id: str
    function_arn: str
    payload: str  # JSON text, validated at submit
    received_at: float  # clock() at submit: the event's age counts from here
    policy: AsyncPolicy
    ready_at: float  # clock() from which the next attempt may run
    attempts: int = 0
    last_result: InvocationResult | None = None
    throttle_counted: bool = False  # this attempt was already counted as throttled


@dataclass
class _FunctionQueue:
    spec: FunctionSpec  # the latest spec submitted: queued events run the function's current code
    events: deque = field(default_factory=deque)
    running: int = 0


class AsyncInvoker:
    """Accepts events at once and runs them in the background with Lambda's async semantics; thread-safe."""

    def __init__(self, *, runtime: LambdaRuntime, policy_for: Callable[[str], AsyncPolicy],
                 send_to_queue: Callable[[str, str], None], retry_delays_s: tuple[float, ...] = (1.0, 2.0),
                 clock: Callable[[], float] = time.monotonic) -> None:
        """policy_for(function ARN) gives the function's current EventInvokeConfig (read before each decision);
        send_to_queue(queue ARN, message body) delivers an invocation record."""
        self._runtime = runtime
        self._policy_for = policy_for
        self._send_to_queue = send_to_queue
        self._retry_delays_s = tuple(retry_delays_s)
        self._clock = clock
        self._changed = threading.Condition()
        self._queues: dict[str, _FunctionQueue] = {}
        self._in_flight = 0  # attempts running plus failure records being delivered
        self._stats = dict(submitted=0, succeeded=0, retried=0, failed_to_destination=0, dropped=0, throttled=0,
                           destination_errors=0)
        self._stopping = False
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="lambda-async-dispatcher", daemon=True)
        self._dispatcher.start()

    # ---- public -----------------------------------------------------------------------------------------

    def submit(self, spec: FunctionSpec, payload: bytes) -> str:
        """Queue an event (Invoke with InvocationType=Event: 202) and return its request id.
        Raises InvalidRequestContent when the payload is not JSON, as Invoke does."""
        text = payload_text(payload)
        policy = self._policy(spec.arn)
        request_id = str(uuid.uuid4())
        now = self._clock()
        with self._changed:
            if self._stopping:
                raise RuntimeError("AsyncInvoker is shut down")
            queue = self._queues.get(spec.arn)
            if queue is None:
                queue = self._queues[spec.arn] = _FunctionQueue(spec=spec)
            queue.spec = spec
            queue.events.append(_Event(request_id=request_id, function_arn=spec.arn, payload=text, received_at=now,
                                       policy=policy, ready_at=now))
            self._stats["submitted"] += 1
            self._changed.notify_all()
        return request_id

    def wait_idle(self, timeout_s: float) -> bool:
        """True once nothing is queued, running, waiting to retry or being delivered; False on timeout."""
        with self._changed:
            return self._changed.wait_for(self._idle, max(0.0, timeout_s))

    def stats(self) -> dict:
        """Counts: submitted, succeeded, retried, failed_to_destination, dropped, throttled (attempts that
        found no free slot), destination_errors (records that could not be delivered), plus queued and
        in_flight now."""
        with self._changed:
            return {
                **self._stats,
                "queued": sum(len(queue.events) for queue in self._queues.values()),
                "in_flight": self._in_flight,
            }

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop dispatching, wait up to timeout_s for attempts in flight, and log every event still queued
        (in full: they are lost with this process)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._dispatcher.join(timeout_s)
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._in_flight and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            pending = [event for queue in self._queues.values() for event in queue.events]
            for queue in self._queues.values():
                queue.events.clear()
        for event in pending:
            logger.error(
                "Async event never processed (local AWS stopped): function %s request %s payload %s",
                event.function_arn, event.request_id, event.payload,
            )

    # ---- dispatch ---------------------------------------------------------------------------------------

    def _idle(self) -> bool:
        return self._in_flight == 0 and all(not queue.events for queue in self._queues.values())

    def _policy(self, function_arn: str) -> AsyncPolicy:
        try:
            return self._policy_for(function_arn)
        except Exception:
            logger.exception("No async policy for %s: using Lambda's defaults", function_arn)
            return AsyncPolicy()

    def _dispatch_loop(self) -> None:
        with self._changed:
            while not self._stopping:
                wake_at = self._dispatch_ready_events()
                timeout = None if wake_at is None else max(0.0, wake_at - self._clock())
                self._changed.wait(timeout)

    def _dispatch_ready_events(self) -> float | None:
        """Start every event that may run now; expire the too old. Holds the lock. Returns when to look again."""
        now = self._clock()
        wake_at: float | None = None
        for queue in self._queues.values():
            limit = self._runtime.concurrency_limit(queue.spec)
            kept: deque = deque()
            while queue.events:
                event = queue.events.popleft()
                expires_at = event.received_at + event.policy.maximum_event_age_s
                # Reserved concurrency 0: Lambda sends new events to the destination without running them.
                if now >= expires_at or limit == 0:
                    self._start_failure(event, "EventAgeExceeded")
                    continue
                if event.ready_at <= now and queue.running < limit:
                    queue.running += 1
                    self._in_flight += 1
                    threading.Thread(target=self._attempt, args=(queue, event), daemon=True,
                                     name=f"lambda-async-{queue.spec.name}").start()
                    continue
                if event.ready_at <= now and not event.throttle_counted:
                    event.throttle_counted = True  # waits for a slot: throttled, not a retry attempt
                    self._stats["throttled"] += 1
                kept.append(event)
                next_look = min(expires_at, event.ready_at) if event.ready_at > now else expires_at
                wake_at = next_look if wake_at is None else min(wake_at, next_look)
            queue.events = kept
        return wake_at

    def _attempt(self, queue: _FunctionQueue, event: _Event) -> None:
        """One attempt in its own thread, then the event's next step (done, retry, or destination)."""
        with self._changed:
            spec = queue.spec
        result = self._invoke(spec, event)
        policy = self._policy(event.function_arn)
        with self._changed:
            queue.running -= 1
            event.attempts += 1
            event.last_result = result
            event.policy = policy
            event.throttle_counted = False
            if result.function_error is None:
                self._stats["succeeded"] += 1
            elif event.attempts > policy.maximum_retry_attempts:
                self._start_failure(event, "RetriesExhausted")
            else:
                self._stats["retried"] += 1
                delays = self._retry_delays_s or (0.0,)
                event.ready_at = self._clock() + delays[min(event.attempts, len(delays)) - 1]
                queue.events.append(event)
            self._in_flight -= 1
            self._changed.notify_all()

    def _invoke(self, spec: FunctionSpec, event: _Event) -> InvocationResult:
        payload = event.payload.encode()
        try:
            try:
                return self._runtime.invoke(spec, payload, request_id=event.request_id)
            except TooManyRequests:
                # A sync invoke holds the slot: the event waits for it, as a throttled async event does.
                with self._changed:
                    if not event.throttle_counted:
                        event.throttle_counted = True
                        self._stats["throttled"] += 1
                return self._runtime.invoke(spec, payload, wait_for_slot=True, request_id=event.request_id)
        except Exception as exc:  # the runtime itself failed (shut down, out of processes...): a failed attempt
            logger.exception("Local runtime could not run %s (request %s)", spec.name, event.request_id)
            error = error_payload("Runtime.LocalError", f"Local runtime error: {exc}", event.request_id)
            return InvocationResult(request_id=event.request_id, payload=json.dumps(error).encode(),
                                    function_error="Unhandled", log="", duration_ms=0.0)

    # ---- failures ---------------------------------------------------------------------------------------

    def _start_failure(self, event: _Event, condition: str) -> None:
        """Hand a failed event to a delivery thread (sending may retry and sleep). Holds the lock."""
        self._in_flight += 1
        threading.Thread(target=self._deliver_failure, args=(event, condition), daemon=True,
                         name="lambda-async-destination").start()

    def _deliver_failure(self, event: _Event, condition: str) -> None:
        try:
            outcome = self._send_failure_record(event, condition)
        except Exception:  # never lose an event silently, whatever went wrong
            logger.exception("Failed async event could not be handled: request %s payload %s", event.request_id,
                             event.payload)
            outcome = "dropped"
        with self._changed:
            if outcome == "sent":
                self._stats["failed_to_destination"] += 1
            else:
                self._stats["dropped"] += 1
                if outcome == "undeliverable":
                    self._stats["destination_errors"] += 1
            self._in_flight -= 1
            self._changed.notify_all()

    def _send_failure_record(self, event: _Event, condition: str) -> str:
        record = destination_record(
            request_id=event.request_id,
            function_arn=event.function_arn,
            condition=condition,
            approximate_invoke_count=event.attempts,
            request_payload=json.loads(event.payload),
            last_result=event.last_result,
        )
        body = json.dumps(record)
        destination = self._policy(event.function_arn).on_failure_destination  # the current config
        if destination is None:
            logger.error("Async event DROPPED (%s, no on-failure destination): %s", condition, body)
            return "dropped"
        if not is_sqs_arn(destination):
            logger.error("Async event DROPPED: on-failure destination %s is not an SQS queue, the only kind the "
                         "local AWS supports: %s", destination, body)
            return "undeliverable"
        for attempt, delay_s in enumerate((0.0, *_SEND_RETRY_DELAYS_S), start=1):
            time.sleep(delay_s)
            try:
                self._send_to_queue(destination, body)
                logger.info("Async event sent to %s (%s after %d attempts): request %s", destination, condition,
                               event.attempts, event.request_id)
                return "sent"
            except Exception:
                logger.warning("Sending a failure record to %s failed (try %d)", destination, attempt, exc_info=True)
        logger.error("Async event DROPPED: its failure record could not be sent to %s: %s", destination, body)
        return "undeliverable"
