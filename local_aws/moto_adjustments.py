"""What moto 5.2.5 gets wrong for this project, and the in-process adjustments that fix it.

Each adjustment is one function below: its docstring says what moto does, why it matters for a real
`cdk bootstrap` / `cdk deploy` / `cdk destroy` or for the labelling pipeline, and what it does
instead. They patch moto's classes in this process only, so the launcher (local_aws.server) must
apply them before it starts moto's server in the same process.

The adjustments call back into the launcher through `LocalServices` (run a function, submit an
asynchronous invocation, answer DetectLabels), so this module holds no process or model of its own.

These are moto internals: the pin is exact, and tests/test_moto_adjustments.py fails when moto's
behaviour under an adjustment changes.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import moto
from moto.awslambda.models import EventInvokeConfig, LambdaFunction
from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.custom_model import CustomModel
from moto.cloudformation.exceptions import CloudFormationError
from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import JsonRESTError
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import Table as DynamoDBTable
from moto.moto_api._internal import mock_random
from moto.rekognition import responses as rekognition_responses
from moto.s3 import models as s3_models
from moto.s3 import notifications as s3_notifications

MOTO_VERSION = "5.2.5"

logger = logging.getLogger("local_aws.moto")


class LocalServices(Protocol):
    """What the adjustments need from the launcher."""

    endpoint_url: str

    def invoke_function(self, function: LambdaFunction, payload: bytes, *, wait_for_slot: bool) -> Any:
        """Run the function now and return the runtime's InvocationResult (raises TooManyRequests)."""

    def submit_async_invocation(self, function: LambdaFunction, payload: bytes) -> str:
        """Queue an asynchronous invocation (retries, on-failure destination); returns its request id."""

    def detect_labels(self, request: dict, read_object: Callable[[str, str, str | None], bytes]) -> tuple[int, dict]:
        """Answer one Rekognition DetectLabels request: (HTTP status, JSON body)."""


_services: LocalServices | None = None
_applied = False
_apply_lock = threading.Lock()

# The functions as moto ships them, for the tests that check moto still behaves as expected.
ORIGINALS: dict[str, Any] = {}


def apply_all(services: LocalServices) -> None:
    """Apply every adjustment once per process; later calls only switch the services they use."""
    global _services, _applied
    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"local_aws adjusts moto {MOTO_VERSION} internals, but moto {moto.__version__} is installed: "
            "install requirements-local.txt"
        )
    with _apply_lock:
        _services = services
        if _applied:
            return
        for adjustment in ADJUSTMENTS:
            adjustment()
        _applied = True


def _require_services() -> LocalServices:
    if _services is None:
        raise RuntimeError("local_aws adjustments used before apply_all() gave them the launcher's services")
    return _services


def _keep_original(name: str, value: Any) -> Any:
    ORIGINALS.setdefault(name, value)
    return ORIGINALS[name]


# --------------------------------------------------------------------------------------------
# CloudFormation: custom resources
# --------------------------------------------------------------------------------------------


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
    services = _require_services()
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
    _keep_original("CustomModel.create_from_cloudformation_json", CustomModel.__dict__["create_from_cloudformation_json"])

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

    _keep_original("CloudFormationResponse.process_cfn_response", cfn_responses.CloudFormationResponse.process_cfn_response)

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


# --------------------------------------------------------------------------------------------
# CloudFormation: change sets, parameters, deletion order
# --------------------------------------------------------------------------------------------


class ChangeSetNotFound(CloudFormationError):
    code = "ChangeSetNotFoundException"

    def __init__(self, name: str) -> None:
        super().__init__(f"ChangeSet [{name}] does not exist")


def _find_change_set(backend: cfn_models.CloudFormationBackend, name_or_arn: str, stack_name: str | None = None):
    """The change set an ARN names, or the one of that name on that stack (a name is unique per
    stack only: the CDK CLI names every change set `cdk-deploy-change-set`). A deleted stack's
    change sets are gone with it."""
    if name_or_arn in backend.change_sets:
        return backend.change_sets[name_or_arn]
    for change_set in reversed(list(backend.change_sets.values())):
        if change_set.change_set_name != name_or_arn or change_set.stack_id not in backend.stacks:
            continue
        if stack_name in (None, "", change_set.stack_name, change_set.stack_id):
            return change_set
    return None


