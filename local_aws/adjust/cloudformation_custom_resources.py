"""CloudFormation custom resources: what the local AWS changes about how they run.

moto sends a custom resource only a Create request, through Docker, and ignores its answer; here
every Create/Update/Delete runs the resource's function in the launcher's Lambda runtime and the
stack operation waits for, and honours, the function's answer on the ResponseURL.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.custom_model import CustomModel
from moto.cloudformation.exceptions import CloudFormationError
from moto.moto_api._internal import mock_random

from local_aws.adjust.registry import keep_original, logger, require_services


class CustomResourceFailed(CloudFormationError):
    code = "ValidationError"

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


@dataclass
class _PendingResponse:
    done: threading.Event = field(default_factory=threading.Event)
    body: dict = field(default_factory=dict)


_pending_custom_responses: dict[str, _PendingResponse] = {}
_pending_lock = threading.Lock()


def cloudformation_scalar_strings(value: Any) -> Any:
    """Real CloudFormation hands custom resources every scalar as a string ("true", "300")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {key: cloudformation_scalar_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [cloudformation_scalar_strings(item) for item in value]
    return value


def _run_custom_resource(
    *,
    request_type: str,
    account_id: str,
    region_name: str,
    stack_id: str,
    logical_id: str,
    resource_type: str,
    properties: dict,
    physical_id: str | None,
    old_properties: dict | None = None,
) -> dict:
    """Send one CloudFormation request to the custom resource's function and wait for its answer."""
    services = require_services()
    service_token = properties["ServiceToken"]
    function = get_lambda_backend(account_id, region_name).get_function(service_token)
    request_id = str(mock_random.uuid4())
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": f"{services.endpoint_url}/cloudformation_{region_name}/cfnresponse?stack={stack_id}",
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": cloudformation_scalar_strings(properties),
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = cloudformation_scalar_strings(old_properties)

    pending = _PendingResponse()
    with _pending_lock:
        _pending_custom_responses[request_id] = pending
    try:
        result = services.invoke_function(function, json.dumps(event).encode(), wait_for_slot=True)
        # The handler answers through the ResponseURL before it returns; a handler that crashed
        # never answers, and CloudFormation would then wait an hour: fail now with its error.
        if not pending.done.wait(timeout=5):
            detail = getattr(result, "function_error", None) or "no response"
            log_tail = (getattr(result, "log", "") or "")[-800:]
            raise CustomResourceFailed(
                logical_id, resource_type,
                f"{request_type} request: the handler returned without answering the ResponseURL ({detail}). {log_tail}",
            )
    finally:
        with _pending_lock:
            _pending_custom_responses.pop(request_id, None)
    response = pending.body
    if response.get("Status") != "SUCCESS":
        raise CustomResourceFailed(
            logical_id, resource_type, f"{request_type} failed: {response.get('Reason') or 'no reason given'}"
        )
    return response


def run_custom_resources_through_their_functions() -> None:
    """Custom resources: run their function locally, send Create/Update/Delete, honour FAILED.

    moto (custom_model.py) sends only a Create request, from a thread, through Docker, with a
    ResponseURL on `host.docker.internal`; it passes booleans and numbers where CloudFormation
    passes strings (CDK's notification handler then fails on `'bool' object has no attribute
    'lower'`); it ignores a FAILED answer; it never sends Update or Delete (a changed notification
    filter keeps its old configuration, a destroyed stack leaves it behind). This covers items 1, 3,
    5 and 8 of shared/notes/local-aws.md.

    Instead every request runs the resource's function through the launcher's Lambda runtime, with
    a ResponseURL on the local endpoint, properties as strings, PhysicalResourceId and
    OldResourceProperties as CloudFormation sends them, and waits for the answer: SUCCESS sets the
    resource's attributes and physical id, FAILED (or no answer) fails the stack operation.
    """
    keep_original("CustomModel.create_from_cloudformation_json", CustomModel.__dict__["create_from_cloudformation_json"])

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        logical_id = kwargs["LogicalId"]
        stack_id = kwargs["StackId"]
        resource_type = kwargs["ResourceType"]
        response = _run_custom_resource(
            request_type="Create", account_id=account_id, region_name=region_name, stack_id=stack_id,
            logical_id=logical_id, resource_type=resource_type, properties=properties, physical_id=None,
        )
        resource = CustomModel(region_name, response.get("RequestId", ""), logical_id,
                               response.get("PhysicalResourceId") or resource_name)
        resource.set_data(response.get("Data") or {})
        resource.local_aws_state = {
            "account_id": account_id, "stack_id": stack_id, "resource_type": resource_type,
            "properties": properties,
        }
        return resource

    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        state = original_resource.local_aws_state
        properties = cloudformation_json["Properties"]
        response = _run_custom_resource(
            request_type="Update", account_id=account_id, region_name=region_name,
            stack_id=state["stack_id"], logical_id=original_resource.logical_id,
            resource_type=state["resource_type"], properties=properties,
            physical_id=original_resource.physical_resource_id, old_properties=state["properties"],
        )
        new_physical_id = response.get("PhysicalResourceId") or original_resource.physical_resource_id
        if new_physical_id != original_resource.physical_resource_id:
            # A new physical id means a replacement: CloudFormation deletes the old one afterwards.
            original_resource.delete(account_id, region_name)
        resource = CustomModel(region_name, response.get("RequestId", ""), original_resource.logical_id, new_physical_id)
        resource.set_data(response.get("Data") or {})
        resource.local_aws_state = {**state, "properties": properties}
        return resource

    def delete(self, account_id, region_name):
        state = getattr(self, "local_aws_state", None)
        if state is None:
            return
        _run_custom_resource(
            request_type="Delete", account_id=account_id, region_name=region_name,
            stack_id=state["stack_id"], logical_id=self.logical_id, resource_type=state["resource_type"],
            properties=state["properties"], physical_id=self.physical_resource_id,
        )

    CustomModel.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    CustomModel.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)
    CustomModel.delete = delete

    keep_original("CloudFormationResponse.process_cfn_response", cfn_responses.CloudFormationResponse.process_cfn_response)

    def process_cfn_response(self):
        try:
            body = json.loads(self.body or b"{}")
        except ValueError:
            return 400, {"status": 400}, json.dumps({"error": "the response body is not JSON"})
        with _pending_lock:
            pending = _pending_custom_responses.get(str(body.get("RequestId")))
        if pending is None:
            logger.warning("Custom resource answer for an unknown request: %s", str(body)[:300])
            return 404, {"status": 404}, json.dumps({"error": "unknown RequestId"})
        pending.body = body
        pending.done.set()
        return 200, {"status": 200}, "{}"

    cfn_responses.CloudFormationResponse.process_cfn_response = process_cfn_response
