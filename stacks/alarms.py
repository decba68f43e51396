"""Alarms that tell a person the labeller needs attention, delivered by e-mail through SNS."""

from __future__ import annotations

import jsii
from aws_cdk import Duration, IStableListProducer, Lazy, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.compliance import acknowledge

PERIOD = Duration.minutes(5)
# Throttling during a bulk upload is expected (Lambda's async queue holds the events and retries
# them); only throttling that lasts this many periods in a row means the backlog is not draining.
SUSTAINED_THROTTLE_PERIODS = 3


class LabellerAlarms(Construct):
    """Errors, sustained throttles and captured failed events, all to one encrypted SNS topic;
    other parts of the stack add theirs with `add_alarm` (stacks/film_alarms.py).

    Missing data is "not breaching" throughout: Lambda publishes Errors and Throttles only for
    periods with invocations, and SQS stops publishing for an idle empty queue.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        failed_events: sqs.IQueue,
        email: str | None,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)

        cloudwatch_alarms = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        # A customer managed key: CloudWatch cannot publish to a topic encrypted with the AWS
        # managed key alias/aws/sns, whose key policy cannot grant it kms:GenerateDataKey.
        self.key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the image-labels alarm topic; CloudWatch alarms may use it to publish.",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishEncrypted",
                principals=[cloudwatch_alarms],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                # In a key policy, "*" is this key.
                resources=["*"],
            )
        )
        self._alarms: list[cloudwatch.Alarm] = []
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="image-labels alarms",
            master_key=self.key,
            enforce_ssl=True,
        )

        self.errors = self.add_alarm(
            self,
            "Errors",
            description=(
                "The labeller raised errors (throttling, access denied, table errors). Lambda retries each "
                "event twice, then keeps it in the failed-events queue. See the function's log group."
            ),
            metric=function.metric_errors(period=PERIOD, statistic="Sum"),
            at_least=1,
        )
        self.throttles = self.add_alarm(
            self,
            "Throttles",
            description=(
                "Invocations have been throttled for 15 minutes in a row: uploads arrive faster than the "
                "reserved concurrency labels them. Events wait in Lambda's queue for up to 6 hours, then "
                "go to the failed-events queue."
            ),
            metric=function.metric_throttles(period=PERIOD, statistic="Sum"),
            at_least=1,
            periods_in_a_row=SUSTAINED_THROTTLE_PERIODS,
        )
        self.failed_events_waiting = self.add_alarm(
            self,
            "FailedEventsWaiting",
            description=(
                "Upload events failed after all retries and wait in the failed-events queue (kept 14 days): "
                "their images are not labelled until the events are replayed."
            ),
            metric=failed_events.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            at_least=1,
        )

        # Only the alarms of this stack may publish, not every alarm of the account: the list is
        # read at synthesis, when the film alarms (add_alarm) have joined it too.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OwnAlarmsPublish",
                principals=[cloudwatch_alarms],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": Lazy.list(_AlarmArns(self._alarms))}},
            )
        )

        if email is not None:
            # AWS sends a confirmation e-mail; nothing is delivered until the recipient confirms.
            subscription = self.topic.add_subscription(subscriptions.EmailSubscription(email))
            acknowledge(subscription, "Serverless-SNSRedrivePolicy",
                "An undeliverable alarm e-mail would land in a dead-letter queue that nobody reads; the "
                "alarm itself stays in ALARM state in CloudWatch, which is where it is looked up.",
            )

    def add_alarm(
        self, scope: Construct, construct_id: str, *, description: str, metric: cloudwatch.IMetric,
        at_least: float, periods_in_a_row: int = 1,
    ) -> cloudwatch.Alarm:
        """An alarm at `at_least` or above that e-mails through this topic when it fires and when it
        clears; missing data is not breaching."""
        alarm = cloudwatch.Alarm(
            scope,
            construct_id,
            alarm_description=description,
            metric=metric,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            threshold=at_least,
            evaluation_periods=periods_in_a_row,
            datapoints_to_alarm=periods_in_a_row,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(notify)
        alarm.add_ok_action(notify)
        self._alarms.append(alarm)
        return alarm


@jsii.implements(IStableListProducer)
class _AlarmArns:
    def __init__(self, alarms: list[cloudwatch.Alarm]) -> None:
        self._alarms = alarms

    def produce(self):
        return [alarm.alarm_arn for alarm in self._alarms]
