"""CloudFormation stacks: what the local AWS changes about change sets, parameters and deletion.

Change sets are found per stack and a missing one is ChangeSetNotFound; executing one completes the
stack (outputs included) or fails it with its reason; UsePreviousValue reuses the value given, not
its resolution; a stack's resources are deleted dependents first. (Custom resources:
cloudformation_custom_resources.py.)
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import CloudFormationError

from local_aws.adjust.registry import ORIGINALS, keep_original, logger


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
    keep_original("CloudFormationBackend.describe_change_set", backend_class.describe_change_set)
    keep_original("CloudFormationBackend.delete_change_set", backend_class.delete_change_set)

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
    HTTP 500. (Note item 4; with custom resources answered synchronously by
    cloudformation_custom_resources.py, the stack is complete only once they have answered.)

    Instead: after applying, the template, description, parameters and Outputs are rebuilt; an
    error marks the stack ROLLBACK_COMPLETE (create: its resources are deleted again) or
    UPDATE_ROLLBACK_FAILED (moto cannot roll an update back), with the reason in the stack events,
    which is what the CLI prints.
    """
    backend_class = cfn_models.CloudFormationBackend
    keep_original("CloudFormationBackend.execute_change_set", backend_class.execute_change_set)

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
    keep_original("Stack.stack_parameters", stack_class.__dict__["stack_parameters"])
    stack_class.stack_parameters = property(previous_parameter_values)

    backend_class = cfn_models.CloudFormationBackend
    keep_original("CloudFormationBackend._resolve_update_parameters", backend_class._resolve_update_parameters)

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
    keep_original("ResourceMap.delete", resource_map_class.delete)

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
    keep_original("CloudFormationBackend.delete_stack", backend_class.delete_stack)
    original_delete_stack = ORIGINALS["CloudFormationBackend.delete_stack"]

    def delete_stack(self, name_or_stack_id):
        try:
            original_delete_stack(self, name_or_stack_id)
        except Exception as error:
            stack = self.get_stack(name_or_stack_id)
            _record_failure(stack, error, "DELETE")
            stack.status = "DELETE_FAILED"

    backend_class.delete_stack = delete_stack
