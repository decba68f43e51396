"""Lambda's SQS event source mappings, on top of the local runtime: one poller thread per enabled
mapping long-polls its queue through moto's backend and invokes the function with batches.

As on AWS: up to BatchSize messages a batch, gathered for up to MaximumBatchingWindowInSeconds
(0: what is there now); at most ScalingConfig.MaximumConcurrency batches at once (default: the
function's reserved concurrency, else `default_max_concurrency`); the received messages are
invisible for the queue's visibility timeout; a successful batch is deleted; a function error
leaves every message to reappear after its visibility timeout (or the visibility the function
gave it with ChangeMessageVisibility); with FunctionResponseTypes ReportBatchItemFailures only the
messages the response names stay, and a response Lambda cannot read (unknown, empty or missing
itemIdentifier, not JSON) fails the whole batch; the queue's RedrivePolicy moves a message to its
dead-letter queue once it was received maxReceiveCount times (moto's ReceiveMessage does that).
Disabled mappings and functions with reserved concurrency 0 are not polled. Differences: only
standard and FIFO queues of this process's moto, no FilterCriteria, no 6 MB payload limit.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.core.utils import unix_time_millis
from moto.sqs.models import sqs_backends

from local_aws.sqs_lambda_events import failed_message_ids, sqs_event_record

logger = logging.getLogger(__name__)

# What one ReceiveMessage may return (SQS's limit); larger batches take several.
_RECEIVE_LIMIT = 10
# An idle poller looks again at least this often (new messages wake it at once); it is also how
# long a change of the mapping (disable, delete) may take to be seen if no one reports it.
_IDLE_RECHECK_S = 5.0
# How soon visible messages a receive did not return (a FIFO group in flight) are tried again.
_UNRECEIVABLE_RECHECK_S = 0.2
# How often wait_idle re-reads the queues (their visibility changes with the clock, unannounced).
_IDLE_PROBE_S = 0.05


@dataclass(frozen=True)
class MappingSettings:
    """What a poller reads from its mapping (and function) before each batch."""

    function_arn: str
    queue_arn: str
    batch_size: int
    batching_window_s: float
    max_concurrency: int
    report_item_failures: bool


def _queue_of(queue_arn: str):
    parts = queue_arn.split(":")
    return sqs_backends[parts[4]][parts[3]].get_queue(parts[5])


def _has_visible_messages(queue: Any) -> bool:
    return bool(queue.messages)  # moto's property: visible and not delayed


def _seconds_until_next_visible(queue: Any) -> float:
    """How long until a message that is now invisible or delayed can be received (capped)."""
    now = unix_time_millis()
    moments = [moment for message in list(queue._messages)
               for moment in (message.visible_at, message.delayed_until) if moment > now]
    if not moments:
        return _IDLE_RECHECK_S
    return min(_IDLE_RECHECK_S, (min(moments) - now) / 1000 + 0.01)  # moto: visible once now > visible_at


class EventSourcePoller:
    """Polls every enabled SQS event source mapping it is told about; thread-safe."""

    def __init__(self, *, invoke: Callable[[Any, bytes], Any], default_max_concurrency: int = 4) -> None:
        """invoke(moto LambdaFunction, payload) runs the function once, waiting for a free slot, and returns
        the runtime's InvocationResult."""
        if default_max_concurrency < 1:
            raise ValueError("default_max_concurrency must be at least 1")
        self._invoke = invoke
        self._default_max_concurrency = default_max_concurrency
        self._changed = threading.Condition()
        self._loops: dict[str, _MappingLoop] = {}
        self._stats = dict(batches=0, succeeded=0, failed=0, partially_failed=0, messages_deleted=0)
        self._stopping = False

    # ---- public -----------------------------------------------------------------------------------------

    def watch(self, *, account_id: str, region: str, uuid: str, event_source_arn: str) -> None:
        """A mapping was created, changed or deleted: poll it (if SQS) or let its poller see the change."""
        if ":sqs:" not in event_source_arn:
            return  # Kinesis and DynamoDB streams stay moto's
        with self._changed:
            if self._stopping:
                return
            loop = self._loops.get(uuid)
            if loop is None or not loop.thread.is_alive():
                loop = self._loops[uuid] = _MappingLoop(self, account_id=account_id, region=region, uuid=uuid)
                loop.thread.start()
            self._changed.notify_all()
        loop.wake()

    def wait_idle(self, timeout_s: float) -> bool:
        """True once no batch is being gathered or run and no polled queue has a visible message."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not self._idle():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, _IDLE_PROBE_S))
            return True

    def stats(self) -> dict:
        """Counts: batches run, succeeded, failed (whole batch kept), partially_failed, messages_deleted;
        in_flight now."""
        with self._changed:
            return {**self._stats, "in_flight": sum(loop.running for loop in self._loops.values())}

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop polling; wait up to timeout_s for the batches running (their messages stay in the queue)."""
        with self._changed:
            self._stopping = True
            loops = list(self._loops.values())
            self._changed.notify_all()
        for loop in loops:
            loop.wake()
        deadline = time.monotonic() + timeout_s
        for loop in loops:
            loop.thread.join(max(0.0, deadline - time.monotonic()))
        with self._changed:
            while any(loop.running for loop in loops) and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())

    # ---- what the mapping loops share -------------------------------------------------------------------

    def _idle(self) -> bool:
        for loop in self._loops.values():
            if loop.running or loop.gathering:
                return False
            queue = loop.polled_queue()
            if queue is not None and _has_visible_messages(queue):
                return False
        return True

    def settings_of(self, mapping: Any, function: Any) -> MappingSettings:
        reserved = function.reserved_concurrency
        scaling = (mapping.scaling_config or {}).get("MaximumConcurrency")
        if scaling is not None:
            limit = int(scaling)
        elif reserved is not None:
            limit = int(reserved)
        else:
            limit = self._default_max_concurrency
        if reserved is not None:
            limit = min(limit, int(reserved))
        return MappingSettings(
            function_arn=mapping.function_arn,
            queue_arn=mapping.event_source_arn,
            batch_size=int(mapping.batch_size),
            batching_window_s=float(mapping.max_batch_window or 0),
            max_concurrency=limit,
            report_item_failures="ReportBatchItemFailures" in (mapping.function_response_types or []),
        )