def answer_missing_change_sets_like_cloudformation() -> None:
    """Change sets are found by name *and* stack; a missing one is ChangeSetNotFound; deleting one
    that does not exist is a no-op.

    moto finds a change set by name alone, across stacks (the CLI names all of them
    `cdk-deploy-change-set`, so a second stack can execute the first stack's change set), keeps
    the change sets of deleted stacks, answers DescribeChangeSet of a missing one with a
    ValidationError and DeleteChangeSet with an HTTP 500 (`to_delete` unbound). The CDK CLI
    deletes any leftover change set before each deploy and treats ChangeSetNotFound as "gone": on
    a 500 it retries for about 50 s. (Note item 6.)
    """
    backend_class = cfn_models.CloudFormationBackend
    response_class = cfn_responses.CloudFormationResponse
    _keep_original("CloudFormationBackend.describe_change_set", backend_class.describe_change_set)
    _keep_original("CloudFormationBackend.delete_change_set", backend_class.delete_change_set)

    def describe_change_set(self, change_set_name, stack_name=None):
        change_set = _find_change_set(self, change_set_name, stack_name)
        if change_set is None:
            raise ChangeSetNotFound(change_set_name)
        return change_set

    def delete_change_set(self, change_set_name, stack_name=None):
        change_set = _find_change_set(self, change_set_name, stack_name)
        if change_set is not None:
            del self.change_sets[change_set.change_set_id]

    backend_class.describe_change_set = describe_change_set
    backend_class.delete_change_set = delete_change_set

    def describe_change_set_response(self):
        return cfn_responses.ActionResult(self.cloudformation_backend.describe_change_set(
            self._get_param("ChangeSetName"), self._get_param("StackName")))

    def delete_change_set_response(self):
        self.cloudformation_backend.delete_change_set(self._get_param("ChangeSetName"), self._get_param("StackName"))
        return cfn_responses.EmptyResult()

    response_class.describe_change_set = describe_change_set_response
    response_class.delete_change_set = delete_change_set_response


