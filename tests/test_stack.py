"""The synthesized stack: every resource a deployer relies on, with the properties that matter."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from stack_synth import synth_template


@pytest.fixture(scope="module")
def template():
    return synth_template()


@pytest.fixture(scope="module")
def resources(template):
    return template.to_json()["Resources"]


def only(template, resource_type: str) -> tuple[str, dict]:
    found = template.find_resources(resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def image_bucket(template) -> tuple[str, dict]:
    buckets = template.find_resources("AWS::S3::Bucket", {"Properties": {"VersioningConfiguration": Match.any_value()}})
    assert len(buckets) == 1
    return next(iter(buckets.items()))


def statements(template) -> list[dict]:
    _, role = role_of_function(template)
    policies = [
        policy for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
    ]
    assert len(policies) == 1
    return policies[0]["Properties"]["PolicyDocument"]["Statement"]


def role_of_function(template) -> tuple[str, str]:
    name, function = labeller_function(template)
    return name, function["Properties"]["Role"]["Fn::GetAtt"][0]


def failed_events_queue(template) -> tuple[str, dict]:
    """The labeller's failed-events queue: the one its output names for `imagelabels redrive`."""
    name = template.to_json()["Outputs"]["FailedEventsQueueUrl"]["Value"]["Ref"]
    return name, template.to_json()["Resources"][name]


def labeller_function(template) -> tuple[str, dict]:
    found = template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": "image_labeller.handler.handle"}})
    assert len(found) == 1
    return next(iter(found.items()))


def test_image_bucket_is_private_encrypted_versioned_and_logged(template):
    name, bucket = image_bucket(template)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    log_bucket = props["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert log_bucket != name
    assert template.to_json()["Resources"][log_bucket]["Type"] == "AWS::S3::Bucket"


def test_every_bucket_refuses_plain_http(template):
    policies = template.find_resources("AWS::S3::BucketPolicy")
    # The image bucket, its access-log bucket, the page's site bucket and CloudFront's log bucket.
    assert len(policies) == len(template.find_resources("AWS::S3::Bucket")) == 4
    for policy in policies.values():
        assert {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
        }.items() <= policy["Properties"]["PolicyDocument"]["Statement"][0].items()


def test_dev_stage_may_destroy_its_data(resources):
    for resource in resources.values():
        if resource["Type"] in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Logs::LogGroup"):
            assert resource["DeletionPolicy"] == "Delete"


def test_table_keys_billing_recovery_and_ttl(template):
    _, table = only(template, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "ImageId", "KeyType": "HASH"},
        {"AttributeName": "Entry", "KeyType": "RANGE"},
    ]
    assert {"AttributeName": "ImageId", "AttributeType": "S"} in props["AttributeDefinitions"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ExpiresAt", "Enabled": True}
    assert props["DeletionProtectionEnabled"] is False  # dev


def test_label_index_answers_which_images_carry_a_label_best_first(template):
    _, table = only(template, "AWS::DynamoDB::Table")
    indexes = {index["IndexName"]: index for index in table["Properties"]["GlobalSecondaryIndexes"]}
    assert indexes["ByLabel"]["KeySchema"] == [
        {"AttributeName": "LabelKey", "KeyType": "HASH"},
        {"AttributeName": "Confidence", "KeyType": "RANGE"},
    ]
    assert indexes["ByLabel"]["Projection"] == {"ProjectionType": "ALL"}
    assert indexes["LabelCatalog"]["KeySchema"] == [
        {"AttributeName": "Catalog", "KeyType": "HASH"},
        {"AttributeName": "LabelKey", "KeyType": "RANGE"},
    ]
    assert {"AttributeName": "Confidence", "AttributeType": "N"} in table["Properties"]["AttributeDefinitions"]


def test_handler_and_stack_agree_on_the_table_layout(template):
    from label_table import layout
    from stacks import label_index

    _, table = only(template, "AWS::DynamoDB::Table")
    keys = [key["AttributeName"] for key in table["Properties"]["KeySchema"]]
    assert keys == list(layout.image_key("x"))
    assert label_index.EXPIRY_ATTRIBUTE == "ExpiresAt"
    counter = layout.counter_key("cat")
    assert list(counter) == keys


def test_function_runtime_code_and_settings(template):
    _, function = labeller_function(template)
    props = function["Properties"]
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 256
    assert props["Timeout"] == 60
    assert props["Code"]["S3Key"].endswith(".zip")  # an asset from lambda_src/, not inline code
    env = props["Environment"]["Variables"]
    assert env["MIN_CONFIDENCE"] == "70"
    assert env["MAX_LABELS"] == "10"
    assert env["TABLE_NAME"] == {"Ref": only(template, "AWS::DynamoDB::Table")[0]}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert props["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
    log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert template.to_json()["Resources"][log_group]["Properties"]["RetentionInDays"] == 30


def test_failed_invocations_are_captured_not_dropped(template):
    name, function = labeller_function(template)
    _, config = only(template, "AWS::Lambda::EventInvokeConfig")
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": name}
    assert props["MaximumRetryAttempts"] == 2
    assert props["MaximumEventAgeInSeconds"] == 6 * 3600
    queue_name, queue = failed_events_queue(template)
    assert queue["Type"] == "AWS::SQS::Queue"
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_name, "Arn"]}
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_function_role_has_exactly_the_statements_the_handler_needs(template):
    bucket, _ = image_bucket(template)
    table, _ = only(template, "AWS::DynamoDB::Table")
    queue, _ = failed_events_queue(template)
    log_group = labeller_function(template)[1]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    found = {statement["Sid"]: statement for statement in statements(template)}
    assert found == {
        "WriteOwnLogs": {
            "Sid": "WriteOwnLogs", "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
        },
        "DetectLabels": {
            "Sid": "DetectLabels", "Effect": "Allow", "Action": "rekognition:DetectLabels", "Resource": "*",
        },
        "CaptureFailedEvents": {
            "Sid": "CaptureFailedEvents", "Effect": "Allow", "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": [queue, "Arn"]},
        },
        "ReadUploadedImages": {
            "Sid": "ReadUploadedImages", "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/*"]]},
        },
        "WriteImageLabels": {
            "Sid": "WriteImageLabels", "Effect": "Allow",
            # Sorted by @aws-cdk/aws-iam:minimizePolicies (tests/test_feature_flags.py).
            "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": {"Fn::GetAtt": [table, "Arn"]},
        },
    }
    for statement in found.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any("*" in action for action in actions)


