"""A pipeline function as every function of this app is built: the lambda_src/ asset, Python 3.14 on
arm64, JSON logs into a log group of its own, and a role of its own that may write only those logs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.compliance import drop_role_dependency

LAMBDA_SOURCE = Path(__file__).resolve().parent.parent / "lambda_src"


@dataclass(frozen=True)
class LoggedFunction:
    log_group: logs.LogGroup
    role: iam.Role
    function: lambda_.Function


def add_logged_function(
    scope: Construct,
    *,
    handler: str,
    description: str,
    role_description: str,
    memory_size: int,
    timeout: Duration,
    environment: dict[str, str],
    log_retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
    reserved_concurrency: int | None = None,
    retry_attempts: int | None = None,
    max_event_age: Duration | None = None,
    on_failure: lambda_.IDestination | None = None,
) -> LoggedFunction:
    """Adds the children Logs, Role and Function to `scope` (their ids are part of the logical ids
    of deployed resources: keep them)."""
    log_group = logs.LogGroup(scope, "Logs", retention=log_retention, removal_policy=removal_policy)

    # No AWS managed policy: every statement is written out, here or by the caller's grants.
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=role_description,
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )

    function = lambda_.Function(
        scope,
        "Function",
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        # Standard library and boto3 only: the asset is the folder as it is, no bundling.
        code=lambda_.Code.from_asset(str(LAMBDA_SOURCE), exclude=["**/__pycache__", "**/*.pyc"]),
        handler=handler,
        role=role,
        memory_size=memory_size,
        timeout=timeout,
        environment=environment,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
        system_log_level_v2=lambda_.SystemLogLevel.WARN,
        reserved_concurrent_executions=reserved_concurrency,
        retry_attempts=retry_attempts,
        max_event_age=max_event_age,
        on_failure=on_failure,
        description=description,
    )
    drop_role_dependency(function)
    return LoggedFunction(log_group=log_group, role=role, function=function)


def plain_number(value: float) -> str:
    """An environment value as a person would write it: 70, not 70.0."""
    return str(int(value)) if float(value).is_integer() else str(value)
