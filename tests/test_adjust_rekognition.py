"""local_aws/adjust/rekognition.py: moto (pinned) still answers DetectLabels with a canned label, and
the adjusted server answers it with the offline model, as Rekognition does.
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
