"""Fault injection for the local AWS: make one API operation fail the way AWS fails it.

Tests use it to prove the pipeline's promises under the failures it meets on AWS: Rekognition
throttling a bulk upload, DynamoDB refusing writes for a while. Faults are answered in front of
moto, at the HTTP layer, so the client (the deployed handler in its own process, with its real
boto3 retry configuration) sees exactly an AWS error response and nothing else changes.

Operations are named by the JSON protocol's target header, e.g. ``RekognitionService.DetectLabels``
or ``DynamoDB_20120810.TransactWriteItems``: every service the pipeline calls in a way that can be
throttled or refused speaks that protocol.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

DETECT_LABELS = "RekognitionService.DetectLabels"
START_LABEL_DETECTION = "RekognitionService.StartLabelDetection"
GET_LABEL_DETECTION = "RekognitionService.GetLabelDetection"
TRANSACT_WRITE_ITEMS = "DynamoDB_20120810.TransactWriteItems"


@dataclass
class _Fault:
    code: str
    message: str
    status: int
    remaining: int | None  # None: until cleared or its deadline passes
    deadline: float | None
    injected: int = 0


class FaultInjector:
    """Rules keyed by operation; thread-safe (moto's server answers on many threads)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._faults: dict[str, _Fault] = {}
        self.calls: dict[str, int] = {}

    def fail_next(self, operation: str, times: int, *, code: str, message: str, status: int = 400) -> None:
        """The next `times` calls of `operation` get the error; later calls reach moto."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults[operation] = _Fault(code, message, status, remaining=times, deadline=None)

    def fail_for(self, operation: str, seconds: float, *, code: str, message: str, status: int = 400) -> None:
        """Every call of `operation` fails for `seconds` (or until `clear`)."""
        with self._lock:
            self._faults[operation] = _Fault(code, message, status, remaining=None, deadline=self._clock() + seconds)

    def fail_until_cleared(self, operation: str, *, code: str, message: str, status: int = 400) -> None:
        with self._lock:
            self._faults[operation] = _Fault(code, message, status, remaining=None, deadline=None)

    def clear(self, operation: str | None = None) -> None:
        with self._lock:
            if operation is None:
                self._faults.clear()
            else:
                self._faults.pop(operation, None)

    def injected(self, operation: str) -> int:
        with self._lock:
            fault = self._faults.get(operation)
            return fault.injected if fault else 0

    def error_for(self, operation: str) -> _Fault | None:
        """Counts the call; returns the fault to answer with, if one applies to it."""
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1
            fault = self._faults.get(operation)
            if fault is None:
                return None
            if fault.deadline is not None and self._clock() >= fault.deadline:
                return None
            if fault.remaining is not None:
                if fault.remaining == 0:
                    return None
                fault.remaining -= 1
            fault.injected += 1
            return fault


_ACTIVE: FaultInjector | None = None
_ORIGINAL_CALL = DomainDispatcherApplication.__call__


def _call_with_faults(self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Any) -> Any:
    injector = _ACTIVE
    operation = environ.get("HTTP_X_AMZ_TARGET")
    if injector is not None and operation:
        fault = injector.error_for(operation)
        if fault is not None:
            # What AWS's JSON protocol sends; botocore reads the code from __type.
            body = json.dumps({"__type": fault.code, "message": fault.message}).encode()
            start_response(
                f"{fault.status} Injected",
                [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body))),
                 ("x-amzn-ErrorType", fault.code)],
            )
            return [body]
    return _ORIGINAL_CALL(self, environ, start_response)


def install() -> FaultInjector:
    """Put a fault injector in front of every moto server of this process (idempotent)."""
    global _ACTIVE
    if _ACTIVE is None:
        _ACTIVE = FaultInjector()
        DomainDispatcherApplication.__call__ = _call_with_faults
    return _ACTIVE


def uninstall() -> None:
    global _ACTIVE
    _ACTIVE = None
    DomainDispatcherApplication.__call__ = _ORIGINAL_CALL


@contextlib.contextmanager
def installed() -> Iterator[FaultInjector]:
    """A fault injector for the length of a block; moto answers unchanged afterwards."""
    injector = install()
    try:
        yield injector
    finally:
        uninstall()
