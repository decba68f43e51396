"""Lambda: what the local AWS changes about invocations and functions deployed by CloudFormation.

Invoke runs the function's code in the launcher's Lambda runtime (moto needs Docker), Event
invocations are queued asynchronously, reserved concurrency throttles; CloudFormation models
`AWS::Lambda::EventInvokeConfig` and keeps the function settings moto drops; SQS event source
mappings are polled by the launcher, not run inside SendMessage.
"""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda.models import EventInvokeConfig, LambdaBackend, LambdaFunction
from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.cloudformation import parsing as cfn_parsing
from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import JsonRESTError
from moto.sqs.models import sqs_backends

from local_aws.adjust.registry import ORIGINALS, keep_original, rebuild_cloudformation_model_map, require_services


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
    keep_original("LambdaFunction.invoke", LambdaFunction.invoke)

    def invoke(self, body, request_headers, response_headers):
        import base64

        services = require_services()
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
    rebuild_cloudformation_model_map()
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
    keep_original("LambdaFunction.create_from_cloudformation_json", LambdaFunction.__dict__["create_from_cloudformation_json"])
    keep_original("LambdaFunction.update_from_cloudformation_json", LambdaFunction.__dict__["update_from_cloudformation_json"])
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


def poll_sqs_event_sources_outside_send_message() -> None:
    """SQS event source mappings are served by the launcher's poller, not inside SendMessage.

    moto runs a mapping's function synchronously inside SendMessage (`Queue.add_message` ->
    `send_sqs_batch`): the sender waits for the function, one message at a time however large
    BatchSize is, all-or-nothing (no ReportBatchItemFailures), no MaximumConcurrency, a failed
    batch made visible again at once (no visibility timeout, so no backoff and no dead-letter
    queue after maxReceiveCount in practice), and nothing polls again later. And DeleteEventSourceMapping
    leaves the mapping attached to the queue. Instead the mapping is detached from moto's queue
    (SendMessage just queues) and every create, update and delete is reported to the launcher,
    whose event source poller (local_aws/event_source_poller.py) polls the queue as Lambda does.
    """
    backend_class = LambdaBackend
    for name in ("create_event_source_mapping", "update_event_source_mapping", "delete_event_source_mapping"):
        keep_original(f"LambdaBackend.{name}", backend_class.__dict__[name])
    original_create = ORIGINALS["LambdaBackend.create_event_source_mapping"]
    original_update = ORIGINALS["LambdaBackend.update_event_source_mapping"]
    original_delete = ORIGINALS["LambdaBackend.delete_event_source_mapping"]

    def create_event_source_mapping(self, spec):
        mapping = original_create(self, spec)
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            if queue.lambda_event_source_mappings.get(mapping.function_arn) is mapping:
                del queue.lambda_event_source_mappings[mapping.function_arn]
        require_services().event_source_mapping_changed(mapping)
        return mapping

    def update_event_source_mapping(self, uuid, spec):
        mapping = original_update(self, uuid, spec)
        if mapping is not None:
            require_services().event_source_mapping_changed(mapping)
        return mapping

    def delete_event_source_mapping(self, uuid):
        mapping = original_delete(self, uuid)
        if mapping is not None:
            require_services().event_source_mapping_changed(mapping)
        return mapping

    backend_class.create_event_source_mapping = create_event_source_mapping
    backend_class.update_event_source_mapping = update_event_source_mapping
    backend_class.delete_event_source_mapping = delete_event_source_mapping