def execute_change_sets_completely() -> None:
    """ExecuteChangeSet: finish the stack as CloudFormation does, outputs included; fail honestly.

    moto applies the change set's resources but leaves the stack's parsed template and Outputs
    from before (a stack created through a change set has NO outputs, so `cdk deploy` prints none
    and tools that read BucketName/TableName find nothing), and it lets any error escape as an
    HTTP 500. (Note item 4; with custom resources answered synchronously by the adjustment above,
    the stack is complete only once they have answered.)

    Instead: after applying, the template, description, parameters and Outputs are rebuilt; an
    error marks the stack ROLLBACK_COMPLETE (create: its resources are deleted again) or
    UPDATE_ROLLBACK_FAILED (moto cannot roll an update back), with the reason in the stack events,
    which is what the CLI prints.
    """
    backend_class = cfn_models.CloudFormationBackend
    _keep_original("CloudFormationBackend.execute_change_set", backend_class.execute_change_set)

    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = _find_change_set(self, change_set_name, stack_name)
        if change_set is None:
            raise ChangeSetNotFound(change_set_name)
        stack = self.stacks[change_set.stack_id]
        creating = change_set.change_set_type == "CREATE"
        verb = "CREATE" if creating else "UPDATE"
        stack._add_stack_event(f"{verb}_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.status = f"{verb}_IN_PROGRESS"
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        try:
            change_set.apply()
        except Exception as error:  # any failure must end as a failed stack, never a 500
            _record_failure(stack, error, verb)
            change_set.execution_status = "EXECUTE_FAILED"
            if creating:
                try:
                    stack.resource_map.delete()
                except Exception as cleanup_error:  # what is left is reported, not hidden
                    logger.warning("Rollback of %s left resources behind: %s", stack.name, cleanup_error)
                stack.status = "ROLLBACK_COMPLETE"
                stack._add_stack_event("ROLLBACK_COMPLETE")
            else:
                stack.status = "UPDATE_ROLLBACK_FAILED"
                stack._add_stack_event(
                    "UPDATE_ROLLBACK_FAILED",
                    resource_status_reason="the local AWS does not roll updates back: fix the cause and deploy again",
                )
            return
        stack.template = change_set.template
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.parameters = dict(change_set.parameters or {})
        stack.output_map = stack._create_output_map()
        change_set.execution_status = "EXECUTE_COMPLETE"
        stack.status = f"{verb}_COMPLETE"
        stack._add_stack_event(f"{verb}_COMPLETE")

    backend_class.execute_change_set = execute_change_set


def _record_failure(stack, error: Exception, verb: str) -> None:
    logical_id = getattr(error, "logical_id", stack.name)
    resource_type = getattr(error, "resource_type", "AWS::CloudFormation::Stack")
    reason = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
    logger.error("Stack %s: %s failed: %s", stack.name, logical_id, reason, exc_info=error)
    stack.events.append(
        cfn_models.Event(
            stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
            physical_resource_id=logical_id, resource_type=resource_type,
            resource_status=f"{verb}_FAILED", resource_status_reason=reason, resource_properties=None,
        )
    )
    stack._add_stack_event(f"{verb}_FAILED" if verb == "UPDATE" else "ROLLBACK_IN_PROGRESS",
                           resource_status_reason=f"The following resource(s) failed: [{logical_id}]. {reason}")


def previous_parameter_values(stack: Any) -> dict[str, Any]:
    """A stack's parameters as given to it: each passed value, else the template's Default, unresolved
    (for an SSM-typed parameter: the parameter's path, not the value read from it)."""
    declared = (getattr(stack, "template_dict", None) or {}).get("Parameters") or {}
    values = {key: slot["Default"] for key, slot in declared.items() if isinstance(slot, dict) and "Default" in slot}
    values.update(getattr(stack.resource_map, "input_parameters", None) or {})
    return values


def reuse_previous_parameter_values() -> None:
    """Parameters passed with UsePreviousValue reuse the value given before, not its resolution.

    The CLI passes `BootstrapVersion` (type AWS::SSM::Parameter::Value<String>, default
    `/cdk-bootstrap/hnb659fds/version`) as UsePreviousValue on every update. moto substitutes the
    *resolved* value ("33") and then resolves it again as an SSM path: every update fails
    (`'NoneType' object has no attribute 'value'`); UpdateStack fails earlier with
    `KeyError: 'BootstrapVersion'` because a defaulted parameter is not among those passed. (Note
    item 7.) Instead the previous value is what was passed, or the template's default, so an SSM
    parameter is read again from its path, as CloudFormation does.
    """
    stack_class = cfn_models.Stack
    _keep_original("Stack.stack_parameters", stack_class.__dict__["stack_parameters"])
    stack_class.stack_parameters = property(previous_parameter_values)

    backend_class = cfn_models.CloudFormationBackend
    _keep_original("CloudFormationBackend._resolve_update_parameters", backend_class._resolve_update_parameters)

    def _resolve_update_parameters(self, instance, incoming_params):
        known = previous_parameter_values(instance) if isinstance(instance, cfn_models.Stack) else dict(instance.parameters or {})
        parameters = {
            parameter["ParameterKey"]: parameter["ParameterValue"]
            for parameter in incoming_params
            if "ParameterValue" in parameter
        }
        for parameter in incoming_params:
            if parameter.get("UsePreviousValue", False):
                key = parameter["ParameterKey"]
                if key not in known:
                    raise cfn_models.ValidationError(message=f"Parameter {key} has no previous value")
                parameters[key] = known[key]
        return parameters

    backend_class._resolve_update_parameters = _resolve_update_parameters


def template_references(resource_json: Any) -> set[str]:
    """Logical ids a resource depends on: Ref, Fn::GetAtt, ${X} in Fn::Sub, DependsOn."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Ref" and isinstance(value, str):
                    found.add(value)
                elif key == "Fn::GetAtt":
                    target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                    found.add(target)
                elif key == "Fn::Sub":
                    text = value[0] if isinstance(value, list) else value
                    if isinstance(text, str):
                        found.update(name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text))
                    walk(value)
                elif key == "DependsOn":
                    found.update([value] if isinstance(value, str) else value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(resource_json)
    return found


def deletion_order(resources: dict[str, Any]) -> list[str]:
    """Logical ids, each after every resource that depends on it (CloudFormation's delete order)."""
    depends_on = {name: template_references(body) & set(resources) - {name} for name, body in resources.items()}
    dependents: dict[str, set[str]] = defaultdict(set)
    for name, needs in depends_on.items():
        for need in needs:
            dependents[need].add(name)
    order: list[str] = []
    done: set[str] = set()
    remaining = set(resources)
    while remaining:
        ready = sorted(name for name in remaining if dependents[name] <= done)
        if not ready:  # a cycle (not valid CloudFormation): delete the rest in any order
            ready = sorted(remaining)
        for name in ready:
            order.append(name)
            done.add(name)
            remaining.discard(name)
    return order


def delete_resources_in_dependency_order() -> None:
    """Stack deletion: dependents first, as CloudFormation does; a failure fails the deletion.

    moto deletes a stack's resources in set order (random between runs) and retries whatever
    raised in a later pass. With custom resources that really run, order matters: the
    notification resource must clear the bucket's configuration before the bucket is gone.
    Instead resources are deleted in reverse dependency order (Ref, GetAtt, Sub, DependsOn);
    retained resources (DeletionPolicy Retain) are left, and an error fails the deletion.
    """
    resource_map_class = cfn_parsing.ResourceMap
    _keep_original("ResourceMap.delete", resource_map_class.delete)

    def delete(self):
        template_resources = self._resource_json_map
        for logical_id in deletion_order(template_resources):
            if template_resources[logical_id].get("DeletionPolicy") == "Retain":
                continue
            parsed = self._parsed_resources.get(logical_id)
            if parsed is None or isinstance(parsed, str):
                continue
            self._delete_resource(parsed, template_resources[logical_id])
            self._parsed_resources.pop(logical_id, None)

    resource_map_class.delete = delete

    backend_class = cfn_models.CloudFormationBackend
    _keep_original("CloudFormationBackend.delete_stack", backend_class.delete_stack)
    original_delete_stack = ORIGINALS["CloudFormationBackend.delete_stack"]

    def delete_stack(self, name_or_stack_id):
        try:
            original_delete_stack(self, name_or_stack_id)
        except Exception as error:
            stack = self.get_stack(name_or_stack_id)
            _record_failure(stack, error, "DELETE")
            stack.status = "DELETE_FAILED"

    backend_class.delete_stack = delete_stack


# --------------------------------------------------------------------------------------------
# Lambda
# --------------------------------------------------------------------------------------------


class TooManyRequestsException(JsonRESTError):
    code = 429

    def __init__(self, message: str) -> None:
        super().__init__("TooManyRequestsException", message)
        self.description = json.dumps(
            {"__type": "TooManyRequestsException", "message": message,
             "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User"}
        )


def _invocation_type(headers: Any) -> str:
    for name in ("x-amz-invocation-type", "X-Amz-Invocation-Type"):
        value = headers.get(name) if headers else None
        if value:
            return str(value)
    return "RequestResponse"


def run_lambda_invocations_locally() -> None:
    """Invoke: RequestResponse runs the function's code locally; Event queues it; DryRun checks.

    moto runs function code only in Docker (`_invoke_lambda`), which these machines do not have:
    it answers every Invoke with "error running docker". It also runs an Event invocation
    synchronously. Instead RequestResponse goes to the launcher's Lambda runtime (the deployed
    code package, its handler, environment, timeout and memory; its logs go to CloudWatch Logs
    and, with LogType=Tail, to the response), answering 429 TooManyRequestsException when the
    function's reserved concurrency leaves no slot; Event is submitted to the asynchronous
    invoker (Lambda's retries and on-failure destination) and answered 202 at once.
    """
    _keep_original("LambdaFunction.invoke", LambdaFunction.invoke)

    def invoke(self, body, request_headers, response_headers):
        import base64

        services = _require_services()
        payload = body.encode() if isinstance(body, str) else (body or b"{}")
        invocation_type = _invocation_type(request_headers)
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            request_id = services.submit_async_invocation(self, payload)
            response_headers["x-amzn-RequestId"] = request_id
            return b""
        try:
            result = services.invoke_function(self, payload, wait_for_slot=False)
        except Exception as error:
            if type(error).__name__ == "TooManyRequests":
                raise TooManyRequestsException("Rate Exceeded.") from None
            raise
        response_headers["x-amzn-RequestId"] = result.request_id
        response_headers["X-Amz-Executed-Version"] = "$LATEST"
        if result.function_error:
            response_headers["x-amz-function-error"] = "Unhandled"
        log_tail = (result.log or "").encode()[-4096:]
        response_headers["x-amz-log-result"] = base64.b64encode(log_tail).decode()
        return result.payload

    LambdaFunction.invoke = invoke


class LocalEventInvokeConfig(CloudFormationModel):
    """`AWS::Lambda::EventInvokeConfig` in CloudFormation, stored where moto's Lambda API keeps it."""

    def __init__(self, function_name: str, qualifier: str, account_id: str, region_name: str) -> None:
        self.function_name = function_name
        self.qualifier = qualifier
        self.account_id = account_id
        self.region_name = region_name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return f"{self.function_name}:{self.qualifier}"

    @staticmethod
    def _config(properties: dict) -> dict:
        config: dict[str, Any] = {}
        if "MaximumRetryAttempts" in properties:
            config["MaximumRetryAttempts"] = int(properties["MaximumRetryAttempts"])
        if "MaximumEventAgeInSeconds" in properties:
            config["MaximumEventAgeInSeconds"] = int(properties["MaximumEventAgeInSeconds"])
        if properties.get("DestinationConfig"):
            config["DestinationConfig"] = properties["DestinationConfig"]
        return config

    @classmethod
    def _store(cls, properties: dict, account_id: str, region_name: str) -> "LocalEventInvokeConfig":
        function = get_lambda_backend(account_id, region_name).get_function(properties["FunctionName"])
        # One configuration per function: moto's put appends, and its get reads the first.
        function.event_invoke_config = [
            EventInvokeConfig(function.function_arn, function.last_modified, cls._config(properties))
        ]
        return cls(function.function_name, properties.get("Qualifier", "$LATEST"), account_id, region_name)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return cls._store(cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        return cls._store(cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            function = get_lambda_backend(account_id, region_name).get_function(self.function_name)
        except Exception:  # the function went first: its configuration went with it
            return
        function.event_invoke_config = []


def model_event_invoke_config_in_cloudformation() -> None:
    """`AWS::Lambda::EventInvokeConfig` becomes a real resource.

    moto's CloudFormation does not model it and skips it silently, so the deployed function would
    have no retry limit, no maximum event age and no on-failure destination. moto's Lambda API
    stores such configurations (PutFunctionEventInvokeConfig); this registers a CloudFormation
    model that stores the template's configuration there, replaces it on update and removes it on
    delete. The asynchronous invoker reads its policy from it (retries, age, failed-events queue).
    """
    ORIGINALS.setdefault("cloudformation model types", {
        model.cloudformation_type() for model in CloudFormationModel.__subclasses__()
        if model.__module__.startswith("moto.")
    })
    # The model list is cached from CloudFormationModel.__subclasses__(): rebuild it now that
    # LocalEventInvokeConfig exists.
    cfn_parsing.get_model_list.cache_clear()
    cfn_parsing.get_model_map.cache_clear()
    cfn_parsing.get_name_type_map.cache_clear()
    assert cfn_parsing.get_model_map()["AWS::Lambda::EventInvokeConfig"] is LocalEventInvokeConfig


def keep_function_settings_moto_drops() -> None:
    """A function keeps its LoggingConfig, and a stack update applies ReservedConcurrentExecutions.

    moto reads ReservedConcurrentExecutions when CloudFormation creates a function, but its update
    path ignores it: changing `reservedConcurrency` and deploying again would keep the old limit,
    and the local runtime limits parallel invocations by it. moto drops LoggingConfig entirely:
    the function's ApplicationLogLevel (which its JSON logs follow) and its own log group would be
    lost. Both are now kept on the function (`local_aws_logging_config`) for the runtime. And an
    update of inline code (Code.ZipFile, e.g. CDK's notification handler after a CDK upgrade)
    fails in moto ("Incorrect padding": the update path forgets to zip the source as create does).
    """
    _keep_original("LambdaFunction.create_from_cloudformation_json", LambdaFunction.__dict__["create_from_cloudformation_json"])
    _keep_original("LambdaFunction.update_from_cloudformation_json", LambdaFunction.__dict__["update_from_cloudformation_json"])
    original_create = ORIGINALS["LambdaFunction.create_from_cloudformation_json"].__func__
    original_update = ORIGINALS["LambdaFunction.update_from_cloudformation_json"].__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        function = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        function.local_aws_logging_config = dict(cloudformation_json["Properties"].get("LoggingConfig") or {})
        return function

    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        properties = cloudformation_json["Properties"]
        code = properties.get("Code") or {}
        if isinstance(code.get("ZipFile"), str):
            import base64

            properties["Code"] = {**code, "ZipFile": base64.b64encode(cls._create_zipfile_from_plaintext_code(code["ZipFile"]))}
        function = original_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        reserved = properties.get("ReservedConcurrentExecutions")
        function.reserved_concurrency = None if reserved is None else int(reserved)
        function.local_aws_logging_config = dict(properties.get("LoggingConfig") or {})
        return function

    LambdaFunction.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    LambdaFunction.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)


# --------------------------------------------------------------------------------------------
# S3 notifications
# --------------------------------------------------------------------------------------------

_sequencer_lock = threading.Lock()
_last_sequencer = 0


def next_sequencer() -> str:
    """An S3-style event sequencer: hexadecimal, strictly increasing within this server."""
    global _last_sequencer
    with _sequencer_lock:
        _last_sequencer = max(_last_sequencer + 1, time.time_ns() // 1000)
        return f"{_last_sequencer:018X}"


_suppress = threading.local()


def shape_s3_event_records_like_s3() -> None:
    """S3 event records carry `sequencer` and `versionId`; removals send the events S3 sends.

    moto's records have no `sequencer` (the handler orders events by it and rejects a record
    without it as malformed) and no `versionId`. In a versioned bucket moto sends NO event for a
    DeleteObject that creates a delete marker, and for a DeleteObject with a VersionId only when
    the last version goes, naming the current key. S3 sends `ObjectRemoved:DeleteMarkerCreated`
    (with the marker's version id) and `ObjectRemoved:Delete` (with the deleted version's id)
    every time. And a DeleteObject of a key that never existed adds a delete marker on S3 (and
    notifies it), where moto adds nothing: the labeller's tombstone for such a delete, which keeps
    a late, older upload event from labelling a deleted key, would never be written locally.
    Instead: each event gets a strictly increasing sequencer and the version id, delete_object adds
    the marker S3 adds and sends S3's removal events (moto's own are suppressed there).
    """
    _keep_original("notifications._get_s3_event", s3_notifications._get_s3_event)
    _keep_original("notifications.send_event", s3_notifications.send_event)
    _keep_original("S3Backend.delete_object", s3_models.S3Backend.delete_object)
    original_get_s3_event = ORIGINALS["notifications._get_s3_event"]
    original_send_event = ORIGINALS["notifications.send_event"]
    original_delete_object = ORIGINALS["S3Backend.delete_object"]

    def _get_s3_event(event_name, bucket, key, notification_id):
        event = original_get_s3_event(event_name, bucket, key, notification_id)
        sequencer = key.__dict__.get("_local_aws_sequencer")
        if sequencer is None:
            # One sequencer per object event, shared by every notification it matches.
            sequencer = key.__dict__.setdefault("_local_aws_sequencer", next_sequencer())
        record = event["Records"][0]
        obj = record["s3"]["object"]
        obj["sequencer"] = sequencer
        version_id = getattr(key, "version_id", None)
        if version_id and str(version_id) != "null":
            obj["versionId"] = str(version_id)
        if event_name.startswith("s3:ObjectRemoved:"):
            obj.pop("size", None)
            obj.pop("eTag", None)
        record.setdefault("userIdentity", {"principalId": "AWS:LOCAL"})
        record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
        return event

    def send_event(account_id, event_name, bucket, key):
        # S3NotificationEvent is a str Enum: str() of it is "S3NotificationEvent.X" on 3.11.
        if getattr(_suppress, "removals", False) and getattr(event_name, "value", event_name).startswith("s3:ObjectRemoved:"):
            return
        original_send_event(account_id, event_name, bucket, key)

    def delete_object(self, bucket_name, key_name, version_id=None, bypass=False):
        bucket = self.get_bucket(bucket_name)
        versioned = bool(getattr(bucket, "is_versioned", False))
        existed = key_name in bucket.keys
        if versioned and version_id is None and not existed:
            # S3 adds a delete marker even for a key it never held, and notifies it.
            marker = s3_models.FakeDeleteMarker(key=_RemovedObject(key_name, None))
            bucket.keys[key_name] = marker
            send_event(self.account_id, s3_notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
                       bucket, _RemovedObject(key_name, marker.version_id))
            return True, {"version-id": marker.version_id, "delete-marker": "true"}
        deleted_version = None
        if versioned and version_id is not None:
            deleted_version = next(
                (key for key in bucket.keys.getlist(key_name, []) if str(key.version_id) == str(version_id)), None
            )
        _suppress.removals = True
        try:
            result = original_delete_object(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
        finally:
            _suppress.removals = False
        success, response_meta = result
        if not success:
            return result
        if not versioned:
            if existed:
                send_event(self.account_id, s3_notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_EVENT,
                           bucket, _RemovedObject(key_name, None))
        elif version_id is None:
            if existed:
                send_event(self.account_id,
                           s3_notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
                           bucket, _RemovedObject(key_name, response_meta.get("version-id")))
        elif deleted_version is not None:
            send_event(self.account_id, s3_notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_EVENT,
                       bucket, _RemovedObject(key_name, str(version_id)))
        return result

    s3_notifications._get_s3_event = _get_s3_event
    s3_notifications.send_event = send_event
    s3_models.S3Backend.delete_object = delete_object


class _RemovedObject:
    """What an ObjectRemoved record names: the key and, in a versioned bucket, the version."""

    def __init__(self, name: str, version_id: str | None) -> None:
        self.name = name
        self.version_id = version_id
        self.etag = ""
        self.size = 0


def version_buckets_from_cloudformation() -> None:
    """`AWS::S3::Bucket` VersioningConfiguration is applied on create and update.

    moto's CloudFormation creates buckets with encryption and tags only: the project's versioned
    image bucket comes out unversioned, so uploads have no VersionId, a DeleteObject removes the
    object instead of adding a delete marker, and the handler's version logic is never exercised.
    """
    bucket_class = s3_models.FakeBucket
    _keep_original("FakeBucket.create_from_cloudformation_json", bucket_class.__dict__["create_from_cloudformation_json"])
    _keep_original("FakeBucket.update_from_cloudformation_json", bucket_class.__dict__["update_from_cloudformation_json"])
    original_create = ORIGINALS["FakeBucket.create_from_cloudformation_json"].__func__
    original_update = ORIGINALS["FakeBucket.update_from_cloudformation_json"].__func__

    def apply_versioning(bucket, properties: dict) -> None:
        status = (properties.get("VersioningConfiguration") or {}).get("Status")
        if status:
            bucket.versioning_status = status

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        apply_versioning(bucket, cloudformation_json.get("Properties", {}))
        return bucket

    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        bucket = original_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        apply_versioning(bucket, cloudformation_json.get("Properties", {}))
        return bucket

    bucket_class.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    bucket_class.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)


def deliver_s3_notifications_asynchronously() -> None:
    """S3 -> Lambda is asynchronous: PutObject returns at once, Lambda retries, failures are kept.

    moto invokes the function synchronously inside PutObject/DeleteObject (an upload waits for
    the labelling, and with Docker missing it fails), and swallows every error. Instead the event
    is submitted to the launcher's asynchronous invoker: the function's retry attempts, maximum
    event age and on-failure destination apply, as for S3 on AWS. A notification naming a
    function that does not exist is logged, not silently dropped.
    """
    _keep_original("notifications._invoke_awslambda", s3_notifications._invoke_awslambda)

    def _invoke_awslambda(account_id, event_body, fn_arn, region_name):
        try:
            function = get_lambda_backend(account_id, region_name).get_function(fn_arn)
        except Exception as error:
            logger.error("S3 notification for %s dropped: %s", fn_arn, error)
            return
        _require_services().submit_async_invocation(function, json.dumps(event_body).encode())

    s3_notifications._invoke_awslambda = _invoke_awslambda



# --------------------------------------------------------------------------------------------
# DynamoDB
# --------------------------------------------------------------------------------------------

# moto's threaded server answers requests concurrently; one lock serialises its DynamoDB backend
# (re-entrant: a transaction calls put_item/update_item/get_item itself).
_dynamodb_lock = threading.RLock()
_dynamodb_transaction = threading.local()

# The backend methods that read or write items (KeyError at apply time if moto renamed one).
_DYNAMODB_LOCKED_METHODS = (
    "put_item", "update_item", "delete_item", "get_item", "query", "scan", "describe_table",
    "batch_get_item", "batch_write_item", "transact_get_items",
)


class _CopyKeepingLiveTables:
    """Stands in for the `copy` module inside moto's DynamoDB models.

    Within an adjusted transaction a Table is "copied" as itself, so moto's whole-table backup
    costs nothing (the adjustment keeps its own backup of the touched items instead); every other
    copy (update_item copies the one item it updates) is a real deep copy.
    """

    @staticmethod
    def deepcopy(value: Any, memo: dict | None = None) -> Any:
        if isinstance(value, DynamoDBTable) and getattr(_dynamodb_transaction, "active", False):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def make_dynamodb_transactions_safe_for_concurrent_writers() -> None:
    """TransactWriteItems is atomic and isolated, and never undoes another request's writes.

    moto's server answers requests from several threads at once, but its DynamoDB backend has no
    lock, and `transact_write_items` (a) deep-copies every table it touches before each
    transaction (0.6 s for a 6,000-item table: a load of 1,000 uploads, each labelled in one
    transaction, becomes quadratic), (b) copies while other threads write, which fails as HTTP 500
    "dictionary changed size during iteration", and (c) rolls a cancelled transaction back by
    putting that whole copy back, erasing what other requests wrote meanwhile. The labeller's
    transactions are cancelled on purpose (its conditions reject stale or duplicate events), so
    under concurrent uploads (`make demo`, the load test) labels and counters would silently go
    missing, which is exactly what the pipeline must never do.

    Instead one lock serialises the backend's item reads and writes (DynamoDB gives each request
    that isolation), the whole-table backup is skipped, and a cancelled transaction restores only
    the items it touched, from copies taken before it ran.
    """
    backend_class = dynamodb_models.DynamoDBBackend
    for name in _DYNAMODB_LOCKED_METHODS + ("transact_write_items",):
        _keep_original(f"DynamoDBBackend.{name}", backend_class.__dict__[name])
    _keep_original("dynamodb models copy", dynamodb_models.copy)
    original_transact = ORIGINALS["DynamoDBBackend.transact_write_items"]

    def locked(method: Callable) -> Callable:
        def with_lock(*args: Any, **kwargs: Any) -> Any:
            with _dynamodb_lock:
                return method(*args, **kwargs)

        with_lock.__wrapped__ = method
        with_lock.__name__ = method.__name__
        return with_lock

    def transact_write_items(self, transact_items):
        with _dynamodb_lock:
            touched = _dynamodb_items_before(self, transact_items)
            _dynamodb_transaction.active = True
            try:
                return original_transact(self, transact_items)
            except Exception:
                for table, hash_value, range_value, before in touched:
                    _restore_dynamodb_item(table, hash_value, range_value, before)
                raise
            finally:
                _dynamodb_transaction.active = False

    for name in _DYNAMODB_LOCKED_METHODS:
        setattr(backend_class, name, locked(ORIGINALS[f"DynamoDBBackend.{name}"]))
    backend_class.transact_write_items = transact_write_items
    dynamodb_models.copy = _CopyKeepingLiveTables()


def _dynamodb_items_before(backend, transact_items: list[dict]) -> list[tuple]:
    """(table, hash key, range key, deep copy of the item or None) for each item a transaction names."""
    touched = []
    for entry in transact_items:
        try:
            operation = next(iter(entry.values()))
            table = backend.tables.get(operation.get("TableName"))
            if table is None:
                continue
            if "Item" in operation:
                attributes = operation["Item"]
                key = {table.hash_key_attr: attributes[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attributes[table.range_key_attr]
            else:
                key = operation["Key"]
            hash_value, range_value = backend.get_keys_value(table, key)
            touched.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        except Exception:  # a malformed request: moto's own validation answers it
            continue
    return touched


def _restore_dynamodb_item(table, hash_value, range_value, before) -> None:
    if table.range_key_attr is not None:
        if before is None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items[hash_value][range_value] = before
    elif before is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = before


# --------------------------------------------------------------------------------------------
# Rekognition
# --------------------------------------------------------------------------------------------


def answer_detect_labels_with_the_offline_model() -> None:
    """DetectLabels is answered by the offline model, reading S3Object bytes from moto's S3.

    moto returns one canned label ("Mobile Phone") for any request, even for a missing object or
    a text file, and ignores MaxLabels and MinConfidence: the pipeline could not be verified. The
    same endpoint (the handler reaches it through AWS_ENDPOINT_URL) now answers with the
    launcher's offline labeller, with Rekognition's response shape and error codes.
    """
    response_class = rekognition_responses.RekognitionResponse
    _keep_original("RekognitionResponse.detect_labels", response_class.detect_labels)

    def detect_labels(self):
        try:
            request = json.loads(self.body or b"{}")
        except ValueError:
            return 400, {"status": 400}, json.dumps(
                {"__type": "InvalidParameterException", "Message": "The request body is not JSON"})
        account_id = self.current_account

        def read_object(bucket: str, key: str, version_id: str | None) -> bytes:
            backend = s3_models.s3_backends[account_id]["aws"]
            try:
                found = backend.get_object(bucket, key, version_id=version_id)
            except Exception as error:  # no such bucket or version: Rekognition's InvalidS3ObjectException
                raise KeyError(f"s3://{bucket}/{key}: {error}") from None
            if found is None or not hasattr(found, "value"):  # missing key, or a delete marker
                raise KeyError(f"s3://{bucket}/{key}")
            return found.value

        status, body = _require_services().detect_labels(request, read_object)
        headers = {"status": status, "Content-Type": "application/x-amz-json-1.1"}
        if status >= 400 and "__type" in body:
            headers["x-amzn-ErrorType"] = body["__type"]
        return status, headers, json.dumps(body)

    response_class.detect_labels = detect_labels


ADJUSTMENTS: tuple[Callable[[], None], ...] = (
    run_custom_resources_through_their_functions,
    answer_missing_change_sets_like_cloudformation,
    execute_change_sets_completely,
    reuse_previous_parameter_values,
    delete_resources_in_dependency_order,
    run_lambda_invocations_locally,
    model_event_invoke_config_in_cloudformation,
    keep_function_settings_moto_drops,
    version_buckets_from_cloudformation,
    shape_s3_event_records_like_s3,
    deliver_s3_notifications_asynchronously,
    make_dynamodb_transactions_safe_for_concurrent_writers,
    answer_detect_labels_with_the_offline_model,
)
