"""SNS: what the local AWS changes about subscriptions and what they deliver.

CloudFormation models `AWS::SNS::Subscription`, RawMessageDelivery is read as the boolean it is,
and the envelope a subscriber gets names its own subscription in UnsubscribeURL.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.sns import models as sns_models
from moto.utilities.arns import parse_arn

from local_aws.adjust.registry import ORIGINALS, keep_original, rebuild_cloudformation_model_map, template_boolean

# Subscription attributes a template can set (and change without replacing the subscription).
_SETTABLE_ATTRIBUTES = ("DeliveryPolicy", "FilterPolicy", "RawMessageDelivery", "RedrivePolicy", "SubscriptionRoleArn")
# Changing one of these replaces the subscription, as CloudFormation does.
_IDENTITY_PROPERTIES = ("TopicArn", "Protocol", "Endpoint")


def _sns_backend_of(topic_arn: str):
    arn = parse_arn(topic_arn)
    return sns_models.sns_backends[arn.account][arn.region]


def _attribute_text(name: str, value: Any) -> Any:
    """A template value as SetSubscriptionAttributes takes it: policies as JSON text, flags as bools."""
    if name == "RawMessageDelivery":
        return template_boolean(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


class LocalSnsSubscription(CloudFormationModel):
    """`AWS::SNS::Subscription` in CloudFormation, as a subscription in moto's SNS backend."""

    def __init__(self, arn: str, properties: dict) -> None:
        self.arn = arn
        self.properties = dict(properties)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return self.arn  # Ref of a subscription is its ARN

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @staticmethod
    def _apply_attributes(backend, arn: str, properties: dict, previous: dict | None = None) -> None:
        # The scope first: moto validates a FilterPolicy against the scope set at that moment.
        if "FilterPolicyScope" in properties:
            backend.set_subscription_attributes(arn, "FilterPolicyScope", properties["FilterPolicyScope"])
        for name in _SETTABLE_ATTRIBUTES:
            if name in properties:
                backend.set_subscription_attributes(arn, name, _attribute_text(name, properties[name]))
            elif previous is not None and name in previous:  # dropped from the template: back to the default
                if name == "RawMessageDelivery":
                    backend.set_subscription_attributes(arn, name, False)
                else:
                    backend.set_subscription_attributes(arn, name, "")  # clears moto's filter matcher too
                    backend.subscriptions[arn].attributes.pop(name, None)

    @classmethod
    def _subscribe(cls, properties: dict) -> "LocalSnsSubscription":
        backend = _sns_backend_of(properties["TopicArn"])
        subscription = backend.subscribe(properties["TopicArn"], properties["Endpoint"], properties["Protocol"])
        cls._apply_attributes(backend, subscription.arn, properties)
        return cls(subscription.arn, properties)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return cls._subscribe(cloudformation_json["Properties"])

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        properties = cloudformation_json["Properties"]
        if any(properties.get(key) != original_resource.properties.get(key) for key in _IDENTITY_PROPERTIES):
            replacement = cls._subscribe(properties)  # CloudFormation creates the new one, then deletes the old
            original_resource.delete(account_id, region_name)
            return replacement
        backend = _sns_backend_of(original_resource.properties["TopicArn"])
        cls._apply_attributes(backend, original_resource.arn, properties, previous=original_resource.properties)
        return cls(original_resource.arn, properties)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass

    def delete(self, account_id: str, region_name: str) -> None:
        _sns_backend_of(self.properties["TopicArn"]).unsubscribe(self.arn)


def model_sns_subscriptions_in_cloudformation() -> None:
    """`AWS::SNS::Subscription` becomes a real subscription.

    moto's CloudFormation does not model it and skips it silently: a deployed topic -> queue
    subscription does not exist, so whatever is published to the topic (Rekognition's job
    completions for the film pipeline) reaches nobody, while the deploy reports success. This
    registers a CloudFormation model that subscribes through moto's SNS backend (which does deliver
    to SQS and Lambda subscribers) with the template's RawMessageDelivery, FilterPolicyScope,
    FilterPolicy, RedrivePolicy and DeliveryPolicy; an update changes those attributes in place or,
    when TopicArn, Protocol or Endpoint change, replaces the subscription; delete unsubscribes.
    Ref is the subscription ARN, as on AWS.
    """
    rebuild_cloudformation_model_map()
    from moto.cloudformation import parsing as cfn_parsing

    assert cfn_parsing.get_model_map()["AWS::SNS::Subscription"] is LocalSnsSubscription


def read_raw_message_delivery_as_a_boolean() -> None:
    """RawMessageDelivery "false" means false.

    moto's backend stores the attribute as given and delivers raw whenever it is truthy: Subscribe
    with Attributes {"RawMessageDelivery": "false"} (the string, as every SDK sends it) delivers
    raw messages, where AWS wraps them in the SNS envelope. A consumer written for AWS (the film
    collector parses the envelope) would then fail only here. Instead the value is stored as a
    boolean, whatever path set it.
    """
    backend_class = sns_models.SNSBackend
    keep_original("SNSBackend.set_subscription_attributes", backend_class.set_subscription_attributes)
    original = ORIGINALS["SNSBackend.set_subscription_attributes"]

    def set_subscription_attributes(self, arn, name, value):
        if name == "RawMessageDelivery":
            value = template_boolean(value)
        original(self, arn, name, value)

    backend_class.set_subscription_attributes = set_subscription_attributes


def name_the_subscription_in_unsubscribe_urls() -> None:
    """The envelope's UnsubscribeURL names the subscription that delivered it, in the topic's region.

    moto's envelope has every field AWS sends (Type, MessageId, TopicArn, Message, Timestamp,
    SignatureVersion, Signature, SigningCertURL, UnsubscribeURL; Subject and MessageAttributes
    when given), but its UnsubscribeURL names one made-up subscription in us-east-1 for every
    message: a consumer that keeps it (or checks it against the subscription) would act on a
    subscription that does not exist. Instead it is the URL AWS sends:
    https://sns.<region>.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=<this subscription>.
    """
    subscription_class = sns_models.Subscription
    keep_original("Subscription.get_post_data", subscription_class.get_post_data)
    original = ORIGINALS["Subscription.get_post_data"]

    def get_post_data(self, message, message_id, subject, message_attributes=None):
        envelope = original(self, message, message_id, subject, message_attributes=message_attributes)
        region = parse_arn(self.topic.arn).region
        envelope["UnsubscribeURL"] = (
            f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={self.arn}"
        )
        return envelope

    subscription_class.get_post_data = get_post_data
