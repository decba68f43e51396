"""RekognitionService.DetectLabels over AWS's JSON protocol, on top of the offline labeller.

Pure request -> (status, body): the HTTP server around it only has to route the call
(`X-Amz-Target: RekognitionService.DetectLabels`) and send the body back as
`application/x-amz-json-1.1`. Errors use the JSON protocol's `__type` so that botocore raises
ClientError with Rekognition's code, which is what the handler branches on.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import logging
import threading
from collections import OrderedDict
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
    request: dict, *, labeller: OfflineLabeller, read_object: ReadObject, cache: "DetectLabelsCache | None" = None
) -> tuple[int, dict]:
    """(HTTP status, JSON body) for one DetectLabels request body (already parsed from JSON).

    With a `cache`, an answer already computed for the same image bytes and the same parameters is
    returned without running the model again; errors are never cached.
    """
    try:
        if not isinstance(request, dict):
            raise invalid_parameters()
        _check_features(request.get("Features"))
        image_bytes = _image_bytes(request.get("Image"), read_object)

        def label() -> dict:
            response = labeller.detect_labels(
                image_bytes, max_labels=request.get("MaxLabels"), min_confidence=request.get("MinConfidence")
            )
            response["Labels"] = filtered_labels(response["Labels"], request.get("Settings"))
            return response

        if cache is None:
            response = label()
        else:
            response = cache.get_or_compute(DetectLabelsCache.key_for(image_bytes, request), label)
    except RekognitionError as error:
        return error.status, error_body(error.code, error.message)
    except Exception:  # a bug or a broken model must reach the caller as a 500, not a dropped connection
        log.exception("DetectLabels failed")
        return 500, error_body("InternalServerError", "Amazon Rekognition experienced a service issue.")
    return 200, response


class DetectLabelsCache:
    """A bounded LRU of DetectLabels answers, keyed by the image's SHA-256 and the parameters that
    change the answer (MaxLabels, MinConfidence, Features, Settings).

    Rekognition answers identical bytes identically, and the offline model is deterministic, so an
    image uploaded again (a re-upload, a load test cycling through a few dozen images) is labelled
    once: ~140 ms of CPU saved per repeat. Concurrent misses for one key wait for the first
    computation instead of repeating it. Only successful answers are stored (an error raises
    through `get_or_compute`), and callers get their own copy.
    """

    _PARAMETERS = ("MaxLabels", "MinConfidence", "Features", "Settings")

    def __init__(self, *, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("a DetectLabelsCache holds at least one entry (use no cache to disable it)")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, dict] = OrderedDict()
        self._computing: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @classmethod
    def key_for(cls, image_bytes: bytes, request: dict) -> str:
        parameters = {name: request.get(name) for name in cls._PARAMETERS}
        return hashlib.sha256(image_bytes).hexdigest() + json.dumps(parameters, sort_keys=True, default=str)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _lookup(self, key: str) -> dict | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            return found

    def get_or_compute(self, key: str, compute: Callable[[], dict]) -> dict:
        found = self._lookup(key)
        if found is not None:
            return copy.deepcopy(found)
        with self._lock:
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:
            found = self._lookup(key)  # computed by the request this one waited for
            if found is not None:
                return copy.deepcopy(found)
            try:
                answer = compute()
                with self._lock:
                    self.misses += 1
                    self._entries[key] = copy.deepcopy(answer)
                    while len(self._entries) > self.max_entries:
                        self._entries.popitem(last=False)
                return answer
            finally:
                with self._lock:
                    self._computing.pop(key, None)


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
