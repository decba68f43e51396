"""Invoking the labeller function synchronously: the seam redrive and backfill go through.
Tests pass their own invoker that runs the real handler in-process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Protocol


@dataclass(frozen=True, kw_only=True)
class InvokeResult:
    payload: Any  # what the handler returned, or Lambda's {"errorMessage", "errorType"} on an error
    function_error: str | None = None  # Lambda's FunctionError ("Unhandled"), None on success

    @property
    def ok(self) -> bool:
        return self.function_error is None

    @property
    def error_message(self) -> str:
        if isinstance(self.payload, dict):
            kind = self.payload.get("errorType") or self.function_error
            return f"{kind}: {self.payload.get('errorMessage', '')}".strip()
        return str(self.function_error or "")

    @property
    def outcomes(self) -> dict[str, int]:
        if self.ok and isinstance(self.payload, dict):
            return {str(name): int(count) for name, count in (self.payload.get("outcomes") or {}).items()}
        return {}


class Invoker(Protocol):
    def __call__(self, event: dict) -> InvokeResult: ...


class LambdaInvoker:
    """Lambda Invoke, RequestResponse: the handler's return value or its error, synchronously."""

    def __init__(self, *, client, function_name: str) -> None:
        self._client = client
        self.function_name = function_name

    def __call__(self, event: dict) -> InvokeResult:
        response = self._client.invoke(
            FunctionName=self.function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
        )
        body = response["Payload"].read()
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = {"errorMessage": body.decode(errors="replace")[:500], "errorType": "UnreadableResponse"}
        return InvokeResult(payload=payload, function_error=response.get("FunctionError"))


InvokerFactory = Callable[[Any], Invoker]
