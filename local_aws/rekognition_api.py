"""RekognitionService.DetectLabels over AWS's JSON protocol, on top of the offline labeller.

Pure request -> (status, body): the HTTP server around it only has to route the call
(`X-Amz-Target: RekognitionService.DetectLabels`) and send the body back as
`application/x-amz-json-1.1`. Errors use the JSON protocol's `__type` so that botocore raises
ClientError with Rekognition's code, which is what the handler branches on.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable

from local_aws.rekognition_model import (
    MAX_INLINE_BYTES,
    MAX_S3_OBJECT_BYTES,
    OfflineLabeller,
    RekognitionError,
    image_too_large,
    invalid_parameters,
)

TARGET = "RekognitionService.DetectLabels"
CONTENT_TYPE = "application/x-amz-json-1.1"
INVALID_S3_OBJECT_MESSAGE = (
    "Unable to get object metadata from S3. Check object key, region and/or access permissions."
)

ReadObject = Callable[[str, str, str | None], bytes]
log = logging.getLogger(__name__)


def detect_labels_response(
    request: dict, *, labeller: OfflineLabeller, read_object: ReadObject
) -> tuple[int, dict]:
    """(HTTP status, JSON body) for one DetectLabels request body (already parsed from JSON)."""
    try:
        if not isinstance(request, dict):
            raise invalid_parameters()
        _check_features(request.get("Features"))
        image_bytes = _image_bytes(request.get("Image"), read_object)
        response = labeller.detect_labels(
            image_bytes, max_labels=request.get("MaxLabels"), min_confidence=request.get("MinConfidence")
        )
        response["Labels"] = filtered_labels(response["Labels"], request.get("Settings"))
    except RekognitionError as error:
        return error.status, error_body(error.code, error.message)
    except Exception:  # a bug or a broken model must reach the caller as a 500, not a dropped connection
        log.exception("DetectLabels failed")
        return 500, error_body("InternalServerError", "Amazon Rekognition experienced a service issue.")
    return 200, response


def error_body(code: str, message: str) -> dict:
    return {"__type": code, "Message": message}


def _check_features(features) -> None:
    # Only label detection is offered: asking for IMAGE_PROPERTIES alone would otherwise get an
    # empty, plausible-looking answer.
    if features is None:
        return
    if not isinstance(features, list) or "GENERAL_LABELS" not in features:
        raise RekognitionError(
            "InvalidParameterException", "The local labeller supports only the GENERAL_LABELS feature."
        )


def _image_bytes(image, read_object: ReadObject) -> bytes:
    if not isinstance(image, dict) or ("Bytes" in image) == ("S3Object" in image):
        raise invalid_parameters()  # exactly one of Bytes and S3Object
    if "Bytes" in image:
        encoded = image["Bytes"]
        if not isinstance(encoded, str):
            raise invalid_parameters()
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise invalid_parameters() from None
        if not data:
            raise invalid_parameters()
        if len(data) > MAX_INLINE_BYTES:
            raise image_too_large()
        return data
    s3_object = image["S3Object"]
    if not isinstance(s3_object, dict):
        raise invalid_parameters()
    bucket, key, version = s3_object.get("Bucket"), s3_object.get("Name"), s3_object.get("Version")
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise invalid_parameters()
    if version is not None and not isinstance(version, str):
        raise invalid_parameters()
    try:
        data = read_object(bucket, key, version)
    except LookupError:  # KeyError included: no such bucket, key or version
        raise RekognitionError("InvalidS3ObjectException", INVALID_S3_OBJECT_MESSAGE) from None
    if len(data) > MAX_S3_OBJECT_BYTES:
        raise image_too_large()
    return data


def filtered_labels(labels: list[dict], settings) -> list[dict]:
    """Settings.GeneralLabels: keep only included names/categories, then drop excluded ones."""
    if settings is None:
        return labels
    general = settings.get("GeneralLabels") if isinstance(settings, dict) else None
    if general is None:
        return labels
    if not isinstance(general, dict):
        raise invalid_parameters()
    include_names = _name_set(general, "LabelInclusionFilters")
    exclude_names = _name_set(general, "LabelExclusionFilters")
    include_categories = _name_set(general, "LabelCategoryInclusionFilters")
    exclude_categories = _name_set(general, "LabelCategoryExclusionFilters")

    def categories(label: dict) -> set[str]:
        return {category["Name"] for category in label["Categories"]}

    return [
        label
        for label in labels
        if (include_names is None or label["Name"] in include_names)
        and (include_categories is None or categories(label) & include_categories)
        and label["Name"] not in (exclude_names or ())
        and not categories(label) & (exclude_categories or set())
    ]


def _name_set(settings: dict, key: str) -> set[str] | None:
    values = settings.get(key)
    if values is None:
        return None
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise invalid_parameters()
    return set(values)
