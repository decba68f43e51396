"""Errors a user can meet, turned into one line each: no traceback for a missing stack, no
credentials, a wrong Region, an unreachable endpoint."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)


class UserError(Exception):
    """Something the user can fix; the message is the whole explanation, printed as one line."""


CREDENTIAL_ERRORS = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AuthFailure",
    }
)
ACCESS_ERRORS = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError", "Forbidden"})


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "") or ""


def missing_bucket(bucket: str) -> UserError:
    return UserError(f"bucket {bucket!r} does not exist (the stack's BucketName output): was it deleted?")


def describe(error: BaseException, *, endpoint_url: str | None = None) -> str:
    """One line for an AWS error a command did not handle itself."""
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return (
            "no AWS credentials found: configure a profile (aws configure, AWS_PROFILE) or set "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; for the local AWS pass --local"
        )
    if isinstance(error, NoRegionError):
        return "no AWS Region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or configure a Region in your profile"
    if isinstance(error, ProfileNotFound):
        return f"{error} (check AWS_PROFILE)"
    if isinstance(error, (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError)):
        where = endpoint_url or getattr(error, "kwargs", {}).get("endpoint_url") or "the AWS endpoint"
        hint = " (is the local AWS running? make demo / python -m local_aws start)" if endpoint_url else ""
        return f"cannot reach {where}: {error}{hint}"
    if isinstance(error, ReadTimeoutError):
        return f"AWS did not answer in time: {error}"
    if isinstance(error, ClientError):
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message") or code
        operation = getattr(error, "operation_name", "the request")
        if code in CREDENTIAL_ERRORS:
            return f"AWS rejected your credentials ({code}: {message}); refresh them or check the profile and Region"
        if code in ACCESS_ERRORS:
            return f"access denied for {operation}: {message}"
        return f"{operation} failed: {code}: {message}"
    if isinstance(error, BotoCoreError):
        return str(error)
    if isinstance(error, OSError):
        return str(error)
    return f"{type(error).__name__}: {error}"
