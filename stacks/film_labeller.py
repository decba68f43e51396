"""Films (design contract: prompts/films-design.md): S3 events wait in the FilmEvents queue until the
starter starts a Rekognition label-detection job; Rekognition announces the job's end on the FilmJobs
topic, whose FilmCompletions queue feeds the collector, which writes the labels into the table."""

from __future__ import annotations

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.compliance import acknowledge
from stacks.logged_function import LoggedFunction, add_logged_function, plain_number

STARTER_HANDLER = "film_labeller.starter.handle"
COLLECTOR_HANDLER = "film_labeller.collector.handle"

# A batch of five: a read, a StartLabelDetection and a write per record, seconds in all.
STARTER_TIMEOUT = Duration.seconds(60)
# The collector reads result pages until 60 s are left, then hands the rest on to its own queue.
COLLECTOR_TIMEOUT = Duration.minutes(5)
# AWS: a source queue's visibility timeout at least six times the function's timeout; the extra
# time lets Lambda retry a batch whose invocation was throttled before its messages reappear.
VISIBILITY_PER_TIMEOUT = 6
RETENTION = Duration.days(14)
# The starter backs off refused starts (LimitExceeded, throttling) by changing the message's
# visibility, up to 15 minutes: 200 receives keep a start waiting about 48 hours before its DLQ.
START_RECEIVES = 200
COLLECT_RECEIVES = 5
STARTER_BATCH = 5

REKOGNITION = "rekognition.amazonaws.com"


@jsii.implements(s3.IBucketNotificationDestination)
class _QueueNotification:
    """Bucket-notification destination that only names the queue.

    CDK's s3n.SqsDestination grants s3.amazonaws.com sqs:SendMessage, sqs:GetQueueAttributes and
    sqs:GetQueueUrl, conditioned on the bucket only; S3 needs sqs:SendMessage, and the statement of
    FilmLabeller.receive_object_events also names the account. The notification waits for the
    queue policy: S3 checks that it may send when the configuration is put.
    """

    def __init__(self, queue: sqs.Queue) -> None:
        self._queue = queue

    def bind(self, scope, bucket):
        return s3.BucketNotificationDestinationConfig(
            arn=self._queue.queue_arn,
            type=s3.BucketNotificationDestinationType.QUEUE,
            # Its QueuePolicy, created with the queue (enforce_ssl); the queue itself is already
            # implied by the GetAtt of its Arn.
            dependencies=[self._queue.node.find_child("Policy")],
        )


