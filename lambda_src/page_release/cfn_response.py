"""The answer CloudFormation waits for: a PUT of a JSON document to the request's presigned ResponseURL.

Without it a stack operation hangs for an hour, so every outcome, failures included, is answered.
"""

from __future__ import annotations

import json
import urllib.request

# CloudFormation shows at most 4 KB of the reason; the rest would be cut anyway.
MAX_REASON = 1000


def response_document(event: dict, *, status: str, physical_id: str, reason: str = "", data: dict | None = None) -> dict:
    return {
        "Status": status,
        "Reason": reason[:MAX_REASON] or status,
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": data or {},
    }


def send(url: str, document: dict, *, timeout: float = 30) -> None:
    body = json.dumps(document).encode()
    # The presigned URL is signed for an empty Content-Type; urllib would otherwise send a form type.
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - CloudFormation's https URL
        answer.read()
