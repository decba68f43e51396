"""Lambda entry point for the HTTP API (payload 2.0): routes by routeKey, JSON in and out. Bad input
is a 4xx with {"message"}; anything unexpected is logged and answered 500 without its details."""

from __future__ import annotations

import base64
import json
import logging
import os
from decimal import Decimal
from urllib.parse import parse_qs

import boto3
from botocore.config import Config

from web_api.answers import NotFound, item_answer, labels_answer, search_answer
from web_api.search_request import BadRequest, search_request
from web_api.uploads import abort_upload, complete_upload, plan_upload

logger = logging.getLogger("web_api")

TABLE = os.environ.get("TABLE_NAME", "")
BUCKET = os.environ.get("BUCKET_NAME", "")
URL_SECONDS = int(os.environ.get("URL_SECONDS", "900"))
UPLOAD_URL_SECONDS = int(os.environ.get("UPLOAD_URL_SECONDS", "3600"))
_AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=10)
DYNAMODB = boto3.client("dynamodb", config=_AWS_CONFIG)
# SigV4 on the regional virtual-host endpoint: the origin the page's CSP allows (AWS_ENDPOINT_URL wins locally).
S3 = boto3.client("s3", config=_AWS_CONFIG.merge(Config(signature_version="s3v4", s3={
    "us_east_1_regional_endpoint": "regional", "addressing_style": "virtual"})))


def _json_body(event: dict) -> dict:
    body = event.get("body") or ""
    try:
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise BadRequest("the body must be a JSON object")
    return parsed


def _item_query(event: dict) -> tuple[str, str | None]:
    """The key, and the version the caller uploaded (version_id) when it waits for that version's labels."""
    query = parse_qs(event.get("rawQueryString") or "", keep_blank_values=True)
    keys = query.get("key") or []
    if len(keys) != 1 or not keys[0]:
        raise BadRequest("give the object's key once: /api/item?key=...")
    versions = query.get("version_id") or [None]
    if len(versions) != 1 or versions[0] == "":
        raise BadRequest("give version_id at most once, not empty")
    return keys[0], versions[0]


ROUTES = {
    "GET /api/search": lambda event: search_answer(DYNAMODB, S3, TABLE, BUCKET, search_request(event.get("rawQueryString")),
                                                   expires_in=URL_SECONDS),
    "GET /api/item": lambda event: item_answer(DYNAMODB, S3, TABLE, BUCKET, *_item_query(event), expires_in=URL_SECONDS),
    "GET /api/labels": lambda event: labels_answer(DYNAMODB, TABLE),
    "POST /api/uploads": lambda event: plan_upload(S3, BUCKET, _json_body(event), expires_in=UPLOAD_URL_SECONDS),
    "POST /api/uploads/complete": lambda event: complete_upload(S3, BUCKET, _json_body(event)),
    "POST /api/uploads/abort": lambda event: abort_upload(S3, BUCKET, _json_body(event)),
}
# What S3 says of an upload id or parts the caller got wrong: the caller's mistake, not ours.
_S3_CALLER_ERRORS = {"NoSuchUpload": 404, "InvalidPart": 400, "InvalidPartOrder": 400, "EntityTooSmall": 400}


def _answer(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
            "body": json.dumps(body, default=lambda value: float(value) if isinstance(value, Decimal) else str(value))}


def handle(event, context=None) -> dict:
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt", {}).get("claims") \
        if isinstance(event, dict) else None
    if not claims:
        return _answer(401, {"message": "Unauthorized"})
    route = ROUTES.get(event.get("routeKey"))
    if route is None:
        return _answer(404, {"message": f"no such route: {event.get('routeKey')}"})
    try:
        return _answer(200, route(event))
    except BadRequest as error:
        return _answer(400, {"message": str(error)})
    except NotFound as error:
        return _answer(404, {"message": str(error)})
    except S3.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in _S3_CALLER_ERRORS:
            return _answer(_S3_CALLER_ERRORS[code], {"message": f"S3 refused the upload: {code}"})
        logger.exception("Unexpected error", extra={"route": event.get("routeKey")})
        return _answer(500, {"message": "internal error"})
    except Exception:
        logger.exception("Unexpected error", extra={"route": event.get("routeKey")})
        return _answer(500, {"message": "internal error"})
