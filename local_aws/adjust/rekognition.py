"""Rekognition: what the local AWS changes about DetectLabels.

moto answers every DetectLabels with one canned label; here the launcher's offline model answers
it from the S3 object's bytes, with Rekognition's response shape and error codes.
"""

from __future__ import annotations

import json

from moto.rekognition import responses as rekognition_responses
from moto.s3 import models as s3_models

from local_aws.adjust.registry import keep_original, require_services


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
        try:
            request = json.loads(self.body or b"{}")
        except ValueError:
            return 400, {"status": 400}, json.dumps(
                {"__type": "InvalidParameterException", "Message": "The request body is not JSON"})
        account_id = self.current_account

        def read_object(bucket: str, key: str, version_id: str | None) -> bytes:
            backend = s3_models.s3_backends[account_id]["aws"]
            try:
                found = backend.get_object(bucket, key, version_id=version_id)
            except Exception as error:  # no such bucket or version: Rekognition's InvalidS3ObjectException
                raise KeyError(f"s3://{bucket}/{key}: {error}") from None
            if found is None or not hasattr(found, "value"):  # missing key, or a delete marker
                raise KeyError(f"s3://{bucket}/{key}")
            return found.value

        status, body = require_services().detect_labels(request, read_object)
        headers = {"status": status, "Content-Type": "application/x-amz-json-1.1"}
        if status >= 400 and "__type" in body:
            headers["x-amzn-ErrorType"] = body["__type"]
        return status, headers, json.dumps(body)

    response_class.detect_labels = detect_labels