class FilmLabeller(Construct):
    """The film pipeline's queues, topic, key, Rekognition service role and two functions.

    The stack grants the functions the bucket and table access (grant_read_films,
    grant_film_writes) and points the bucket's film notifications at `receive_object_events`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_name: str,
        min_confidence: float,
        start_concurrency: int,
        retry_seconds: int,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.event_failures = self._dead_letter_queue("FilmEventFailures", removal_policy,
            "Film events the starter could not start after 200 receives (at least about 48 hours of backing off).")
        self.events = self._queue("FilmEvents", removal_policy, timeout=STARTER_TIMEOUT,
                                  dead_letters=sqs.DeadLetterQueue(queue=self.event_failures,
                                                                   max_receive_count=START_RECEIVES))

        # A customer managed key: its policy, rotation and deletion belong to this stack (an AWS
        # managed key's do not). Rekognition publishes with the service role below, which may use
        # exactly this key (Media Insights on AWS runs Rekognition's notifications the same way).
        self.jobs_key = kms.Key(
            self,
            "FilmJobsKey",
            description="Encrypts the image-labels FilmJobs topic, to which Rekognition announces finished film jobs.",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.jobs = sns.Topic(
            self, "FilmJobs", display_name="image-labels film jobs", master_key=self.jobs_key, enforce_ssl=True
        )

        self.completion_failures = self._dead_letter_queue("FilmCompletionFailures", removal_policy,
            "Job completions the collector failed five times on: their films stay PROCESSING until replayed.")
        self.completions = self._queue("FilmCompletions", removal_policy, timeout=COLLECTOR_TIMEOUT,
                                       dead_letters=sqs.DeadLetterQueue(queue=self.completion_failures,
                                                                        max_receive_count=COLLECT_RECEIVES))
        # Raw delivery off: the collector reads the SNS envelope. The subscription adds the queue
        # policy statement that lets only this topic send.
        subscription = self.jobs.add_subscription(
            subscriptions.SqsSubscription(self.completions, raw_message_delivery=False)
        )
        acknowledge(subscription, "Serverless-SNSRedrivePolicy",
            "SNS retries server-side failures of delivery to an SQS queue for 23 days; it gives up at "
            "once only on client-side errors (the queue or its policy missing or wrong), and both are "
            "defined by this stack and checked by its tests.",
        )

        self.rekognition_role = iam.Role(
            self,
            "RekognitionRole",
            # Only Rekognition acting for this account, in this Region, may assume it (confused deputy).
            assumed_by=iam.ServicePrincipal(REKOGNITION, conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {"aws:SourceArn": stack.format_arn(service="rekognition", resource="*")},
            }),
            description="Rekognition announces finished film label-detection jobs on the FilmJobs topic with it.",
        )
        self.rekognition_role.add_to_policy(iam.PolicyStatement(
            sid="AnnounceFilmJobs", actions=["sns:Publish"], resources=[self.jobs.topic_arn],
        ))
        self.rekognition_role.add_to_policy(iam.PolicyStatement(
            sid="EncryptFilmJobAnnouncements",
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[self.jobs_key.key_arn],
        ))

        starter = add_logged_function(
            Construct(self, "Starter"),
            handler=STARTER_HANDLER,
            description="Starts a Rekognition label-detection job for each film uploaded to the image bucket.",
            role_description="Starts film label-detection jobs: reads film events, passes the Rekognition role.",
            memory_size=256,
            timeout=STARTER_TIMEOUT,
            environment={
                "TABLE_NAME": table_name,
                "MIN_CONFIDENCE": plain_number(min_confidence),
                "TOPIC_ARN": self.jobs.topic_arn,
                "SERVICE_ROLE_ARN": self.rekognition_role.role_arn,
                # The starter delays a refused start's message itself (ChangeMessageVisibility).
                "EVENTS_QUEUE_URL": self.events.queue_url,
                "FIRST_RETRY_SECONDS": str(retry_seconds),
            },
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self._allow_rekognition(starter, "StartLabelDetection")
        starter.role.add_to_policy(iam.PolicyStatement(
            sid="PassRoleToRekognition",
            actions=["iam:PassRole"],
            resources=[self.rekognition_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": REKOGNITION}},
        ))
        # What the event source mapping needs, plus ChangeMessageVisibility: the starter delays a
        # refused start itself (the backlog).
        self._consume(starter, self.events, "ConsumeFilmEvents", extra_actions=("sqs:ChangeMessageVisibility",))
        start_mapping = starter.function.add_event_source_mapping(
            "FilmEvents",
            event_source_arn=self.events.queue_arn,
            batch_size=STARTER_BATCH,
            report_batch_item_failures=True,
            # Few starters at once: starts beyond the account's 20 running jobs are refused anyway.
            max_concurrency=start_concurrency,
        )

        collector = add_logged_function(
            Construct(self, "Collector"),
            handler=COLLECTOR_HANDLER,
            description="Writes the labels of each finished film label-detection job into the label table.",
            role_description="Collects film label-detection results: reads job completions, writes the label table.",
            memory_size=512,
            timeout=COLLECTOR_TIMEOUT,
            environment={"TABLE_NAME": table_name, "COMPLETIONS_QUEUE_URL": self.completions.queue_url,
                         "FIRST_RETRY_SECONDS": str(retry_seconds)},
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self._allow_rekognition(collector, "GetLabelDetection")
        # ChangeMessageVisibility too: the collector delays a retried message (a job the starter
        # has not recorded yet, a throttled read) instead of taking it back at once.
        self._consume(collector, self.completions, "ConsumeFilmCompletions",
                      extra_actions=("sqs:ChangeMessageVisibility",))
        collector.role.add_to_policy(iam.PolicyStatement(
            # A long film's results are collected over several invocations: the collector hands the
            # next page token on to its own queue.
            sid="ContinueCollection",
            actions=["sqs:SendMessage"],
            resources=[self.completions.queue_arn],
        ))
        collect_mapping = collector.function.add_event_source_mapping(
            "FilmCompletions",
            event_source_arn=self.completions.queue_arn,
            batch_size=1,
            report_batch_item_failures=True,
        )

        for mapping in (start_mapping, collect_mapping):
            acknowledge(mapping, "Serverless-LambdaEventSourceMappingDestination",
                "Lambda has no on-failure destination for SQS sources: the source queue's redrive "
                "policy moves a message that keeps failing to its dead-letter queue.",
            )
        for parts in (starter, collector):
            acknowledge(parts.function, "Serverless-LambdaDLQ",
                "Invoked by an SQS event source mapping, never asynchronously: a message that keeps "
                "failing moves to its queue's dead-letter queue (redrive policy).",
            )
            acknowledge(parts.function, "Serverless-LambdaTracing",
                "Lambda's JSON log format gives every log line the request id; the queues keep every "
                "message that failed. X-Ray would add xray:Put* on Resource * to the role.",
            )

        self.starter, self.starter_role, self.starter_logs = starter.function, starter.role, starter.log_group
        self.collector, self.collector_role, self.collector_logs = (
            collector.function, collector.role, collector.log_group,
        )

    def receive_object_events(self, bucket: s3.IBucket) -> s3.IBucketNotificationDestination:
        """Lets S3 send this bucket's events (of this account) to FilmEvents, and returns the
        destination for the bucket's film notifications."""
        self.events.add_to_resource_policy(iam.PolicyStatement(
            sid="ImageBucketSendsFilmEvents",
            principals=[iam.ServicePrincipal("s3.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[self.events.queue_arn],
            conditions={
                "ArnEquals": {"aws:SourceArn": bucket.bucket_arn},
                "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
            },
        ))
        return _QueueNotification(self.events)

    def _queue(
        self, construct_id: str, removal_policy: RemovalPolicy, *, timeout: Duration, dead_letters: sqs.DeadLetterQueue
    ) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
            visibility_timeout=Duration.seconds(VISIBILITY_PER_TIMEOUT * timeout.to_seconds()),
            dead_letter_queue=dead_letters,
            removal_policy=removal_policy,
        )

    def _dead_letter_queue(self, construct_id: str, removal_policy: RemovalPolicy, holds: str) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
            removal_policy=removal_policy,
        )
        acknowledge(queue, "Serverless-SQSRedrivePolicy",
            f"This queue is itself a dead-letter queue. {holds} `imagelabels redrive` replays it; "
            "nothing consumes it automatically, so it has no redrive target of its own.",
        )
        return queue

    @staticmethod
    def _allow_rekognition(parts: LoggedFunction, operation: str) -> None:
        parts.role.add_to_policy(iam.PolicyStatement(
            sid=operation, actions=[f"rekognition:{operation}"],
            # Rekognition's video operations support no resource-level permissions.
            resources=["*"],
        ))
        acknowledge(parts.role, "AwsSolutions-IAM5[Resource::*]",
            f"rekognition:{operation} has no resource-level permissions; the statement grants "
            "that single action and nothing else on Resource *.",
        )

    @staticmethod
    def _consume(parts: LoggedFunction, queue: sqs.IQueue, sid: str, *, extra_actions: tuple[str, ...] = ()) -> None:
        """What Lambda's SQS event source mapping calls with the function's role. Narrower than
        SqsEventSource, which grants sqs:GetQueueUrl and sqs:ChangeMessageVisibility as well."""
        parts.role.add_to_policy(iam.PolicyStatement(
            sid=sid,
            actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *extra_actions],
            resources=[queue.queue_arn],
        ))
