"""local_aws/adjust/rekognition.py: moto (pinned) still answers DetectLabels with a canned label and
has no video label detection; the adjusted server answers both with the offline model, as
Rekognition does.
A failure of a "moto still ..." test means the pin moved or moto changed: revisit that adjustment
rather than the test. One local AWS for the module (tests/adjust_fixtures.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from adjust_fixtures import aws, client  # noqa: F401 (fixtures)
from local_aws.server import LocalAws

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
pytestmark = pytest.mark.usefixtures("aws")


def test_moto_still_answers_detect_labels_with_a_canned_label():
    from moto.rekognition.models import RekognitionBackend

    labels, _, _ = RekognitionBackend("us-east-1", "123456789012").detect_labels()
    assert [label["Name"] for label in labels] == ["Mobile Phone"]


def test_detect_labels_is_answered_by_the_offline_model_from_s3(client):
    s3, rekognition = client("s3"), client("rekognition")
    s3.create_bucket(Bucket="rekognition-input")
    version = s3.put_object(Bucket="rekognition-input", Key="cat.png",
                            Body=(SAMPLES / "cat-chelsea.png").read_bytes()).get("VersionId")
    s3.put_object(Bucket="rekognition-input", Key="text.jpg", Body=b"not an image")

    labels = rekognition.detect_labels(Image={"S3Object": {"Bucket": "rekognition-input", "Name": "cat.png"}},
                                       MinConfidence=70)["Labels"]
    assert "Cat" in {label["Name"] for label in labels}
    assert len(rekognition.detect_labels(Image={"S3Object": {"Bucket": "rekognition-input", "Name": "cat.png"}},
                                         MaxLabels=1)["Labels"]) == 1
    for image, code in [({"Bucket": "rekognition-input", "Name": "missing.png"}, "InvalidS3ObjectException"),
                        ({"Bucket": "no-such-bucket", "Name": "cat.png"}, "InvalidS3ObjectException"),
                        ({"Bucket": "rekognition-input", "Name": "text.jpg"}, "InvalidImageFormatException")]:
        with pytest.raises(ClientError) as raised:
            rekognition.detect_labels(Image={"S3Object": image})
        assert raised.value.response["Error"]["Code"] == code
    assert version is None  # unversioned bucket: no VersionId, and none needed


def test_the_server_answers_identical_detect_labels_requests_from_its_cache(aws, client, tmp_path):
    s3, rekognition = client("s3"), client("rekognition")
    s3.create_bucket(Bucket="rekognition-cache")
    cat = (SAMPLES / "cat-chelsea.png").read_bytes()
    s3.put_object(Bucket="rekognition-cache", Key="one.png", Body=cat)
    s3.put_object(Bucket="rekognition-cache", Key="two.png", Body=cat)  # other key, same bytes
    cache = aws.detect_labels_cache
    hits, misses = cache.hits, cache.misses
    first = rekognition.detect_labels(Image={"S3Object": {"Bucket": "rekognition-cache", "Name": "one.png"}},
                                      MinConfidence=55)
    second = rekognition.detect_labels(Image={"S3Object": {"Bucket": "rekognition-cache", "Name": "two.png"}},
                                       MinConfidence=55)
    assert (cache.hits - hits, cache.misses - misses) == (1, 1)
    assert first["Labels"] == second["Labels"] and "Cat" in {label["Name"] for label in first["Labels"]}

    assert LocalAws(state_dir=tmp_path, detect_labels_cache_size=0).detect_labels_cache is None
    assert LocalAws(state_dir=tmp_path, detect_labels_cache_size=3).detect_labels_cache.max_entries == 3
    with pytest.raises(ValueError):
        LocalAws(state_dir=tmp_path, detect_labels_cache_size=-1)


def test_the_video_page_size_is_a_setting_of_the_local_aws(tmp_path):
    paged = LocalAws(state_dir=tmp_path, video_page_size=3)
    try:
        assert paged.video_jobs().page_size == 3
    finally:
        paged.stop()


def test_moto_still_has_no_label_detection_for_videos():
    from moto.rekognition.models import RekognitionBackend

    from local_aws.adjust.registry import ORIGINALS

    assert ORIGINALS["RekognitionResponse.start_label_detection"] is None
    assert ORIGINALS["RekognitionResponse.get_label_detection"] is None
    assert not hasattr(RekognitionBackend, "start_label_detection")


def test_a_video_job_labels_the_exact_version_and_announces_itself_on_the_topic(aws, client):
    """StartLabelDetection on a film in S3 runs a local job; its completion reaches an SQS
    subscriber of the job's topic in the SNS envelope; GetLabelDetection pages its segments."""
    import json

    from film_factory import CAT, CUP, Shot, film

    s3, rekognition, sns, sqs = client("s3"), client("rekognition"), client("sns"), client("sqs")
    s3.create_bucket(Bucket="video-input")
    s3.put_bucket_versioning(Bucket="video-input", VersioningConfiguration={"Status": "Enabled"})
    cat_then_cup = s3.put_object(Bucket="video-input", Key="shots.mp4",
                                 Body=film([Shot((CAT,), 2.0), Shot((CUP,), 2.0)]))["VersionId"]
    s3.put_object(Bucket="video-input", Key="shots.mp4", Body=film([Shot((CUP,), 2.0)]))  # a newer version
    topic = sns.create_topic(Name="video-jobs")["TopicArn"]
    queue = sqs.create_queue(QueueName="video-completions")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    request = {"Video": {"S3Object": {"Bucket": "video-input", "Name": "shots.mp4", "Version": cat_then_cup}},
               "ClientRequestToken": "shots-v1", "JobTag": "film-test", "MinConfidence": 50,
               "NotificationChannel": {"SNSTopicArn": topic, "RoleArn": "arn:aws:iam::123456789012:role/video"}}
    job_id = rekognition.start_label_detection(**request)["JobId"]
    assert rekognition.start_label_detection(**request)["JobId"] == job_id  # same token, same job
    assert aws.wait_idle(60)

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert len(messages) == 1  # one notification, whatever the number of starts
    envelope = json.loads(messages[0]["Body"])
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic
    completion = json.loads(envelope["Message"])
    assert completion["JobId"] == job_id and completion["Status"] == "SUCCEEDED"
    assert completion["JobTag"] == "film-test"
    assert completion["Video"] == {"S3ObjectName": "shots.mp4", "S3Bucket": "video-input"}

    first = rekognition.get_label_detection(JobId=job_id, AggregateBy="SEGMENTS", SortBy="NAME", MaxResults=1)
    assert first["JobStatus"] == "SUCCEEDED" and first["VideoMetadata"]["Codec"] == "h264"
    labels, page = list(first["Labels"]), first
    while page.get("NextToken"):
        page = rekognition.get_label_detection(JobId=job_id, AggregateBy="SEGMENTS", SortBy="NAME",
                                               MaxResults=1, NextToken=page["NextToken"])
        labels += page["Labels"]
    starts = {entry["Label"]["Name"]: entry["StartTimestampMillis"] for entry in labels}
    assert starts["Cat"] < 500 and 1500 <= starts["Cup"] <= 2500  # the old version: cat first, then the cup

    with pytest.raises(ClientError) as raised:
        rekognition.start_label_detection(Video={"S3Object": {"Bucket": "video-input", "Name": "missing.mp4"}})
    assert raised.value.response["Error"]["Code"] == "InvalidS3ObjectException"
    with pytest.raises(ClientError) as raised:
        rekognition.get_label_detection(JobId="0" * 64)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
