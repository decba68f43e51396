"""local_aws/adjust/sns.py: moto (pinned) still behaves as each adjustment assumes, and the adjusted
server's topics deliver to the subscribers a template declares, as SNS does.
A failure of a "moto still ..." test means the pin moved or moto changed: revisit that adjustment
rather than the test. One local AWS for the module (tests/adjust_fixtures.py).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from moto.sns import models as sns_models

from adjust_fixtures import (  # noqa: F401 (aws and client are fixtures)
    EVENT_RECORDER, aws, client, create_function, deploy_change_set, moto_source, wait_for_stack,
)
from local_aws.adjust.registry import ORIGINALS

pytestmark = pytest.mark.usefixtures("aws")

ENVELOPE_FIELDS = {"Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature",
                   "SigningCertURL", "UnsubscribeURL"}


def subscription_template(*, queue: str = "Completions", raw: object = "false", filter_policy: dict | None = None,
                          function_arn: str | None = None) -> str:
    subscription: dict = {"Protocol": "sqs", "TopicArn": {"Ref": "Jobs"}, "Endpoint": {"Fn::GetAtt": [queue, "Arn"]},
                          "RawMessageDelivery": raw}
    if filter_policy is not None:
        subscription["FilterPolicy"] = filter_policy
    resources: dict = {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": []}}},
        "Jobs": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}},
        "Completions": {"Type": "AWS::SQS::Queue"},
        "Other": {"Type": "AWS::SQS::Queue"},
        "Subscription": {"Type": "AWS::SNS::Subscription", "Properties": subscription},
    }
    if function_arn:
        resources["FunctionSubscription"] = {"Type": "AWS::SNS::Subscription", "Properties": {
            "Protocol": "lambda", "TopicArn": {"Ref": "Jobs"}, "Endpoint": function_arn}}
    return json.dumps({"Resources": resources, "Outputs": {
        "Topic": {"Value": {"Ref": "Jobs"}}, "Subscription": {"Value": {"Ref": "Subscription"}},
        "Completions": {"Value": {"Ref": "Completions"}}, "Other": {"Value": {"Ref": "Other"}}}})


def outputs_of(stack: dict) -> dict:
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


def received(client, queue_url: str) -> list[dict]:
    return client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])


def update(client, stack: str, template: str) -> dict:
    cfn = client("cloudformation")
    cfn.update_stack(StackName=stack, TemplateBody=template)
    return wait_for_stack(client, stack)


def test_moto_still_skips_subscriptions_in_cloudformation():
    assert "AWS::SNS::Subscription" not in ORIGINALS["cloudformation model types"]


def test_a_template_subscription_delivers_the_envelope_and_follows_updates(aws, client):
    function_arn = create_function(client, "sns-subscriber", EVENT_RECORDER)
    stack = deploy_change_set(client, "topic-stack", subscription_template(function_arn=function_arn), "CREATE")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = outputs_of(stack)
    sns = client("sns")
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=outputs["Topic"])["Subscriptions"]
    assert sorted((s["Protocol"], s["SubscriptionArn"] == outputs["Subscription"]) for s in subscriptions) == [
        ("lambda", False), ("sqs", True)]
    assert sns.get_subscription_attributes(SubscriptionArn=outputs["Subscription"])["Attributes"][
        "RawMessageDelivery"] == "false"

    # Raw delivery off: the queue gets SNS's envelope around the message, as Rekognition's completion is.
    message_id = aws.publish_to_topic(outputs["Topic"], json.dumps({"JobId": "job-1", "Status": "SUCCEEDED"}))
    message, = received(client, outputs["Completions"])
    envelope = json.loads(message["Body"])
    assert ENVELOPE_FIELDS <= set(envelope)
    assert (envelope["Type"], envelope["MessageId"], envelope["TopicArn"]) == ("Notification", message_id, outputs["Topic"])
    assert json.loads(envelope["Message"]) == {"JobId": "job-1", "Status": "SUCCEEDED"}
    assert envelope["UnsubscribeURL"] == (f"https://sns.{aws.region}.amazonaws.com/?Action=Unsubscribe"
                                          f"&SubscriptionArn={outputs['Subscription']}")
    assert aws.wait_idle(30)  # the function subscriber ran

    # An update changes the attributes in place: raw delivery, and a filter on message attributes.
    stack = update(client, "topic-stack", subscription_template(raw=True, filter_policy={"kind": ["film"]}))
    assert stack["StackStatus"] == "UPDATE_COMPLETE" and outputs_of(stack)["Subscription"] == outputs["Subscription"]
    sns.publish(TopicArn=outputs["Topic"], Message="filtered out")
    sns.publish(TopicArn=outputs["Topic"], Message="kept", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "film"}})
    assert [m["Body"] for m in received(client, outputs["Completions"])] == ["kept"]

    # Another endpoint replaces the subscription: the new one delivers, the old one is gone.
    stack = update(client, "topic-stack", subscription_template(queue="Other"))
    replaced = outputs_of(stack)["Subscription"]
    assert replaced != outputs["Subscription"]
    aws.publish_to_topic(outputs["Topic"], "to the other queue")
    assert [json.loads(m["Body"])["Message"] for m in received(client, outputs["Other"])] == ["to the other queue"]
    assert received(client, outputs["Completions"]) == []
    with pytest.raises(ClientError):
        sns.get_subscription_attributes(SubscriptionArn=outputs["Subscription"])

    client("cloudformation").delete_stack(StackName="topic-stack")
    with pytest.raises(ClientError):
        sns.get_subscription_attributes(SubscriptionArn=replaced)


def topic_with_queue(client, name: str, raw: str) -> tuple[str, str]:
    topic = client("sns").create_topic(Name=name)["TopicArn"]
    queue_url = client("sqs").create_queue(QueueName=f"{name}-queue")["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": raw})
    return topic, queue_url


def test_moto_still_delivers_raw_when_raw_message_delivery_is_the_string_false(aws, client):
    topic, _ = topic_with_queue(client, "unadjusted-raw", "true")
    backend = sns_models.sns_backends[aws.account_id][aws.region]
    subscription, = [s for s in backend.subscriptions.values() if s.topic.arn == topic]
    ORIGINALS["SNSBackend.set_subscription_attributes"](backend, subscription.arn, "RawMessageDelivery", "false")
    assert subscription.attributes["RawMessageDelivery"] == "false"  # kept as text, which is truthy
    assert "if not self.attributes.get(\"RawMessageDelivery\")" in moto_source(sns_models.Subscription.publish)


def test_raw_message_delivery_false_delivers_the_envelope(aws, client):
    topic, queue_url = topic_with_queue(client, "enveloped", "false")
    client("sns").publish(TopicArn=topic, Message="wrapped")
    message, = received(client, queue_url)
    assert json.loads(message["Body"])["Message"] == "wrapped"


def test_moto_still_names_a_made_up_subscription_in_unsubscribe_urls():
    source = moto_source(ORIGINALS["Subscription.get_post_data"])
    assert "SubscriptionArn=arn:aws:sns:us-east-1:" in source and "self.arn" not in source.split("UnsubscribeURL")[1]
