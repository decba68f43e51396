"""cdk-nag rule packs run on every synth, and the acknowledgements for code CDK writes itself."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept one cdk-nag finding on `construct` (and its children), with the reason a reviewer reads."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def add_compliance_checks(app: App) -> None:
    """After this, app.synth() raises on any finding that no construct acknowledges."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    Validations.of(app).add_plugins(ServerlessChecks(app))


def acknowledge_cdk_notification_handler(stack: Stack) -> None:
    """The bucket-notification custom resource is a singleton Lambda function that CDK writes
    and runs only during deployments, to call s3:PutBucketNotificationConfiguration."""
    handler = stack.node.try_find_child("BucketNotificationsHandler050a0587b7544547bf325f094a3db834")
    if handler is None:
        return
    # CDK adds DependsOn on the role next to the GetAtt of its Arn; cfn-lint flags it (W3005).
    # The handler has no other dependency, so the whole DependsOn can go.
    handler.node.find_child("Resource").add_deletion_override("DependsOn")
    reasons = {
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]":
            "CDK's own bucket-notification handler; the managed policy only lets it write its logs.",
    }
    for rule, reason in reasons.items():
        acknowledge(handler, rule, reason)


def drop_role_dependency(function: lambda_.Function) -> None:
    """Keep the function's DependsOn on its role policy only: the role itself is already implied
    by the GetAtt of its Arn, and cfn-lint flags the duplicate (W3005)."""
    policy = function.role.node.try_find_child("DefaultPolicy") if function.role else None
    cfn_function = function.node.default_child
    if policy is None:
        cfn_function.add_deletion_override("DependsOn")
        return
    cfn_function.add_override("DependsOn", [Stack.of(function).get_logical_id(policy.node.default_child)])