def test_function_role_has_no_managed_policies(template, resources):
    _, role = role_of_function(template)
    props = resources[role]["Properties"]
    assert "ManagedPolicyArns" not in props
    assert props["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]


def test_notifications_cover_created_and_removed_images_in_both_cases(template):
    function, _ = labeller_function(template)
    _, notifications = only(template, "Custom::S3BucketNotifications")
    bucket, _ = image_bucket(template)
    props = notifications["Properties"]
    assert props["BucketName"] == {"Ref": bucket}
    configs = props["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    seen = set()
    for config in configs:
        assert config["LambdaFunctionArn"] == {"Fn::GetAtt": [function, "Arn"]}
        (rule,) = config["Filter"]["Key"]["FilterRules"]
        assert rule["Name"] == "suffix"
        (event,) = config["Events"]
        seen.add((event, rule["Value"]))
    suffixes = {".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG"}
    assert seen == {(event, suffix) for event in ("s3:ObjectCreated:*", "s3:ObjectRemoved:*") for suffix in suffixes}
    # Films go to a queue (tests/test_film_stack.py); no image suffix may reach it, nothing goes to a topic.
    assert set(props["NotificationConfiguration"]) == {"LambdaFunctionConfigurations", "QueueConfigurations"}
    queued = {rule["Value"] for config in props["NotificationConfiguration"]["QueueConfigurations"]
              for rule in config["Filter"]["Key"]["FilterRules"]}
    assert queued and not queued & suffixes


def test_only_s3_from_this_account_may_invoke_the_function(template):
    function, _ = labeller_function(template)
    bucket, _ = image_bucket(template)
    # The web API function's permissions (one per route, for API Gateway) are tests/test_web_stack.py's.
    from_s3 = [permission for permission in template.find_resources("AWS::Lambda::Permission").values()
               if permission["Properties"]["Principal"] == "s3.amazonaws.com"]
    assert len(from_s3) == 1
    props = from_s3[0]["Properties"]
    assert props["FunctionName"] == {"Fn::GetAtt": [function, "Arn"]}
    assert props["SourceArn"] == {"Fn::GetAtt": [bucket, "Arn"]}
    assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_outputs_are_plain_and_named_for_tools(template):
    outputs = template.to_json()["Outputs"]
    for name in ("BucketName", "TableName", "FunctionName"):
        assert name in outputs
        assert "Export" not in outputs[name]


def test_the_table_layout_names_the_indexes_the_stack_declares():
    """The stack cannot import Lambda code, so stacks/label_index.py names the indexes itself: if
    the names drift apart, every search fails on an index that does not exist."""
    from label_table import layout
    from stacks import label_index

    assert (layout.BY_LABEL_INDEX, layout.LABEL_CATALOG_INDEX) == (label_index.BY_LABEL_INDEX, label_index.LABEL_CATALOG_INDEX)


def test_the_notified_suffixes_are_the_ones_uploads_are_spelled_for():
    """The stack cannot import Lambda code, so it names the notified suffixes itself; the web API and
    the command spell an upload's extension so that one of label_table.media_keys.NOTIFIED_SUFFIXES
    matches. If the lists drift apart, an upload is never labelled and its uploader waits forever."""
    from label_table import media_keys
    from stacks import image_labels_stack

    assert set(image_labels_stack.IMAGE_SUFFIXES + image_labels_stack.FILM_SUFFIXES) == set(media_keys.NOTIFIED_SUFFIXES)
    assert {suffix.lower() for suffix in image_labels_stack.IMAGE_SUFFIXES} == set(media_keys.IMAGE_EXTENSIONS)
    assert {suffix.lower() for suffix in image_labels_stack.FILM_SUFFIXES} == set(media_keys.FILM_EXTENSIONS)
