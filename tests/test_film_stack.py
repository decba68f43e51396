"""The film pipeline as synthesized (dev stage): queues, topic, key, roles, functions, event source
mappings and the bucket's film notifications, with exactly the permissions each part needs."""

from __future__ import annotations

import pytest

from stack_synth import synth_template

FILM_SUFFIXES = {".mp4", ".mov", ".MP4", ".MOV"}
OBJECT_EVENTS = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")
FOURTEEN_DAYS = 14 * 24 * 3600
PARTITION, REGION, ACCOUNT = {"Ref": "AWS::Partition"}, {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}


@pytest.fixture(scope="module")
def template():
    return synth_template()


@pytest.fixture(scope="module")
def resources(template):
    return template.to_json()["Resources"]


@pytest.fixture(scope="module")
def names(template, resources):
    """Logical ids of the film resources, found through the outputs tools read and the handlers."""
    outputs = template.to_json()["Outputs"]
    found = {output: outputs[output]["Value"]["Ref"] for output in (
        "FilmEventsQueueUrl", "FilmEventFailuresQueueUrl", "FilmCompletionsQueueUrl",
        "FilmCompletionFailuresQueueUrl", "FilmJobsTopicArn", "StarterFunctionName", "CollectorFunctionName",
        "BucketName", "TableName",
    )}
    for handler, output in (("film_labeller.starter.handle", "StarterFunctionName"),
                            ("film_labeller.collector.handle", "CollectorFunctionName")):
        function = resources[found[output]]
        assert function["Properties"]["Handler"] == handler
        found[f"{output}Role"] = function["Properties"]["Role"]["Fn::GetAtt"][0]
    topic = resources[found["FilmJobsTopicArn"]]
    found["Key"] = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    starter_env = resources[found["StarterFunctionName"]]["Properties"]["Environment"]["Variables"]
    found["RekognitionRole"] = starter_env["SERVICE_ROLE_ARN"]["Fn::GetAtt"][0]
    return found


def arn(name: str) -> dict:
    return {"Fn::GetAtt": [name, "Arn"]}


def policy_of(resources, role: str) -> tuple[str, dict]:
    (found,) = [(name, r) for name, r in resources.items()
                if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]]
    return found


def statements_of(resources, role: str) -> dict[str, dict]:
    statements = policy_of(resources, role)[1]["Properties"]["PolicyDocument"]["Statement"]
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert len(by_sid) == len(statements), "every statement has a sid of its own"
    return by_sid


def queue_policy_statements(template, queue: str) -> list[dict]:
    (policy,) = template.find_resources("AWS::SQS::QueuePolicy", {"Properties": {"Queues": [{"Ref": queue}]}}).values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def tls_only(resource: dict) -> dict:
    return {"Action": "sqs:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Effect": "Deny",
            "Principal": {"AWS": "*"}, "Resource": resource}


def table_writes(names) -> dict:
    return {
        "Sid": "WriteFilmLabels", "Effect": "Allow",
        "Action": ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
        "Resource": arn(names["TableName"]),
    }


