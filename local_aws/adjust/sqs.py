"""SQS: what the local AWS changes about queues under concurrent clients.

moto's SQS backend has no lock while its server (and now the event source poller) change queues
from several threads at once; here every change of a queue's messages is serialised, and a long
poll waits outside that lock; a visibility change wakes whoever waits for the queue's messages. (SQS -> Lambda event source mappings: lambda_.py and
local_aws/event_source_poller.py.)
"""

from __future__ import annotations

import threading
import time

from moto.sqs import models as sqs_models

from local_aws.adjust.registry import ORIGINALS, keep_original, locked_by

# Re-entrant: send_message_batch calls send_message, receive_message moves messages to a DLQ.
_sqs_lock = threading.RLock()

# The backend methods that change a queue's messages (KeyError at apply time if moto renamed one).
_SQS_LOCKED_METHODS = (
    "send_message", "send_message_batch", "delete_message", "delete_message_batch", "change_message_visibility",
    "change_message_visibility_batch", "purge_queue", "delete_queue",
)
# A long poll re-checks at least this often (moto's own loop waits 1 s per round as well).
_LONG_POLL_RECHECK_S = 1.0


def serialise_sqs_queue_changes() -> None:
    """SendMessage, ReceiveMessage, DeleteMessage and ChangeMessageVisibility are atomic.

    moto's server answers requests from several threads, but its SQS backend has no lock:
    `Queue.delete_message` rebuilds the message list and assigns it back, so a message another
    thread sends meanwhile is lost without a trace; two receivers can both take the same message
    (the check and the receive count are not atomic); a move to the dead-letter queue can race
    with a delete. The event source poller deletes batches while S3, SNS and the functions send:
    the pipeline would silently lose events. Instead one lock serialises every change of messages
    (SQS gives each request that atomicity), and ReceiveMessage's long poll waits outside it,
    woken by each new message as moto's own wait is.
    """
    backend_class = sqs_models.SQSBackend
    for name in _SQS_LOCKED_METHODS + ("receive_message",):
        keep_original(f"SQSBackend.{name}", backend_class.__dict__[name])
    original_receive = ORIGINALS["SQSBackend.receive_message"]

    def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                        message_attribute_names=None):
        deadline = time.monotonic() + float(wait_seconds_timeout or 0)
        while True:
            with _sqs_lock:
                queue = self.get_queue(queue_name)
                received = original_receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            remaining = deadline - time.monotonic()
            if received or remaining <= 0:
                return received
            with queue._messages_lock:  # add_message notifies it
                if not queue.messages:
                    queue._messages_lock.wait(min(remaining, _LONG_POLL_RECHECK_S))

    for name in _SQS_LOCKED_METHODS:
        setattr(backend_class, name, locked_by(_sqs_lock, ORIGINALS[f"SQSBackend.{name}"]))
    backend_class.receive_message = receive_message


def wake_receivers_when_a_visibility_changes() -> None:
    """ChangeMessageVisibility wakes the receivers waiting on the queue.

    moto's change_message_visibility only gives the message its new visible_at: a receiver waiting
    on the queue (a long poll, an event source mapping's poller) sees it at its next recheck (1 s
    for a long poll, up to 5 s for the poller). A message a function delays by 1 s, or makes
    visible again at once, came back up to 5 s late, and a backlog retried after 1 s, 2 s, 4 s...
    took several times its delays; on SQS a long poll returns a message as soon as it is visible.
    Instead each change notifies the queue's waiters, which work out again when to look next.
    """
    backend_class = sqs_models.SQSBackend
    keep_original("SQSBackend.change_message_visibility", backend_class.__dict__["change_message_visibility"])
    changed_under_lock = backend_class.change_message_visibility  # serialise_sqs_queue_changes' lock, if applied

    def change_message_visibility(self, queue_name, receipt_handle, visibility_timeout):
        changed_under_lock(self, queue_name, receipt_handle, visibility_timeout)
        condition = self.get_queue(queue_name)._messages_lock
        with condition:
            condition.notify_all()

    change_message_visibility.__wrapped__ = changed_under_lock
    backend_class.change_message_visibility = change_message_visibility