class _MappingLoop:
    """One mapping's poller thread, and the batches it runs (each in a thread of its own)."""

    def __init__(self, poller: EventSourcePoller, *, account_id: str, region: str, uuid: str) -> None:
        self.poller = poller
        self.account_id = account_id
        self.region = region
        self.uuid = uuid
        self.running = 0  # batches being run (guarded by poller._changed)
        self.gathering = False  # messages received, the batch not yet handed on
        self._queue: Any = None  # the queue waited on now, None while not polling
        self.thread = threading.Thread(target=self._run, name=f"sqs-poller-{uuid[:8]}", daemon=True)

    def polled_queue(self) -> Any:
        """The queue this mapping polls now (None: deleted, disabled, throttled to 0, or nothing to poll)."""
        try:
            current = self._current()
        except Exception:
            return None
        return current[2] if isinstance(current, tuple) else None

    def wake(self) -> None:
        """Interrupt a wait for messages (stop, or the mapping changed)."""
        queue = self._queue
        if queue is not None:
            with queue._messages_lock:
                queue._messages_lock.notify_all()

    # ---- the loop ---------------------------------------------------------------------------------------

    def _run(self) -> None:
        changed = self.poller._changed
        while True:
            with changed:
                if self.poller._stopping:
                    break
            try:
                current = self._current()
            except Exception:  # never let a poller die of a passing inconsistency
                logger.exception("Event source mapping %s: could not read it", self.uuid)
                current = "wait"
            if current is None:
                break  # deleted
            if current == "wait":
                self._queue = None
                with changed:
                    if not self.poller._stopping:
                        changed.wait(_IDLE_RECHECK_S)
                continue
            settings, function, queue = current
            self._queue = queue
            with changed:
                while self.running >= settings.max_concurrency and not self.poller._stopping:
                    changed.wait(_IDLE_RECHECK_S)
                if self.poller._stopping:
                    break
                self.gathering = True
            batch: list = []
            try:
                batch = self._gather(queue, settings)
            except Exception:  # the queue went meanwhile...: what was received reappears after its timeout
                logger.exception("Event source mapping %s: could not receive from %s", self.uuid, queue.name)
            finally:
                with changed:
                    self.gathering = False
                    if batch:
                        self.running += 1
                    changed.notify_all()
            if batch:
                threading.Thread(target=self._run_batch, args=(settings, function, queue, batch), daemon=True,
                                 name=f"sqs-batch-{function.function_name}").start()
            else:
                self._wait_for_messages(queue, received_nothing=True)
        self._queue = None

    def _current(self) -> tuple[MappingSettings, Any, Any] | str | None:
        """(settings, function, queue) to poll now; "wait" when the mapping is disabled, throttled to 0 or
        its queue or function is missing; None once the mapping is deleted."""
        backend = get_lambda_backend(self.account_id, self.region)
        mapping = backend.get_event_source_mapping(self.uuid)
        if mapping is None:
            return None
        if not mapping.enabled:
            return "wait"
        try:
            function = backend.get_function(mapping.function_arn)
            queue = _queue_of(mapping.event_source_arn)
        except Exception:
            return "wait"
        settings = self.poller.settings_of(mapping, function)
        if settings.max_concurrency <= 0:
            return "wait"  # reserved concurrency 0: Lambda throttles every invocation
        return settings, function, queue

    def _receive(self, queue: Any, count: int) -> list:
        backend = sqs_backends[queue.account_id][queue.region]
        return backend.receive_message(queue.name, min(count, _RECEIVE_LIMIT), 0, int(queue.visibility_timeout),
                                       message_attribute_names=["All"])

    def _gather(self, queue: Any, settings: MappingSettings) -> list:
        """Messages for one batch: what is visible now (none: an empty list), then more until BatchSize,
        waiting up to the batching window for them."""
        batch = self._receive(queue, settings.batch_size)
        if not batch:
            return []
        window_ends = time.monotonic() + settings.batching_window_s
        while len(batch) < settings.batch_size:
            more = self._receive(queue, settings.batch_size - len(batch))
            if more:
                batch.extend(more)
                continue
            remaining = window_ends - time.monotonic()
            if remaining <= 0 or self.poller._stopping:
                break
            self._wait_for_messages(queue, limit_s=remaining)
        return batch

    def _wait_for_messages(self, queue: Any, limit_s: float = _IDLE_RECHECK_S, received_nothing: bool = False) -> None:
        """Until a message may be received (a send notifies; a visibility timeout ends by the clock), the
        mapping changes, or limit_s. Visible messages that a receive just did not return (a FIFO group
        in flight) are looked at again after a pause, not in a busy loop."""
        with queue._messages_lock:
            if self.poller._stopping:
                return
            if not _has_visible_messages(queue):
                queue._messages_lock.wait(min(limit_s, _seconds_until_next_visible(queue)))
            elif received_nothing:
                queue._messages_lock.wait(_UNRECEIVABLE_RECHECK_S)

    # ---- one batch --------------------------------------------------------------------------------------

    def _run_batch(self, settings: MappingSettings, function: Any, queue: Any, batch: list) -> None:
        ids = [message.id for message in batch]
        outcome, deleted = "failed", 0
        try:
            event = {"Records": [sqs_event_record(message, queue_arn=settings.queue_arn, region=queue.region)
                                 for message in batch]}
            try:
                result = self.poller._invoke(function, json.dumps(event).encode())
                failed = failed_message_ids(function_error=result.function_error, payload=result.payload,
                                            message_ids=ids, report_item_failures=settings.report_item_failures)
            except Exception:  # the runtime could not run it (shut down...): the messages stay
                logger.exception("Event source mapping %s: could not invoke %s", self.uuid, function.function_name)
                failed = set(ids)
            if failed and len(failed) < len(ids):
                outcome = "partially_failed"
            elif not failed:
                outcome = "succeeded"
            deleted = self._delete(queue, [message for message in batch if message.id not in failed])
        finally:
            with self.poller._changed:
                self.running -= 1
                stats = self.poller._stats
                stats["batches"] += 1
                stats[outcome] += 1
                stats["messages_deleted"] += deleted
                self.poller._changed.notify_all()

    @staticmethod
    def _delete(queue: Any, messages: list) -> int:
        backend = sqs_backends[queue.account_id][queue.region]
        deleted = 0
        for message in messages:
            try:
                backend.delete_message(queue.name, message.receipt_handle)
                deleted += 1
            except Exception as error:  # the queue went, or the handle is stale (received again since)
                logger.warning("Could not delete message %s from %s: %s", message.id, queue.name, error)
        return deleted