def own_logs(resources, function: str) -> dict:
    log_group = resources[function]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    return {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": arn(log_group)}


def test_film_queues_are_encrypted_kept_14_days_and_give_up_into_their_dead_letter_queues(resources, names):
    for output in ("FilmEventsQueueUrl", "FilmEventFailuresQueueUrl", "FilmCompletionsQueueUrl",
                   "FilmCompletionFailuresQueueUrl"):
        props = resources[names[output]]["Properties"]
        assert props["SqsManagedSseEnabled"] is True
        assert props["MessageRetentionPeriod"] == FOURTEEN_DAYS
    events = resources[names["FilmEventsQueueUrl"]]["Properties"]
    # A start refused for the account's job quota is retried with backoff for about 48 hours.
    assert events["RedrivePolicy"] == {"deadLetterTargetArn": arn(names["FilmEventFailuresQueueUrl"]),
                                       "maxReceiveCount": 200}
    completions = resources[names["FilmCompletionsQueueUrl"]]["Properties"]
    assert completions["RedrivePolicy"] == {"deadLetterTargetArn": arn(names["FilmCompletionFailuresQueueUrl"]),
                                            "maxReceiveCount": 5}
    for dead_letters in ("FilmEventFailuresQueueUrl", "FilmCompletionFailuresQueueUrl"):
        assert "RedrivePolicy" not in resources[names[dead_letters]]["Properties"]


def test_visibility_timeouts_are_six_times_the_consumers_timeout(resources, names):
    """AWS's advice for SQS event sources: a batch retried after throttling is not seen twice."""
    for queue, function, timeout in (("FilmEventsQueueUrl", "StarterFunctionName", 60),
                                     ("FilmCompletionsQueueUrl", "CollectorFunctionName", 300)):
        assert resources[names[function]]["Properties"]["Timeout"] == timeout
        assert resources[names[queue]]["Properties"]["VisibilityTimeout"] == 6 * timeout


def test_every_film_queue_refuses_plain_http(template, names):
    for output in ("FilmEventsQueueUrl", "FilmEventFailuresQueueUrl", "FilmCompletionsQueueUrl",
                   "FilmCompletionFailuresQueueUrl"):
        assert tls_only(arn(names[output])) in queue_policy_statements(template, names[output])


def test_film_events_accept_only_s3_events_of_this_bucket_and_account(template, names):
    events = names["FilmEventsQueueUrl"]
    assert queue_policy_statements(template, events) == [tls_only(arn(events)), {
        "Sid": "ImageBucketSendsFilmEvents", "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": arn(events),
        "Condition": {"ArnEquals": {"aws:SourceArn": arn(names["BucketName"])},
                      "StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }]
    for dead_letters in ("FilmEventFailuresQueueUrl", "FilmCompletionFailuresQueueUrl"):
        assert queue_policy_statements(template, names[dead_letters]) == [tls_only(arn(names[dead_letters]))]


def test_film_completions_accept_only_the_film_jobs_topic(template, names):
    completions = names["FilmCompletionsQueueUrl"]
    assert queue_policy_statements(template, completions) == [tls_only(arn(completions)), {
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": arn(completions),
        "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": names["FilmJobsTopicArn"]}}},
    }]


def test_film_jobs_topic_is_encrypted_with_a_rotating_customer_key_and_takes_tls_only(template, resources, names):
    topic = names["FilmJobsTopicArn"]
    key = resources[names["Key"]]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    # The default key policy: the account's IAM policies decide, so the service role's statement counts.
    assert key["Properties"]["KeyPolicy"]["Statement"] == [{
        "Action": "kms:*", "Effect": "Allow", "Resource": "*",
        "Principal": {"AWS": {"Fn::Join": ["", ["arn:", PARTITION, ":iam::", ACCOUNT, ":root"]]}},
    }]
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy", {"Properties": {"Topics": [{"Ref": topic}]}}).values()
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [{
        "Sid": "AllowPublishThroughSSLOnly", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
        "Resource": {"Ref": topic}, "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]


def test_film_completions_subscribe_to_the_topic_and_receive_the_sns_envelope(template, names):
    (subscription,) = template.find_resources(
        "AWS::SNS::Subscription", {"Properties": {"TopicArn": {"Ref": names["FilmJobsTopicArn"]}}}).values()
    assert subscription["Properties"] == {
        "Endpoint": arn(names["FilmCompletionsQueueUrl"]), "Protocol": "sqs", "RawMessageDelivery": False,
        "TopicArn": {"Ref": names["FilmJobsTopicArn"]},
    }
    # SNS confirms an SQS subscription by sending to it: the queue policy must be there first.
    (policy,) = template.find_resources(
        "AWS::SQS::QueuePolicy", {"Properties": {"Queues": [{"Ref": names["FilmCompletionsQueueUrl"]}]}})
    assert subscription["DependsOn"] == [policy]


def test_rekognition_role_is_trusted_only_by_rekognition_of_this_account_and_region(resources, names):
    role = resources[names["RekognitionRole"]]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "rekognition.amazonaws.com"},
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": {"Fn::Join": ["", [
                "arn:", PARTITION, ":rekognition:", REGION, ":", ACCOUNT, ":*"]]}},
        },
    }]


