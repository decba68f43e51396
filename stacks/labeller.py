"""The function that labels images: its own role, log group, code asset and failure capture."""

from __future__ import annotations

import jsii
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.compliance import acknowledge
from stacks.logged_function import add_logged_function, plain_number

HANDLER = "image_labeller.handler.handle"


@jsii.implements(lambda_.IDestination)
class _QueueDestination:
    """On-failure destination that only names the queue.

    CDK's SqsDestination also grants sqs:GetQueueAttributes and sqs:GetQueueUrl; Lambda needs
    only sqs:SendMessage, which the Labeller grants itself.
    """

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(self, scope, fn, *, type):  # noqa: A002 - the name is the jsii interface's
        return lambda_.DestinationConfig(destination=self._queue.queue_arn)


class Labeller(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_name: str,
        min_confidence: float,
        max_labels: int,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        reserved_concurrency: int | None,
    ) -> None:
        super().__init__(scope, construct_id)

        # Events that still fail after Lambda's retries land here, with the error, instead of
        # being dropped after six hours.
        self.failed_events = sqs.Queue(
            self,
            "FailedEvents",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy,
        )
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(self.failed_events, rule,
                "This queue is itself the dead-letter store of the labeller's failed invocations; "
                "nothing consumes it automatically, so it has no redrive target of its own.",
            )

        parts = add_logged_function(
            self,
            handler=HANDLER,
            description="Labels images uploaded to the image bucket with Amazon Rekognition.",
            role_description="Labels uploaded images: reads them through Rekognition, writes the label table.",
            memory_size=256,
            # One DetectLabels call per record takes about a second; the margin covers retries
            # of throttled calls inside boto3.
            timeout=Duration.seconds(60),
            environment={
                "TABLE_NAME": table_name,
                "MIN_CONFIDENCE": plain_number(min_confidence),
                "MAX_LABELS": str(max_labels),
            },
            log_retention=log_retention,
            removal_policy=removal_policy,
            # At most this many images are labelled at once, so that the Rekognition calls stay
            # under the Region's DetectLabels quota (README, "Reserved concurrency"). None: no limit.
            reserved_concurrency=reserved_concurrency,
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=_QueueDestination(self.failed_events),
        )
        self.log_group, self.role, self.function = parts.log_group, parts.role, parts.function
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DetectLabels",
                actions=["rekognition:DetectLabels"],
                # DetectLabels supports no resource-level permissions.
                resources=["*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="CaptureFailedEvents",
                actions=["sqs:SendMessage"],
                resources=[self.failed_events.queue_arn],
            )
        )
        acknowledge(self.role, "AwsSolutions-IAM5[Resource::*]",
            "rekognition:DetectLabels has no resource-level permissions; the statement grants "
            "that single action and nothing else on Resource *.",
        )
        acknowledge(self.function, "Serverless-LambdaDLQ",
            "Failed asynchronous invocations go to an SQS on-failure destination "
            "(EventInvokeConfig), which records the error with the event; a DLQ would duplicate it.",
        )
        acknowledge(self.function, "Serverless-LambdaTracing",
            "One function calling two AWS APIs: its JSON logs carry the request id and the "
            "object key of every record. X-Ray would add xray:Put* on Resource * to the role.",
        )

