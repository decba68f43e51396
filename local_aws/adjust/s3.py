"""S3: what the local AWS changes about event notifications and buckets deployed by CloudFormation.

Event records are shaped as S3 shapes them (sequencer, versionId, the removal events S3 sends),
notifications reach Lambda asynchronously, a CloudFormation bucket gets its versioning, and a
multipart upload that was aborted answers NoSuchUpload, and a bucket's CORS rule that names a
deployed page's origin allows the local page gateway serving that page.
"""

from __future__ import annotations

import json
import threading
import time

from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.s3 import exceptions as s3_exceptions
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses
from moto.s3 import notifications as s3_notifications

from local_aws.adjust.registry import ORIGINALS, keep_original, logger, require_services


_sequencer_lock = threading.Lock()
_last_sequencer = 0


def next_sequencer() -> str:
    """An S3-style event sequencer: hexadecimal, strictly increasing within this server."""
    global _last_sequencer
    with _sequencer_lock:
        _last_sequencer = max(_last_sequencer + 1, time.time_ns() // 1000)
        return f"{_last_sequencer:018X}"


_suppress = threading.local()


def shape_s3_event_records_like_s3() -> None:
    """S3 event records carry `sequencer` and `versionId`; removals send the events S3 sends.

    moto's records have no `sequencer` (the handler orders events by it and rejects a record
    without it as malformed) and no `versionId`. In a versioned bucket moto sends NO event for a
    DeleteObject that creates a delete marker, and for a DeleteObject with a VersionId only when
    the last version goes, naming the current key. S3 sends `ObjectRemoved:DeleteMarkerCreated`
    (with the marker's version id) and `ObjectRemoved:Delete` (with the deleted version's id)
    every time. And a DeleteObject of a key that never existed adds a delete marker on S3 (and
    notifies it), where moto adds nothing: the labeller's tombstone for such a delete, which keeps
    a late, older upload event from labelling a deleted key, would never be written locally.
    Instead: each event gets a strictly increasing sequencer and the version id, delete_object adds
    the marker S3 adds and sends S3's removal events (moto's own are suppressed there).
    """
    keep_original("notifications._get_s3_event", s3_notifications._get_s3_event)
    keep_original("notifications.send_event", s3_notifications.send_event)
    keep_original("S3Backend.delete_object", s3_models.S3Backend.delete_object)
    original_get_s3_event = ORIGINALS["notifications._get_s3_event"]
    original_send_event = ORIGINALS["notifications.send_event"]
    original_delete_object = ORIGINALS["S3Backend.delete_object"]

    def _get_s3_event(event_name, bucket, key, notification_id):
        event = original_get_s3_event(event_name, bucket, key, notification_id)
        sequencer = key.__dict__.get("_local_aws_sequencer")
        if sequencer is None:
            # One sequencer per object event, shared by every notification it matches.
            sequencer = key.__dict__.setdefault("_local_aws_sequencer", next_sequencer())
        record = event["Records"][0]
        obj = record["s3"]["object"]
        obj["sequencer"] = sequencer
        version_id = getattr(key, "version_id", None)
        if version_id and str(version_id) != "null":
            obj["versionId"] = str(version_id)
        if event_name.startswith("s3:ObjectRemoved:"):
            obj.pop("size", None)
            obj.pop("eTag", None)
        record.setdefault("userIdentity", {"principalId": "AWS:LOCAL"})
        record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
        return event

    def send_event(account_id, event_name, bucket, key):
        # S3NotificationEvent is a str Enum: str() of it is "S3NotificationEvent.X" on 3.11.
        if getattr(_suppress, "removals", False) and getattr(event_name, "value", event_name).startswith("s3:ObjectRemoved:"):
            return
        original_send_event(account_id, event_name, bucket, key)

    def delete_object(self, bucket_name, key_name, version_id=None, bypass=False):
        bucket = self.get_bucket(bucket_name)
        versioned = bool(getattr(bucket, "is_versioned", False))
        existed = key_name in bucket.keys
        if versioned and version_id is None and not existed:
            # S3 adds a delete marker even for a key it never held, and notifies it.
            marker = s3_models.FakeDeleteMarker(key=_RemovedObject(key_name, None))
            bucket.keys[key_name] = marker
            send_event(self.account_id, s3_notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
                       bucket, _RemovedObject(key_name, marker.version_id))
            return True, {"version-id": marker.version_id, "delete-marker": "true"}
        deleted_version = None
        if versioned and version_id is not None:
            deleted_version = next(
                (key for key in bucket.keys.getlist(key_name, []) if str(key.version_id) == str(version_id)), None
            )
        _suppress.removals = True
        try:
            result = original_delete_object(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
        finally:
            _suppress.removals = False
        success, response_meta = result
        if not success:
            return result
        if not versioned:
            if existed:
                send_event(self.account_id, s3_notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_EVENT,
                           bucket, _RemovedObject(key_name, None))
        elif version_id is None:
            if existed:
                send_event(self.account_id,
                           s3_notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
                           bucket, _RemovedObject(key_name, response_meta.get("version-id")))
        elif deleted_version is not None:
            send_event(self.account_id, s3_notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_EVENT,
                       bucket, _RemovedObject(key_name, str(version_id)))
        return result

    s3_notifications._get_s3_event = _get_s3_event
    s3_notifications.send_event = send_event
    s3_models.S3Backend.delete_object = delete_object


class _RemovedObject:
    """What an ObjectRemoved record names: the key and, in a versioned bucket, the version."""

    def __init__(self, name: str, version_id: str | None) -> None:
        self.name = name
        self.version_id = version_id
        self.etag = ""
        self.size = 0


def version_buckets_from_cloudformation() -> None:
    """`AWS::S3::Bucket` VersioningConfiguration is applied on create and update.

    moto's CloudFormation creates buckets with encryption and tags only: the project's versioned
    image bucket comes out unversioned, so uploads have no VersionId, a DeleteObject removes the
    object instead of adding a delete marker, and the handler's version logic is never exercised.
    """
    bucket_class = s3_models.FakeBucket
    keep_original("FakeBucket.create_from_cloudformation_json", bucket_class.__dict__["create_from_cloudformation_json"])
    keep_original("FakeBucket.update_from_cloudformation_json", bucket_class.__dict__["update_from_cloudformation_json"])
    original_create = ORIGINALS["FakeBucket.create_from_cloudformation_json"].__func__
    original_update = ORIGINALS["FakeBucket.update_from_cloudformation_json"].__func__

    def apply_versioning(bucket, properties: dict) -> None:
        status = (properties.get("VersioningConfiguration") or {}).get("Status")
        if status:
            bucket.versioning_status = status

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        apply_versioning(bucket, cloudformation_json.get("Properties", {}))
        return bucket

    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        bucket = original_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        apply_versioning(bucket, cloudformation_json.get("Properties", {}))
        return bucket

    bucket_class.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    bucket_class.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)


def deliver_s3_notifications_asynchronously() -> None:
    """S3 -> Lambda is asynchronous: PutObject returns at once, Lambda retries, failures are kept.

    moto invokes the function synchronously inside PutObject/DeleteObject (an upload waits for
    the labelling, and with Docker missing it fails), and swallows every error. Instead the event
    is submitted to the launcher's asynchronous invoker: the function's retry attempts, maximum
    event age and on-failure destination apply, as for S3 on AWS. A notification naming a
    function that does not exist is logged, not silently dropped.
    """
    keep_original("notifications._invoke_awslambda", s3_notifications._invoke_awslambda)

    def _invoke_awslambda(account_id, event_body, fn_arn, region_name):
        try:
            function = get_lambda_backend(account_id, region_name).get_function(fn_arn)
        except Exception as error:
            logger.error("S3 notification for %s dropped: %s", fn_arn, error)
            return
        require_services().submit_async_invocation(function, json.dumps(event_body).encode())

    s3_notifications._invoke_awslambda = _invoke_awslambda


def answer_no_such_upload_for_an_aborted_multipart_upload() -> None:
    """CompleteMultipartUpload of an upload that was aborted or never started answers NoSuchUpload,
    as S3 does.

    moto looks the upload id up without a check and raises KeyError, which its server answers as a
    500 InternalError: a client that completes an upload the user cancelled in another tab (the
    web page's /api/uploads/complete) would see a server fault and retry, where S3's 404
    NoSuchUpload tells it the upload is gone. Instead the unknown id is refused with NoSuchUpload.
    """
    backend_class = s3_models.S3Backend
    keep_original("S3Backend.complete_multipart_upload", backend_class.complete_multipart_upload)
    original = ORIGINALS["S3Backend.complete_multipart_upload"]

    def complete_multipart_upload(self, bucket_name, multipart_id, body):
        if multipart_id not in self.get_bucket(bucket_name).multiparts:
            raise s3_exceptions.NoSuchUpload(upload_id=multipart_id)
        return original(self, bucket_name, multipart_id, body)

    backend_class.complete_multipart_upload = complete_multipart_upload


def let_a_page_gateway_stand_for_its_distribution_in_cors() -> None:
    """A bucket's CORS rule that allows a deployed page's origin (https://<distribution domain>, as
    the stack's Custom::UploadCors writes it) allows the local page gateway serving that page.

    moto applies CORS rules (the preflight OPTIONS and the headers of the actual request), but
    offline the page comes from the gateway's own origin, http://127.0.0.1:<port>, which no
    deployed rule names: every presigned PUT of the page's uploads failed its preflight, so nothing
    could be added through the page. Widening the deployed rule would test something other than
    what AWS gets, so instead the gateway's origin matches wherever the origins of the distribution
    it stands for (its CloudFront domain and aliases) match; any other origin is judged as moto does.
    """
    keep_original("responses.cors_matches_origin", s3_responses.cors_matches_origin)
    original = ORIGINALS["responses.cors_matches_origin"]

    def cors_matches_origin(origin_header, allowed_origins):
        if original(origin_header, allowed_origins):
            return True
        if not origin_header:
            return False
        stands_for = require_services().aws_origins_of_page_origin(origin_header)
        return any(original(origin, allowed_origins) for origin in stands_for)

    s3_responses.cors_matches_origin = cors_matches_origin
