"""Stages from context: what prod gets (data kept, alarms, reserved concurrency), overrides, refusals."""

from __future__ import annotations

import pytest
from aws_cdk import App, RemovalPolicy

from conftest import cdk_json_context
from stack_synth import synth_template
from stacks.settings import PipelineSettings, SettingsError

ALARM_EMAIL = "media-ops@example.com"


@pytest.fixture(scope="module")
def prod():
    return synth_template(
        stage="prod", minConfidence=85, maxLabels=20, logRetentionDays=180, alarmEmail=ALARM_EMAIL,
        videoStartConcurrency=4,
    )


@pytest.fixture(scope="module")
def resources(prod):
    return prod.to_json()["Resources"]


def only(template, resource_type: str, props: dict | None = None) -> tuple[str, dict]:
    found = template.find_resources(resource_type, {"Properties": props} if props else None)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def labeller(template) -> tuple[str, dict]:
    return only(template, "AWS::Lambda::Function", {"Handler": "image_labeller.handler.handle"})


def output_ref(template, output: str) -> str:
    return template.to_json()["Outputs"][output]["Value"]["Ref"]


def alarms_watching(template, *targets: str) -> dict[str, dict]:
    """The alarms on a metric of one of `targets` (logical ids), by metric name."""
    def watched(alarm: dict) -> str | None:
        (dimension,) = alarm.get("Dimensions") or [{"Value": {}}]
        value = dimension["Value"]
        return value.get("Ref") or value.get("Fn::GetAtt", [None])[0]

    found = [a["Properties"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()]
    found = [alarm for alarm in found if watched(alarm) in targets]
    by_metric = {alarm["MetricName"]: alarm for alarm in found}
    assert len(by_metric) == len(found), "one alarm per metric of these resources"
    return by_metric


def alarm_topic(template) -> tuple[str, dict]:
    """The topic alarm e-mails come from (the film pipeline has a topic of its own)."""
    return only(template, "AWS::SNS::Topic", {"DisplayName": "image-labels alarms"})


def test_prod_keeps_its_data_and_protects_the_table(prod, resources):
    kept = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Logs::LogGroup", "AWS::KMS::Key")
    assert all(r["DeletionPolicy"] == "Retain" for r in resources.values() if r["Type"] in kept)
    _, table = only(prod, "AWS::DynamoDB::Table")
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_labelling_settings_come_from_context(prod, resources):
    _, function = labeller(prod)
    env = function["Properties"]["Environment"]["Variables"]
    assert (env["MIN_CONFIDENCE"], env["MAX_LABELS"]) == ("85", "20")
    log_groups = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    # The labeller's, the film starter's, the film collector's, the web API function's, its access
    # log and the page release function's: all kept as long as the stage says.
    assert len(log_groups) == 6
    assert resources[function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]] in log_groups
    assert {log_group["Properties"]["RetentionInDays"] for log_group in log_groups} == {180}


def test_prod_reserves_the_concurrency_of_its_stage(prod):
    assert labeller(prod)[1]["Properties"]["ReservedConcurrentExecutions"] == 10


