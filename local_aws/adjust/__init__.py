"""What moto 5.2.5 gets wrong for this project, and the in-process adjustments that fix it.

One file per service says what the local AWS changes about it:

- cloudformation_custom_resources.py: custom resources run their function, Create/Update/Delete;
- cloudformation_stacks.py: change sets, UsePreviousValue parameters, deletion order;
- lambda_.py: Invoke runs code locally, EventInvokeConfig, function settings moto drops, SQS event
  source mappings handed to the launcher's poller;
- s3.py: event records shaped like S3's, asynchronous notifications, versioned CloudFormation buckets,
  NoSuchUpload for an aborted multipart upload, CORS rules naming a page allow its local gateway;
- sqs.py: queue changes atomic under concurrent clients, visibility changes wake the receivers;
- sns.py: `AWS::SNS::Subscription` in CloudFormation, RawMessageDelivery, the envelope's UnsubscribeURL;
- cloudfront.py: distributions, origin access controls and response headers policies in CloudFormation,
  their deployed configurations kept for the local page gateway;
- cognito.py: user pools, app clients and pool domains in CloudFormation;
- apigatewayv2.py: HTTP APIs (Api, Stage, Integration, Route, Authorizer) in CloudFormation, GetAuthorizers;
- dynamodb.py: transactions safe for concurrent writers;
- rekognition.py: DetectLabels and video label detection jobs answered by the offline model;
- registry.py: what they share (the moto pin, the launcher's services, moto's originals).

Each adjustment is one function: its docstring says what moto does, why it matters for a real
`cdk bootstrap` / `cdk deploy` / `cdk destroy` or for the labelling pipeline, and what it does
instead. They patch moto's classes in this process only, so the launcher (local_aws.server) must
call `apply_all` before it starts moto's server in the same process. A new adjustment goes into its
service's file and into `ADJUSTMENTS` below.

These are moto internals: the pin is exact, and tests/test_adjust_*.py fail when moto's behaviour
under an adjustment changes.
"""

from __future__ import annotations

import threading
from typing import Callable

from local_aws.adjust import (
    apigatewayv2, cloudformation_custom_resources, cloudformation_stacks, cloudfront, cognito, dynamodb, lambda_,
    rekognition, s3, sns, sqs,
)
from local_aws.adjust.registry import LocalServices, check_moto_version, use_services

# In the order they are applied.
ADJUSTMENTS: tuple[Callable[[], None], ...] = (
    cloudformation_custom_resources.run_custom_resources_through_their_functions,
    cloudformation_stacks.answer_missing_change_sets_like_cloudformation,
    cloudformation_stacks.execute_change_sets_completely,
    cloudformation_stacks.reuse_previous_parameter_values,
    cloudformation_stacks.delete_resources_in_dependency_order,
    lambda_.run_lambda_invocations_locally,
    lambda_.model_event_invoke_config_in_cloudformation,
    lambda_.keep_function_settings_moto_drops,
    lambda_.poll_sqs_event_sources_outside_send_message,
    s3.version_buckets_from_cloudformation,
    s3.shape_s3_event_records_like_s3,
    s3.deliver_s3_notifications_asynchronously,
    s3.answer_no_such_upload_for_an_aborted_multipart_upload,
    s3.let_a_page_gateway_stand_for_its_distribution_in_cors,
    sqs.serialise_sqs_queue_changes,
    sqs.wake_receivers_when_a_visibility_changes,
    sns.model_sns_subscriptions_in_cloudformation,
    sns.read_raw_message_delivery_as_a_boolean,
    sns.name_the_subscription_in_unsubscribe_urls,
    cloudfront.model_cloudfront_in_cloudformation,
    cognito.model_cognito_user_pools_in_cloudformation,
    apigatewayv2.model_http_apis_in_cloudformation,
    apigatewayv2.list_authorizers_with_get_authorizers,
    dynamodb.make_dynamodb_transactions_safe_for_concurrent_writers,
    rekognition.answer_detect_labels_with_the_offline_model,
    rekognition.answer_label_detection_jobs_with_the_offline_model,
)

_applied = False
_apply_lock = threading.Lock()


def apply_all(services: LocalServices) -> None:
    """Apply every adjustment once per process; later calls only switch the services they use."""
    global _applied
    check_moto_version()
    with _apply_lock:
        use_services(services)
        if _applied:
            return
        for adjustment in ADJUSTMENTS:
            adjustment()
        _applied = True