def test_rekognition_role_may_only_announce_on_the_topic_with_its_key(resources, names):
    assert statements_of(resources, names["RekognitionRole"]) == {
        "AnnounceFilmJobs": {"Sid": "AnnounceFilmJobs", "Effect": "Allow", "Action": "sns:Publish",
                             "Resource": {"Ref": names["FilmJobsTopicArn"]}},
        "EncryptFilmJobAnnouncements": {"Sid": "EncryptFilmJobAnnouncements", "Effect": "Allow",
                                        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                                        "Resource": arn(names["Key"])},
    }


def test_starter_role_has_exactly_the_statements_the_starter_needs(resources, names):
    starter = names["StarterFunctionName"]
    assert statements_of(resources, names["StarterFunctionNameRole"]) == {
        "WriteOwnLogs": own_logs(resources, starter),
        "StartLabelDetection": {"Sid": "StartLabelDetection", "Effect": "Allow",
                                "Action": "rekognition:StartLabelDetection", "Resource": "*"},
        "PassRoleToRekognition": {
            "Sid": "PassRoleToRekognition", "Effect": "Allow", "Action": "iam:PassRole",
            "Resource": arn(names["RekognitionRole"]),
            "Condition": {"StringEquals": {"iam:PassedToService": "rekognition.amazonaws.com"}},
        },
        "ConsumeFilmEvents": {
            "Sid": "ConsumeFilmEvents", "Effect": "Allow",
            "Action": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            "Resource": arn(names["FilmEventsQueueUrl"]),
        },
        # Rekognition reads the film with the caller's rights.
        "ReadUploadedFilms": {
            "Sid": "ReadUploadedFilms", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": {"Fn::Join": ["", [arn(names["BucketName"]), "/*"]]},
        },
        "WriteFilmLabels": table_writes(names),
    }


def test_collector_role_has_exactly_the_statements_the_collector_needs(resources, names):
    collector = names["CollectorFunctionName"]
    completions = arn(names["FilmCompletionsQueueUrl"])
    assert statements_of(resources, names["CollectorFunctionNameRole"]) == {
        "WriteOwnLogs": own_logs(resources, collector),
        "GetLabelDetection": {"Sid": "GetLabelDetection", "Effect": "Allow",
                              "Action": "rekognition:GetLabelDetection", "Resource": "*"},
        "ConsumeFilmCompletions": {
            "Sid": "ConsumeFilmCompletions", "Effect": "Allow",
            "Action": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            "Resource": completions,
        },
        "ContinueCollection": {"Sid": "ContinueCollection", "Effect": "Allow", "Action": "sqs:SendMessage",
                               "Resource": completions},
        "WriteFilmLabels": table_writes(names),
    }


def test_film_roles_have_no_managed_policies_and_trust_only_lambda(resources, names):
    for role in ("StarterFunctionNameRole", "CollectorFunctionNameRole"):
        props = resources[names[role]]["Properties"]
        assert "ManagedPolicyArns" not in props
        assert props["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]


def test_film_functions_run_like_the_labeller_with_their_own_logs(resources, names):
    starter = resources[names["StarterFunctionName"]]["Properties"]
    collector = resources[names["CollectorFunctionName"]]["Properties"]
    log_groups = set()
    for props in (starter, collector):
        assert (props["Runtime"], props["Architectures"]) == ("python3.14", ["arm64"])
        assert props["Code"]["S3Key"].endswith(".zip")  # the lambda_src/ asset, as the labeller's
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert props["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert resources[log_group]["Properties"]["RetentionInDays"] == 30
        log_groups.add(log_group)
    assert len(log_groups) == 2
    assert (starter["MemorySize"], collector["MemorySize"]) == (256, 512)
    table = {"Ref": names["TableName"]}
    assert starter["Environment"]["Variables"] == {
        "TABLE_NAME": table, "MIN_CONFIDENCE": "70", "TOPIC_ARN": {"Ref": names["FilmJobsTopicArn"]},
        "SERVICE_ROLE_ARN": arn(names["RekognitionRole"]), "EVENTS_QUEUE_URL": {"Ref": names["FilmEventsQueueUrl"]},
        "FIRST_RETRY_SECONDS": "60",
    }
    assert collector["Environment"]["Variables"] == {
        "TABLE_NAME": table, "COMPLETIONS_QUEUE_URL": {"Ref": names["FilmCompletionsQueueUrl"]},
        "FIRST_RETRY_SECONDS": "60",
    }


def test_film_functions_wait_for_their_permissions(resources, names):
    """Lambda refuses an SQS event source mapping whose role cannot yet receive from the queue."""
    for function, role in (("StarterFunctionName", "StarterFunctionNameRole"),
                           ("CollectorFunctionName", "CollectorFunctionNameRole")):
        policy, _ = policy_of(resources, names[role])
        assert resources[names[function]]["DependsOn"] == [policy]


def test_event_source_mappings_batch_report_partial_failures_and_limit_starts(template, names):
    mappings = {m["Properties"]["FunctionName"]["Ref"]: m["Properties"]
                for m in template.find_resources("AWS::Lambda::EventSourceMapping").values()}
    assert mappings == {
        names["StarterFunctionName"]: {
            "FunctionName": {"Ref": names["StarterFunctionName"]}, "EventSourceArn": arn(names["FilmEventsQueueUrl"]),
            "BatchSize": 5, "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 2},
        },
        names["CollectorFunctionName"]: {
            "FunctionName": {"Ref": names["CollectorFunctionName"]},
            "EventSourceArn": arn(names["FilmCompletionsQueueUrl"]),
            "BatchSize": 1, "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    }


def test_films_created_and_removed_in_both_cases_reach_the_film_events_queue(template, names):
    (notifications,) = template.find_resources("Custom::S3BucketNotifications").values()
    assert notifications["Properties"]["BucketName"] == {"Ref": names["BucketName"]}
    seen = set()
    for config in notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]:
        assert config["QueueArn"] == arn(names["FilmEventsQueueUrl"])
        (rule,) = config["Filter"]["Key"]["FilterRules"]
        assert rule["Name"] == "suffix"
        (event,) = config["Events"]
        seen.add((event, rule["Value"]))
    assert seen == {(event, suffix) for event in OBJECT_EVENTS for suffix in FILM_SUFFIXES}
    # S3 tests that it may send when the configuration is put: the queue policy comes first.
    (policy,) = template.find_resources(
        "AWS::SQS::QueuePolicy", {"Properties": {"Queues": [{"Ref": names["FilmEventsQueueUrl"]}]}})
    assert policy in notifications["DependsOn"]


def test_film_outputs_are_plain(template):
    outputs = template.to_json()["Outputs"]
    assert set(outputs) == {
        "BucketName", "TableName", "FunctionName", "FailedEventsQueueUrl", "FilmEventsQueueUrl",
        "FilmEventFailuresQueueUrl", "FilmCompletionsQueueUrl", "FilmCompletionFailuresQueueUrl",
        "FilmJobsTopicArn", "StarterFunctionName", "CollectorFunctionName",
        "PageUrl", "DistributionId", "SiteBucketName", "UserPoolId", "UserPoolClientId", "WebApiFunctionName",
    }
    assert all("Export" not in output for output in outputs.values())

