"""Rekognition: what the local AWS changes about DetectLabels and label detection in videos.

moto answers every DetectLabels with one canned label, and has no StartLabelDetection /
GetLabelDetection at all; here the launcher's offline model answers both from the S3 object's
bytes, with Rekognition's response shapes and error codes.
"""

from __future__ import annotations

import json

from moto.rekognition import responses as rekognition_responses
from moto.s3 import models as s3_models

from local_aws.adjust.registry import keep_original, require_services

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


def _stored_object(account_id: str, bucket: str, key: str, version_id: str | None):
    """The object (or that version of it) in moto's S3; KeyError when there is none, as
    Rekognition's InvalidS3ObjectException."""
    backend = s3_models.s3_backends[account_id]["aws"]
    try:
        found = backend.get_object(bucket, key, version_id=version_id)
    except Exception as error:  # no such bucket or version
        raise KeyError(f"s3://{bucket}/{key}: {error}") from None
    if found is None or not hasattr(found, "value"):  # missing key, or a delete marker
        raise KeyError(f"s3://{bucket}/{key}")
    return found


def _json_request(body: bytes | str | None) -> dict | None:
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None
    return request


def _json_answer(status: int, body: dict):
    headers = {"status": status, "Content-Type": JSON_CONTENT_TYPE}
    if status >= 400 and "__type" in body:
        headers["x-amzn-ErrorType"] = body["__type"]
    return status, headers, json.dumps(body)


_NOT_JSON = {"__type": "InvalidParameterException", "Message": "The request body is not JSON"}


def answer_detect_labels_with_the_offline_model() -> None:
    """DetectLabels is answered by the offline model, reading S3Object bytes from moto's S3.

    moto returns one canned label ("Mobile Phone") for any request, even for a missing object or
    a text file, and ignores MaxLabels and MinConfidence: the pipeline could not be verified. The
    same endpoint (the handler reaches it through AWS_ENDPOINT_URL) now answers with the
    launcher's offline labeller, with Rekognition's response shape and error codes.
    """
    response_class = rekognition_responses.RekognitionResponse
    keep_original("RekognitionResponse.detect_labels", response_class.detect_labels)

    def detect_labels(self):
        request = _json_request(self.body)
        if request is None:
            return _json_answer(400, _NOT_JSON)
        account_id = self.current_account

        def read_object(bucket: str, key: str, version_id: str | None) -> bytes:
            return _stored_object(account_id, bucket, key, version_id).value

        return _json_answer(*require_services().detect_labels(request, read_object))

    response_class.detect_labels = detect_labels


def answer_label_detection_jobs_with_the_offline_model() -> None:
    """StartLabelDetection / GetLabelDetection run local Rekognition Video jobs on the offline model.

    moto 5.2.5 has no label detection for videos (only face search and text detection jobs), so a
    film uploaded to the deployed stack could never be labelled locally. The same endpoint now
    answers both with the launcher's LocalVideoJobs (local_aws/rekognition_video.py): each job
    decodes the object from moto's S3, labels sampled frames with the DetectLabels model, and
    publishes Rekognition's completion message to the job's SNS topic. The object's size is read
    before its bytes, so a video over Rekognition's 10 GB is refused without reading it.
    """
    from local_aws.rekognition_video import StoredVideo

    response_class = rekognition_responses.RekognitionResponse
    keep_original("RekognitionResponse.start_label_detection", getattr(response_class, "start_label_detection", None))
    keep_original("RekognitionResponse.get_label_detection", getattr(response_class, "get_label_detection", None))

    def start_label_detection(self):
        request = _json_request(self.body)
        if request is None:
            return _json_answer(400, _NOT_JSON)
        account_id = self.current_account

        def read_video(bucket: str, key: str, version_id: str | None) -> StoredVideo:
            found = _stored_object(account_id, bucket, key, version_id)
            return StoredVideo(size=found.size, read=lambda: found.value)

        return _json_answer(*require_services().start_label_detection(request, account_id=account_id,
                                                                      read_object=read_video))

    def get_label_detection(self):
        request = _json_request(self.body)
        if request is None:
            return _json_answer(400, _NOT_JSON)
        return _json_answer(*require_services().get_label_detection(request))

    response_class.start_label_detection = start_label_detection
    response_class.get_label_detection = get_label_detection