def test_alarms_watch_errors_sustained_throttles_and_captured_events(prod):
    function, _ = labeller(prod)
    queue = output_ref(prod, "FailedEventsQueueUrl")
    topic, _ = alarm_topic(prod)
    alarms = alarms_watching(prod, function, queue)
    assert set(alarms) == {"Errors", "Throttles", "ApproximateNumberOfMessagesVisible"}

    for name in ("Errors", "Throttles"):
        assert alarms[name]["Namespace"] == "AWS/Lambda"
        assert alarms[name]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
        assert (alarms[name]["Statistic"], alarms[name]["Period"]) == ("Sum", 300)
        assert (alarms[name]["ComparisonOperator"], alarms[name]["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert (alarms["Errors"]["EvaluationPeriods"], alarms["Errors"]["DatapointsToAlarm"]) == (1, 1)
    # A burst that throttles for a few minutes is what reserved concurrency is for: only 15 minutes
    # of throttling in a row means the backlog is not draining.
    assert (alarms["Throttles"]["EvaluationPeriods"], alarms["Throttles"]["DatapointsToAlarm"]) == (3, 3)

    waiting = alarms["ApproximateNumberOfMessagesVisible"]
    assert waiting["Namespace"] == "AWS/SQS"
    assert waiting["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    # Messages are whole: at least one visible message is "above zero".
    assert (waiting["Statistic"], waiting["ComparisonOperator"], waiting["Threshold"]) == (
        "Maximum", "GreaterThanOrEqualToThreshold", 1,
    )

    for alarm in prod.find_resources("AWS::CloudWatch::Alarm").values():  # the film alarms' too
        alarm = alarm["Properties"]
        # No invocations, or an idle empty queue, publish no data: that is not a problem.
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": topic}]
        assert alarm["OKActions"] == [{"Ref": topic}]
        assert alarm["AlarmDescription"]


def test_film_alarms_watch_failed_jobs_idle_starts_dead_letters_and_errors(prod, resources):
    starter, collector = output_ref(prod, "StarterFunctionName"), output_ref(prod, "CollectorFunctionName")
    events = output_ref(prod, "FilmEventsQueueUrl")
    dead_letters = output_ref(prod, "FilmEventFailuresQueueUrl"), output_ref(prod, "FilmCompletionFailuresQueueUrl")

    for function in (starter, collector):
        (errors,) = alarms_watching(prod, function).values()
        assert (errors["Namespace"], errors["MetricName"], errors["Statistic"], errors["Threshold"]) == (
            "AWS/Lambda", "Errors", "Sum", 1)
    for queue in dead_letters:
        (waiting,) = alarms_watching(prod, queue).values()
        assert (waiting["MetricName"], waiting["Statistic"], waiting["Threshold"]) == (
            "ApproximateNumberOfMessagesVisible", "Maximum", 1)
    (oldest,) = alarms_watching(prod, events).values()
    assert (oldest["Namespace"], oldest["MetricName"], oldest["Statistic"], oldest["Threshold"]) == (
        "AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", 6 * 3600)

    # Failed jobs: counted from the collector's JSON log lines whose outcome is "failed".
    (failed,) = [a["Properties"] for a in prod.find_resources("AWS::CloudWatch::Alarm").values()
                 if a["Properties"]["MetricName"] == "FailedFilmJobs"]
    assert (failed["Namespace"], failed["Statistic"], failed["Period"], failed["Threshold"]) == (
        "ImageLabels/ImageLabels-prod", "Sum", 300, 1)
    (metric_filter,) = prod.find_resources("AWS::Logs::MetricFilter").values()
    collector_logs = resources[collector]["Properties"]["LoggingConfig"]["LogGroup"]
    assert metric_filter["Properties"] == {
        "LogGroupName": collector_logs,
        "FilterPattern": '{ $.outcome = "failed" }',
        "MetricTransformations": [
            {"MetricName": "FailedFilmJobs", "MetricNamespace": "ImageLabels/ImageLabels-prod", "MetricValue": "1"},
        ],
    }
    film_alarms = [failed, oldest, *(alarm for target in (starter, collector, *dead_letters)
                                     for alarm in alarms_watching(prod, target).values())]
    assert len(film_alarms) == 6
    assert len(prod.find_resources("AWS::CloudWatch::Alarm")) == 3 + 6  # nothing else, nothing twice
    for alarm in film_alarms:
        # Each fires on the first 5-minute period at or above its threshold.
        assert (alarm["ComparisonOperator"], alarm["Period"]) == ("GreaterThanOrEqualToThreshold", 300)
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1)


def test_film_settings_come_from_context(prod):
    starter = output_ref(prod, "StarterFunctionName")
    env = prod.to_json()["Resources"][starter]["Properties"]["Environment"]["Variables"]
    assert env["MIN_CONFIDENCE"] == "85"  # no videoMinConfidence given: the stage's minConfidence
    (mapping,) = prod.find_resources("AWS::Lambda::EventSourceMapping", {"Properties": {"FunctionName": {"Ref": starter}}}).values()
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 4}


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(prod):
    _, topic = alarm_topic(prod)
    key = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key_resource = prod.to_json()["Resources"][key]
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    assert key_resource["Type"] == "AWS::KMS::Key"
    assert key_resource["Properties"]["EnableKeyRotation"] is True
    statements = key_resource["Properties"]["KeyPolicy"]["Statement"]
    assert {
        "Sid": "CloudWatchAlarmsPublishEncrypted", "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
    } in statements


def test_alarm_topic_takes_tls_only_and_only_these_alarms_may_publish(prod):
    topic, _ = alarm_topic(prod)
    _, policy = only(prod, "AWS::SNS::TopicPolicy", {"Topics": [{"Ref": topic}]})
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"AllowPublishThroughSSLOnly", "OwnAlarmsPublish"}
    assert statements["AllowPublishThroughSSLOnly"]["Effect"] == "Deny"
    assert statements["AllowPublishThroughSSLOnly"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    publish = statements["OwnAlarmsPublish"]
    assert (publish["Effect"], publish["Principal"], publish["Action"]) == (
        "Allow", {"Service": "cloudwatch.amazonaws.com"}, "sns:Publish",
    )
    alarms = sorted(prod.find_resources("AWS::CloudWatch::Alarm"))
    assert sorted(arn["Fn::GetAtt"][0] for arn in publish["Condition"]["ArnEquals"]["aws:SourceArn"]) == alarms


def test_alarm_email_subscribes_and_the_topic_is_an_output(prod):
    topic, _ = alarm_topic(prod)
    _, subscription = only(prod, "AWS::SNS::Subscription", {"TopicArn": {"Ref": topic}})
    assert subscription["Properties"] == {"Endpoint": ALARM_EMAIL, "Protocol": "email", "TopicArn": {"Ref": topic}}
    outputs = prod.to_json()["Outputs"]
    assert outputs["AlarmTopicArn"] == {"Value": {"Ref": topic}}
    assert "Export" not in outputs["AlarmTopicArn"]


def settings(**context) -> PipelineSettings:
    return PipelineSettings.from_context(App(context=cdk_json_context(**context)).node)


def test_stage_selects_its_block_and_top_level_keys_override_it():
    prod = settings(stage="prod")
    assert (prod.stack_name, prod.removal_policy, prod.deletion_protection, prod.alarms) == (
        "ImageLabels-prod", RemovalPolicy.RETAIN, True, True,
    )
    assert (prod.reserved_concurrency, prod.log_retention_days, prod.alarm_email) == (10, 90, None)
    # -c values arrive as strings.
    tuned = settings(stage="prod", reservedConcurrency="25", alarms="false", minConfidence="82.5")
    assert (tuned.reserved_concurrency, tuned.alarms, tuned.min_confidence) == (25, False, 82.5)
    assert settings(stage="prod", reservedConcurrency="none").reserved_concurrency is None
    dev = settings()
    assert (dev.stack_name, dev.removal_policy, dev.deletion_protection, dev.alarms, dev.reserved_concurrency) == (
        "ImageLabels-dev", RemovalPolicy.DESTROY, False, False, None,
    )


def test_film_settings_follow_the_stage_unless_given():
    dev = settings()
    assert (dev.video_min_confidence, dev.video_start_concurrency) == (70, 2)
    # Without its own value, films are labelled at the stage's (possibly overridden) image confidence.
    assert settings(stage="prod", minConfidence="85").video_min_confidence == 85
    tuned = settings(stage="prod", minConfidence="85", videoMinConfidence="60", videoStartConcurrency="4")
    assert (tuned.min_confidence, tuned.video_min_confidence, tuned.video_start_concurrency) == (85, 60, 4)
    assert settings(stages={"dev": {"videoMinConfidence": 55}}).video_min_confidence == 55
    assert settings(videoMinConfidence="none").video_min_confidence == 70
    assert (dev.video_retry_seconds, settings(videoRetrySeconds="5").video_retry_seconds) == (60, 5)


def test_a_stage_that_leaves_keys_out_gets_the_safe_defaults():
    staging = settings(stage="staging", stages={"staging": {}})
    assert (staging.stack_name, staging.removal_policy, staging.deletion_protection, staging.alarms) == (
        "ImageLabels-staging", RemovalPolicy.RETAIN, True, True,
    )


@pytest.mark.parametrize(
    "context, message",
    [
        ({"minConfidence": 120}, "'minConfidence' must be between 0 and 100"),
        ({"minConfidence": "high"}, "'minConfidence' must be a number"),
        ({"maxLabels": 0}, "'maxLabels' must be between 1 and 24"),
        ({"maxLabels": 25}, "'maxLabels'"),
        ({"maxLabels": 2.5}, "'maxLabels' must be a whole number"),
        ({"logRetentionDays": 31}, "'logRetentionDays' must be one of"),
        ({"stage": "my stage"}, "'stage' is 'my stage', which is not a known stage; known stages: dev, prod"),
        ({"stage": "test"}, "known stages: dev, prod"),
        ({"stage": "prod", "reservedConcurrency": 0}, "'reservedConcurrency' must be at least 1"),
        ({"stage": "prod", "reservedConcurrency": "many"}, "'reservedConcurrency' must be a number"),
        ({"alarms": "yes"}, "'alarms' must be true or false"),
        ({"alarmEmail": "ops@example.com"}, "'alarmEmail' is set but 'stages.dev.alarms' is false"),
        ({"stage": "prod", "alarmEmail": "ops"}, "'alarmEmail' must be an e-mail address"),
        ({"removalPolicy": "snapshot"}, "'removalPolicy' must be one of ['destroy', 'retain']"),
        ({"deletionProtection": "true"}, "'deletionProtection' is true while 'stages.dev.removalPolicy' is 'destroy'"),
        ({"stackNamePrefix": "Image_Labels"}, "'stackNamePrefix' must start with a letter"),
        ({"stages": {"dev": {"maxlabels": 5}}}, "'stages.dev' has unknown key(s) maxlabels"),
        ({"stages": {"dev": {"maxLabels": 50}}}, "'stages.dev.maxLabels' must be between 1 and 24"),
        ({"stages": {"dev_1": {}}, "stage": "dev_1"}, "'stage' must start with a letter"),
        ({"stages": None}, "'stages' must map each stage name"),
        ({"videoMinConfidence": 101}, "'videoMinConfidence' must be between 0 and 100"),
        ({"videoMinConfidence": "high"}, "'videoMinConfidence' must be a number"),
        ({"videoStartConcurrency": 1}, "'videoStartConcurrency' must be between 2 and 1000"),
        ({"videoStartConcurrency": "1001"}, "'videoStartConcurrency' must be between 2 and 1000"),
        ({"videoStartConcurrency": 2.5}, "'videoStartConcurrency' must be a whole number"),
        ({"videoRetrySeconds": 0}, "'videoRetrySeconds' must be between 1 and 900"),
        ({"videoRetrySeconds": "901"}, "'videoRetrySeconds' must be between 1 and 900"),
        ({"stages": {"dev": {"videoStartConcurrency": 0}}},
         "'stages.dev.videoStartConcurrency' must be between 2 and 1000"),
    ],
)
def test_bad_context_is_refused_with_the_key_named(context, message):
    import app as entry

    with pytest.raises(SettingsError) as refused:
        entry.build_app(App(context=cdk_json_context(**context)))
    assert message in str(refused.value)
